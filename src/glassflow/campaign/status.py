"""Progress of a campaign read from the files on disk (no Snakemake, no lock taken).

Each production run ``results/<campaign>/<comp>/T<T>/rep<NN>/production`` is put in
one state, in this order of precedence:

- ``done``: ``run.json`` exists;
- ``failed``: the latest attempt of one of the run's jobs logged an error that it did
  not recover from: the production rule's log ``logs/production/<run>.log``, the log of
  a segment that has no ``segment.json`` yet
  (``logs/production_segment/<run>_seg<k>.log``), or, when the glass is missing, the
  log of the replica's ``melt_quench`` or ``build_cell`` job. Snakemake deletes a job's
  log when the job starts again, so an error line belongs to the latest attempt; a
  failed run outranks a live one;
- ``stalled``: the writer recorded in the run's ``writer.lock`` ran on this host and is
  gone (killed), or nothing was written for ``active_minutes``, e.g. a job killed at its
  wall time or a hung LAMMPS; a rerun resumes it from its newest restart file;
- ``running``: a file of the run changed in the last ``active_minutes``;
- ``pending``: nothing on disk yet.

A production run is *segmented* when ``protocol.target_rel_error`` is set or
``protocol.segment_ps < protocol.production_ps``
(:class:`glassflow.md.segments.SegmentPlan`): segment k runs in
``production/segments/<k>/`` and is done when its ``segment.json`` exists; the
stitched ``production/trajectory.gtrj`` and ``run.json`` come last. An unsegmented run
writes its LAMMPS files into ``production/`` itself.

Only robust facts are read: ``run.json`` and ``segment.json`` (lengths, wall time,
decision), the rendered ``in.production.lmp`` (``timestep``, ``run N upto``), the
names ``restart.<step>.bin``, the last ``ITEM: TIMESTEP`` of dump pieces, the thermo
rows (``Step``, ``CPU``, ``CPULeft``) of LAMMPS logs after the
``GLASSFLOW_STAGE production`` marker, and ``writer.lock`` (who writes a directory:
host, pid, Slurm job). ``production_state.json`` is not read. Missing or unreadable
pieces leave a number unknown (None), never an error.

Lengths are production ps (ramp and equilibration are not counted):

- ``ps_done``: simulated so far (done segments, then the newest step of the segment
  under way);
- ``ps_planned``: ``production_ps``, which always runs;
- ``ps_committed``: what the run reaches at least: ``production_ps``, the end of the
  segment under way or next, or the final length once a segment decided to stop;
- ``ps_max``: ``max_production_ps`` (``production_ps`` without a target).

Speed is ps of production per wall second, measured on the run's own thermo rows
(``CPU`` is LAMMPS's wall clock of the current ``run`` command); a run without its
own measure (pending, or logs without the ``CPU`` column) gets the campaign's:
production ps per wall second of the finished runs (``run.json`` wall time, ramp and
equilibration included, so it is a lower bound), else the mean of the other runs'
measured speeds. ETA = ps left / speed.
"""

from __future__ import annotations

import json
import math
import platform
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glassflow.md.processes import process_alive
from glassflow.md.run_lock import LOCK_NAME

STATES = ("done", "running", "failed", "stalled", "pending")
#: the campaign's state is the first of these that any run is in: failed outranks running
CAMPAIGN_STATE_ORDER = ("failed", "running", "stalled", "pending", "done")
PRODUCTION_MARKER = "GLASSFLOW_STAGE production"
STAGE_MARKER = "GLASSFLOW_STAGE"
#: a job's error: LAMMPS ``ERROR``, a Python traceback or exception, the OOM killer
ERROR_RE = re.compile(
    r"\bERROR\b|^Traceback\b|\bKilled\b|^(?:KeyboardInterrupt|SystemExit)\b"
    r"|^\s*(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception):"
)
#: ``run_lammps`` writes this before every LAMMPS it starts: a later one means the job
#: went on after an error (e.g. an unreadable restart file, then an older one)
LAUNCH_PREFIX = "$ "
FS_PER_NS = 1.0e6
FS_PER_PS = 1.0e3
PS_PER_NS = 1.0e3
SECONDS_PER_DAY = 86400.0

COMP_RE = re.compile(r"x\d\.\d{2}_m\d{1,2}\.\d{2}")
_LOG_NAME_RE = re.compile(
    r"(?P<comp>x\d\.\d{2}_m\d{1,2}\.\d{2})_T(?P<T>\d+)_rep(?P<rep>\d{2,})\.log"
)
_SEGMENT_LOG_RE = re.compile(
    r"(?P<comp>x\d\.\d{2}_m\d{1,2}\.\d{2})_T(?P<T>\d+)_rep(?P<rep>\d{2,})_seg(?P<seg>\d+)\.log"
)
_RESTART_RE = re.compile(r"restart\.(\d+)\.bin")
_LOG_PIECE_RE = re.compile(r"log(?:\.(\d+))?\.lammps")
_TIMESTEP_RE = re.compile(r"^\s*timestep\s+([0-9.eE+-]+)", re.MULTILINE)
_RUN_UPTO_RE = re.compile(r"^\s*run\s+(\d+)\s+upto\b", re.MULTILINE)
_DUMP_EVERY_RE = re.compile(r"^\s*dump\s+\S+\s+\S+\s+custom\s+(\d+)\s", re.MULTILINE)


@dataclass(frozen=True, order=True)
class RunKey:
    """One production run: composition label, temperature (K), replica."""

    comp: str
    T_K: int
    replica: int

    @property
    def name(self) -> str:
        return f"{self.comp}_T{self.T_K}_rep{self.replica:02d}"


@dataclass(frozen=True)
class Writer:
    """Who writes a run directory, from its ``writer.lock`` (JSON).

    ``alive`` is True or False for a writer on this host (its pid, or the pid of the
    LAMMPS it started, still exists), None for a writer on another host.
    """

    directory: str
    host: str | None
    pid: int | None
    started_utc: str | None
    slurm_job_id: str | None
    alive: bool | None

    def describe(self) -> str:
        """e.g. ``writer pid 4242 on node17 (Slurm job 991) since 2026-01-02T10:00:00Z``."""
        who = f"writer pid {self.pid if self.pid is not None else '?'} on {self.host or '?'}"
        if self.slurm_job_id:
            who += f" (Slurm job {self.slurm_job_id})"
        if self.started_utc:
            who += f" since {self.started_utc}"
        return who


