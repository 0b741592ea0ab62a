"""The campaign grid: compositions x temperatures x replicas, checked beyond the schema.

``build_campaign`` validates the config (:mod:`glassflow.config.schema`), expands the grid
and checks what the schema cannot (results directory writable, cell long enough for the
cutoff, potential covers the elements, N large enough -- naming the smallest
``compositions.n_atoms`` that works --, and the analysis settings against the campaign:
:mod:`glassflow.config.checks`).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassflow.campaign.adaptive_rounds import adaptive_from_config, adaptive_problems
from glassflow.campaign.convergence import convergence_problems
from glassflow.config.checks import analysis_problems, results_dir_problems, run_facts
from glassflow.config.schema import ConfigError, config_error, load_schema, validate_config
from glassflow.config.validated import is_marked_validated
from glassflow.md.cell import cell_length_for_density, density_for_cell_length
from glassflow.md.composition import (
    Composition,
    composition_from_counts,
    composition_label,
    counts_from_xm,
    net_charge,
    neutralised_charges,
)
from glassflow.md.lammps import Engine, engine_problems
from glassflow.md.packing import pack_from_config, pack_problems
from glassflow.md.potential import Potential, load_potential
from glassflow.md.segments import segment_problems
from glassflow.safety import check_command, check_element, check_name, check_results_dir


def derive_seed(base: int, *parts: object) -> int:
    """Deterministic LAMMPS seed in [1, 2^31 - 2] from a base seed and key parts."""
    digest = hashlib.sha256(":".join([str(base), *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 2) + 1


def replica_label(replica: int) -> str:
    return f"rep{replica:02d}"


def temperature_label(T_K: int) -> str:
    return f"T{T_K:d}"


@dataclass(frozen=True)
class CompositionRun:
    """One composition of a campaign with its cell and the charges used."""

    composition: Composition
    box_A: float
    density_g_cm3: float
    charges_used: dict[str, float]
    net_charge_e: float  # with the potential's own charges

    @property
    def label(self) -> str:
        return self.composition.label


@dataclass
class Campaign:
    """The expanded grid: compositions x temperatures x replicas, plus the config."""

    name: str
    config: dict[str, Any]
    potential: Potential
    compositions: dict[str, CompositionRun] = field(default_factory=dict)
    temperatures_K: list[int] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)

    @property
    def results(self) -> Path:
        return Path(self.config["results_dir"]) / self.name

    def seed(self, label: str, replica: int) -> int:
        """Seed of one (composition, replica): same inputs give the same glass."""
        return derive_seed(self.config["seed"], label, replica)

    def runs(self) -> list[tuple[str, int, int]]:
        """All production runs as (composition label, T_K, replica)."""
        return [
            (c, t, r) for c in self.compositions for t in self.temperatures_K for r in self.replicas
        ]


#: compositions.n_atoms may not be smaller (the schema's minimum)
MIN_N_ATOMS = 3


@dataclass(frozen=True)
class _Planned:
    """A composition of the config; ``from_grid``: its size is ``compositions.n_atoms``."""

    composition: Composition
    from_grid: bool


def smallest_n_atoms(
    x: float,
    m: float,
    elements: tuple[str, str, str],
    masses: dict[str, float] | None = None,
    density_g_cm3: float | None = None,
    min_cell_A: float = 0.0,
) -> int:
    """Smallest ``compositions.n_atoms`` that builds grid point (x, m).

    Parameters
    ----------
    x, m
        The grid point (modifier fraction, former chalcogen ratio).
    elements
        Modifier, former and anion symbols.
    masses
        Atomic masses by element (g/mol); needed with ``density_g_cm3``.
    density_g_cm3
        ``cell.density_g_cm3`` in density mode: the cell must then also be at least
        ``min_cell_A`` long. None in length mode (the cell does not grow with N).
    min_cell_A
        Shortest cell edge accepted (twice ``engine.cutoff_A``), Å.

    Returns
    -------
    int
        The smallest count >= :data:`MIN_N_ATOMS` for which
        :func:`~glassflow.md.composition.counts_from_xm` holds at least one former atom
        (and one M2Y unit when x > 0) and, in density mode, the cell is long enough. The
        counts never decrease with N, so every larger count works too.
    """

    def works(n: int) -> bool:
        try:
            comp = counts_from_xm(x, m, n, *elements)
        except ValueError:
            return False
        if density_g_cm3 is None:
            return True
        assert masses is not None, "masses are needed with density_g_cm3"
        return cell_length_for_density(comp.counts, masses, density_g_cm3) >= min_cell_A

    fails, hi = MIN_N_ATOMS - 1, MIN_N_ATOMS
    while not works(hi):
        fails, hi = hi, 2 * hi
        if hi > 2**40:
            raise ValueError(f"no atom count builds x={x}, m={m}")
    while hi - fails > 1:  # works(hi), not works(fails)
        mid = (hi + fails) // 2
        fails, hi = (fails, mid) if works(mid) else (mid, hi)
    return hi


def _resolve_compositions(
    cfg: dict[str, Any],
) -> tuple[list[_Planned], list[tuple[float, float]]]:
    """The config's compositions, and the grid points too small to build at n_atoms."""
    sysc = cfg["system"]
    elements = (sysc["modifier"], sysc["former"], sysc["anion"])
    comps: list[_Planned] = []
    too_small: list[tuple[float, float]] = []
    grid = cfg["compositions"].get("grid")
    n_atoms = cfg["compositions"]["n_atoms"]
    if grid:
        for x in grid["x"]:
            if not 0.0 <= x < 1.0:
                raise ConfigError(f"config key 'compositions.grid.x': {x} is outside [0, 1)")
        for m in grid["m"]:
            if m < 2.0:
                raise ConfigError(f"config key 'compositions.grid.m': {m} is below 2 (SiS2)")
        for x in grid["x"]:
            for m in grid["m"]:
                try:
                    comps.append(_Planned(counts_from_xm(x, m, n_atoms, *elements), True))
                except ValueError:
                    too_small.append((x, m))
    for i, counts in enumerate(cfg["compositions"]["explicit"]):
        try:
            comp = composition_from_counts(counts, *elements)
        except ValueError as err:
            raise ConfigError(f"config key 'compositions.explicit[{i}]': {err}") from err
        if comp.m_requested < 2.0 - 1e-9:
            raise ConfigError(
                f"config key 'compositions.explicit[{i}]': counts {counts} give m = "
                f"{comp.m_requested:.3f}, below 2"
            )
        comps.append(_Planned(comp, False))
    if not comps and not too_small and not (cfg.get("adaptive") or {}).get("enabled"):
        raise ConfigError("config key 'compositions': give a grid (x, m) or explicit counts")
    labels = [c.composition.label for c in comps]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ConfigError(
            f"config key 'compositions': compositions collide on the labels {dupes} "
            "(x and m are rounded to two decimals)"
        )
    return comps, too_small


