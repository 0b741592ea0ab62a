"""Progress of a campaign read from the files on disk (no Snakemake, no lock).

Each production run ``results/<campaign>/<comp>/T<T>/rep<NN>/production`` is put in
one state, in this order of precedence:

- ``done``: ``run.json`` exists;
- ``running``: a file the run writes (LAMMPS logs, dump segments, restart files,
  the rule's log ``logs/production/<comp>_T<T>_rep<NN>.log``) changed in the last
  ``active_minutes``;
- ``failed``: the rule's log (or the log of the replica's ``melt_quench`` or
  ``build_cell`` job, when the glass is missing) holds an error line;
- ``stalled``: the run started (its production directory holds a log, restart file
  or dump) but nothing changed lately and no error was logged, e.g. a job killed at
  its wall time; a rerun resumes it from its newest restart file;
- ``pending``: nothing on disk yet.

Only robust facts are read: ``run.json`` (``n_frames``, ``protocol``,
``wall_time_s``, ``resumed_from_step``), the rendered ``in.production.lmp``
(``timestep``, ``run N upto``), the names ``restart.<step>.bin``, the last
``ITEM: TIMESTEP`` of dump segments and the thermo ``Step`` column of LAMMPS logs
after the ``GLASSFLOW_STAGE production`` marker. ``production_state.json`` is not
read. Missing or unreadable pieces leave a number unknown (None), never an error.

Simulated time counts production only (ns); ramp and equilibration are not counted,
but their cost is part of each run's wall time, so the measured wall time per
production ns is an upper bound.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATES = ("done", "running", "failed", "stalled", "pending")
PRODUCTION_MARKER = "GLASSFLOW_STAGE production"
ERROR_WORDS = ("ERROR", "Error", "error", "Killed", "Traceback")
FS_PER_NS = 1.0e6

COMP_RE = re.compile(r"x\d\.\d{2}_m\d{1,2}\.\d{2}")
_LOG_NAME_RE = re.compile(
    r"(?P<comp>x\d\.\d{2}_m\d{1,2}\.\d{2})_T(?P<T>\d+)_rep(?P<rep>\d{2})\.log"
)
_RESTART_RE = re.compile(r"restart\.(\d+)\.bin")
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


@dataclass
class RunStatus:
    """State and progress of one run; ``ns_*`` are production nanoseconds."""

    comp: str
    T_K: int
    replica: int
    state: str
    ns_done: float | None = None
    ns_target: float | None = None
    wall_time_s: float | None = None
    wall_ns: float | None = None  # production ns covered by wall_time_s
    idle_s: float | None = None  # seconds since the run last wrote a file
    detail: str = ""
    remaining_s: float | None = None  # LAMMPS's estimate (thermo cpuremain) for running runs


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
    def ns_done(self) -> float:
        return sum(r.ns_done or 0.0 for r in self.runs)

    @property
    def ns_target(self) -> float | None:
        targets = [r.ns_target for r in self.runs]
        return None if any(t is None for t in targets) else sum(targets)  # type: ignore[misc]

    @property
    def ns_remaining(self) -> float | None:
        total = 0.0
        for r in self.runs:
            if r.state == "done":
                continue
            if r.ns_target is None:
                return None
            total += max(0.0, r.ns_target - (r.ns_done or 0.0))
        return total

    @property
    def wall_s_per_ns(self) -> float | None:
        """Measured wall time per production ns over the finished runs."""
        pairs = [
            (r.wall_time_s, r.wall_ns)
            for r in self.runs
            if r.state == "done" and r.wall_time_s and r.wall_ns
        ]
        if not pairs:
            return None
        return sum(w for w, _ in pairs) / sum(ns for _, ns in pairs)

    @property
    def eta_s(self) -> float | None:
        """Remaining wall time (s) with ``jobs`` runs at a time, at the measured rate."""
        rate, left = self.wall_s_per_ns, self.ns_remaining
        if rate is None or left is None:
            return None
        return left * rate / max(1, self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "results_dir": self.results_dir,
            "counts": self.counts,
            "n_runs": len(self.runs),
            "ns_done": self.ns_done,
            "ns_target": self.ns_target,
            "ns_remaining": self.ns_remaining,
            "wall_s_per_ns": self.wall_s_per_ns,
            "jobs": self.jobs,
            "eta_s": self.eta_s,
            "runs": [asdict(r) for r in self.runs],
        }


# paths ----------------------------------------------------------------------------------
def production_dir(results: Path, key: RunKey) -> Path:
    return results / key.comp / f"T{key.T_K}" / f"rep{key.replica:02d}" / "production"


def rule_log(results: Path, rule: str, key: RunKey) -> Path:
    """The Snakemake rule log of a run (production) or of its glass (the others)."""
    if rule == "production":
        return results / "logs" / "production" / f"{key.name}.log"
    return results / "logs" / rule / f"{key.comp}_rep{key.replica:02d}.log"


def discover_runs(results: Path) -> set[RunKey]:
    """Runs that the files on disk imply: every composition x temperature x replica seen.

    A glassflow campaign is a full grid, so temperatures and replicas seen anywhere
    apply to every composition; production logs of runs without a directory count too.
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
    logs = results / "logs" / "production"
    if logs.is_dir():
        for log in logs.iterdir():
            m = _LOG_NAME_RE.fullmatch(log.name)
            if m:
                comps.add(m["comp"])
                temps.add(int(m["T"]))
                reps.add(int(m["rep"]))
    return {RunKey(c, t, r) for c in comps for t in temps for r in reps}


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


