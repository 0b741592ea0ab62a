"""Tidy tables of ion dynamics and transport (per run, and replica-pooled per composition).

Every table carries the run keys ``campaign, x, m, T_K, replica`` and ``species``; column
names carry units (docs/design.md). Missing values are pandas ``<NA>`` (nullable
``Float64``/``boolean``/``string``), never a silent NaN nor a number fitted where the
physics says there is none.

Tables (one run):

- **curves** (long format): ``quantity`` in {``msd_A2``, ``r4_A4``, ``alpha2``,
  ``charge_msd_e2A2``, ``vacf_A2_ps2``} (the quantity name carries its unit), ``t_ps``,
  ``value``, ``n_atoms``, ``n_origins`` (atoms x origins is the pooling weight; the
  lag is ``n_frames - n_origins``). The lags are the log-spaced ones (``n_lags``) plus
  ``n_fit_lags`` evenly spaced ones up to ``max_lag_fraction`` of the run, on which the
  Einstein fits are done. ``charge_msd_e2A2`` (collective ``|sum_i z_i dr_i|^2`` with
  COM drift removed) has ``species='all'``.
- **vanhove**: ``t_ps, r_A, Gs_inv_A3`` (eq 11, Å^-3), ``Gs_gauss_inv_A3`` (eq 12 with
  the measured <r^2>), ``radial_Gs_inv_A`` = 4 pi r^2 G_s and ``radial_Gs_gauss_inv_A``
  (Å^-1, integrate to 1 over r), ``msd_A2``, ``n_atoms``, ``n_origins``.
- **summary**: one row per species with this run's GLS Einstein fit
  (docs/transport.md) ``D_cm2_s, D_err_cm2_s, D_lo_cm2_s, D_hi_cm2_s, diffusive,
  reason, fit_t_min_ps, fit_t_max_ps, max_lag_ps, msd_max_lag_A2, loglog_slope,
  loglog_slope_err``, ``D_gk_cm2_s, D_gk_err_cm2_s, gk_reason, tau_star_ps,
  alpha2_max`` and the run-level conductivity ``sigma_ne_S_cm, sigma_ne_err_S_cm,
  sigma_S_cm, sigma_err_S_cm, sigma_lo_S_cm, sigma_hi_S_cm, haven_ratio,
  haven_ratio_err, haven_ratio_lo, haven_ratio_hi, sigma_ne_species, sigma_reason``
  **repeated on every species row** (so that filtering one species keeps everything
  needed for an Arrhenius plot; de-duplicate on the run keys before summing run-level
  columns), plus the fit settings used (:data:`FIT_SETTING_COLUMNS`). sigma_NE sums the
  species that have a diffusive regime; the collective sigma is fitted on the charge
  MSD from the fit start of the species that dominates sigma_NE. Once all replicas of
  a (composition, T) are combined, :func:`pool_replica_transport` adds the
  replica-pooled columns (``D_pooled_*``, ``diffusive_pooled``, ``reason_pooled``,
  ``sigma_*_pooled``, ``haven_ratio*_pooled``, ``D_replica_p_value``, ``n_replicas``).
- **fastslow**: ``pair`` in {fast-fast, slow-slow, fast-slow}, ``r_A``, ``g_r`` (Na-Na at
  t = 0) and the partition's scalars (``lag_ps`` used, ``n_fast``, ``n_slow``,
  ``si_cn_S_near_fast``, ``si_cn_S_near_slow``, ``n_S_near_fast``, ``n_S_near_slow``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from glassflow.analysis.dynamics.correlations import (
    DynamicsSettings,
    RunDynamics,
    SpeciesDynamics,
    analyse_trajectory,
    gaussian_van_hove,
    non_gaussian_parameter,
    pool_curves,
    tau_star,
)
from glassflow.analysis.dynamics.transport import (
    VACF_MIN_FIRST_LAG_RATIO,
    ConductivityEstimate,
    DiffusionFit,
    FitSettings,
    MSDCurve,
    a2ps_to_cm2s,
    block_standard_error,
    conductivity_estimate,
    fit_einstein,
    green_kubo_diffusion,
    vacf_resolved,
)
from glassflow.analysis.structure.fast_slow import fast_slow_partition
from glassflow.analysis.structure.geometry import coordination_numbers, neighbours_within
from glassflow.analysis.structure.pair_correlation import partial_rdf
from glassflow.io.trajectory import Trajectory

KEYS = ("campaign", "x", "m", "T_K", "replica")


def _na(v: float | None) -> Any:
    return pd.NA if v is None or not np.isfinite(v) else float(v)


def _keys(meta: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in KEYS if k not in meta]
    if missing:
        raise KeyError(f"run metadata lacks keys {missing}")
    return {
        "campaign": str(meta["campaign"]),
        "x": float(meta["x"]),
        "m": float(meta["m"]),
        "T_K": float(meta["T_K"]),
        "replica": int(meta["replica"]),
    }


def _typed(
    df: pd.DataFrame, floats: Sequence[str] = (), strings: Sequence[str] = ()
) -> pd.DataFrame:
    for c in floats:
        if c in df:
            df[c] = df[c].astype("Float64")
    for c in strings:
        if c in df:
            df[c] = df[c].astype("string")
    return df


# --------------------------------------------------------------------------------------
# per run
# --------------------------------------------------------------------------------------
def curves_table(rd: RunDynamics, meta: Mapping[str, Any]) -> pd.DataFrame:
    """Long-format curves of one run (see module doc)."""
    k = _keys(meta)
    parts = []
    for sp, d in rd.species.items():
        for q, v in (("msd_A2", d.msd_A2), ("r4_A4", d.r4_A4), ("alpha2", d.alpha2)):
            parts.append(
                pd.DataFrame(
                    {
                        "species": sp,
                        "quantity": q,
                        "t_ps": d.t_ps,
                        "value": v,
                        "n_atoms": d.n_atoms,
                        "n_origins": d.n_origins,
                    }
                )
            )
        if d.vacf_A2_ps2 is not None:
            parts.append(
                pd.DataFrame(
                    {
                        "species": sp,
                        "quantity": "vacf_A2_ps2",
                        "t_ps": d.vacf_t_ps,
                        "value": d.vacf_A2_ps2,
                        "n_atoms": d.n_atoms,
                        "n_origins": (rd.n_frames - np.arange(d.vacf_t_ps.size)).astype(float),
                    }
                )
            )
    parts.append(
        pd.DataFrame(
            {
                "species": "all",
                "quantity": "charge_msd_e2A2",
                "t_ps": rd.charge_t_ps,
                "value": rd.charge_msd_e2A2,
                "n_atoms": 1,
                "n_origins": (rd.n_frames - rd.charge_lags).astype(float),
            }
        )
    )
    df = pd.concat(parts, ignore_index=True)
    for c, v in reversed(k.items()):
        df.insert(0, c, v)
    df["value"] = df["value"].astype("Float64")
    df["n_atoms"] = df["n_atoms"].astype("int64")
    return _typed(df, strings=("campaign", "species", "quantity"))


def vanhove_table(rd: RunDynamics, meta: Mapping[str, Any]) -> pd.DataFrame:
    """Self Van Hove G_s(r, t) (eq 11) and its Gaussian reference (eq 12), per species."""
    k = _keys(meta)
    parts = []
    for sp, d in rd.species.items():
        r = d.vanhove_r_A
        for i, t in enumerate(d.vanhove_t_ps):
            gs = d.vanhove_Gs[i]
            gg = gaussian_van_hove(r, float(d.vanhove_msd_A2[i]))
            parts.append(
                pd.DataFrame(
                    {
                        "species": sp,
                        "t_ps": float(t),
                        "r_A": r,
                        "Gs_inv_A3": gs,
                        "Gs_gauss_inv_A3": gg,
                        "radial_Gs_inv_A": 4 * np.pi * r**2 * gs,
                        "radial_Gs_gauss_inv_A": 4 * np.pi * r**2 * gg,
                        "msd_A2": float(d.vanhove_msd_A2[i]),
                        "n_atoms": d.n_atoms,
                        "n_origins": float(rd.n_frames - round(t / rd.dt_ps)),
                    }
                )
            )
    cols = [
        "species",
        "t_ps",
        "r_A",
        "Gs_inv_A3",
        "Gs_gauss_inv_A3",
        "radial_Gs_inv_A",
        "radial_Gs_gauss_inv_A",
        "msd_A2",
        "n_atoms",
        "n_origins",
    ]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    for c, v in reversed(k.items()):
        df.insert(0, c, v)
    return _typed(df, strings=("campaign", "species"))


#: settings columns carried by every summary row, so that the replica pooling (which
#: only sees the tables) fits with the settings the runs were analysed with
FIT_SETTING_COLUMNS: tuple[str, ...] = (
    "min_fit_time_ps",
    "slope_tolerance",
    "min_fit_span",
    "min_msd_A2",
    "max_lag_fraction",
    "ci_level",
)


def _na_or_inf(v: float | None) -> Any:
    """Like :func:`_na` but keeps +inf (an interval without an upper bound)."""
    if v is not None and v == np.inf:
        return float("inf")
    return _na(v)


def _cm2(v: float | None) -> Any:
    return _na_or_inf(None if v is None else a2ps_to_cm2s(v))


def species_curve(d: SpeciesDynamics, rd: RunDynamics) -> MSDCurve:
    """The MSD of one species of one run as an :class:`MSDCurve` (of the transport module)."""
    return MSDCurve(d.lags, d.msd_A2, float(d.n_atoms), rd.n_frames, rd.dt_ps)


def charge_curve(rd: RunDynamics) -> MSDCurve:
    """The collective charge MSD of one run (one 'particle', e^2 Å^2)."""
    return MSDCurve(rd.charge_lags, rd.charge_msd_e2A2, 1.0, rd.n_frames, rd.dt_ps)


def _fit_columns(f: DiffusionFit, suffix: str = "") -> dict[str, Any]:
    """Einstein-fit columns (cm^2/s, ps) of one species; ``suffix`` e.g. ``_pooled``."""
    return {
        f"D{suffix}_cm2_s": _cm2(f.D),
        f"D{suffix}_err_cm2_s": _cm2(f.D_err),
        f"D{suffix}_lo_cm2_s": _cm2(f.D_lo),
        f"D{suffix}_hi_cm2_s": _cm2(f.D_hi),
        f"diffusive{suffix}": bool(f.diffusive),
        f"reason{suffix}": f.reason,
        f"fit_t_min{suffix}_ps": _na(f.t_start_ps),
        f"fit_t_max{suffix}_ps": _na(f.t_end_ps),
        f"max_lag{suffix}_ps": _na(f.max_lag_ps),
        f"msd_max_lag{suffix}_A2": _na(f.msd_max_lag),
        f"loglog_slope{suffix}": _na(f.loglog_slope),
        f"loglog_slope_err{suffix}": _na(f.loglog_slope_err),
    }


def _sigma_columns(c: ConductivityEstimate, suffix: str = "") -> dict[str, Any]:
    """Run-level conductivity columns (S/cm) and Haven ratio."""
    return {
        f"sigma_ne{suffix}_S_cm": _na(c.sigma_ne),
        f"sigma_ne_err{suffix}_S_cm": _na(c.sigma_ne_err),
        f"sigma{suffix}_S_cm": _na(c.sigma),
        f"sigma_err{suffix}_S_cm": _na(c.sigma_err),
        f"sigma_lo{suffix}_S_cm": _na_or_inf(c.sigma_lo),
        f"sigma_hi{suffix}_S_cm": _na_or_inf(c.sigma_hi),
        f"haven_ratio{suffix}": _na(c.haven),
        f"haven_ratio_err{suffix}": _na(c.haven_err),
        f"haven_ratio_lo{suffix}": _na(c.haven_lo),
        f"haven_ratio_hi{suffix}": _na(c.haven_hi),
        f"sigma_ne_species{suffix}": c.ne_species,
        f"sigma_reason{suffix}": c.reason,
    }


def _typed_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable dtypes: Float64 for numbers with units, boolean flags, strings."""
    for c in df.columns:
        if c in KEYS or c in ("n_atoms", "n_blocks", "n_replicas", "n_diffusive"):
            continue
        if c.startswith(("diffusive",)):
            df[c] = df[c].astype("boolean")
        elif c.startswith(("reason", "gk_reason", "sigma_reason", "sigma_ne_species")):
            df[c] = df[c].astype("string")
        elif c not in ("species", "campaign"):
            df[c] = pd.array(
                [_na_or_inf(None if v is pd.NA else v) for v in df[c]], dtype="Float64"
            )
    return _typed(df, strings=("campaign", "species"))


