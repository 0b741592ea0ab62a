"""Rule params: the config keys each workflow rule computes with, in canonical form.

Snakemake reruns a job when its recorded ``params`` differ from the current ones
(``--rerun-triggers params``, on by default). So each rule gets only the keys that
change what it computes, spelled one way:

- mapping keys sorted, recursively (swapping two YAML lines changes nothing);
- defaults filled in (the validated config carries them), so writing a default out
  changes nothing;
- numbers typed by the schema: ``number`` gives float and ``integer`` gives int, so
  ``3000`` and ``3000.0`` give the same params.

How LAMMPS is launched is not physics: ``engine.command``, ``launcher``, ``mpi_ranks``,
``threads``, ``gpus``, ``accelerator``, ``conda_env`` and the speed used for runtime
requests ``atom_steps_per_s`` (and the neighbour-search
threads ``analysis.structure.workers``) never enter params. The scripts read them
from the validated config with :func:`execution_settings` and record them in
``glass.json`` / ``run.json``. Which key reruns which rule: docs/reruns.md.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glassflow.md.potential import Potential

# engine keys that decide how LAMMPS is launched, not what it computes
ENGINE_EXECUTION_KEYS: tuple[str, ...] = (
    "accelerator",
    "atom_steps_per_s",
    "command",
    "conda_env",
    "gpu_model",
    "gpus",
    "launcher",
    "modules",
    "mpi_ranks",
    "threads",
)
# engine keys that enter the LAMMPS input (electrostatics, cutoff, neighbour list)
ENGINE_PHYSICS_KEYS: tuple[str, ...] = (
    "cutoff_A",
    "kspace_accuracy",
    "kspace_style",
    "neighbor_skin_A",
)
# analysis keys that only set how many threads do the work
ANALYSIS_EXECUTION_KEYS: dict[str, tuple[str, ...]] = {"structure": ("workers",)}

MELT_QUENCH_PROTOCOL_KEYS: tuple[str, ...] = (
    "melt_T_K",
    "melt_ps",
    "minimize",
    "quench",
    "relax_T_K",
    "relax_ps",
    "thermo_interval_fs",
    "thermostat_damping_fs",
    "timestep_fs",
)
PRODUCTION_PROTOCOL_KEYS: tuple[str, ...] = (
    "dump_interval_fs",
    "dump_velocities",
    "equilibration_ps",
    "melt_T_K",
    "production_ps",
    "production_start",
    "ramp_rate_K_ps",
    "relax_T_K",
    "restart_interval_fs",
    "thermo_interval_fs",
    "thermostat_damping_fs",
    "timestep_fs",
)
# the quench keys each quench mode reads (glassflow.md.lammps.quench_stages)
QUENCH_MODE_KEYS: dict[str, tuple[str, ...]] = {
    "rate": ("mode", "rate_K_ps"),
    "three_stage": ("fast_rate_K_ps", "mode", "slow_from_K", "slow_rate_K_ps", "slow_to_K"),
}
# top-level keys that say where outputs go or how failures are aggregated
NON_PHYSICS_TOP_KEYS: tuple[str, ...] = (
    "allow_missing_runs",
    "cluster",  # how runs are laid out on a cluster
    "compare_with",
    "results_dir",
)


def _types(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type", ())
    return {t} if isinstance(t, str) else set(t)


def canonical(value: Any, schema: Mapping[str, Any] | None = None) -> Any:
    """``value`` with mapping keys sorted and numbers typed by ``schema`` (recursive).

    A schema ``number`` becomes a Python float (``3000`` -> ``3000.0``), an ``integer``
    a Python int (``2.0`` -> ``2``); numpy scalars become Python scalars; sequences keep
    their order (it is meaningful, e.g. a fit window) and become lists.
    """
    schema = schema or {}
    if isinstance(value, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, Mapping) else {}
        return {k: canonical(value[k], props.get(k, extra)) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        items = schema.get("items")
        items = items if isinstance(items, Mapping) else {}
        return [canonical(v, items) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    types = _types(schema)
    if "integer" in types and float(value).is_integer():
        return int(value)
    if "number" in types:
        return float(value)
    return value


def subschema(schema: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The schema of the config key ``path`` (e.g. ``"engine"``), ``{}`` if undescribed."""
    for key in path:
        schema = schema.get("properties", {}).get(key, {})
    return schema


def _pick(section: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: section[k] for k in keys if k in section}