def _n_atoms_problems(
    cfg: dict[str, Any],
    potential: Potential,
    too_small: list[tuple[float, float]],
    short_cells: list[tuple[Composition, float]],
) -> list[str]:
    """Messages for grid compositions that ``compositions.n_atoms`` cannot build.

    ``too_small``: grid points without a whole former atom or M2Y unit; ``short_cells``:
    compositions and their cell edge (Å) shorter than twice the cutoff, in density mode.
    Each message names the composition and the smallest n_atoms that works for it.
    """
    sysc, cell = cfg["system"], cfg["cell"]
    elements = (sysc["modifier"], sysc["former"], sysc["anion"])
    n, min_cell = cfg["compositions"]["n_atoms"], 2.0 * cfg["engine"]["cutoff_A"]
    density = cell["density_g_cm3"] if cell["mode"] == "density" else None
    key = "config key 'compositions.n_atoms'"

    def smallest(x: float, m: float) -> int:
        return smallest_n_atoms(x, m, elements, potential.masses, density, min_cell)

    problems = []
    modifier, former, anion = elements
    for x, m in too_small:
        n_min = smallest(x, m)
        need = f"at least one {former} atom" + (
            f" and one {modifier}2{anion} unit" if x > 0 else ""
        )
        for_cell = ""
        if density is not None and n_min > smallest_n_atoms(x, m, elements):
            for_cell = (
                f" (for a cell at least twice engine.cutoff_A, {min_cell:.3f} A, at "
                f"cell.density_g_cm3 = {density:g})"
            )
        problems.append(
            f"{key}: {n} atoms are too few for composition {composition_label(x, m)}: it "
            f"needs {need}; the smallest n_atoms that works for it is {n_min}{for_cell}"
        )
    for comp, box in short_cells:
        n_min = smallest(comp.x_requested, comp.m_requested)
        problems.append(
            f"{key}: {n} atoms are too few for composition {comp.label}: its cell at "
            f"cell.density_g_cm3 = {density:g} is {box:.3f} A, shorter than twice "
            f"engine.cutoff_A ({min_cell:.3f} A); the smallest n_atoms that works for it "
            f"is {n_min} (or lower the density or the cutoff)"
        )
    return problems


