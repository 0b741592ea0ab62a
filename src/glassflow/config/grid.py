"""The campaign grid: compositions x temperatures x replicas, checked beyond the schema.

``build_campaign`` validates the config (:mod:`glassflow.config.schema`), expands the grid
and checks what the schema cannot (cell long enough for the cutoff, potential covers the
elements, N large enough, and the analysis settings against the campaign:
:mod:`glassflow.config.checks`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassflow.config.checks import analysis_problems, run_facts
from glassflow.config.schema import ConfigError, config_error, load_schema, validate_config
from glassflow.md.cell import cell_length_for_density, density_for_cell_length
from glassflow.md.composition import (
    Composition,
    composition_from_counts,
    counts_from_xm,
    net_charge,
    neutralised_charges,
)
from glassflow.md.lammps import engine_problems
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


def _resolve_compositions(cfg: dict[str, Any]) -> list[Composition]:
    sysc = cfg["system"]
    elements = (sysc["modifier"], sysc["former"], sysc["anion"])
    comps: list[Composition] = []
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
                    comps.append(counts_from_xm(x, m, n_atoms, *elements))
                except ValueError as err:
                    raise ConfigError(f"config key 'compositions.n_atoms': {err}") from err
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
        comps.append(comp)
    if not comps:
        raise ConfigError("config key 'compositions': give a grid (x, m) or explicit counts")
    labels = [c.label for c in comps]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ConfigError(
            f"config key 'compositions': compositions collide on the labels {dupes} "
            "(x and m are rounded to two decimals)"
        )
    return comps


def build_campaign(
    config: dict[str, Any], schema_path: str | Path, root: str | Path = "."
) -> Campaign:
    """Validate ``config`` and expand it into a :class:`Campaign` (no expensive work)."""
    cfg = validate_config(config, schema_path)
    root = Path(root)
    name = _checked(check_name, cfg["campaign"], "campaign")
    _checked(check_results_dir, cfg["results_dir"], "results_dir")
    sysc = cfg["system"]
    for key in ("modifier", "former", "anion"):
        _checked(check_element, sysc[key], f"system.{key}")
    _checked(check_name, sysc["potential"], "system.potential")
    _checked(check_command, cfg["engine"]["command"], "engine.command")
    if problems := engine_problems(cfg["engine"]):
        raise ConfigError("\n".join(problems))
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
    for comp in _resolve_compositions(cfg):
        if cell["mode"] == "density":
            box = cell_length_for_density(comp.counts, potential.masses, cell["density_g_cm3"])
            key = "cell.density_g_cm3"
        else:
            if "length_A" not in cell:
                raise ConfigError("config key 'cell.length_A': required when cell.mode is length")
            box = float(cell["length_A"])
            key = "cell.length_A"
        if box < 2.0 * cutoff:
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
    camp.temperatures_K = sorted(int(t) for t in cfg["temperatures_K"])
    camp.replicas = list(range(1, cfg["replicas"] + 1))
    _check_protocol(cfg)
    cells = {label: cr.box_A for label, cr in camp.compositions.items()}
    problems = analysis_problems(cfg, run_facts(cfg, cells), load_schema(schema_path))
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
    if problems := segment_problems(p, (sysc["modifier"], sysc["former"], sysc["anion"])):
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
