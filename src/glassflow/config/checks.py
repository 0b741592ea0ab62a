"""Cross-checks of the analysis settings against the campaign, made when the workflow starts.

The schema checks each key alone (types, ranges). The checks here need several keys or
the campaign itself: ordered pairs (``gk_window_ps`` = [start, end], ``k_min_inv_A`` <
``k_max_inv_A``), species that must be among the campaign's elements, neighbour cutoffs
that must fit in half of the shortest cell (minimum image), and times that must fit in
the production run and be resolved by its frames. Without them such settings pass the
dry run and fail in ``analyse_runs``, after all the MD.

Times that the analyses clip to the run (van Hove lags, the fast/slow lag, the softness
window, the VACF length; see the schema) are held to the run only when they differ
from the package default: a default too long for a short test run is clipped as
documented, a value the user wrote must fit.

``results_dir_problems`` checks that the results can be written at all: Snakemake would
otherwise fail on its first output directory, in a long traceback.

Every function returns a list of messages ``config key '<key>': <problem>`` (empty when
all is well), so that all problems are reported together.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassflow.md.cost import n_frames

Section = Mapping[str, Any]


@dataclass(frozen=True)
class RunFacts:
    """What every analysis job of a campaign will see, known from the config alone."""

    elements: tuple[str, ...]  # modifier, former, anion
    production_ps: float
    frame_ps: float  # dump interval, ps
    shortest_cell_A: float  # shortest cubic cell edge over the compositions, A
    shortest_cell_label: str  # composition with that cell

    @property
    def n_frames(self) -> int:
        """Frames of a production trajectory (frame 0 included)."""
        return n_frames(self.production_ps, self.frame_ps * 1000.0)

    @property
    def half_cell_A(self) -> float:
        return 0.5 * self.shortest_cell_A


def _key(section: str, name: str) -> str:
    return f"config key 'analysis.{section}.{name}'"


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(default, list | tuple) and isinstance(value, list | tuple):
        return len(value) == len(default) and all(
            _is_default(v, d) for v, d in zip(value, default, strict=True)
        )
    if isinstance(default, int | float) and isinstance(value, int | float):
        return math.isclose(float(value), float(default), rel_tol=1e-12, abs_tol=1e-12)
    return value == default


class _Checker:
    """Collects messages for one analysis section."""

    def __init__(self, section: str, values: Section, defaults: Section, facts: RunFacts):
        self.section, self.values, self.defaults, self.facts = section, values, defaults, facts
        self.problems: list[str] = []
        self.flagged: set[str] = set()

    def fail(self, name: str, text: str) -> None:
        if name not in self.flagged:  # one message per key
            self.flagged.add(name)
            self.problems.append(f"{_key(self.section, name)}: {text}")

    def changed(self, name: str) -> bool:
        return name in self.values and not _is_default(self.values[name], self.defaults.get(name))

    def ordered_pair(self, name: str) -> bool:
        """[start, end] with 0 <= start < end; True when it is (or is not set)."""
        pair = self.values.get(name)
        ok = pair is None or (len(pair) == 2 and 0.0 <= pair[0] < pair[1])
        if not ok:
            self.fail(name, f"got {list(pair)}; expected [start, end] with 0 <= start < end")
        return ok

    def element(self, name: str) -> None:
        value = self.values.get(name)
        if value is not None and value not in self.facts.elements:
            self.fail(
                name,
                f"got {value!r}; expected one of the campaign's elements "
                f"{', '.join(self.facts.elements)} (system.modifier, former, anion)",
            )

    def within_half_cell(self, name: str) -> None:
        """A neighbour cutoff (A) must not exceed half the shortest cell (minimum image)."""
        v, f = self.values.get(name), self.facts
        if v is not None and v > f.half_cell_A + 1e-9:
            self.fail(
                name,
                f"{v:g} A is longer than half the shortest cell ({f.half_cell_A:.3f} A, "
                f"composition {f.shortest_cell_label}); neighbour searches use the minimum image",
            )

    def within_run(self, name: str) -> None:
        """A time setting (ps) the user changed must lie in [one frame, the production run]."""
        if not self.changed(name):
            return
        v, f = self.values[name], self.facts
        for t in v if isinstance(v, list | tuple) else [v]:
            if t > f.production_ps * (1 + 1e-9):
                self.fail(
                    name,
                    f"{t:g} ps is longer than the production run ({f.production_ps:g} ps"
                    ", protocol.production_ps)",
                )
            elif t < f.frame_ps * (1 - 1e-9):
                self.fail(
                    name,
                    f"{t:g} ps is shorter than the frame interval ({f.frame_ps:g} ps, "
                    "protocol.dump_interval_fs)",
                )


def schema_defaults(schema: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Defaults of ``analysis.<section>`` from the schema (equal to the package's, tested)."""
    props = schema["properties"]["analysis"]["properties"][section]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