@dataclass(frozen=True)
class LengthPlan:
    """Production lengths (ps) of the campaign's runs, from its protocol."""

    production_ps: float
    segment_ps: float
    max_production_ps: float
    target_rel_error: float | None
    segmented: bool
    timestep_fs: float | None


@dataclass
class RunStatus:
    """State and progress of one run; lengths in production ps (module docstring)."""

    comp: str
    T_K: int
    replica: int
    state: str
    ps_done: float | None = None
    ps_planned: float | None = None
    ps_committed: float | None = None
    ps_max: float | None = None
    segmented: bool = False
    segments_done: list[int] = field(default_factory=list)
    segments_running: list[int] = field(default_factory=list)
    segments_failed: list[int] = field(default_factory=list)
    segments_stalled: list[int] = field(default_factory=list)  # under way when it stopped
    last_step: int | None = None  # last production thermo step
    last_step_age_s: float | None = None  # seconds since that step was written
    idle_s: float | None = None  # seconds since the run last wrote any file
    speed_ps_per_s: float | None = None
    speed_source: str = ""  # "own thermo", "finished runs", "other runs"
    eta_s: float | None = None  # wall seconds to ps_committed at that speed
    eta_max_s: float | None = None  # ... to ps_max
    wall_time_s: float | None = None  # finished runs: run.json wall time
    wall_ps: float | None = None  # production ps covered by wall_time_s
    remaining_s: float | None = None  # LAMMPS's own estimate (thermo cpuremain)
    writer: Writer | None = None
    detail: str = ""

    @property
    def key(self) -> RunKey:
        return RunKey(self.comp, self.T_K, self.replica)

    @property
    def ns_done(self) -> float | None:
        return None if self.ps_done is None else self.ps_done / PS_PER_NS

    @property
    def ns_target(self) -> float | None:
        return None if self.ps_planned is None else self.ps_planned / PS_PER_NS

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), ns_done=self.ns_done, ns_target=self.ns_target)


def _sum_known(values: Iterable[float | None]) -> float | None:
    """Sum, or None when any value is unknown."""
    total = 0.0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _ps_left(run: RunStatus, end: float | None) -> float | None:
    if end is None:
        return None
    return max(0.0, end - (run.ps_done or 0.0))


@dataclass
class CampaignStatus:
    """All runs of a campaign with totals and a remaining-time estimate."""

    campaign: str
    results_dir: str
    runs: list[RunStatus] = field(default_factory=list)
    jobs: int = 1

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self.runs:
            out[r.state] += 1
        return out

    @property
    def state(self) -> str:
        """The most pressing state of any run (failed, running, stalled, pending, done)."""
        return campaign_state(r.state for r in self.runs)

    @property
    def unfinished(self) -> list[RunStatus]:
        return [r for r in self.runs if r.state != "done"]

    @property
    def ps_done(self) -> float:
        return sum(r.ps_done or 0.0 for r in self.runs)

    @property
    def ps_target(self) -> float | None:
        """Production the campaign reaches at least (finished runs: their length)."""
        return _sum_known(r.ps_done if r.state == "done" else r.ps_committed for r in self.runs)

    @property
    def ps_max(self) -> float | None:
        """Production of the campaign if every unfinished run goes to its maximum."""
        return _sum_known(r.ps_done if r.state == "done" else r.ps_max for r in self.runs)

    @property
    def ps_remaining(self) -> float | None:
        return _sum_known(_ps_left(r, r.ps_committed) for r in self.unfinished)

    @property
    def ps_remaining_max(self) -> float | None:
        return _sum_known(_ps_left(r, r.ps_max) for r in self.unfinished)

    @property
    def ns_done(self) -> float:
        return self.ps_done / PS_PER_NS

    @property
    def ns_target(self) -> float | None:
        return None if (t := self.ps_target) is None else t / PS_PER_NS

    @property
    def ns_remaining(self) -> float | None:
        return None if (t := self.ps_remaining) is None else t / PS_PER_NS

    @property
    def wall_s_per_ns(self) -> float | None:
        """Measured wall time per production ns over the finished runs."""
        return finished_wall_s_per_ns(self.runs)

    @property
    def eta_s(self) -> float | None:
        """Remaining wall time (s) with ``jobs`` runs at a time (to ``ps_committed``)."""
        return campaign_eta(self.unfinished, self.jobs)

    @property
    def eta_max_s(self) -> float | None:
        """Remaining wall time (s) if every unfinished run goes to its maximum."""
        return campaign_eta(self.unfinished, self.jobs, to_max=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "results_dir": self.results_dir,
            "state": self.state,
            "counts": self.counts,
            "n_runs": len(self.runs),
            "ps_done": self.ps_done,
            "ps_target": self.ps_target,
            "ps_max": self.ps_max,
            "ps_remaining": self.ps_remaining,
            "ps_remaining_max": self.ps_remaining_max,
            "ns_done": self.ns_done,
            "ns_target": self.ns_target,
            "ns_remaining": self.ns_remaining,
            "wall_s_per_ns": self.wall_s_per_ns,
            "jobs": self.jobs,
            "eta_s": self.eta_s,
            "eta_max_s": self.eta_max_s,
            "runs": [r.to_dict() for r in self.runs],
        }


def campaign_state(states: Iterable[str]) -> str:
    """The first of :data:`CAMPAIGN_STATE_ORDER` among ``states``; ``"empty"`` for none."""
    seen = set(states)
    return next((s for s in CAMPAIGN_STATE_ORDER if s in seen), "empty")


def finished_wall_s_per_ns(runs: Iterable[RunStatus]) -> float | None:
    """Wall seconds per production ns over the finished runs that recorded both."""
    pairs = [
        (r.wall_time_s, r.wall_ps)
        for r in runs
        if r.state == "done" and r.wall_time_s and r.wall_ps
    ]
    if not pairs:
        return None
    return sum(w for w, _ in pairs) / (sum(ps for _, ps in pairs) / PS_PER_NS)


def campaign_eta(runs: Sequence[RunStatus], jobs: int, to_max: bool = False) -> float | None:
    """Wall seconds for ``runs`` with ``jobs`` at a time: sum of their ETAs / jobs.

    None when any run's ETA is unknown.
    """
    total = _sum_known(r.eta_max_s if to_max else r.eta_s for r in runs)
    return None if total is None else total / max(1, jobs)