def error_line(log: Path, tail_bytes: int = 1 << 20) -> str | None:
    """The last line of a log that reports an error, or None (also for no log)."""
    try:
        size = log.stat().st_size
        with open(log, "rb") as fh:
            fh.seek(max(0, size - tail_bytes))
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if any(w in line for w in ERROR_WORDS):
            return line.strip()[:200]
    return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _newest_mtime(paths: Iterable[Path]) -> float | None:
    newest = None
    for p in paths:
        try:
            t = p.stat().st_mtime
        except OSError:
            continue
        newest = t if newest is None else max(newest, t)
    return newest


# one run ----------------------------------------------------------------------------------
def _done_status(key: RunKey, doc: Mapping[str, Any], fallback_ns: float | None) -> RunStatus:
    protocol = doc.get("protocol") or {}
    n_frames, dump_fs = doc.get("n_frames"), protocol.get("dump_interval_fs")
    dt = protocol.get("timestep_fs")
    if isinstance(n_frames, int) and isinstance(dump_fs, int | float) and n_frames > 0:
        ns = (n_frames - 1) * dump_fs / FS_PER_NS  # frames include step 0
    elif isinstance(protocol.get("production_ps"), int | float):
        ns = protocol["production_ps"] / 1000.0
    else:
        ns = fallback_ns
    wall = doc.get("wall_time_s")
    wall = float(wall) if isinstance(wall, int | float) else None
    wall_ns = ns
    resumed = doc.get("resumed_from_step")
    if ns is not None and isinstance(resumed, int) and isinstance(dt, int | float):
        wall_ns = ns - resumed * dt / FS_PER_NS  # this attempt's wall time covers the rest
    return RunStatus(
        key.comp, key.T_K, key.replica, "done", ns, ns, wall, wall_ns, None, "run.json"
    )


def run_status(
    results: Path,
    key: RunKey,
    *,
    now: float,
    active_s: float,
    protocol: Mapping[str, Any] | None = None,
) -> RunStatus:
    """State and progress of one run (see the module docstring for the states).

    ``protocol`` (the campaign's, if known) gives the timestep and production length
    of runs that have not rendered their input yet.
    """
    protocol = protocol or {}
    run_dir = production_dir(results, key)
    default_ns = (
        protocol["production_ps"] / 1000.0
        if isinstance(protocol.get("production_ps"), int | float)
        else None
    )
    run_json = run_dir / "run.json"
    if run_json.is_file():
        try:
            doc = json.loads(run_json.read_text())
        except (OSError, json.JSONDecodeError):
            doc = {}
        return _done_status(key, doc if isinstance(doc, dict) else {}, default_ns)

    settings = input_settings(_read_text(run_dir / "in.production.lmp") or "")
    dt = settings.get("timestep_fs", protocol.get("timestep_fs"))
    ns_target = default_ns
    if dt and "production_steps" in settings:
        ns_target = settings["production_steps"] * dt / FS_PER_NS

    logs = sorted(run_dir.glob("log*.lammps"))
    dumps = sorted(run_dir.glob("dump.*.lammpstrj"))
    restarts = restart_steps(run_dir)
    steps = [s for s in (production_steps_in_log(_read_text(p) or "") for p in logs) if s]
    steps += restarts
    steps += [s for s in (last_dump_step(p) for p in dumps) if s]
    step = max(steps) if steps else None
    ns_done = step * dt / FS_PER_NS if (step is not None and dt) else (0.0 if dt else None)

    own_log = rule_log(results, "production", key)
    activity = _newest_mtime([*logs, *dumps, *run_dir.glob("restart.*.bin"), own_log])
    idle = None if activity is None else max(0.0, now - activity)
    started = bool(logs or dumps or restarts)
    status = RunStatus(
        key.comp, key.T_K, key.replica, "pending", ns_done, ns_target, None, None, idle
    )
    if idle is not None and idle <= active_s:
        status.state = "running"
        status.detail = f"step {step}" if step is not None else "starting"
        left = [production_remaining_in_log(_read_text(p) or "") for p in logs]
        if (known := [x for x in left if x is not None]) and step is not None:
            status.remaining_s = known[-1]
            status.detail += f", about {_duration(known[-1])} left (LAMMPS estimate)"
        return status
    if err := error_line(own_log):
        status.state, status.detail = "failed", f"production: {err}"
        return status
    glass = results / key.comp / f"rep{key.replica:02d}" / "glass" / "glass.data"
    if not glass.is_file():
        for rule in ("melt_quench", "build_cell"):
            if err := error_line(rule_log(results, rule, key)):
                status.state, status.detail = "failed", f"{rule}: {err}"
                return status
    if started:
        status.state = "stalled"
        status.detail = "no error logged; a rerun resumes from the newest restart file"
        return status
    status.ns_done = 0.0
    return status