def _longest_fitted_lag(d: Section, facts: RunFacts) -> tuple[float | None, str, tuple[str, ...]]:
    """Longest lag (ps) an Einstein fit may use, how it follows from the keys, and the keys.

    With ``max_lag_fraction`` the fit uses that fraction of the whole run; without it,
    half of one of the ``n_blocks`` time blocks (the block fits of the standard error).
    """
    run_ps = (facts.n_frames - 1) * facts.frame_ps
    if "max_lag_fraction" in d and "min_fit_time_ps" in d and "min_fit_span" in d:
        keys = ("min_fit_time_ps", "min_fit_span", "max_lag_fraction")
        return d["max_lag_fraction"] * run_ps, "max_lag_fraction x the run", keys
    keys = ("min_fit_time_ps", "min_fit_span", "n_blocks")
    if not all(d.get(k) for k in keys):
        return None, "", keys
    blocks = facts.n_frames // d["n_blocks"]
    longest = 0.5 * (blocks * facts.frame_ps if blocks >= 2 else run_ps)
    return longest, "half a block: production_ps / n_blocks / 2", keys


def check_dynamics(d: Section, defaults: Section, facts: RunFacts) -> list[str]:
    """``analysis.dynamics`` against the campaign.

    The settings are glassflow.analysis.dynamics.correlations.DynamicsSettings.
    """
    c = _Checker("dynamics", d, defaults, facts)
    c.element("mobile_species")
    gk_ok = c.ordered_pair("gk_window_ps")
    corr = d.get("gk_correlation_ps")
    if gk_ok and corr is not None and "gk_window_ps" in d:
        start, end = d["gk_window_ps"]
        if start >= corr or (c.changed("gk_window_ps") and end > corr * (1 + 1e-9)):
            c.fail(
                "gk_window_ps",
                f"the Green-Kubo window {list(d['gk_window_ps'])} ps must lie within the VACF, "
                f"i.e. end <= analysis.dynamics.gk_correlation_ps ({corr:g} ps)",
            )
    c.within_run("gk_correlation_ps")
    c.within_run("vanhove_lags_ps")
    c.within_run("fast_slow_lag_ps")
    for name in ("fast_slow_rcut_A", "si_s_cutoff_A", "rdf_dr_A"):
        c.within_half_cell(name)
    n_blocks = d.get("n_blocks")
    if c.changed("n_blocks") and facts.n_frames // n_blocks < 2:
        c.fail(
            "n_blocks",
            f"{n_blocks} blocks need at least {2 * n_blocks} frames, the run has "
            f"{facts.n_frames} (protocol.production_ps / dump_interval_fs + 1)",
        )
    longest, how, fit = _longest_fitted_lag(d, facts)
    if longest is not None and any(c.changed(k) for k in fit):
        need = d["min_fit_time_ps"] * d["min_fit_span"]
        if need > longest * (1 + 1e-9):
            c.fail(
                "min_fit_time_ps",
                f"a diffusive fit from {d['min_fit_time_ps']:g} ps spanning min_fit_span = "
                f"{d['min_fit_span']:g} needs lags up to {need:g} ps, but the longest fitted "
                f"lag is {longest:g} ps ({how}); lower min_fit_time_ps or min_fit_span, or "
                "lengthen protocol.production_ps",
            )
    return c.problems