def summary_table(
    rd: RunDynamics, meta: Mapping[str, Any], settings: DynamicsSettings | None = None
) -> pd.DataFrame:
    """Per-species transport summary of one run (columns: module doc).

    D is the GLS Einstein fit of this run's MSD alone (``glassflow.analysis.dynamics.transport``);
    :func:`pool_replica_transport` adds the replica-pooled columns.
    """
    s = settings or DynamicsSettings()
    fs = s.fit_settings()
    k = _keys(meta)
    rows = []
    fits: dict[str, DiffusionFit] = {}
    for sp, d in rd.species.items():
        f = fit_einstein([species_curve(d, rd)], fs)
        fits[sp] = f
        gk, gk_err = None, None
        gk_reason = "no velocities stored (protocol.dump_velocities: false)"
        if d.vacf_A2_ps2 is not None and not vacf_resolved(d.vacf_A2_ps2):
            gk_reason = (
                f"frame interval {rd.dt_ps * 1000:g} fs does not resolve the VACF decay "
                f"(VACF(dt)/VACF(0) = {d.vacf_A2_ps2[1] / d.vacf_A2_ps2[0]:.2f} < "
                f"{VACF_MIN_FIRST_LAG_RATIO}); store velocities more often"
            )
        elif d.vacf_A2_ps2 is not None:
            gk_reason = ""
            gk_v, used = green_kubo_diffusion(d.vacf_t_ps, d.vacf_A2_ps2, s.gk_window_ps)
            gk = gk_v if used else None
            if used is None:
                gk_reason = f"run shorter than the Green-Kubo window {s.gk_window_ps} ps"
            if used is not None and d.block_vacf_A2_ps2 is not None:
                nb = d.block_vacf_A2_ps2.shape[1]
                bl = [
                    green_kubo_diffusion(d.vacf_t_ps[:nb], b, used)[0] for b in d.block_vacf_A2_ps2
                ]
                gk_err = block_standard_error(bl)
        rows.append(
            {
                "species": sp,
                "n_atoms": d.n_atoms,
                "charge_e": d.charge_e,
                **_fit_columns(f),
                "D_gk_cm2_s": _cm2(gk),
                "D_gk_err_cm2_s": _cm2(gk_err),
                "gk_reason": gk_reason,
                "tau_star_ps": d.tau_star_ps,
                "alpha2_max": d.alpha2_max,
            }
        )
    cond = conductivity_estimate(
        fits,
        {sp: float(d.n_atoms) for sp, d in rd.species.items()},
        {sp: d.charge_e for sp, d in rd.species.items()},
        [charge_curve(rd)],
        [rd.volume_A3],
        k["T_K"],
        fs,
    )
    df = pd.DataFrame(rows)
    for c, v in _sigma_columns(cond).items():
        df[c] = [v] * len(df)
    df["t_total_ps"] = rd.dt_ps * (rd.n_frames - 1)
    df["dt_ps"] = rd.dt_ps
    df["block_length_ps"] = rd.block_length_ps
    df["n_blocks"] = rd.n_blocks
    df["volume_A3"] = rd.volume_A3
    for c in FIT_SETTING_COLUMNS:
        df[c] = float(getattr(s, c))
    for c, v in reversed(k.items()):
        df.insert(0, c, v)
    return _typed_summary(df)