def campaign_status(
    results: str | Path,
    expected: Iterable[RunKey] | None = None,
    *,
    protocol: Mapping[str, Any] | None = None,
    active_minutes: float = 10.0,
    jobs: int | None = None,
    now: float | None = None,
) -> CampaignStatus:
    """Status of every run of the campaign in ``results`` (``results/<campaign>``).

    ``expected``: the campaign's runs (from its config); default: the grid implied by
    the files on disk (:func:`discover_runs`). ``jobs``: runs at a time for the
    remaining-time estimate; default: the number running now (at least 1).
    """
    results = Path(results)
    keys = sorted(set(expected) if expected is not None else discover_runs(results))
    now = time.time() if now is None else now
    runs = [
        run_status(results, k, now=now, active_s=active_minutes * 60.0, protocol=protocol)
        for k in keys
    ]
    fallback = _typical_target(runs)
    for r in runs:
        if r.ns_target is None:
            r.ns_target = fallback
    n_running = sum(r.state == "running" for r in runs)
    return CampaignStatus(
        campaign=results.name,
        results_dir=str(results),
        runs=runs,
        jobs=jobs if jobs is not None else max(1, n_running),
    )


def _typical_target(runs: list[RunStatus]) -> float | None:
    """Most common known production length, for runs that do not tell theirs."""
    known = [round(r.ns_target, 9) for r in runs if r.ns_target is not None]
    return max(set(known), key=known.count) if known else None


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


def _ns(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def format_status(status: CampaignStatus, all_runs: bool = False) -> str:
    """Readable summary; lists running, failed and stalled runs (all runs with ``all_runs``)."""
    c = status.counts
    lines = [
        f"campaign {status.campaign} ({status.results_dir}): {len(status.runs)} production runs",
        "  " + "  ".join(f"{s} {c[s]}" for s in STATES),
    ]
    target = status.ns_target
    share = f" ({100 * status.ns_done / target:.1f} %)" if target else ""
    lines.append(f"  production simulated: {status.ns_done:.4g} of {_ns(target)} ns{share}")
    rate = status.wall_s_per_ns
    n_done = c["done"]
    if rate is None:
        lines.append("  remaining: unknown (no finished run with a wall time yet)")
    else:
        lines.append(
            f"  measured: {_duration(rate)} of wall time per production ns "
            f"({n_done} finished run{'s' if n_done != 1 else ''}, ramp and equilibration "
            "included)"
        )
        lines.append(
            f"  remaining: {_ns(status.ns_remaining)} ns, about {_duration(status.eta_s)} "
            f"with {status.jobs} run{'s' if status.jobs != 1 else ''} at a time"
        )
    shown = [r for r in status.runs if all_runs or r.state in ("running", "failed", "stalled")]
    if shown:
        header = f"  {'run':<24} {'state':<8} {'ns done':>9} {'of ns':>8} {'idle':>9}  detail"
        lines += ["", header]
        for r in shown:
            name = RunKey(r.comp, r.T_K, r.replica).name
            idle = "" if r.idle_s is None or r.state == "done" else _duration(r.idle_s)
            lines.append(
                f"  {name:<24} {r.state:<8} {_ns(r.ns_done):>9} {_ns(r.ns_target):>8} "
                f"{idle:>9}  {r.detail}"
            )
    return "\n".join(lines)