def check_structure(s: Section, defaults: Section, facts: RunFacts) -> list[str]:
    """``analysis.structure`` against the campaign.

    The settings are glassflow.analysis.structure.settings.StructureSettings.
    """
    c = _Checker("structure", s, defaults, facts)
    k_min, k_max = s.get("k_min_inv_A"), s.get("k_max_inv_A")
    k_ok = k_min is not None and k_max is not None and k_min < k_max
    if k_min is not None and k_max is not None and not k_ok:
        c.fail(
            "k_min_inv_A",
            f"{k_min:g} 1/A is not below analysis.structure.k_max_inv_A ({k_max:g} 1/A)",
        )
    if k_ok:
        for name in ("dk_inv_A", "dk_direct_inv_A"):
            if s.get(name) is not None and s[name] > k_max - k_min:
                c.fail(
                    name,
                    f"{s[name]:g} 1/A is wider than the k range k_max_inv_A - "
                    f"k_min_inv_A ({k_max - k_min:g} 1/A)",
                )
    if c.ordered_pair("prepeak_window_inv_A") and k_ok and "prepeak_window_inv_A" in s:
        lo, hi = s["prepeak_window_inv_A"]
        if hi < k_min or lo > k_max:
            c.fail(
                "prepeak_window_inv_A",
                f"[{lo:g}, {hi:g}] 1/A is outside the S(k) range "
                f"[k_min_inv_A, k_max_inv_A] = [{k_min:g}, {k_max:g}] 1/A",
            )
    r_max = s.get("r_max_A")
    c.within_half_cell("r_max_A")
    g_range = min(10.0, facts.half_cell_A) if r_max is None else min(r_max, facts.half_cell_A)
    if s.get("dr_A") is not None and s["dr_A"] >= g_range:
        c.fail("dr_A", f"{s['dr_A']:g} A is not below the g(r) range ({g_range:g} A)")
    for pair, rc in dict(s.get("cutoffs_A") or {}).items():
        name = "cutoffs_A"
        parts = str(pair).split("-")
        if len(parts) != 2 or not set(parts) <= set(facts.elements):
            c.fail(
                name,
                f"pair {pair!r}: not 'A-B' of the campaign's elements {', '.join(facts.elements)}",
            )
        elif rc > g_range:
            c.fail(
                name,
                f"{pair}: {rc:g} A is beyond the g(r) range ({g_range:g} A: r_max_A or "
                "min(10 A, half the shortest cell))",
            )
    if s.get("ss_bond_max_A") is not None and s["ss_bond_max_A"] > g_range:
        c.fail(
            "ss_bond_max_A",
            f"{s['ss_bond_max_A']:g} A is beyond the g(r) range "
            f"({g_range:g} A: r_max_A or min(10 A, half the shortest cell))",
        )
    if s.get("angle_bin_deg") is not None and s["angle_bin_deg"] > 180.0:
        c.fail("angle_bin_deg", f"{s['angle_bin_deg']:g} deg is wider than the 180 deg range")
    return c.problems


def check_softness(s: Section, defaults: Section, facts: RunFacts, dynamics: Section) -> list[str]:
    """``analysis.softness`` against the campaign.

    The settings are glassflow.analysis.softness.settings.SoftnessSettings.
    """
    c = _Checker("softness", s, defaults, facts)
    c.element("species")
    mu_min, mu_max, r_max = s.get("mu_min_A"), s.get("mu_max_A"), s.get("r_max_A")
    if mu_min is not None and mu_max is not None and mu_min > mu_max:
        c.fail("mu_min_A", f"{mu_min:g} A is above analysis.softness.mu_max_A ({mu_max:g} A)")
    elif mu_max is not None and r_max is not None and mu_max > r_max:
        c.fail(
            "mu_max_A",
            f"{mu_max:g} A is beyond the cutoff analysis.softness.r_max_A "
            f"({r_max:g} A): those shells are always empty",
        )
    for name in ("r_max_A", "env_cutoff_A", "d2min_cutoff_A", "si_s_cutoff_A", "ss_bond_cutoff_A"):
        c.within_half_cell(name)
    q = s.get("d2min_quantiles")
    if q is not None and not (len(q) == 2 and 0.0 <= q[0] < q[1] <= 1.0):
        c.fail("d2min_quantiles", f"got {list(q)}; expected [low, high] with 0 <= low < high <= 1")
    low, high = s.get("threshold_low"), s.get("threshold_high")
    if low is not None and high is not None and low > high:
        c.fail("threshold_low", f"{low:g} is above analysis.softness.threshold_high ({high:g})")
    c.within_run("window_ps")
    c.within_run("d2min_sublag_ps")
    window, sub = s.get("window_ps"), s.get("d2min_sublag_ps")
    if (
        window is not None
        and sub is not None
        and sub > window * (1 + 1e-9)
        and (c.changed("window_ps") or c.changed("d2min_sublag_ps"))
    ):
        c.fail(
            "d2min_sublag_ps",
            f"{sub:g} ps is longer than analysis.softness.window_ps ({window:g} ps)",
        )
    lag = s.get("vanhove_lag_ps")
    if lag is not None:
        lags = list(dynamics.get("vanhove_lags_ps") or [])
        kept = [t for t in lags if facts.frame_ps * (1 - 1e-9) <= t <= facts.production_ps]
        if not any(math.isclose(lag, t, rel_tol=1e-9) for t in kept):
            c.fail(
                "vanhove_lag_ps",
                f"{lag:g} ps is not among the van Hove lags computed, "
                f"analysis.dynamics.vanhove_lags_ps within the run ({kept} ps)",
            )
    return c.problems