def fast_slow_table(
    traj: Trajectory, meta: Mapping[str, Any], settings: DynamicsSettings | None = None
) -> pd.DataFrame:
    """Fast/slow partition of the mobile species (Sorensen 2023 §3.4.3).

    Fast (slow) = top (bottom) ``fast_slow_fraction`` of the mobile ions by squared
    displacement from frame 0 to the lag ``fast_slow_lag_ps`` (clipped to the run; the
    used lag is ``lag_ps``). Na-Na g(r) fast-fast, slow-slow, fast-slow at t = 0 (frame 0,
    periodic KD-tree); mean Si coordination (Si within ``si_s_cutoff_A``) of the unique S
    atoms within ``fast_slow_rcut_A`` of any fast (slow) ion.
    """
    s = settings or DynamicsSettings()
    k = _keys(meta)
    cols = ["pair", "r_A", "g_r"]
    if s.mobile_species not in traj.species or traj.n_frames < 2:
        df = pd.DataFrame(columns=cols)
        for c, v in reversed(k.items()):
            df.insert(0, c, v)
        return df
    dt = traj.times_ps[1] - traj.times_ps[0]
    lag = int(min(max(1, round(s.fast_slow_lag_ps / dt)), traj.n_frames - 1))
    na = traj.indices_of(s.mobile_species)
    p0 = traj.positions(0, 1)[0].astype(np.float64)
    pl = traj.positions(lag, lag + 1)[0].astype(np.float64)
    d2 = np.sum((pl[na] - p0[na]) ** 2, axis=1)
    fast, slow = fast_slow_partition(d2, s.fast_slow_fraction)
    box = traj.box_A
    pf, ps_ = p0[na[fast]], p0[na[slow]]
    parts = []
    for name, a, b, same in (
        ("fast-fast", pf, pf, True),
        ("slow-slow", ps_, ps_, True),
        ("fast-slow", pf, ps_, False),
    ):
        r, g = partial_rdf(a, b, box, dr_A=s.rdf_dr_A, same=same)
        parts.append(pd.DataFrame({"pair": name, "r_A": r, "g_r": g}))
    df = pd.concat(parts, ignore_index=True)
    scal: dict[str, Any] = {"lag_ps": lag * dt, "n_fast": fast.size, "n_slow": slow.size}
    if "S" in traj.species and "Si" in traj.species:
        sp_s = p0[traj.indices_of("S")]
        cn = coordination_numbers(sp_s, p0[traj.indices_of("Si")], box, s.si_s_cutoff_A)
        for lab, pos in (("fast", pf), ("slow", ps_)):
            near = neighbours_within(pos, sp_s, box, s.fast_slow_rcut_A)
            scal[f"n_S_near_{lab}"] = int(near.size)
            scal[f"si_cn_S_near_{lab}"] = float(cn[near].mean()) if near.size else np.nan
    else:
        for lab in ("fast", "slow"):
            scal[f"n_S_near_{lab}"] = 0
            scal[f"si_cn_S_near_{lab}"] = np.nan
    for c, v in scal.items():
        df[c] = v
    for c in ("si_cn_S_near_fast", "si_cn_S_near_slow"):
        df[c] = pd.array([_na(v) for v in df[c]], dtype="Float64")
    for c, v in reversed(k.items()):
        df.insert(0, c, v)
    return _typed(df, strings=("campaign", "pair"))


