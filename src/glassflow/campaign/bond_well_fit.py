"""Fit the depth of a Morse bonding well to a reference glass (docs/physics.md §2).

The reference is a glass of a better force field (the machine-learned anneals of the
force-field cross-check): its fraction of S in S–S bonds at each composition and the
S–S bond length of its g(r). For a grid of well depths D0 at a fixed width α, each
Morse term is placed (:func:`glassflow.md.bond_well.morse_r0_for_bond`) so that the
bare pair curve has its minimum at the reference bond length; each candidate file
melts and quenches the campaign's glasses with LAMMPS, and the bond fraction of each
glass is measured with the campaign's structure analysis. The chosen depth minimises
the squared misfit of the bond fraction over the compositions, on a fine grid of D0
between the scanned values (linear interpolation of each composition's fraction).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

from glassflow.md.potential import (
    EV_IN_KCAL_MOL,
    load_potential,
    potential_schema,
    read_potential_yaml,
)


def best_depth(
    depths_eV: npt.ArrayLike,
    fractions: npt.ArrayLike,
    targets: npt.ArrayLike,
    n_fine: int = 2001,
) -> tuple[float, float]:
    """Well depth whose bond fractions best match the reference ones.

    Parameters
    ----------
    depths_eV : (k,) float, eV
        Scanned depths, strictly increasing.
    fractions : (k, c) float
        Measured fraction of S in S–S bonds for each depth and composition.
    targets : (c,) float
        Reference fractions of the compositions.
    n_fine : int
        Points of the fine grid between the first and last depth.

    Returns
    -------
    depth_eV : float, eV
        Minimiser of sum_c (f_c(D0) − target_c)² with f_c linear between scanned depths.
    rms : float
        Root-mean-square misfit of the fraction at that depth.
    """
    d = np.asarray(depths_eV, dtype=np.float64)
    f = np.asarray(fractions, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or np.any(np.diff(d) <= 0):
        raise ValueError(f"depths must be at least two increasing values, got {d.tolist()}")
    if f.shape != (d.size, t.size):
        raise ValueError(f"fractions have shape {f.shape}, expected {(d.size, t.size)}")
    fine = np.linspace(d[0], d[-1], n_fine)
    interp = np.stack([np.interp(fine, d, f[:, c]) for c in range(t.size)], axis=1)
    cost = np.mean((interp - t) ** 2, axis=1)
    i = int(np.argmin(cost))
    return float(fine[i]), float(np.sqrt(cost[i]))


def candidate_file(
    base_file: str | Path,
    pair: str,
    depth_eV: float,
    alpha_per_A: float,
    r_bond_A: float,
    cutoff_A: float,
    out: str | Path,
    name: str,
    citation: str,
) -> dict[str, float]:
    """Write a potential file: the base file plus a Morse well on ``pair``.

    r0 is placed so that the short-range part of the pair (base term plus Morse, without
    the Coulomb term) has its minimum at ``r_bond_A``: the Coulomb repulsion of the
    pair depends on the charges a campaign uses (they are scaled with the composition
    under ``neutrality: scale_anion``) and is screened in the glass, so the bond length
    that the glass reaches is measured, not assumed.

    Returns
    -------
    dict
        D0_eV, alpha_per_A, r0_A, cutoff_A, and the bare pair energy at the bond length
        and at the cutoff (eV).
    """
    from glassflow.md.bond_well import morse_r0_for_bond, pair_energy, with_morse_overlay

    base = load_potential(base_file)
    a, b = pair.split("-")
    qa, qb = base.charges[a], base.charges[b]
    r0 = morse_r0_for_bond(base, a, b, 0.0, 0.0, r_bond_A, depth_eV * EV_IN_KCAL_MOL, alpha_per_A)
    doc = with_morse_overlay(
        read_potential_yaml(Path(base_file)),
        pair,
        depth_eV,
        alpha_per_A,
        r0,
        cutoff_A,
        name,
        citation,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    pot = load_potential(out)  # the written file passes the same checks as any other
    r = np.array([r_bond_A, cutoff_A])
    e, _ = pair_energy(pot, a, b, qa, qb, r)
    return {
        "D0_eV": float(depth_eV),
        "alpha_per_A": float(alpha_per_A),
        "r0_A": float(r0),
        "cutoff_A": float(cutoff_A),
        "pair_energy_at_bond_eV": float(e[0] / EV_IN_KCAL_MOL),
        "pair_energy_at_cutoff_eV": float(e[1] / EV_IN_KCAL_MOL),
    }


def glass_bonding(
    config: Mapping[str, Any],
    schema: str | Path,
    root: str | Path,
    potential_dir: str | Path,
    potential_name: str,
    workdir: str | Path,
    analysis: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Melt-quench every composition of a campaign with one potential; bond numbers.

    Parameters
    ----------
    config : mapping
        A campaign config (its ``system.potential`` and ``potential_dir`` are replaced).
    schema, root : path
        Config schema and the checkout root (as for ``build_campaign``).
    potential_dir, potential_name : path, str
        Where the candidate file is and its name.
    workdir : path
        One sub-directory per composition (cell, LAMMPS input and log, glass.data).
    analysis : mapping, optional
        The ``analysis.structure`` settings (bond cutoffs); defaults otherwise.

    Returns
    -------
    DataFrame
        One row per composition: x, m, ``frac_S_in_SS``, ``si_cn_mean``, ``si_cn_4``,
        ``f_md``, ``r_peak_A_S_S`` (first g_SS peak), ``r_cut_A_S_S`` and ``cn_S_S``
        (S neighbours of an S to the first minimum of g_SS), ``wall_s``.
    """
    from glassflow.analysis.runs import structure_of_glass, structure_settings
    from glassflow.config.grid import build_campaign
    from glassflow.md.cell import build_random_cell, write_lammps_data
    from glassflow.md.engines.lammps_run import run_melt_quench
    from glassflow.md.lammps import Engine, force_field_context

    cfg = copy.deepcopy(dict(config))
    cfg["system"] = dict(
        cfg["system"], potential=potential_name, potential_dir=str(Path(potential_dir).resolve())
    )
    camp = build_campaign(cfg, Path(schema), Path(root))
    c = camp.config
    settings = structure_settings(analysis, 1)
    pot_file = Path(potential_dir) / f"{potential_name}.yaml"
    pot_sha = hashlib.sha256(pot_file.read_bytes()).hexdigest()
    rows = []
    for label, cr in camp.compositions.items():
        species = cr.composition.species
        ctx = force_field_context(
            camp.potential, species, cr.charges_used, c["engine"], c["protocol"]
        )
        ctx.update(label=label, replica=1, seed=int(c["seed"]))
        d = Path(workdir) / label
        d.mkdir(parents=True, exist_ok=True)
        atoms = build_random_cell(
            cr.composition,
            cr.charges_used,
            camp.potential.masses,
            cr.box_A,
            c["cell"].get("min_distance_A", 1.5),
            int(c["seed"]),
        )
        # A glass finished by an interrupted fit with the same potential file is reused.
        done = d / "glass_done.json"
        stamp = json.loads(done.read_text()) if done.exists() else {}
        if stamp.get("potential_sha256") == pot_sha and (d / "glass.data").exists():
            wall = float(stamp["wall_s"])
        else:
            write_lammps_data(atoms, d / "cell.data", species)
            t0 = time.perf_counter()
            run_melt_quench(d, ctx, c["protocol"], Engine(), d / "stdout.log")
            wall = time.perf_counter() - t0
            done.write_text(json.dumps({"potential_sha256": pot_sha, "wall_s": wall}) + "\n")
        keys = {
            "campaign": c["campaign"],
            "x": cr.composition.x_requested,
            "m": cr.composition.m_requested,
            "T_K": 300.0,
            "replica": 1,
        }
        st = structure_of_glass(d / "glass.data", species, keys, settings)
        top, summ = st["topology"].iloc[0], st["summary"].iloc[0]
        rows.append(
            {
                "x": cr.composition.x_requested,
                "m": cr.composition.m_requested,
                "frac_S_in_SS": float(top["frac_S_in_SS"]),
                "si_cn_mean": float(top["si_cn_mean"]),
                "si_cn_4": float(top["si_cn_4"]),
                "f_md": float(top["f_md"]),
                "r_peak_A_S_S": float(summ.get("r_peak_A_S_S", np.nan)),
                "r_cut_A_S_S": float(summ.get("r_cut_A_S_S", np.nan)),
                "cn_S_S": float(summ.get("cn_S_S", np.nan)),
                "wall_s": wall,
            }
        )
    return pd.DataFrame(rows)