def eta_seconds(ps_left: float | None, speed_ps_per_s: float | None) -> float | None:
    """Wall seconds to simulate ``ps_left`` ps at ``speed_ps_per_s``; None when unknown."""
    if ps_left is None or not speed_ps_per_s or speed_ps_per_s <= 0:
        return None
    return max(0.0, ps_left) / speed_ps_per_s


# paths ----------------------------------------------------------------------------------
def production_dir(results: Path, key: RunKey) -> Path:
    return results / f"{key.comp}/T{key.T_K}/rep{key.replica:02d}/production"


def rule_log(results: Path, rule: str, key: RunKey) -> Path:
    """The Snakemake rule log of a run (production) or of its glass (the others)."""
    if rule == "production":
        return results / "logs" / "production" / f"{key.name}.log"
    return results / "logs" / rule / f"{key.comp}_rep{key.replica:02d}.log"


def segment_log(results: Path, key: RunKey, k: int) -> Path:
    """The rule log of segment ``k`` of a run."""
    return results / "logs" / "production_segment" / f"{key.name}_seg{k}.log"


def segment_logs_by_run(results: Path) -> dict[str, dict[int, Path]]:
    """Segment rule logs of a campaign, ``{run name: {k: path}}`` (one directory listing)."""
    out: dict[str, dict[int, Path]] = {}
    logs = results / "logs" / "production_segment"
    try:
        entries = list(logs.iterdir())
    except OSError:
        return out
    for p in entries:
        if m := _SEGMENT_LOG_RE.fullmatch(p.name):
            key = RunKey(m["comp"], int(m["T"]), int(m["rep"]))
            out.setdefault(key.name, {})[int(m["seg"])] = p
    return out


def discover_runs(results: Path) -> set[RunKey]:
    """Runs that the files on disk imply: every composition x temperature x replica seen.

    A glassflow campaign is a full grid, so temperatures and replicas seen anywhere
    apply to every composition; rule logs (production and segments) of runs without a
    directory count too.
    """
    comps: set[str] = set()
    temps: set[int] = set()
    reps: set[int] = set()
    if results.is_dir():
        for comp_dir in results.iterdir():
            if not (comp_dir.is_dir() and COMP_RE.fullmatch(comp_dir.name)):
                continue
            comps.add(comp_dir.name)
            for sub in comp_dir.iterdir():
                if re.fullmatch(r"rep\d{2}", sub.name):
                    reps.add(int(sub.name[3:]))
                elif re.fullmatch(r"T\d+", sub.name) and sub.is_dir():
                    temps.add(int(sub.name[1:]))
                    reps.update(int(r.name[3:]) for r in sub.glob("rep[0-9][0-9]"))
    for sub, pattern in (("production", _LOG_NAME_RE), ("production_segment", _SEGMENT_LOG_RE)):
        logs = results / "logs" / sub
        if logs.is_dir():
            for log in logs.iterdir():
                if m := pattern.fullmatch(log.name):
                    comps.add(m["comp"])
                    temps.add(int(m["T"]))
                    reps.add(int(m["rep"]))
    return {RunKey(c, t, r) for c in comps for t in temps for r in reps}


# the campaign's lengths -----------------------------------------------------------------
#: length plans of the protocols seen, by content: every run.json of a campaign records
#: the same protocol, and a status of 10^5 runs would otherwise build 10^5 equal plans
_PLANS: dict[tuple, LengthPlan | None] = {}


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def length_plan(protocol: Mapping[str, Any] | None) -> LengthPlan | None:
    """Production lengths of a (validated) ``protocol`` block; None without ``production_ps``.

    Segments and the stop rule are those of :class:`glassflow.md.segments.SegmentPlan`.
    """
    if not protocol or not isinstance(protocol.get("production_ps"), int | float):
        return None
    try:
        key = _frozen(dict(protocol))
        hash(key)
    except TypeError:  # a value that is neither a number, string, list nor dict
        return _length_plan(protocol)
    if key not in _PLANS:
        if len(_PLANS) > 1000:
            _PLANS.clear()
        _PLANS[key] = _length_plan(protocol)
    return _PLANS[key]


def _length_plan(protocol: Mapping[str, Any]) -> LengthPlan | None:
    from glassflow.md.segments import SegmentPlan  # numpy and the analysis: load on use

    try:
        plan = SegmentPlan.from_protocol(protocol, "")
    except (TypeError, ValueError):
        return None
    dt = protocol.get("timestep_fs")
    return LengthPlan(
        production_ps=plan.production_ps,
        segment_ps=plan.segment_ps,
        max_production_ps=plan.n_max * plan.segment_ps if plan.segmented else plan.production_ps,
        target_rel_error=plan.target_rel_error,
        segmented=plan.segmented,
        timestep_fs=float(dt) if isinstance(dt, int | float) and dt > 0 else None,
    )


def recorded_protocol(results: Path, keys: Iterable[RunKey]) -> dict[str, Any] | None:
    """The protocol recorded in the first finished run's ``run.json``, if any."""
    for key in keys:
        doc = _read_json(production_dir(results, key) / "run.json")
        if isinstance(doc, dict) and isinstance(doc.get("protocol"), dict):
            return doc["protocol"]
    return None