def analyse_run(
    traj: Trajectory, meta: Mapping[str, Any], settings: DynamicsSettings | None = None
) -> dict[str, pd.DataFrame]:
    """All four per-run tables: ``summary``, ``curves``, ``vanhove``, ``fastslow``."""
    s = settings or DynamicsSettings()
    rd = analyse_trajectory(traj, s)
    return {
        "summary": summary_table(rd, meta, s),
        "curves": curves_table(rd, meta),
        "vanhove": vanhove_table(rd, meta),
        "fastslow": fast_slow_table(traj, meta, s),
    }


# --------------------------------------------------------------------------------------
# composition level (replica pooling)
# --------------------------------------------------------------------------------------
def pool_replica_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Pool curves over replicas per (campaign, x, m, T_K, species): weights atoms*origins.

    ``msd_A2``, ``r4_A4``, ``vacf_A2_ps2`` and ``charge_msd_e2A2`` are weighted means;
    ``alpha2`` is recomputed from the pooled moments (eq 13). Replicas must share the lag
    grid (same settings and run length); points are matched on ``t_ps``.
    """
    out = []
    group = ["campaign", "x", "m", "T_K", "species"]
    for key, g in curves.groupby(group, sort=True):
        pooled = {}
        for q, gq in g.groupby("quantity"):
            if q == "alpha2":
                continue
            gq = gq.assign(w=gq["n_atoms"].astype(float) * gq["n_origins"].astype(float))
            piv_v = gq.pivot_table(index="t_ps", columns="replica", values="value", aggfunc="first")
            piv_w = gq.pivot_table(index="t_ps", columns="replica", values="w", aggfunc="first")
            v = pool_curves(piv_v.to_numpy(float).T, np.nan_to_num(piv_w.to_numpy(float).T))
            pooled[q] = (piv_v.index.to_numpy(float), v, np.nansum(piv_w.to_numpy(float), axis=1))
        if "msd_A2" in pooled and "r4_A4" in pooled:
            t, m2, w = pooled["msd_A2"]
            pooled["alpha2"] = (t, non_gaussian_parameter(m2, pooled["r4_A4"][1]), w)
        for q, (t, v, w) in pooled.items():
            out.append(
                pd.DataFrame(
                    dict(zip(group, key, strict=True))
                    | {"quantity": q, "t_ps": t, "value": v, "weight": w}
                )
            )
    if not out:
        return pd.DataFrame(columns=[*group, "quantity", "t_ps", "value", "weight"])
    df = pd.concat(out, ignore_index=True)
    df["value"] = df["value"].astype("Float64")
    return df


def _curves_of(
    curves: pd.DataFrame, summary: pd.DataFrame, species: str, quantity: str
) -> tuple[list[MSDCurve], list[int]]:
    """Per-replica :class:`MSDCurve` of one quantity from the long curves table.

    ``n_frames`` and lags are recovered from ``n_origins = n_frames - lag`` and the
    run's ``dt_ps``; ``n_particles`` is ``n_atoms`` (1 for the charge MSD).
    """
    out, reps = [], []
    sel = curves[(curves["species"] == species) & (curves["quantity"] == quantity)]
    for rep, g in sel.groupby("replica", sort=True):
        dt = float(summary.loc[summary["replica"] == rep, "dt_ps"].iloc[0])
        g = g.sort_values("t_ps")
        lags = np.rint(g["t_ps"].to_numpy(float) / dt).astype(np.int64)
        n_frames = int(round(float(g["n_origins"].iloc[0]) + lags[0]))
        keep = lags >= 1
        out.append(
            MSDCurve(
                lags[keep],
                g["value"].to_numpy(float, na_value=np.nan)[keep],
                float(g["n_atoms"].iloc[0]),
                n_frames,
                dt,
            )
        )
        reps.append(int(rep))
    return out, reps


def _settings_of(summary: pd.DataFrame) -> FitSettings:
    row = summary.iloc[0]
    missing = [c for c in FIT_SETTING_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"dynamics summary lacks the fit-setting columns {missing}")
    return FitSettings(**{c: float(row[c]) for c in FIT_SETTING_COLUMNS})


def pool_replica_transport(summary: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Add replica-pooled transport columns to the per-run summaries of each (comp, T).

    Per (campaign, x, m, T_K, species): one GLS fit of all replicas' MSDs together
    (their information matrices add, docs/transport.md) -> ``D_pooled_*_cm2_s``,
    ``diffusive_pooled``, ``reason_pooled``, ``fit_t_{min,max}_pooled_ps``,
    ``max_lag_pooled_ps``, ``D_replica_p_value`` (chi-square consistency of the
    replicas with the pooled D on the same window), ``n_replicas``. Per (comp, T):
    ``sigma_*_pooled`` and ``haven_ratio*_pooled`` from the pooled D's and the stacked
    charge MSDs. The values are repeated on every replica row; the per-replica
    columns (``D_cm2_s`` ...) stay beside them.
    """
    if summary.empty:
        return summary
    run_keys = ["campaign", "x", "m", "T_K"]
    extra: dict[int, dict[str, Any]] = {}
    for _, g in summary.groupby(run_keys, sort=False):
        cg = curves
        for kname in run_keys:
            cg = cg[cg[kname] == g[kname].iloc[0]]
        fs = _settings_of(g)
        fits: dict[str, DiffusionFit] = {}
        for sp, gs in g.groupby("species", sort=False):
            cs, _ = _curves_of(cg, g, str(sp), "msd_A2")
            if not cs:
                continue
            f = fit_einstein(cs, fs)
            fits[str(sp)] = f
            cols = _fit_columns(f, "_pooled") | {
                "D_replica_p_value": _na(f.replica_p_value),
                "n_replicas": len(cs),
            }
            for i in gs.index:
                extra[i] = dict(cols)
        first = g.drop_duplicates("species").set_index("species")
        charges, reps = _curves_of(cg, g, "all", "charge_msd_e2A2")
        vols = [float(g.loc[g["replica"] == r, "volume_A3"].iloc[0]) for r in reps]
        if charges:
            cond = conductivity_estimate(
                fits,
                {sp: float(first.loc[sp, "n_atoms"]) for sp in fits},
                {sp: float(first.loc[sp, "charge_e"]) for sp in fits},
                charges,
                vols,
                float(g["T_K"].iloc[0]),
                fs,
            )
        else:
            cond = ConductivityEstimate("no collective charge MSD in the curves table")
        for i in g.index:
            extra.setdefault(i, {}).update(_sigma_columns(cond, "_pooled"))
    add = pd.DataFrame.from_dict(extra, orient="index").reindex(summary.index)
    out = summary.drop(columns=[c for c in add.columns if c in summary.columns])
    out = pd.concat([out, add], axis=1)
    if "n_replicas" in out:
        out["n_replicas"] = out["n_replicas"].astype("Int64")
    return _typed_summary(out)