def check_run_length(facts: RunFacts) -> list[str]:
    """The dynamics analysis needs at least 4 frames.

    (glassflow.analysis.dynamics.correlations.analyse_trajectory refuses fewer.)
    """
    if facts.n_frames < 4:
        return [
            f"config key 'protocol.production_ps': {facts.production_ps:g} ps gives "
            f"{facts.n_frames} frames at dump_interval_fs = {facts.frame_ps * 1000:g}; the "
            "dynamics analysis needs at least 4 frames"
        ]
    return []


def package_settings_problems(analysis: Mapping[str, Section]) -> list[str]:
    """Build each settings dataclass as ``analyse_runs`` will: its own checks run now."""
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.softness.settings import SoftnessSettings
    from glassflow.analysis.structure.settings import StructureSettings

    problems = []
    for section, cls in (
        ("dynamics", DynamicsSettings),
        ("structure", StructureSettings),
        ("softness", SoftnessSettings),
    ):
        try:
            cls.from_dict(analysis.get(section) or {})
        except (TypeError, ValueError) as err:
            problems.append(f"config key 'analysis.{section}': {err}")
    return problems


def analysis_problems(
    cfg: Mapping[str, Any], facts: RunFacts, schema: Mapping[str, Any]
) -> list[str]:
    """All problems of the (schema-valid, defaults-filled) ``analysis`` settings."""
    analysis = cfg.get("analysis", {})
    dyn = analysis.get("dynamics", {})
    problems = check_run_length(facts)
    problems += check_dynamics(dyn, schema_defaults(schema, "dynamics"), facts)
    problems += check_structure(
        analysis.get("structure", {}), schema_defaults(schema, "structure"), facts
    )
    problems += check_softness(
        analysis.get("softness", {}), schema_defaults(schema, "softness"), facts, dyn
    )
    if not problems:
        problems = package_settings_problems(analysis)
    return problems


def run_facts(cfg: Mapping[str, Any], cells_A: Mapping[str, float]) -> RunFacts:
    """RunFacts of a validated config and its cell edges by composition label (A)."""
    sysc, p = cfg["system"], cfg["protocol"]
    label = min(cells_A, key=lambda k: cells_A[k])
    return RunFacts(
        elements=(sysc["modifier"], sysc["former"], sysc["anion"]),
        production_ps=float(p["production_ps"]),
        frame_ps=float(p["dump_interval_fs"]) / 1000.0,
        shortest_cell_A=float(cells_A[label]),
        shortest_cell_label=label,
    )


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (a file, a directory or anything else)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _write_problem(directory: Path) -> str | None:
    """Why no file can be created in the existing ``directory``; None when one can.

    ``os.access`` answers from the permission bits, which root ignores; a real probe (a
    temporary file, removed at once) also sees read-only file systems and the like.
    """
    if not os.access(directory, os.W_OK | os.X_OK):
        return "permission denied"
    try:
        fd, probe = tempfile.mkstemp(prefix=".glassflow-write-probe-", dir=directory)
    except OSError as err:
        return err.strerror or type(err).__name__
    os.close(fd)
    os.unlink(probe)
    return None


def results_dir_problems(results_dir: str | Path, campaign: str) -> list[str]:
    """Can the campaign's results be written under ``results_dir``? Creates nothing.

    Parameters
    ----------
    results_dir
        The config value ``results_dir``: absolute, or relative to the working directory
        (where Snakemake runs, after ``--directory``).
    campaign
        The campaign name; its results go to ``results_dir/<campaign>``.

    Returns
    -------
    list of str
        One message naming ``results_dir`` and the path that blocks it, or nothing. The
        directory is checked where it exists; otherwise its nearest existing ancestor
        must be a directory in which files can be created (a temporary file is made
        there and removed at once).
    """
    target = Path(os.path.abspath(Path(results_dir) / campaign))
    existing = _nearest_existing(target)
    where = "" if existing == target else f" ({existing} exists, the rest would be created)"
    key = f"config key 'results_dir': cannot write the results to {target}"
    if not existing.is_dir():
        if existing.is_file():
            what = "a file"
        elif existing.is_symlink():
            what = "a broken symbolic link"
        else:
            what = "a special file"
        return [f"{key}: {existing} is {what}, not a directory"]
    problem = _write_problem(existing)
    if problem is not None:
        return [f"{key}: {existing} is not writable ({problem}){where}"]
    return []