def scan_depths(
    config: Mapping[str, Any],
    schema: str | Path,
    root: str | Path,
    base_file: str | Path,
    pair: str,
    depths_eV: Sequence[float],
    alpha_per_A: float,
    r_bond_A: float,
    cutoff_A: float,
    targets: Mapping[float, float],
    workdir: str | Path,
) -> dict[str, Any]:
    """Scan Morse depths on a campaign's glasses and choose the best (module docstring).

    Parameters
    ----------
    targets : mapping m -> fraction
        Reference fraction of S in S–S bonds at each m of the campaign's grid.

    Returns
    -------
    dict
        ``scan`` (DataFrame: one row per depth and composition, with the file's
        parameters), ``best`` (depth_eV, rms misfit, and the Morse parameters of that
        depth), written also to ``<workdir>/scan.parquet`` and ``fit.json``.
    """
    workdir = Path(workdir)
    pots = workdir / "potentials"
    frames = []
    for depth in depths_eV:
        name = f"scan_D{depth:g}"
        params = candidate_file(
            base_file,
            pair,
            depth,
            alpha_per_A,
            r_bond_A,
            cutoff_A,
            pots / f"{name}.yaml",
            name,
            f"Morse {pair} depth scan, D0 = {depth:g} eV",
        )
        table = glass_bonding(config, schema, root, pots, name, workdir / name)
        for k, v in params.items():
            table[k] = v
        frames.append(table)
    scan = pd.concat(frames, ignore_index=True)
    ms = sorted(targets)
    missing = [m for m in ms if not np.isclose(scan["m"], m).any()]
    if missing:
        raise ValueError(f"targets name m = {missing}, which the campaign's grid does not have")
    frac = np.array(
        [
            [
                scan.loc[
                    np.isclose(scan["D0_eV"], d) & np.isclose(scan["m"], m), "frac_S_in_SS"
                ].iloc[0]
                for m in ms
            ]
            for d in depths_eV
        ]
    )
    depth, rms = best_depth(depths_eV, frac, [targets[m] for m in ms])
    from glassflow.md.bond_well import morse_r0_for_bond

    base = load_potential(base_file)
    a, b = pair.split("-")
    r0 = morse_r0_for_bond(base, a, b, 0.0, 0.0, r_bond_A, depth * EV_IN_KCAL_MOL, alpha_per_A)
    best = {
        "pair": pair,
        "D0_eV": depth,
        "alpha_per_A": alpha_per_A,
        "r0_A": r0,
        "r_bond_A": r_bond_A,
        "cutoff_A": cutoff_A,
        "rms_fraction_misfit": rms,
        "targets": {str(m): targets[m] for m in ms},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    scan.to_parquet(workdir / "scan.parquet")
    (workdir / "fit.json").write_text(json.dumps(best, indent=2) + "\n")
    return {"scan": scan, "best": best}


#: keys of a fit specification (``glassflow fit-well SPEC``) and what each must be
SPEC_KEYS: dict[str, str] = {
    "campaign": "path of the campaign config whose glasses are made (compositions, cell, protocol)",
    "pair": "the pair that gets the well, e.g. S-S",
    "alpha_per_A": "Morse width parameter alpha, 1/A, > 0",
    "r_bond_A": "bond length of the reference glass (first g peak of the pair), A, > 0",
    "cutoff_A": "cutoff of the Morse term, A, > r_bond_A",
    "depths_eV": "at least two increasing well depths D0 to scan, eV, > 0",
    "targets": "reference fraction of S in S-S bonds per m of the campaign grid, {m: fraction}",
    "output": "{file, name, citation} of the potential file written with the chosen depth",
    "workdir": "directory of the scan's glasses and tables",
}


def check_fit_spec(spec: Any, source: str) -> list[str]:
    """Problems of a fit specification, each naming its key and what was expected."""
    if not isinstance(spec, Mapping):
        return [f"{source}: expected a mapping with keys {', '.join(SPEC_KEYS)}"]
    out = [f"{source}: key '{k}' is missing: {v}" for k, v in SPEC_KEYS.items() if k not in spec]
    if out:
        return out
    out += [
        f"{source}: unknown key '{k}' (known: {', '.join(SPEC_KEYS)})"
        for k in spec
        if k not in SPEC_KEYS
    ]

    def positive(key: str) -> bool:
        v = spec[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        if not ok:
            out.append(f"{source}: key '{key}' = {v!r}: expected {SPEC_KEYS[key]}")
        return ok

    lengths_ok = [positive(k) for k in ("alpha_per_A", "r_bond_A", "cutoff_A")]
    if all(lengths_ok) and spec["cutoff_A"] <= spec["r_bond_A"]:
        out.append(f"{source}: key 'cutoff_A' = {spec['cutoff_A']}: expected > r_bond_A")
    d = spec["depths_eV"]
    if not (
        isinstance(d, list)
        and len(d) >= 2
        and all(isinstance(v, int | float) and v > 0 for v in d)
        and all(b > a for a, b in zip(d, d[1:], strict=False))
    ):
        out.append(f"{source}: key 'depths_eV' = {d!r}: expected {SPEC_KEYS['depths_eV']}")
    t = spec["targets"]
    if not (
        isinstance(t, Mapping)
        and t
        and all(
            isinstance(m, int | float) and isinstance(f, int | float) and 0 <= f <= 1
            for m, f in t.items()
        )
    ):
        out.append(
            f"{source}: key 'targets' = {t!r}: expected {SPEC_KEYS['targets']}, fractions in [0, 1]"
        )
    o = spec["output"]
    if not (isinstance(o, Mapping) and {"file", "name", "citation"} <= set(o)):
        out.append(f"{source}: key 'output' = {o!r}: expected {SPEC_KEYS['output']}")
    else:
        props = potential_schema()["properties"]
        for key in ("name", "citation"):
            errs = list(jsonschema.Draft202012Validator(props[key]).iter_errors(o[key]))
            if errs:
                out.append(
                    f"{source}: key 'output.{key}' = {o[key]!r}: expected "
                    f"{props[key]['description']}"
                )
    if not (isinstance(spec["pair"], str) and len(spec["pair"].split("-")) == 2):
        out.append(f"{source}: key 'pair' = {spec['pair']!r}: expected {SPEC_KEYS['pair']}")
    return out


def fit_well(spec_file: str | Path, root: str | Path, schema: str | Path) -> dict[str, Any]:
    """Run a fit specification: scan, choose the depth, write the potential file.

    Parameters
    ----------
    spec_file : path
        The specification (YAML, keys :data:`SPEC_KEYS`; paths relative to ``root``).
    root : path
        Checkout root.
    schema : path
        Campaign config schema.

    Returns
    -------
    dict
        ``scan``, ``best`` (as :func:`scan_depths`) and ``check`` (the glasses of the
        written file, :func:`glass_bonding`), also written to the workdir.
    """
    root = Path(root)
    spec = yaml.safe_load(Path(spec_file).read_text())
    if problems := check_fit_spec(spec, str(spec_file)):
        raise ValueError("\n".join(problems))
    from glassflow.config.schema import validate_config

    config = validate_config(yaml.safe_load((root / spec["campaign"]).read_text()), Path(schema))
    sysc = config["system"]
    base_file = root / sysc.get("potential_dir", "config/potentials") / f"{sysc['potential']}.yaml"
    a, b = spec["pair"].split("-")
    base = load_potential(base_file)
    for el in (a, b):
        if el not in base.charges:
            raise ValueError(f"{spec_file}: key 'pair': {el} is not a species of {base_file}")
    grid_m = [float(m) for m in config["compositions"]["grid"]["m"]]
    bad = [m for m in spec["targets"] if not any(np.isclose(float(m), g) for g in grid_m)]
    if bad:
        raise ValueError(
            f"{spec_file}: key 'targets': m = {bad} not in the campaign's grid {grid_m}"
        )
    workdir = root / spec["workdir"]
    result = scan_depths(
        config,
        schema,
        root,
        base_file,
        spec["pair"],
        spec["depths_eV"],
        float(spec["alpha_per_A"]),
        float(spec["r_bond_A"]),
        float(spec["cutoff_A"]),
        {float(m): float(f) for m, f in spec["targets"].items()},
        workdir,
    )
    best = result["best"]
    out = root / spec["output"]["file"]
    params = candidate_file(
        base_file,
        spec["pair"],
        best["D0_eV"],
        best["alpha_per_A"],
        best["r_bond_A"],
        best["cutoff_A"],
        out,
        spec["output"]["name"],
        spec["output"]["citation"],
    )
    check = glass_bonding(config, schema, root, out.parent, out.stem, workdir / "chosen")
    for k, v in params.items():
        check[k] = v
    check.to_parquet(workdir / "chosen.parquet")
    return {**result, "check": check}