def pool_dynamics_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Replica pooling of the combined per-(comp, T) tables (``glassflow.analysis.runs``).

    Replaces ``dynamics_summary`` by :func:`pool_replica_transport` of it and
    ``dynamics_curves``; other tables are returned unchanged.
    """
    if "dynamics_summary" not in tables or "dynamics_curves" not in tables:
        return tables
    if tables["dynamics_summary"].empty:
        return tables
    out = dict(tables)
    out["dynamics_summary"] = pool_replica_transport(
        tables["dynamics_summary"], tables["dynamics_curves"]
    )
    return out


#: per-(composition, T, species) columns copied from the pooled summaries
POOLED_COLUMNS: tuple[str, ...] = (
    "n_replicas",
    "D_pooled_cm2_s",
    "D_pooled_err_cm2_s",
    "D_pooled_lo_cm2_s",
    "D_pooled_hi_cm2_s",
    "diffusive_pooled",
    "reason_pooled",
    "fit_t_min_pooled_ps",
    "fit_t_max_pooled_ps",
    "max_lag_pooled_ps",
    "D_replica_p_value",
    "sigma_ne_pooled_S_cm",
    "sigma_ne_err_pooled_S_cm",
    "sigma_pooled_S_cm",
    "sigma_err_pooled_S_cm",
    "sigma_lo_pooled_S_cm",
    "sigma_hi_pooled_S_cm",
    "haven_ratio_pooled",
    "haven_ratio_lo_pooled",
    "haven_ratio_hi_pooled",
    "sigma_reason_pooled",
)


def composition_summary(
    summaries: pd.DataFrame, curves: pd.DataFrame, settings: DynamicsSettings | None = None
) -> pd.DataFrame:
    """Replica-pooled summary per (T_K, species) of one composition.

    Columns: ``n_diffusive`` (replicas with a diffusive fit of their own),
    ``D_mean_cm2_s`` / ``D_sem_cm2_s`` (mean of the diffusive replicas' D and its
    standard error over replicas; with one replica its own GLS error) as a cross-check,
    ``D_gk_mean_cm2_s``; the pooled GLS estimate and interval (:data:`POOLED_COLUMNS`,
    from :func:`pool_replica_transport`, computed here if the summaries lack them);
    ``fit_t_min_ps``/``fit_t_max_ps`` (the pooled fit window); ``tau_star_ps`` and
    ``alpha2_max`` of the pooled alpha2. ``settings`` only serves summaries written
    without the fit-setting columns.
    """
    if "D_pooled_cm2_s" not in summaries.columns:
        if not all(c in summaries.columns for c in FIT_SETTING_COLUMNS):
            s = settings or DynamicsSettings()
            summaries = summaries.assign(**{c: float(getattr(s, c)) for c in FIT_SETTING_COLUMNS})
        summaries = pool_replica_transport(summaries, curves)
    pooled = pool_replica_curves(curves)
    rows = []
    for (camp, x, m, temp, sp), g in summaries.groupby(
        ["campaign", "x", "m", "T_K", "species"], sort=True
    ):
        row: dict[str, Any] = {"campaign": camp, "x": x, "m": m, "T_K": temp, "species": sp}
        dmask = g["diffusive"].fillna(False).astype(bool).to_numpy()
        row["n_diffusive"] = int(dmask.sum())

        def mean_sem(col: str, errcol: str | None, sel: np.ndarray, gg=g) -> tuple[Any, Any]:
            v = gg.loc[sel, col].astype("Float64").dropna().to_numpy(float)
            if v.size == 0:
                return pd.NA, pd.NA
            if v.size == 1:
                e = gg.loc[sel, errcol].astype("Float64").dropna() if errcol else []
                return float(v[0]), (float(e.iloc[0]) if len(e) else pd.NA)
            return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))

        row["D_mean_cm2_s"], row["D_sem_cm2_s"] = mean_sem("D_cm2_s", "D_err_cm2_s", dmask)
        allm = np.ones(len(g), bool)
        row["D_gk_mean_cm2_s"], row["D_gk_sem_cm2_s"] = mean_sem(
            "D_gk_cm2_s", "D_gk_err_cm2_s", allm
        )
        first = g.iloc[0]
        for c in POOLED_COLUMNS:
            row[c] = first[c] if c in g.columns else pd.NA
        row["fit_t_min_ps"] = row["fit_t_min_pooled_ps"]
        row["fit_t_max_ps"] = row["fit_t_max_pooled_ps"]
        pc = pooled[
            (pooled["campaign"] == camp)
            & (pooled["x"] == x)
            & (pooled["m"] == m)
            & (pooled["T_K"] == temp)
            & (pooled["species"] == sp)
        ]
        a2 = pc[pc["quantity"] == "alpha2"].sort_values("t_ps")
        t = a2["t_ps"].to_numpy(float)
        ok = t <= 0.5 * float(g["t_total_ps"].max())
        ts, am = tau_star(t[ok], a2["value"].to_numpy(float, na_value=np.nan)[ok])
        row["tau_star_ps"], row["alpha2_max"] = _na(ts), _na(am)
        rows.append(row)
    df = pd.DataFrame(rows)
    return _typed_summary(df)
