"""Tidy tables of ion dynamics and transport (per run, and replica-pooled per composition).

Every table carries the run keys ``campaign, x, m, T_K, replica`` and ``species``; column
names carry units (docs/design.md). Missing values are pandas ``<NA>`` (nullable
``Float64``/``boolean``/``string``), never a silent NaN nor a number fitted where the
physics says there is none.

Tables (one run):

- **curves** (long format): ``quantity`` in {``msd_A2``, ``r4_A4``, ``alpha2``,
  ``charge_msd_e2A2``, ``vacf_A2_ps2``} (the quantity name carries its unit), ``t_ps``,
  ``value``, ``n_atoms``, ``n_origins`` (atoms x origins is the pooling weight).
  ``charge_msd_e2A2`` (collective ``|sum_i z_i dr_i|^2`` with COM drift removed) has
  ``species='all'``.
- **vanhove**: ``t_ps, r_A, Gs_inv_A3`` (eq 11, Å^-3), ``Gs_gauss_inv_A3`` (eq 12 with
  the measured <r^2>), ``radial_Gs_inv_A`` = 4 pi r^2 G_s and ``radial_Gs_gauss_inv_A``
  (Å^-1, integrate to 1 over r), ``msd_A2``, ``n_atoms``, ``n_origins``.
- **summary**: one row per species with ``D_cm2_s, D_err_cm2_s, D_gk_cm2_s,
  D_gk_err_cm2_s, diffusive, reason, fit_t_min_ps, fit_t_max_ps, tau_star_ps,
  alpha2_max`` and the run-level conductivity ``sigma_ne_S_cm, sigma_ne_err_S_cm,
  sigma_S_cm, sigma_err_S_cm, haven_ratio, haven_ratio_err, sigma_reason`` **repeated on
  every species row** (so that filtering one species keeps everything needed for an
  Arrhenius plot; de-duplicate on the run keys before summing run-level columns).
  sigma_NE sums the species that have a diffusive regime (``sigma_ne_species``); the
  collective sigma is fitted on the charge MSD over the diffusive window of the species
  that dominates sigma_NE.
- **fastslow**: ``pair`` in {fast-fast, slow-slow, fast-slow}, ``r_A``, ``g_r`` (Na-Na at
  t = 0) and the partition's scalars (``lag_ps`` used, ``n_fast``, ``n_slow``,
  ``si_cn_S_near_fast``, ``si_cn_S_near_slow``, ``n_S_near_fast``, ``n_S_near_slow``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from glassflow.dynamics import (
    DynamicsSettings,
    RunDynamics,
    analyse_trajectory,
    gaussian_van_hove,
    non_gaussian_parameter,
    pool_curves,
    tau_star,
)
from glassflow.trajectory import Trajectory
from glassflow.transport import (
    VACF_MIN_FIRST_LAG_RATIO,
    a2ps_to_cm2s,
    block_standard_error,
    collective_conductivity,
    coordination_numbers,
    einstein_diffusion,
    fast_slow_partition,
    find_diffusive_regime,
    fit_in_window,
    green_kubo_diffusion,
    haven_ratio,
    linear_slope,
    neighbours_within,
    nernst_einstein_conductivity,
    partial_rdf,
    vacf_resolved,
)

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


def _fit_kwargs(s: DynamicsSettings, max_fit_time_ps: float) -> dict[str, float]:
    return {
        "min_fit_time_ps": s.min_fit_time_ps,
        "max_fit_time_ps": max_fit_time_ps,
        "slope_tolerance": s.slope_tolerance,
        "min_fit_span": s.min_fit_span,
        "min_msd_A2": s.min_msd_A2,
    }


def summary_table(
    rd: RunDynamics, meta: Mapping[str, Any], settings: DynamicsSettings | None = None
) -> pd.DataFrame:
    """Per-species transport summary of one run (columns: module doc)."""
    s = settings or DynamicsSettings()
    k = _keys(meta)
    temp = k["T_K"]
    max_fit = 0.5 * rd.block_length_ps if rd.n_blocks >= 2 else 0.5 * rd.n_frames * rd.dt_ps
    rows = []
    ein = {}
    for sp, d in rd.species.items():
        e = einstein_diffusion(
            d.t_ps, d.msd_A2, d.block_lags * rd.dt_ps, d.block_msd_A2, **_fit_kwargs(s, max_fit)
        )
        ein[sp] = e
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
                "D_cm2_s": None if e.D_A2_ps is None else a2ps_to_cm2s(e.D_A2_ps),
                "D_err_cm2_s": None if e.D_err_A2_ps is None else a2ps_to_cm2s(e.D_err_A2_ps),
                "D_gk_cm2_s": None if gk is None else a2ps_to_cm2s(gk),
                "D_gk_err_cm2_s": None if gk_err is None else a2ps_to_cm2s(gk_err),
                "gk_reason": gk_reason,
                "diffusive": e.diffusive,
                "reason": e.window.reason,
                "fit_t_min_ps": e.window.t_min_ps,
                "fit_t_max_ps": e.window.t_max_ps,
                "tau_star_ps": d.tau_star_ps,
                "alpha2_max": d.alpha2_max,
            }
        )
    # conductivity (run level)
    diff = [sp for sp, e in ein.items() if e.diffusive]
    sig = dict.fromkeys(
        [
            "sigma_ne_S_cm",
            "sigma_ne_err_S_cm",
            "sigma_S_cm",
            "sigma_err_S_cm",
            "haven_ratio",
            "haven_ratio_err",
        ]
    )
    sigma_reason = ""
    if diff:
        sp_d = rd.species
        n = [sp_d[sp].n_atoms for sp in diff]
        z = [sp_d[sp].charge_e for sp in diff]
        dd = [ein[sp].D_A2_ps for sp in diff]
        derr = [ein[sp].D_err_A2_ps or 0.0 for sp in diff]
        vol = rd.volume_A3
        sig["sigma_ne_S_cm"] = nernst_einstein_conductivity(n, z, dd, vol, temp)
        contrib = [
            nernst_einstein_conductivity([a], [b], [c], vol, temp)
            for a, b, c in zip(n, z, dd, strict=True)
        ]
        sig["sigma_ne_err_S_cm"] = float(
            np.sqrt(
                sum(
                    nernst_einstein_conductivity([a], [b], [c], vol, temp) ** 2
                    for a, b, c in zip(n, z, derr, strict=True)
                )
            )
        )
        dom = diff[int(np.argmax(contrib))]
        w = ein[dom].window
        slope6 = fit_in_window(rd.charge_t_ps, rd.charge_msd_e2A2, w.t_min_ps, w.t_max_ps)
        sig["sigma_S_cm"] = collective_conductivity(6.0 * slope6, vol, temp)
        bt = sp_d[dom].block_lags * rd.dt_ps
        bl = [
            collective_conductivity(6.0 * fit_in_window(bt, b, w.t_min_ps, w.t_max_ps), vol, temp)
            for b in rd.charge_block_msd_e2A2
        ]
        sig["sigma_err_S_cm"] = block_standard_error(bl)
        h, he = haven_ratio(
            sig["sigma_ne_S_cm"],
            sig["sigma_S_cm"],
            sig["sigma_ne_err_S_cm"],
            sig["sigma_err_S_cm"] if np.isfinite(sig["sigma_err_S_cm"]) else 0.0,
        )
        sig["haven_ratio"], sig["haven_ratio_err"] = h, he
        sigma_reason = f"charge MSD fitted over the {dom} diffusive window"
        ne_species = ",".join(diff)
    else:
        sigma_reason = "no species has a diffusive regime: no conductivity"
        ne_species = ""
    df = pd.DataFrame(rows)
    for c, v in sig.items():
        df[c] = pd.array([_na(v)] * len(df), dtype="Float64")
    df["sigma_ne_species"] = ne_species
    df["sigma_reason"] = sigma_reason
    df["t_total_ps"] = rd.dt_ps * (rd.n_frames - 1)
    df["dt_ps"] = rd.dt_ps
    df["block_length_ps"] = rd.block_length_ps
    df["n_blocks"] = rd.n_blocks
    df["volume_A3"] = rd.volume_A3
    for c, v in reversed(k.items()):
        df.insert(0, c, v)
    floats = [
        "D_cm2_s",
        "D_err_cm2_s",
        "D_gk_cm2_s",
        "D_gk_err_cm2_s",
        "fit_t_min_ps",
        "fit_t_max_ps",
        "tau_star_ps",
        "alpha2_max",
    ]
    for c in floats:
        df[c] = pd.array([_na(v) for v in df[c]], dtype="Float64")
    df["diffusive"] = df["diffusive"].astype("boolean")
    return _typed(
        df,
        strings=("campaign", "species", "reason", "gk_reason", "sigma_reason", "sigma_ne_species"),
    )


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


def composition_summary(
    summaries: pd.DataFrame, curves: pd.DataFrame, settings: DynamicsSettings | None = None
) -> pd.DataFrame:
    """Replica-pooled summary per (T_K, species).

    Columns: ``n_replicas``, ``n_diffusive``; ``D_mean_cm2_s`` / ``D_sem_cm2_s`` (mean
    over diffusive replicas and its standard error over replicas; with one replica its
    own block error); ``D_pooled_cm2_s`` (fit of the pooled MSD with the same diffusive
    criteria; ``diffusive_pooled``, ``reason_pooled``, ``fit_t_min_ps``,
    ``fit_t_max_ps``); ``D_gk_mean_cm2_s``; ``sigma_*``/``haven_ratio`` mean and spread over
    replicas; ``tau_star_ps`` and ``alpha2_max`` of the pooled alpha2.
    """
    s = settings or DynamicsSettings()
    pooled = pool_replica_curves(curves)
    rows = []
    for (camp, x, m, temp, sp), g in summaries.groupby(
        ["campaign", "x", "m", "T_K", "species"], sort=True
    ):
        row: dict[str, Any] = {
            "campaign": camp,
            "x": x,
            "m": m,
            "T_K": temp,
            "species": sp,
            "n_replicas": int(g["replica"].nunique()),
        }
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
        for c, e in (
            ("sigma_ne_S_cm", "sigma_ne_err_S_cm"),
            ("sigma_S_cm", "sigma_err_S_cm"),
            ("haven_ratio", "haven_ratio_err"),
        ):
            row[f"{c}_mean"], row[f"{c}_sem"] = mean_sem(c, e, allm)
        pc = pooled[
            (pooled["campaign"] == camp)
            & (pooled["x"] == x)
            & (pooled["m"] == m)
            & (pooled["T_K"] == temp)
            & (pooled["species"] == sp)
        ]
        msd = pc[pc["quantity"] == "msd_A2"].sort_values("t_ps")
        blen = float(g["block_length_ps"].min()) if "block_length_ps" in g else np.inf
        if len(msd):
            win = find_diffusive_regime(
                msd["t_ps"].to_numpy(float),
                msd["value"].to_numpy(float),
                **_fit_kwargs(s, 0.5 * blen),
            )
            row["diffusive_pooled"] = win.diffusive
            row["reason_pooled"] = win.reason
            row["fit_t_min_ps"] = _na(win.t_min_ps)
            row["fit_t_max_ps"] = _na(win.t_max_ps)
            if win.diffusive:
                sel = msd[(msd["t_ps"] >= win.t_min_ps) & (msd["t_ps"] <= win.t_max_ps)]
                slope = linear_slope(sel["t_ps"].to_numpy(float), sel["value"].to_numpy(float))
                row["D_pooled_cm2_s"] = a2ps_to_cm2s(slope / 6.0)
            else:
                row["D_pooled_cm2_s"] = pd.NA
            a2 = pc[pc["quantity"] == "alpha2"].sort_values("t_ps")
            t = a2["t_ps"].to_numpy(float)
            ok = t <= 0.5 * float(g["t_total_ps"].max())
            ts, am = tau_star(t[ok], a2["value"].to_numpy(float, na_value=np.nan)[ok])
            row["tau_star_ps"], row["alpha2_max"] = _na(ts), _na(am)
        rows.append(row)
    df = pd.DataFrame(rows)
    for c in df.columns:
        if c.endswith(("_cm2_s", "_ps", "_mean", "_sem")) or c == "alpha2_max":
            df[c] = pd.array([_na(v) if v is not pd.NA else pd.NA for v in df[c]], dtype="Float64")
    if "diffusive_pooled" in df:
        df["diffusive_pooled"] = df["diffusive_pooled"].astype("boolean")
    return _typed(df, strings=("campaign", "species", "reason_pooled"))
