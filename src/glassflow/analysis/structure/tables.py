"""Tidy structure tables of one run (physics.md §5, §6, §8).

Every table carries the keys ``campaign, x, m, T_K, replica, stage`` (stage in
{glass, production}) and units in its column names:

* ``gr``: pair ("A-B": B around A, all ordered pairs), r_A, g, cn (running CN of B around A)
* ``sk``: pair (Faber-Ziman partial "A-B" with A <= B in species order, or "xray" /
  "neutron" totals), method ("fourier" | "direct"), k_inv_A, S, I_k (= k[S-1], 1/Å),
  n_k_vectors (direct route: vectors averaged in the shell)
* ``angles``: triplet ("S-Si-S": centre in the middle), theta_deg, density (1/deg)
* ``summary``: one row; r_peak_A_<A>_<B>, r_cut_A_<A>_<B> (unordered pairs),
  cn_<A>_<B> (B around A, to r_cut), r_cut_A_S_S_bond, k_pp_inv_A, prepeak_height,
  prepeak_length_A, prepeak_is_local_max, r_SS_tetra_A, r_SiS_over_r_SS, r_SS_over_r_SiS,
  angle_peak_deg_<triplet>, n_frames
* ``topology``: one row; fractions of S classes, Si CN distribution, corner/edge/face counts,
  mean_r, n_constraints, f_md, f_mean_field (requested x, m), f_mean_field_achieved,
  x_achieved, m_achieved (see :mod:`glassflow.analysis.topology`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.analysis import topology as tp
from glassflow.analysis.structure import pair_correlation as pcor
from glassflow.analysis.structure import structure_factor as sfac
from glassflow.analysis.structure.angles import angle_distribution, angle_peak, bond_angles
from glassflow.analysis.structure.geometry import (
    frame_stride,
    lookup_pair,
    pair_label,
    unordered_pairs,
)
from glassflow.analysis.structure.settings import StructureSettings

KEY_COLUMNS: tuple[str, ...] = ("campaign", "x", "m", "T_K", "replica", "stage")
STAGES: tuple[str, ...] = ("glass", "production")
TRIPLETS: tuple[tuple[str, str, str], ...] = (("S", "Si", "S"), ("Si", "S", "Si"), ("S", "Na", "S"))


def _with_keys(df: pd.DataFrame, keys: Mapping[str, Any]) -> pd.DataFrame:
    missing = [k for k in KEY_COLUMNS if k not in keys]
    if missing:
        raise KeyError(f"missing run keys: {', '.join(missing)}")
    if keys["stage"] not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {keys['stage']!r}")
    front = pd.DataFrame({k: [keys[k]] * len(df) for k in KEY_COLUMNS}, index=df.index)
    out = pd.concat([front, df], axis=1)
    out["campaign"] = out["campaign"].astype(str)
    out["replica"] = out["replica"].astype(int)
    for k in ("x", "m", "T_K"):
        out[k] = out[k].astype(float)
    return out.reset_index(drop=True)


def _tag(label: str) -> str:
    return label.replace("-", "_")


def gr_table(pdist: pcor.PairDistribution) -> pd.DataFrame:
    """Long table of g(r) and running CN for every ordered pair."""
    parts = []
    for a, sa in enumerate(pdist.species):
        for b, sb in enumerate(pdist.species):
            parts.append(
                pd.DataFrame(
                    {
                        "pair": pair_label(sa, sb),
                        "r_A": pdist.r_A,
                        "g": pdist.g[a, b],
                        "cn": pdist.cn[a, b],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _sk_rows(
    species: Sequence[str],
    method: str,
    k: npt.NDArray[np.float64],
    s_ab: npt.NDArray[np.float64],
    conc: npt.NDArray[np.float64],
    n_vec: npt.NDArray[np.int64] | None,
) -> list[pd.DataFrame]:
    nvec = np.full(k.size, np.nan) if n_vec is None else n_vec.astype(float)
    rows = []

    def frame(label: str, s: npt.NDArray[np.float64]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "pair": label,
                "method": method,
                "k_inv_A": k,
                "S": s,
                "I_k": sfac.interference_function(k, s),
                "n_k_vectors": nvec,
            }
        )

    for a, b in unordered_pairs(species):
        rows.append(frame(pair_label(species[a], species[b]), s_ab[a, b]))
    present = conc > 0
    sp = [s for s, p in zip(species, present, strict=True) if p]
    sub = s_ab[np.ix_(present, present)]
    fx = sfac.xray_form_factors(sp, k)
    rows.append(frame("xray", sfac.total_structure_factor(sub, conc[present], fx)))
    bn = sfac.neutron_scattering_lengths(sp)
    rows.append(frame("neutron", sfac.total_structure_factor(sub, conc[present], bn)))
    return rows


def analyse_configurations(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    keys: Mapping[str, Any],
    settings: StructureSettings | None = None,
) -> dict[str, pd.DataFrame]:
    """All structure tables of one run from frames (frames, atoms, 3) in Å (already strided).

    Returns {"gr", "sk", "angles", "summary", "topology"} DataFrames with the run keys.
    """
    cfg = settings or StructureSettings()
    frames = np.asarray(positions)
    if frames.ndim == 2:
        frames = frames[None]
    species = tuple(species)
    t = np.asarray(types, dtype=np.intp)
    box = np.asarray(box_A, dtype=np.float64)

    pdist = pcor.pair_distribution(
        frames, t, species, box, cfg.r_max_for(box), cfg.dr_A, workers=cfg.workers
    )
    peaks, cuts = pcor.find_cutoffs(pdist, cfg.cutoffs_A, cfg.smooth_A)
    ss_bond = pcor.homopolar_bond_cutoff(pdist, "S", cfg.cutoffs_A, cfg.ss_bond_max_A, cfg.smooth_A)

    # S(k), both routes
    conc = pdist.n_atoms / pdist.n_atoms.sum()
    k_f = np.arange(cfg.k_min_inv_A, cfg.k_max_inv_A + 0.5 * cfg.dk_inv_A, cfg.dk_inv_A)
    s_f = sfac.structure_factor_fourier(pdist, k_f, cfg.window)
    k_d, s_d, n_vec = sfac.structure_factor_direct(
        frames,
        t,
        species,
        box,
        cfg.k_min_inv_A,
        cfg.k_max_inv_A,
        cfg.dk_direct_inv_A,
        cfg.max_k_vectors_per_shell,
        cfg.seed,
    )
    sk = pd.concat(
        _sk_rows(species, "fourier", k_f, s_f, conc, None)
        + _sk_rows(species, "direct", k_d, s_d, conc, n_vec),
        ignore_index=True,
    )

    # bond angles
    angle_rows = []
    angle_peaks: dict[str, float] = {}
    for trip in TRIPLETS:
        label = "-".join(trip)
        if not set(trip) <= set(species):
            continue
        theta = bond_angles(frames, t, species, box, trip, cuts)
        centres, dens = angle_distribution(theta, cfg.angle_bin_deg)
        angle_peaks[label] = angle_peak(centres, dens)
        angle_rows.append(pd.DataFrame({"triplet": label, "theta_deg": centres, "density": dens}))
    angles = pd.concat(angle_rows, ignore_index=True) if angle_rows else pd.DataFrame()

    # summary
    summ: dict[str, Any] = {"n_frames": int(frames.shape[0])}
    for a, b in unordered_pairs(species):
        lab = pair_label(species[a], species[b])
        summ[f"r_peak_A_{_tag(lab)}"] = peaks[lab]
        summ[f"r_cut_A_{_tag(lab)}"] = cuts[lab]
    for sa in species:
        for sb in species:
            rc = lookup_pair(cuts, sa, sb)
            summ[f"cn_{sa}_{sb}"] = pcor.coordination_number(pdist, sa, sb, rc)
    summ["r_cut_A_S_S_bond"] = ss_bond
    if "Na" in species:
        ina = species.index("Na")
        pp = sfac.prepeak(k_d, s_d[ina, ina], cfg.prepeak_window_inv_A)
    else:
        pp = sfac.Prepeak(float("nan"), float("nan"), float("nan"), False)
    summ["k_pp_inv_A"] = pp.k_inv_A
    summ["prepeak_height"] = pp.height
    summ["prepeak_length_A"] = pp.length_A
    summ["prepeak_is_local_max"] = pp.is_local_max
    r_ss = pcor.tetrahedral_ss_distance(pdist)
    r_sis = peaks.get("Si-S", float("nan"))
    summ["r_SS_tetra_A"] = r_ss
    summ["r_SiS_over_r_SS"] = r_sis / r_ss if np.isfinite(r_ss) else float("nan")
    summ["r_SS_over_r_SiS"] = r_ss / r_sis if np.isfinite(r_sis) else float("nan")
    for label, v in angle_peaks.items():
        summ[f"angle_peak_deg_{_tag(label)}"] = v
    summary = pd.DataFrame([summ])

    # topology
    topo_cuts = dict(cuts)
    topo_cuts["S-S"] = ss_bond
    if {"Si", "S"} <= set(species):
        per_frame = tp.network_topology(
            frames, t, species, box, topo_cuts, include_na=cfg.include_na_in_mean_r
        )
        topo = pd.DataFrame(per_frame).mean().to_frame().T
        counts = {s: int(np.count_nonzero(t == species.index(s))) for s in species}
        xa, ma = tp.achieved_composition(counts.get("Na", 0), counts["Si"], counts["S"])
        topo["x_achieved"] = xa
        topo["m_achieved"] = ma
        topo["f_mean_field"] = _safe_f(float(keys["x"]), float(keys["m"]))
        topo["f_mean_field_achieved"] = _safe_f(xa, ma)
        topo["include_na_in_mean_r"] = cfg.include_na_in_mean_r
    else:
        topo = pd.DataFrame([{}])

    return {
        "gr": _with_keys(gr_table(pdist), keys),
        "sk": _with_keys(sk, keys),
        "angles": _with_keys(angles, keys),
        "summary": _with_keys(summary, keys),
        "topology": _with_keys(topo, keys),
    }


def _safe_f(x: float, m: float) -> float:
    try:
        return tp.mean_field_floppy_fraction(x, m)
    except (ValueError, ZeroDivisionError):
        return float("nan")


# --------------------------------------------------------------------------- inputs


def read_lammps_data(
    path: str, species: Sequence[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Positions (atoms, 3) Å, species indices (atoms,) and box (3,) Å of a LAMMPS data file.

    Reads ``write_data`` output with atom_style charge (``id type q x y z [ix iy iz]``) or
    atomic (``id type x y z``); LAMMPS type t maps to ``species[t - 1]``. Atoms are sorted
    by id. Only orthorhombic boxes are accepted (non-zero tilt factors raise).
    """
    with open(path) as fh:
        lines = fh.read().splitlines()
    n_atoms = None
    lo_hi: dict[str, tuple[float, float]] = {}
    atoms_at = None
    style = None
    for i, raw in enumerate(lines):
        line = raw.split("#")[0].strip()
        words = line.split()
        if len(words) == 2 and words[1] == "atoms":
            n_atoms = int(words[0])
        elif len(words) == 4 and words[2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
            lo_hi[words[2][0]] = (float(words[0]), float(words[1]))
        elif len(words) == 6 and words[3:] == ["xy", "xz", "yz"]:
            if any(abs(float(w)) > 1e-12 for w in words[:3]):
                raise ValueError(f"{path}: triclinic boxes are not supported")
        elif words and words[0] == "Atoms":
            atoms_at = i
            style = raw.split("#")[1].strip() if "#" in raw else None
            break
    if n_atoms is None or atoms_at is None or len(lo_hi) != 3:
        raise ValueError(f"{path}: not a LAMMPS data file (atoms count, box or Atoms missing)")
    rows = []
    j = atoms_at + 1
    while len(rows) < n_atoms and j < len(lines):
        words = lines[j].split("#")[0].split()
        j += 1
        if words:
            rows.append(words)
    if len(rows) < n_atoms:
        raise ValueError(f"{path}: Atoms section has {len(rows)} of {n_atoms} lines")
    ncol = len(rows[0])
    if style is None:
        style = "charge" if ncol in (6, 9) else "atomic"
    xcol = {"charge": 3, "atomic": 2}.get(style)
    if xcol is None:
        raise ValueError(f"{path}: unsupported atom_style {style!r} (charge or atomic)")
    arr = np.array([r[: xcol + 3] for r in rows], dtype=np.float64)
    order = np.argsort(arr[:, 0])
    arr = arr[order]
    lammps_types = arr[:, 1].astype(np.intp)
    if lammps_types.min() < 1 or lammps_types.max() > len(species):
        raise ValueError(f"{path}: atom types {sorted(set(lammps_types))} vs species {species}")
    lo = np.array([lo_hi[a][0] for a in "xyz"])
    box = np.array([lo_hi[a][1] - lo_hi[a][0] for a in "xyz"])
    return arr[:, xcol : xcol + 3] - lo, lammps_types - 1, box


def load_trajectory_frames(
    path: str, max_frames: int
) -> tuple[np.ndarray, npt.NDArray[np.intp], tuple[str, ...], npt.NDArray[np.float64]]:
    """Strided frames (at most ``max_frames``) of a .gtrj: (positions, types, species, box)."""
    from glassflow.io.trajectory import open_trajectory

    traj = open_trajectory(path, verify="stream")  # the frames read are CRC-checked
    if traj.n_frames == 0:
        raise ValueError(f"{path}: trajectory has no frames")
    idx = frame_stride(traj.n_frames, max_frames)
    pos = np.stack([traj.positions(int(i), int(i) + 1)[0] for i in idx])
    return pos, traj.types.astype(np.intp), traj.species, traj.box_A