# small parsers (pure; each returns None when the fact is not there) ---------------------
def _production_thermo_rows(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(header, row) of every thermo row after the last ``GLASSFLOW_STAGE production`` marker.

    Thermo rows are lines of numbers with as many columns as the last ``Step`` header
    and an integer first column; anything else (warnings, timing) is skipped.
    """
    at = text.rfind(PRODUCTION_MARKER)
    if at < 0:
        return
    header: list[str] = []
    for line in text[at:].splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "Step":
            header = words
            continue
        if header and len(words) == len(header) and words[0].isdigit():
            try:
                [float(w) for w in words[1:]]
            except ValueError:
                continue
            yield header, words


def production_steps_in_log(text: str) -> int | None:
    """Last thermo step printed after the last ``GLASSFLOW_STAGE production`` marker."""
    last: int | None = None
    for _, row in _production_thermo_rows(text):
        last = int(row[0])
    return last


def production_remaining_in_log(text: str) -> float | None:
    """Wall seconds LAMMPS expects the production run to take still (thermo ``cpuremain``).

    The ``CPULeft`` column of the last thermo row after the last
    ``GLASSFLOW_STAGE production`` marker; None without that column (logs of inputs
    rendered before it was added) or without a row.
    """
    left: float | None = None
    for header, row in _production_thermo_rows(text):
        if "CPULeft" in header:
            left = float(row[header.index("CPULeft")])
    return left


def production_clock_in_log(text: str) -> tuple[int, float] | None:
    """Production steps and wall seconds between the first and last thermo rows.

    From the ``Step`` and ``CPU`` columns (LAMMPS's wall clock of the ``run`` command)
    after the last ``GLASSFLOW_STAGE production`` marker; None without the ``CPU``
    column or with fewer than two rows.
    """
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    for header, row in _production_thermo_rows(text):
        if "CPU" not in header:
            continue
        point = (int(row[0]), float(row[header.index("CPU")]))
        first = first or point
        last = point
    if first is None or last is None or last[0] <= first[0] or last[1] <= first[1]:
        return None
    return last[0] - first[0], last[1] - first[1]


def last_stage(text: str) -> str | None:
    """Name of the last ``GLASSFLOW_STAGE <name>`` the log printed (ramp, ..., production)."""
    name = None
    for line in text.splitlines():
        if line.startswith(STAGE_MARKER):
            words = line.split()
            name = words[1] if len(words) > 1 else name
    return name


def lammps_finished(text: str) -> bool:
    """True when a LAMMPS log ends with its ``Total wall time`` line."""
    return "Total wall time" in text[-4096:]


def restart_steps(run_dir: Path) -> list[int]:
    """Steps of the non-empty ``restart.<step>.bin`` files of a run directory."""
    steps = []
    for p in run_dir.glob("restart.*.bin"):
        m = _RESTART_RE.fullmatch(p.name)
        try:
            if m and p.stat().st_size > 0:
                steps.append(int(m[1]))
        except OSError:
            continue
    return sorted(steps)


def last_dump_step(path: Path, max_bytes: int = 64 << 20) -> int | None:
    """Step of the last complete ``ITEM: TIMESTEP`` record of a LAMMPS text dump."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            chunk = 1 << 16
            while True:
                n = min(size, chunk)
                fh.seek(size - n)
                tail = fh.read(n)
                m = list(re.finditer(rb"ITEM: TIMESTEP\s*\n\s*(\d+)\s*\n", tail))
                if m:
                    return int(m[-1][1])
                if n >= size or n >= max_bytes:
                    return None
                chunk *= 4
    except OSError:
        return None


def input_settings(text: str) -> dict[str, float | int]:
    """``timestep_fs``, ``production_steps`` and ``dump_steps`` of a rendered input."""
    out: dict[str, float | int] = {}
    if m := _TIMESTEP_RE.search(text):
        out["timestep_fs"] = float(m[1])
    if runs := _RUN_UPTO_RE.findall(text):
        out["production_steps"] = int(runs[-1])
    if m := _DUMP_EVERY_RE.search(text):
        out["dump_steps"] = int(m[1])
    return out


def final_error_line(text: str) -> str | None:
    """The last error line of a job log that the job did not go on from, or None.

    An error followed by a new LAMMPS launch (a line starting with ``$ ``) was handled
    (e.g. an unreadable restart file, after which an older one was used).
    """
    found: str | None = None
    for line in text.splitlines():
        if line.startswith(LAUNCH_PREFIX):
            found = None
        elif ERROR_RE.search(line):
            found = line.strip()[:200]
    return found


def error_line(log: Path, tail_bytes: int = 1 << 20) -> str | None:
    """:func:`final_error_line` of the end of a log file; None also for no log."""
    try:
        size = log.stat().st_size
        with open(log, "rb") as fh:
            fh.seek(max(0, size - tail_bytes))
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    return final_error_line(text)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _newest_mtime(paths: Iterable[Path]) -> float | None:
    times = [t for t in map(_mtime, paths) if t is not None]
    return max(times) if times else None


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None


# who writes a directory -------------------------------------------------------------------
def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def writer_of(doc: Any, directory: str, this_host: str) -> Writer | None:
    """The writer described by a ``writer.lock`` document; None for garbage.

    Keys read: ``host``, ``pid`` (and ``pid_start``), ``started_utc``, ``slurm_job_id``,
    and the LAMMPS it started: ``child_pgid`` or ``child_pid`` (and ``child_start``).
    On this host the writer is alive while its pid or its LAMMPS is.
    """
    if not isinstance(doc, dict):
        return None
    host = doc.get("host") if isinstance(doc.get("host"), str) else None
    pid = _int_or_none(doc.get("pid"))
    child = _int_or_none(doc.get("child_pgid")) or _int_or_none(doc.get("child_pid"))
    if host is None and pid is None:
        return None
    alive: bool | None = None
    if host == this_host:
        procs = [(pid, doc.get("pid_start")), (child, doc.get("child_start"))]
        alive = any(process_alive(p, s if isinstance(s, int) else None) for p, s in procs if p)
    started = doc.get("started_utc")
    job = doc.get("slurm_job_id")
    return Writer(
        directory=directory,
        host=host,
        pid=pid,
        started_utc=started if isinstance(started, str) else None,
        slurm_job_id=str(job) if isinstance(job, str | int) and job != "" else None,
        alive=alive,
    )


def read_writer(directory: Path, label: str, this_host: str) -> Writer | None:
    """The writer recorded in ``directory/writer.lock``; None when absent or unreadable."""
    return writer_of(_read_json(directory / LOCK_NAME), label, this_host)


# one LAMMPS working directory (production/ or production/segments/<k>/) ----------------
@dataclass(frozen=True)
class DirProgress:
    """What the LAMMPS files of one working directory say (steps are production steps)."""

    timestep_fs: float | None = None
    end_step: int | None = None  # ``run N upto`` of its input
    thermo_step: int | None = None  # last production thermo step of its logs
    thermo_mtime: float | None = None  # when the log holding it was last written
    step: int | None = None  # newest step of any source: thermo, restart file, dump
    restart_step: int | None = None
    stage: str | None = None  # last GLASSFLOW_STAGE of the newest log
    finished: bool = False  # the newest log ends with "Total wall time"
    steps_timed: int = 0  # production steps covered by ``seconds_timed`` (thermo CPU)
    seconds_timed: float = 0.0
    lammps_remaining_s: float | None = None
    started: bool = False

    def speed_ps_per_s(self) -> float | None:
        dt = self.timestep_fs
        if not dt or self.seconds_timed <= 0:
            return None
        return self.steps_timed * dt / FS_PER_PS / self.seconds_timed


def _log_pieces(workdir: Path) -> list[Path]:
    """LAMMPS logs of a working directory in order: log.lammps, then log.<k>.lammps."""
    found = []
    for p in workdir.glob("log*.lammps"):
        if m := _LOG_PIECE_RE.fullmatch(p.name):
            found.append((int(m[1]) if m[1] else 0, p))
    return [p for _, p in sorted(found)]


def dir_progress(workdir: Path, timestep_fs: float | None = None) -> DirProgress:
    """Progress of the LAMMPS run in ``workdir``; ``timestep_fs`` if its input has none."""
    if not workdir.is_dir():
        return DirProgress(timestep_fs=timestep_fs)
    settings = input_settings(_read_text(workdir / "in.production.lmp") or "")
    dt = settings.get("timestep_fs", timestep_fs)
    logs = _log_pieces(workdir)
    restarts = restart_steps(workdir)
    dumps = sorted(workdir.glob("dump.*.lammpstrj"))
    thermo_step = thermo_mtime = remaining = None
    steps_timed, seconds_timed = 0, 0.0
    stage, finished = None, False
    for log in logs:
        text = _read_text(log) or ""
        if (step := production_steps_in_log(text)) is not None and (
            thermo_step is None or step >= thermo_step
        ):
            thermo_step, thermo_mtime = step, _mtime(log)
        if (clock := production_clock_in_log(text)) is not None:
            steps_timed += clock[0]
            seconds_timed += clock[1]
        if (left := production_remaining_in_log(text)) is not None:
            remaining = left
        stage = last_stage(text) or stage
        finished = lammps_finished(text)
    steps = [s for s in (thermo_step, *restarts) if s is not None]
    steps += [s for s in map(last_dump_step, dumps) if s is not None]
    return DirProgress(
        timestep_fs=float(dt) if dt else None,
        end_step=int(settings["production_steps"]) if "production_steps" in settings else None,
        thermo_step=thermo_step,
        thermo_mtime=thermo_mtime,
        step=max(steps) if steps else None,
        restart_step=restarts[-1] if restarts else None,
        stage=stage,
        finished=finished,
        steps_timed=steps_timed,
        seconds_timed=seconds_timed,
        lammps_remaining_s=remaining,
        started=bool(logs or restarts or dumps),
    )


# segments ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segments:
    """The segments of a run on disk: finished records, directories, rule logs."""

    records: dict[int, dict[str, Any]]  # k -> segment.json, for the finished ones
    dirs: list[int]  # segment directories present
    logs: dict[int, Path]  # k -> rule log

    @property
    def done(self) -> list[int]:
        """Finished segments 1..j without a gap."""
        out: list[int] = []
        while len(out) + 1 in self.records:
            out.append(len(out) + 1)
        return out

    @property
    def next(self) -> int:
        return len(self.done) + 1

    @property
    def started_next(self) -> bool:
        """True when the segment after the finished ones has a directory or a log."""
        return self.next in self.dirs or self.next in self.logs


def read_segments(run_dir: Path, logs: Mapping[int, Path]) -> Segments:
    """Segments of the run in ``run_dir`` (its production directory)."""
    records: dict[int, dict[str, Any]] = {}
    dirs: list[int] = []
    try:
        entries = list((run_dir / "segments").iterdir())
    except OSError:
        entries = []
    for d in entries:
        if not (d.name.isdigit() and d.is_dir()):
            continue
        k = int(d.name)
        dirs.append(k)
        doc = _read_json(d / "segment.json")
        if isinstance(doc, dict) and _number(doc.get("total_ps")) is not None:
            records[k] = doc
    return Segments(records, sorted(dirs), dict(logs))


def segment_decision(
    record: Mapping[str, Any], protocol: Mapping[str, Any] | None, modifier: str | None
) -> tuple[bool, str] | None:
    """(stop, reason) after a finished segment.

    The workflow's stop rule (:func:`glassflow.md.segments.record_decision`) with the
    campaign's protocol when it and the species that must converge
    (``converge_species``, default the ``modifier``) are known, as the workflow decides
    with today's config; else the decision the segment recorded when it was written.
    """
    species = (protocol or {}).get("converge_species") or modifier
    if protocol is not None and species and length_plan(protocol) is not None:
        from glassflow.md.segments import SegmentPlan, record_decision

        try:
            plan = SegmentPlan.from_protocol(protocol, modifier or "")
            decision = record_decision(record, plan)
            return decision.stop, decision.reason
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    written = record.get("decision_when_written")
    if isinstance(written, dict) and isinstance(written.get("stop"), bool):
        return written["stop"], str(written.get("reason", ""))
    return None


# one run ----------------------------------------------------------------------------------
def _done_status(key: RunKey, doc: Mapping[str, Any], plan: LengthPlan | None) -> RunStatus:
    protocol = doc.get("protocol") if isinstance(doc.get("protocol"), dict) else {}
    own = length_plan(protocol) or plan
    n_frames, dump_fs = doc.get("n_frames"), _number(protocol.get("dump_interval_fs"))
    dt = _number(protocol.get("timestep_fs"))
    if (ps := _number(doc.get("total_production_ps"))) is None:
        if isinstance(n_frames, int) and dump_fs and n_frames > 0:
            ps = (n_frames - 1) * dump_fs / FS_PER_PS  # frames include step 0
        else:
            ps = None if own is None else own.production_ps
    wall = _number(doc.get("wall_time_s"))
    segments = doc.get("segments") if isinstance(doc.get("segments"), list) else []
    wall_ps = _wall_production_ps(ps, doc.get("resumed_from_step"), segments, dt)
    n_segments = doc.get("n_segments") if isinstance(doc.get("n_segments"), int) else 1
    return RunStatus(
        key.comp,
        key.T_K,
        key.replica,
        "done",
        ps_done=ps,
        ps_planned=None if own is None else own.production_ps,
        ps_committed=ps,
        ps_max=None if own is None else own.max_production_ps,
        segmented=bool(own and own.segmented),
        segments_done=list(range(1, n_segments + 1)) if own and own.segmented else [],
        wall_time_s=wall,
        wall_ps=wall_ps,
        detail=str(doc.get("stop_reason") or "run.json"),
    )


def _wall_production_ps(
    ps: float | None, resumed_from: Any, segments: list[Any], dt: float | None
) -> float | None:
    """Production ps that the recorded wall time covers: an attempt resumed from step s
    ran only from there (per segment for a segmented run)."""
    if ps is None:
        return None
    if not dt:
        return ps
    if segments:
        total = 0.0
        for s in segments:
            if not isinstance(s, dict):
                return ps
            start, end = _number(s.get("start_ps")), _number(s.get("total_ps"))
            if start is None or end is None:
                return ps
            resumed = s.get("resumed_from_step")
            if isinstance(resumed, int):
                start = max(start, resumed * dt / FS_PER_PS)
            total += max(0.0, end - start)
        return total
    if isinstance(resumed_from, int):
        return ps - resumed_from * dt / FS_PER_PS
    return ps


def _failure(
    results: Path, key: RunKey, segments: Segments, glass_missing: bool
) -> tuple[list[int], str | None]:
    """Failed segments and the error line of the run's failure (None: not failed)."""
    failed = [
        k for k, log in sorted(segments.logs.items())
        if k not in segments.records and error_line(log)
    ]  # fmt: skip
    if failed:
        k = failed[-1]
        return failed, f"segment {k}: {error_line(segments.logs[k])}"
    if err := error_line(rule_log(results, "production", key)):
        return failed, f"production: {err}"
    if glass_missing:
        for rule in ("melt_quench", "build_cell"):
            if err := error_line(rule_log(results, rule, key)):
                return failed, f"{rule}: {err}"
    return failed, None


def _files(directory: Path | None) -> list[Path]:
    if directory is None:
        return []
    try:
        return [p for p in directory.iterdir() if p.is_file()]
    except OSError:
        return []


def _recorded_timestep(plan: LengthPlan | None, segs: Segments) -> float | None:
    """The campaign's timestep, else the one a finished segment recorded."""
    if plan is not None and plan.timestep_fs:
        return plan.timestep_fs
    for record in segs.records.values():
        p = record.get("protocol")
        if isinstance(p, dict) and (dt := _number(p.get("timestep_fs"))):
            return dt
    return None


def _thermo_and_speed(
    run_dir: Path, progress: DirProgress, done: Sequence[int], dt: float | None
) -> tuple[DirProgress, float | None]:
    """Progress holding the newest thermo step, and the run's own speed (ps/s): from the
    segment under way, else from the newest finished segments that tell."""
    thermo, speed = progress, progress.speed_ps_per_s()
    for k in reversed(done):
        if speed is not None and thermo.thermo_step is not None:
            break
        earlier = dir_progress(run_dir / "segments" / str(k), dt)
        thermo = thermo if thermo.thermo_step is not None else earlier
        speed = speed if speed is not None else earlier.speed_ps_per_s()
    return thermo, speed


@dataclass(frozen=True)
class Lengths:
    """Production ps of an unfinished run (module docstring)."""

    done: float | None
    planned: float | None
    committed: float | None
    maximum: float | None


def run_lengths(
    plan: LengthPlan | None,
    segs: Segments,
    progress: DirProgress,
    dt: float | None,
    segmented: bool,
    decision: tuple[bool, str] | None,
) -> Lengths:
    """Done, planned, committed and maximum production ps of an unfinished run.

    Done: the finished segments, or the newest step of the LAMMPS run under way if
    further. A run whose last segment decided to stop is committed to that length.
    """
    done = segs.done if segmented else []
    base = _number(segs.records[done[-1]].get("total_ps")) if done else None
    at_step = progress.step * dt / FS_PER_PS if (progress.step is not None and dt) else None
    known = [v for v in (base, at_step) if v is not None]
    ps_done = max(known) if known else (0.0 if dt else None)
    planned = plan.production_ps if plan else None
    if not segmented and progress.end_step is not None and dt:
        planned = progress.end_step * dt / FS_PER_PS
    if decision is not None and decision[0]:
        committed = base
    elif segmented:
        committed = _segmented_commitment(plan, segs, progress, dt)
    else:
        committed = planned
    maximum = plan.max_production_ps if plan else (None if segmented else planned)
    if maximum is not None and committed is not None:
        maximum = max(maximum, committed)
    return Lengths(ps_done, planned, committed, maximum)


def _run_writer(run_dir: Path, active_k: int | None, this_host: str) -> Writer | None:
    """The writer of the segment under way, else of the production directory."""
    writer = None
    if active_k is not None:
        seg = run_dir / "segments" / str(active_k)
        writer = read_writer(seg, f"segments/{active_k}", this_host)
    return writer or read_writer(run_dir, ".", this_host)


def _last_write(
    results: Path, key: RunKey, run_dir: Path, workdir: Path | None, segs: Segments
) -> float | None:
    """Newest mtime of the files the run writes: its production directory, the segment
    under way, the rule logs, the newest finished segment's record."""
    done = segs.done
    watched = [
        *_files(run_dir),
        *(_files(workdir) if workdir != run_dir else []),
        rule_log(results, "production", key),
        *segs.logs.values(),
    ]
    if done:
        watched.append(run_dir / "segments" / str(done[-1]) / "segment.json")
    return _newest_mtime(watched)


def _judge(
    status: RunStatus,
    failure: str | None,
    started: bool,
    active_s: float,
    progress: DirProgress,
    active_k: int | None,
    decision: tuple[bool, str] | None,
) -> None:
    """Set ``state`` and ``detail`` (module docstring: failed, stalled, running, pending)."""
    writer, idle, done = status.writer, status.idle_s, status.segments_done
    resume = _resume_point(progress, done, status.segmented)
    if failure is not None:
        status.state, status.detail = "failed", failure
    elif writer is not None and writer.alive is False:
        status.state = "stalled"
        status.segments_stalled = [active_k] if active_k else []
        status.detail = f"its {writer.describe()} is gone; a rerun resumes {resume}"
    elif idle is not None and idle <= active_s:
        status.state = "running"
        status.segments_running = [active_k] if active_k else []
        status.remaining_s = progress.lammps_remaining_s
        where = f"segment {active_k}" if active_k else ("" if status.segmented else "production")
        status.detail = _running_detail(where, progress, decision, done, writer)
    elif started:
        status.state = "stalled"
        status.segments_stalled = [active_k] if active_k else []
        quiet = f"nothing written for {_duration(idle)}"
        if writer is not None and writer.alive:
            status.detail = f"{quiet} but its {writer.describe()} is alive: hung?"
        else:
            status.detail = f"{quiet}, no error logged; a rerun resumes {resume}"
    else:
        status.state = "pending"
        status.ps_done = status.ps_done or 0.0


def run_status(
    results: Path,
    key: RunKey,
    *,
    now: float,
    active_s: float,
    protocol: Mapping[str, Any] | None = None,
    modifier: str | None = None,
    segment_logs: Mapping[int, Path] | None = None,
    this_host: str | None = None,
) -> RunStatus:
    """State and progress of one run (see the module docstring).

    ``protocol`` (the campaign's, if known) gives the planned and maximum lengths, the
    segment length and the timestep of runs that have not rendered their input yet;
    with ``modifier`` (``system.modifier``, the default ``converge_species``) the stop
    rule is applied to finished segments as the workflow applies it.
    ``segment_logs``: the run's segment rule logs (default: looked up on disk).
    """
    plan = length_plan(protocol)
    run_dir = production_dir(results, key)
    doc = _read_json(run_dir / "run.json")
    if doc is not None or (run_dir / "run.json").is_file():
        return _done_status(key, doc if isinstance(doc, dict) else {}, plan)

    if segment_logs is None:
        segment_logs = segment_logs_by_run(results).get(key.name, {})
    segs = read_segments(run_dir, segment_logs)
    segmented = plan.segmented if plan else bool(segs.dirs or segs.logs)
    done = segs.done if segmented else []
    active_k = segs.next if segmented and segs.started_next else None
    workdir = (
        run_dir if not segmented else (run_dir / "segments" / str(active_k) if active_k else None)
    )
    dt_default = _recorded_timestep(plan, segs)
    progress = dir_progress(workdir, dt_default) if workdir else DirProgress()
    dt = progress.timestep_fs or dt_default
    thermo, speed = _thermo_and_speed(run_dir, progress, done, dt)
    decision = segment_decision(segs.records[done[-1]], protocol, modifier) if done else None
    lengths = run_lengths(plan, segs, progress, dt, segmented, decision)
    glass = results / key.comp / f"rep{key.replica:02d}" / "glass" / "glass.data"
    failed_segments, failure = _failure(results, key, segs, not glass.is_file())
    activity = _last_write(results, key, run_dir, workdir, segs)
    status = RunStatus(
        key.comp,
        key.T_K,
        key.replica,
        "pending",
        ps_done=lengths.done,
        ps_planned=lengths.planned,
        ps_committed=lengths.committed,
        ps_max=lengths.maximum,
        segmented=segmented,
        segments_done=done,
        segments_failed=failed_segments,
        last_step=thermo.thermo_step,
        last_step_age_s=None
        if thermo.thermo_mtime is None
        else max(0.0, now - thermo.thermo_mtime),
        idle_s=None if activity is None else max(0.0, now - activity),
        speed_ps_per_s=speed,
        speed_source="own thermo" if speed is not None else "",
        writer=_run_writer(run_dir, active_k, this_host or platform.node()),
    )
    started = progress.started or bool(done) or bool(segs.dirs)
    _judge(status, failure, started, active_s, progress, active_k, decision)
    _set_eta(status)
    return status


def _segmented_commitment(
    plan: LengthPlan | None, segs: Segments, progress: DirProgress, dt: float | None
) -> float | None:
    """Length a segmented run that has not decided to stop reaches at least:
    ``production_ps`` and the end of the segment under way (or the next one)."""
    ends: list[float] = []
    if plan is not None:
        ends += [plan.production_ps, segs.next * plan.segment_ps]
    elif progress.end_step is not None and dt:
        ends.append(progress.end_step * dt / FS_PER_PS)
    else:
        return None
    return max(ends)


def _resume_point(progress: DirProgress, done: list[int], segmented: bool) -> str:
    if progress.restart_step is not None:
        return f"from restart.{progress.restart_step}.bin"
    if segmented and done:
        return f"after segment {done[-1]}"
    return "from the start"


def _running_detail(
    where: str,
    progress: DirProgress,
    decision: tuple[bool, str] | None,
    done: list[int],
    writer: Writer | None,
) -> str:
    parts = []
    if progress.finished:
        parts.append(f"{where}: LAMMPS done, writing its outputs".lstrip(": "))
    elif progress.stage and progress.stage != "production":
        parts.append(f"{where}: {progress.stage}".lstrip(": "))
    elif where:
        parts.append(where)
    if decision is not None and done:
        verdict = "stop" if decision[0] else "go on"
        parts.append(f"after segment {done[-1]}: {verdict} ({decision[1]})")
        if decision[0]:
            parts.append("stitching the segments")
    if progress.lammps_remaining_s is not None and not progress.finished:
        parts.append(f"LAMMPS estimate {_duration(progress.lammps_remaining_s)} left")
    if writer is not None:
        alive = {True: "alive", False: "gone", None: "on another host"}[writer.alive]
        parts.append(f"{writer.describe()} ({alive})")
    return "; ".join(parts) if parts else "starting"


def _set_eta(run: RunStatus) -> None:
    """ETA to the committed and to the maximum length at the run's speed."""
    if run.state == "done":
        run.eta_s = run.eta_max_s = None
        return
    run.eta_s = eta_seconds(_ps_left(run, run.ps_committed), run.speed_ps_per_s)
    run.eta_max_s = eta_seconds(_ps_left(run, run.ps_max), run.speed_ps_per_s)


def campaign_speed(runs: Sequence[RunStatus]) -> tuple[float | None, str]:
    """Production ps per wall second for runs without their own measure, and its source.

    The finished runs' (``run.json`` wall time), else the mean of the speeds measured
    on the other runs' thermo.
    """
    if (per_ns := finished_wall_s_per_ns(runs)) is not None:
        return PS_PER_NS / per_ns, "finished runs"
    own = [r.speed_ps_per_s for r in runs if r.speed_source == "own thermo"]
    own = [s for s in own if s]
    return (sum(own) / len(own), "other runs") if own else (None, "")


def campaign_status(
    results: str | Path,
    expected: Iterable[RunKey] | None = None,
    *,
    protocol: Mapping[str, Any] | None = None,
    modifier: str | None = None,
    active_minutes: float = 10.0,
    jobs: int | None = None,
    now: float | None = None,
) -> CampaignStatus:
    """Status of every run of the campaign in ``results`` (``results/<campaign>``).

    ``expected``: the campaign's runs (from its config); default: the grid implied by
    the files on disk (:func:`discover_runs`). ``protocol``: the campaign's (validated)
    protocol block; default: the one recorded in a finished run's ``run.json``.
    ``modifier``: the campaign's ``system.modifier`` (see :func:`run_status`).
    ``jobs``: runs at a time for the remaining-time estimate; default: the number
    running now (at least 1).
    """
    results = Path(results)
    keys = sorted(set(expected) if expected is not None else discover_runs(results))
    now = time.time() if now is None else now
    protocol = protocol if protocol is not None else recorded_protocol(results, keys)
    logs = segment_logs_by_run(results)
    host = platform.node()
    runs = [
        run_status(
            results,
            k,
            now=now,
            active_s=active_minutes * 60.0,
            protocol=protocol,
            modifier=modifier,
            segment_logs=logs.get(k.name, {}),
            this_host=host,
        )
        for k in keys
    ]
    _fill_unknown_lengths(runs)
    speed, source = campaign_speed(runs)
    for r in runs:
        if r.state != "done" and r.speed_ps_per_s is None and speed is not None:
            r.speed_ps_per_s, r.speed_source = speed, source
        _set_eta(r)
    n_running = sum(r.state == "running" for r in runs)
    return CampaignStatus(
        campaign=results.name,
        results_dir=str(results),
        runs=runs,
        jobs=jobs if jobs is not None else max(1, n_running),
    )


def _most_common(values: Iterable[float | None]) -> float | None:
    known = [round(v, 9) for v in values if v is not None]
    return max(set(known), key=known.count) if known else None


def _fill_unknown_lengths(runs: list[RunStatus]) -> None:
    """Runs that do not tell their lengths get the most common ones of the campaign."""
    planned = _most_common(r.ps_planned for r in runs)
    maximum = _most_common(r.ps_max for r in runs)
    for r in runs:
        if r.ps_planned is None:
            r.ps_planned = planned
        if r.ps_committed is None:
            r.ps_committed = r.ps_planned
        if r.ps_max is None and maximum is not None:
            r.ps_max = max(maximum, r.ps_committed or 0.0)


# output -----------------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _ps(value: float | None) -> str:
    """A production length: ps below 1 ns, else ns."""
    if value is None:
        return "?"
    return f"{value:.4g} ps" if abs(value) < PS_PER_NS else f"{value / PS_PER_NS:.4g} ns"


def _speed(ps_per_s: float | None) -> str:
    return "" if ps_per_s is None else f"{ps_per_s * SECONDS_PER_DAY / PS_PER_NS:.3g}"


def _eta_range(low: float | None, high: float | None) -> str:
    if low is None:
        return ""
    if high is None or high <= low * 1.05:
        return _duration(low)
    return f"{_duration(low)}-{_duration(high)}"


def _segments_cell(r: RunStatus) -> str:
    if not r.segmented:
        return "-"
    parts = [f"{len(r.segments_done)} done"]
    parts += [f"#{k} running" for k in r.segments_running]
    parts += [f"#{k} failed" for k in r.segments_failed]
    parts += [f"#{k} stalled" for k in r.segments_stalled]
    return ", ".join(parts)


def _last_step_cell(r: RunStatus) -> str:
    if r.last_step is None:
        return ""
    age = "" if r.last_step_age_s is None else f" ({_duration(r.last_step_age_s)} ago)"
    return f"{r.last_step}{age}"


def format_status(status: CampaignStatus, all_runs: bool = False) -> str:
    """Readable summary; lists running, failed and stalled runs (all runs with ``all_runs``)."""
    c = status.counts
    n = len(status.runs)
    lines = [
        f"campaign {status.campaign} ({status.results_dir}): {n} production runs, {status.state}",
        "  " + "  ".join(f"{s} {c[s]}" for s in STATES),
    ]
    target, top = status.ps_target, status.ps_max
    share = f" ({100 * status.ps_done / target:.1f} %)" if target else ""
    most = f", at most {_ps(top)}" if top is not None and target and top > target * 1.0001 else ""
    lines.append(f"  production simulated: {_ps(status.ps_done)} of {_ps(target)}{share}{most}")
    rate = status.wall_s_per_ns
    n_done = c["done"]
    if rate is not None:
        lines.append(
            f"  measured: {_duration(rate)} of wall time per production ns "
            f"({n_done} finished run{'s' if n_done != 1 else ''}, ramp and equilibration "
            "included)"
        )
    eta = status.eta_s
    if not status.unfinished:
        lines.append("  remaining: nothing, every run is done")
    elif eta is None:
        lines.append("  remaining: unknown (no finished run and no run with a measured speed yet)")
    else:
        left, left_max = status.ps_remaining, status.ps_remaining_max
        upto = f" (up to {_ps(left_max)})" if left_max and left and left_max > left * 1.0001 else ""
        lines.append(
            f"  remaining: {_ps(left)}{upto}, about {_eta_range(eta, status.eta_max_s)} "
            f"with {status.jobs} run{'s' if status.jobs != 1 else ''} at a time"
        )
    shown = [r for r in status.runs if all_runs or r.state in ("running", "failed", "stalled")]
    if shown:
        header = (
            f"  {'run':<24} {'state':<8} {'segments':<20} {'done':>9} {'planned':>9} "
            f"{'max':>9} {'last step':>18} {'ns/day':>7} {'ETA':>14}  detail"
        )
        lines += ["", header]
        for r in shown:
            eta_cell = _eta_range(r.eta_s, r.eta_max_s) if r.state == "running" else ""
            lines.append(
                f"  {r.key.name:<24} {r.state:<8} {_segments_cell(r):<20} "
                f"{_ps(r.ps_done):>9} {_ps(r.ps_planned):>9} {_ps(r.ps_max):>9} "
                f"{_last_step_cell(r):>18} {_speed(r.speed_ps_per_s):>7} {eta_cell:>14}  "
                f"{r.detail}"
            )
    return "\n".join(lines)