def engine_physics(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The engine keys that change what the MD computes.

    LAMMPS (``engine.kind`` lammps, the default): cutoff, kspace, skin, exactly the keys
    of earlier versions, so no finished run reruns. ASE: ``kind`` and the ``ase`` block
    (calculator, model, thermostat, device) too.
    """
    eng = cfg["engine"]
    keys = ENGINE_PHYSICS_KEYS
    if eng.get("kind", "lammps") != "lammps":
        keys = (*keys, "kind", "ase")
    return canonical(_pick(eng, keys), subschema(schema, "engine"))


def melt_quench_protocol(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Protocol keys of the melt-quench: melt, quench (of its mode), relax, minimise,
    timestep, thermostat damping, thermo interval (docs/physics.md §3)."""
    p = dict(_pick(cfg["protocol"], MELT_QUENCH_PROTOCOL_KEYS))
    q = p["quench"]
    p["quench"] = _pick(q, QUENCH_MODE_KEYS[q["mode"]])
    return canonical(p, subschema(schema, "protocol"))


def production_protocol(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Protocol keys of a production run: start, ramp, equilibration, production, dumps,
    restarts, timestep, thermostat damping, thermo interval (docs/physics.md §3)."""
    return canonical(
        _pick(cfg["protocol"], PRODUCTION_PROTOCOL_KEYS), subschema(schema, "protocol")
    )


def analysis_settings(
    cfg: Mapping[str, Any], schema: Mapping[str, Any], sections: Sequence[str]
) -> dict[str, Any]:
    """``analysis.<section>`` settings without their execution keys, per section."""
    out = {}
    for name in sections:
        drop = ANALYSIS_EXECUTION_KEYS.get(name, ())
        kept = {k: v for k, v in cfg["analysis"][name].items() if k not in drop}
        out[name] = canonical(kept, subschema(schema, "analysis", name))
    return out


def cell_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical build_cell params: sorted keys, every real non-count number a float.

    ``values`` holds derived quantities (box, charges, achieved x/m, ...) and the
    integers ``counts``, ``replica`` and ``seed``, which stay ints.
    """
    ints = {"counts", "replica", "seed"}
    out = {}
    for key in sorted(values):
        v = canonical(values[key])
        if key not in ints:
            v = _floats(v)
        out[key] = v
    return out


def _floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def potential_settings(potential: Potential, species: Sequence[str]) -> dict[str, Any]:
    """What an analysis uses of a potential: name, charges, masses and Buckingham pairs
    of ``species`` (docs/physics.md §2, eq 1), not the file's path or comments.

    A file of another form has no Buckingham pairs (the softness pair energies are then
    left out); its pair lines and file checksums stand for its parameters instead.
    """
    if not potential.is_buckingham_table:
        from glassflow.md.potential import pair_block

        block = pair_block(potential, tuple(species), 0.0)
        return canonical(
            {
                "name": potential.name,
                "charges": {el: float(potential.charges[el]) for el in species},
                "masses": {el: float(potential.masses[el]) for el in species},
                "form": potential.style,
                "pair_lines": [block.style_line, *block.coeff_lines],
                "files": potential.files,
            }
        )
    pairs = {}
    for i, a in enumerate(species):
        for b in species[i:]:
            pp = potential.pair(a, b)
            pairs["-".join(sorted((a, b)))] = [
                float(pp.A_kcal_mol),
                float(pp.rho_A),
                float(pp.C_kcal_A6_mol),
            ]
    return canonical(
        {
            "name": potential.name,
            "charges": {el: float(potential.charges[el]) for el in species},
            "masses": {el: float(potential.masses[el]) for el in species},
            "pairs": pairs,
        }
    )


def potential_path(cfg: Mapping[str, Any], root: str | Path) -> Path:
    """Potential file ``<root>/<system.potential_dir>/<system.potential>.yaml``."""
    sysc = cfg["system"]
    return Path(root) / sysc["potential_dir"] / f"{sysc['potential']}.yaml"


def execution_settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide how jobs run, not what they compute (never params).

    ``engine`` holds the launch keys of the validated config; ``structure_workers`` the
    neighbour-search threads.
    """
    return {
        "engine": {k: v for k, v in cfg["engine"].items() if k in ENGINE_EXECUTION_KEYS},
        "structure_workers": cfg["analysis"]["structure"]["workers"],
    }


def physics_config(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The validated config without execution settings, output location or the
    missing-run switch, canonical: its hash changes only when the physics does."""
    out = {k: v for k, v in cfg.items() if k not in NON_PHYSICS_TOP_KEYS}
    if "temperatures_K" in out:
        out["temperatures_K"] = sorted(out["temperatures_K"])  # the grid sorts them too
    if "engine" in out:
        out["engine"] = {k: v for k, v in out["engine"].items() if k not in ENGINE_EXECUTION_KEYS}
        if out["engine"].get("kind") == "lammps":  # the default: as before it existed
            del out["engine"]["kind"]
    if not out.get("crosscheck", {}).get("enabled", False):
        out.pop("crosscheck", None)  # off (the default): as before it existed
    if not out.get("convergence", {}).get("targets"):
        out.pop("convergence", None)  # no targets (the default): as before it existed
    elif "convergence" in out:  # how many runs go side by side is not physics
        out["convergence"] = {k: v for k, v in out["convergence"].items() if k != "parallel_runs"}
    if "analysis" in out:
        out["analysis"] = {
            name: {
                k: v for k, v in section.items() if k not in ANALYSIS_EXECUTION_KEYS.get(name, ())
            }
            for name, section in out["analysis"].items()
        }
    return canonical(out, schema)


def workflow_root(scriptdir: str | Path) -> Path:
    """The workflow checkout (holds Snakefile) of a script in ``workflow/scripts``."""
    return Path(scriptdir).resolve().parents[1]


def script_config(config: Mapping[str, Any], scriptdir: str | Path) -> dict[str, Any]:
    """The validated config, defaults filled, inside a workflow script.

    ``config`` is ``snakemake.config`` (it may lack defaults), ``scriptdir`` is
    ``snakemake.scriptdir``; the schema is ``workflow/schemas/config.schema.yaml``.
    The Snakefile validated it already: when its digest matches the mark the Snakefile
    left in the environment (:mod:`glassflow.config.validated`) it is returned as it is
    (a copy), otherwise validated here.
    """
    import copy

    from glassflow.config.validated import is_marked_validated

    schema = workflow_root(scriptdir) / "workflow" / "schemas" / "config.schema.yaml"
    if is_marked_validated(config, schema):
        return copy.deepcopy(dict(config))
    from glassflow.config.schema import validate_config

    return validate_config(dict(config), schema)