def build_campaign(
    config: dict[str, Any],
    schema_path: str | Path,
    root: str | Path = ".",
    check_writable: bool = True,
    validated: bool = False,
) -> Campaign:
    """Validate ``config`` and expand it into a :class:`Campaign` (no expensive work).

    Parameters
    ----------
    config
        The config mapping (``--configfile`` / ``--config``).
    schema_path
        ``workflow/schemas/config.schema.yaml``.
    root
        Directory the potential files (``system.potential_dir``) are relative to.
    check_writable
        Refuse a ``results_dir`` in which the results cannot be written
        (:func:`~glassflow.config.checks.results_dir_problems`; relative paths are
        taken from the working directory). Off for tools that only read results.
    validated
        ``config`` comes from the Snakefile, which validated it: skip the schema pass
        when its digest matches the mark the Snakefile left
        (:mod:`glassflow.config.validated`); validate otherwise. A direct call (False)
        always validates.

    Returns
    -------
    Campaign
        The expanded grid with the validated config (defaults filled).

    Raises
    ------
    ConfigError
        With a short message naming the config key of every problem found.
    """
    if validated and is_marked_validated(config, schema_path):
        cfg = copy.deepcopy(dict(config))  # validate_config's output is a copy too
    else:
        cfg = validate_config(config, schema_path)
    root = Path(root)
    name = _checked(check_name, cfg["campaign"], "campaign")
    _checked(check_results_dir, cfg["results_dir"], "results_dir")
    if check_writable and (problems := results_dir_problems(cfg["results_dir"], name)):
        raise config_error(problems)
    sysc = cfg["system"]
    for key in ("modifier", "former", "anion"):
        _checked(check_element, sysc[key], f"system.{key}")
    _checked(check_name, sysc["potential"], "system.potential")
    _checked(check_command, cfg["engine"]["command"], "engine.command")
    if problems := engine_problems(cfg["engine"]):
        raise ConfigError("\n".join(problems))
    if cfg["engine"]["kind"] == "ase":
        from glassflow.md.engines.ase import AseSettings

        try:
            AseSettings.from_config(cfg["engine"].get("ase"), cfg["engine"]["threads"])
        except ValueError as err:
            raise ConfigError(str(err)) from err
    pot_path = root / sysc["potential_dir"] / f"{sysc['potential']}.yaml"
    try:
        potential = load_potential(pot_path)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"config key 'system.potential': {err}") from err
    species = (sysc["modifier"], sysc["former"], sysc["anion"])
    try:
        potential.check_species(species, "config key 'system'")
    except ValueError as err:
        raise ConfigError(str(err)) from err

    camp = Campaign(name=name, config=cfg, potential=potential)
    cell = cfg["cell"]
    cutoff = cfg["engine"]["cutoff_A"]
    planned, too_small = _resolve_compositions(cfg)
    planned += _adaptive_planned(cfg, planned, too_small)  # adaptive refinement: round 0
    short_cells: list[tuple[Composition, float]] = []
    for item in planned:
        comp = item.composition
        if cell["mode"] == "density":
            box = cell_length_for_density(comp.counts, potential.masses, cell["density_g_cm3"])
            key = "cell.density_g_cm3"
        else:
            if "length_A" not in cell:
                raise ConfigError("config key 'cell.length_A': required when cell.mode is length")
            box = float(cell["length_A"])
            key = "cell.length_A"
        if box < 2.0 * cutoff:
            if item.from_grid and cell["mode"] == "density":
                short_cells.append((comp, box))  # more atoms make a longer cell
                continue
            raise ConfigError(
                f"config key '{key}': composition {comp.label} gives a cell of {box:.3f} A, "
                f"shorter than twice engine.cutoff_A ({2 * cutoff:.3f} A); use more atoms, "
                "a lower density or a shorter cutoff"
            )
        charges = neutralised_charges(
            comp.counts, potential.charges, comp.anion, sysc["neutrality"]
        )
        camp.compositions[comp.label] = CompositionRun(
            composition=comp,
            box_A=box,
            density_g_cm3=density_for_cell_length(comp.counts, potential.masses, box),
            charges_used=charges,
            net_charge_e=net_charge(comp.counts, potential.charges),
        )
    if problems := _n_atoms_problems(cfg, potential, too_small, short_cells):
        raise config_error(problems)
    camp.temperatures_K = sorted(int(t) for t in cfg["temperatures_K"])
    camp.replicas = list(range(1, cfg["replicas"] + 1))
    _check_protocol(cfg)
    cells = {label: cr.box_A for label, cr in camp.compositions.items()}
    problems = analysis_problems(cfg, run_facts(cfg, cells), load_schema(schema_path))
    problems += pack_problems(
        pack_from_config(cfg),
        max(sum(cr.composition.counts.values()) for cr in camp.compositions.values()),
        Engine.from_config(cfg["engine"]).uses_gpus,
        Engine.from_config(cfg["engine"]).gpus,
        cfg["engine"].get("launcher", "none"),
    )
    if problems:
        raise config_error(problems)
    return camp


def _checked(fn, value, key):
    try:
        return fn(value, f"config key '{key}'")
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _check_protocol(cfg: dict[str, Any]) -> None:
    p = cfg["protocol"]
    dt = p["timestep_fs"]
    for key in ("dump_interval_fs", "restart_interval_fs", "thermo_interval_fs"):
        steps = p[key] / dt
        if abs(steps - round(steps)) > 1e-9:
            raise ConfigError(
                f"config key 'protocol.{key}': {p[key]} fs is not a whole number of "
                f"timesteps ({dt} fs)"
            )
    if p["production_ps"] * 1000.0 < 2 * p["dump_interval_fs"]:
        raise ConfigError(
            "config key 'protocol.production_ps': production must hold at least two frames "
            f"(dump_interval_fs = {p['dump_interval_fs']})"
        )
    sysc = cfg["system"]
    species = (sysc["modifier"], sysc["former"], sysc["anion"])
    if problems := segment_problems(p, species):
        raise config_error(problems)
    conv = cfg.get("convergence") or {}
    if conv.get("targets"):
        problems = convergence_problems(conv, p, "config", int(cfg["replicas"]), species)
        if conv.get("max_trajectory_ps") is None:
            problems.append(
                "config key 'convergence.max_trajectory_ps': a point's budget in ps is "
                "needed with convergence.targets"
            )
        if p.get("target_rel_error") is not None:
            problems.append(
                "config key 'protocol.target_rel_error': give D targets in "
                "convergence.targets instead (both cannot decide a run's length)"
            )
        if problems:
            raise config_error(problems)
    q = p["quench"]
    if q["mode"] == "three_stage" and not (
        p["melt_T_K"] > q["slow_from_K"] > q["slow_to_K"] >= p["relax_T_K"]
    ):
        raise ConfigError(
            "config key 'protocol.quench': three_stage needs melt_T_K > slow_from_K > "
            "slow_to_K >= relax_T_K"
        )
    if p["melt_T_K"] <= p["relax_T_K"]:
        raise ConfigError("config key 'protocol.melt_T_K': must be above protocol.relax_T_K")
    eng = cfg["engine"]
    if eng["accelerator"] in ("gpu", "kokkos") and eng["gpus"] < 1 and eng["accelerator"] == "gpu":
        raise ConfigError("config key 'engine.gpus': accelerator gpu needs gpus >= 1")


# --- adaptive refinement along m (glassflow.campaign.adaptive_rounds) ---------------------


def _adaptive_planned(
    cfg: dict[str, Any], planned: list[_Planned], too_small: list[tuple[float, float]]
) -> list[_Planned]:
    """The initial grid of ``adaptive`` (if enabled) not already in the config's grid.

    Refuses a bad ``adaptive`` block naming its keys; grid points too small to build are
    appended to ``too_small`` (reported with the smallest n_atoms that works, like the
    config's grid).
    """
    if problems := adaptive_problems(cfg):
        raise config_error(problems)
    ad = adaptive_from_config(cfg)
    if ad is None:
        return []
    from glassflow.campaign.adaptive import initial_grid

    sysc = cfg["system"]
    elements = (sysc["modifier"], sysc["former"], sysc["anion"])
    have = {p.composition.label for p in planned}
    out = []
    for m in initial_grid(ad.settings):
        if composition_label(ad.x, float(m)) in have:
            continue
        try:
            comp = counts_from_xm(ad.x, float(m), cfg["compositions"]["n_atoms"], *elements)
        except ValueError:
            too_small.append((ad.x, float(m)))
            continue
        out.append(_Planned(comp, True))
    return out


def composition_run_at(campaign: Campaign, x: float, m: float) -> CompositionRun:
    """The :class:`CompositionRun` of grid point (x, m) with the campaign's cell settings.

    For compositions an adaptive round adds (not in the config's grid): the same counts
    (``compositions.n_atoms``), cell and charges a grid point gets.

    Parameters
    ----------
    campaign : Campaign
    x, m : float
        Modifier fraction and chalcogen ratio.

    Returns
    -------
    CompositionRun

    Raises
    ------
    ValueError
        When n_atoms cannot build (x, m) or its cell is shorter than twice the cutoff.
    """
    cfg = campaign.config
    sysc, cell = cfg["system"], cfg["cell"]
    pot = campaign.potential
    comp = counts_from_xm(
        x, m, cfg["compositions"]["n_atoms"], sysc["modifier"], sysc["former"], sysc["anion"]
    )
    if cell["mode"] == "density":
        box = cell_length_for_density(comp.counts, pot.masses, cell["density_g_cm3"])
    else:
        box = float(cell["length_A"])
    if box < 2.0 * cfg["engine"]["cutoff_A"]:
        raise ValueError(
            f"composition {comp.label}: cell of {box:.3f} A, shorter than twice "
            f"engine.cutoff_A; use more atoms (compositions.n_atoms)"
        )
    return CompositionRun(
        composition=comp,
        box_A=box,
        density_g_cm3=density_for_cell_length(comp.counts, pot.masses, box),
        charges_used=neutralised_charges(comp.counts, pot.charges, comp.anion, sysc["neutrality"]),
        net_charge_e=net_charge(comp.counts, pot.charges),
    )
