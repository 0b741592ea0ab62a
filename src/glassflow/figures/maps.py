"""Maps over the composition plane (m, x): log10 sigma or log10 D_Na at one temperature.

Three panels: the Gaussian-process mean (:mod:`glassflow.campaign.composition_map`),
washed out where its standard deviation is large; the uncertainty (that standard
deviation and each measured composition's own 1 sigma error, labelled in %); and the
hopping-model prediction of the PRL (eq 3) when its inputs are given. Every panel shows
the contours of f(x, m), the isostatic line f = 0 (docs/physics.md §6, eq 1) and the
measured compositions (hollow where not diffusive); compositions that missed an error
target are crossed. Fewer than 3 compositions, or all on one line: points only, with a
note.

:func:`point_errors` (also used by :mod:`glassflow.figures.rigidity`) gives the plotted
points of sigma or D with their 1 sigma relative error, 95 % interval and error-target
verdict.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from scipy import stats

from glassflow.analysis.rigidity import critical_x, floppy_fraction
from glassflow.campaign.arrhenius import (
    POOLED_SIGMA_COLUMNS,
    conductivity_points,
    diffusivity_points,
    has_pooled,
    pool_log10,
)
from glassflow.campaign.composition_map import (
    Field,
    HoppingInputs,
    hopping_log10_field,
    interpolate_field,
    shared_limits,
)
from glassflow.figures.common import NO_DATA, NOT_DIFFUSIVE, T_TOL_K, _no_data, _save, color
from glassflow.md.segments import CONVERGED, MAX_REACHED


def conductivity_map_name(T_K: float) -> str:
    """``conductivity_map_T<T>.png`` with T in integer kelvin."""
    return f"conductivity_map_T{int(round(T_K))}.png"


#: Map quantities: points function, colour-bar label, title word.
MAP_QUANTITIES: dict[str, tuple[str, str]] = {
    "sigma": (r"$\log_{10} \sigma$ (S cm$^{-1}$)", "conductivity"),
    "D_Na": (r"$\log_{10} D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)", "Na diffusivity"),
}


#: GP standard deviation (decades) contoured on the mean panel (the wash fades with the std).
MAP_STD_CONTOUR_DEC = 0.3


#: Upper end of the (fixed) colour scale of the GP standard-deviation panel, decades.
MAP_STD_MAX_DEC = 1.0


def diffusivity_map_name(T_K: float) -> str:
    """``diffusivity_map_T<T>.png`` with T in integer kelvin."""
    return f"diffusivity_map_T{int(round(T_K))}.png"


#: Two-sided confidence level of the intervals drawn as error bars when the transport
#: table does not say (:func:`interval_level`).
CI_LEVEL = 0.95

#: Columns of :func:`point_errors` after its keys.
POINT_ERROR_COLUMNS: tuple[str, ...] = (
    "log10_mean",
    "log10_se",
    "n",
    "value",
    "rel_err",
    "lo",
    "hi",
    "missed",
)

#: Colour and marker of the points that missed their error target (a filled cross with a
#: black edge: visible on the map colours, distinct from the isostatic line's colour).
MISSED_COLOR = color(6)
MISSED_MARKER = "X"

#: Bounds columns of the transport table per quantity kind: (replica-pooled, per run).
_BOUND_COLUMNS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "sigma": (("sigma_lo_pooled_S_cm", "sigma_hi_pooled_S_cm"), ("sigma_lo_S_cm", "sigma_hi_S_cm")),
    "D": (("D_pooled_lo_cm2_s", "D_pooled_hi_cm2_s"), ("D_lo_cm2_s", "D_hi_cm2_s")),
}


def _species(quantity: str) -> str | None:
    """``"Na"`` for ``"D_Na"``; None for ``"sigma"``; ValueError for anything else."""
    if quantity == "sigma":
        return None
    if quantity.startswith("D_") and len(quantity) > 2:
        return quantity[2:]
    raise ValueError(f"quantity must be 'sigma' or 'D_<species>', got {quantity!r}")


def _quantity_points(transport: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Diffusive points (``y`` in S/cm or cm^2/s, ``y_err``) of ``quantity``."""
    sp = _species(quantity)
    return conductivity_points(transport) if sp is None else diffusivity_points(transport, sp)


def _float_values(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column as float64 (NaN where missing or not numeric; +inf kept)."""
    num = pd.to_numeric(df[col], errors="coerce").astype("Float64")
    return num.to_numpy(dtype=float, na_value=np.nan)


def _quantity_rows(transport: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Rows of the transport table that carry ``quantity`` (one species' rows for D)."""
    sp = _species(quantity)
    return transport if sp is None else transport[transport["species"] == sp]


def _pooled_mode(transport: pd.DataFrame, quantity: str) -> bool:
    """True when the points of ``quantity`` are the table's replica-pooled estimates."""
    if _species(quantity) is None:
        return has_pooled(transport, POOLED_SIGMA_COLUMNS)
    return has_pooled(transport)


def _table_bounds(transport: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Per point (as :func:`_quantity_points` keys them): the table's CI bounds ``lo, hi``.

    Same unit as the value; NaN where the table has no bounds column or no value.
    """
    pooled = _pooled_mode(transport, quantity)
    lo_col, hi_col = _BOUND_COLUMNS["sigma" if _species(quantity) is None else "D"][
        0 if pooled else 1
    ]
    keys = ["campaign", "x", "m", "T_K"] + ([] if pooled else ["replica"])
    rows = _quantity_rows(transport, quantity)
    out = rows[keys].copy()
    for name, col in (("lo", lo_col), ("hi", hi_col)):
        out[name] = _float_values(rows, col) if col in rows.columns else np.nan
    out = out.groupby(keys, sort=False, dropna=False)[["lo", "hi"]].first().reset_index()
    if pooled:
        out["replica"] = 0  # as the pooled points of glassflow.campaign.arrhenius
    return out


def interval_level(transport_df: pd.DataFrame) -> float:
    """Confidence level (fraction) of the intervals drawn for a transport table.

    The table's ``ci_level`` column (the dynamics fit setting its ``*_lo_*``/``*_hi_*``
    bounds were computed at) when it holds one value, else :data:`CI_LEVEL`.
    """
    if "ci_level" in transport_df.columns:
        levels = _float_values(transport_df, "ci_level")
        levels = np.unique(levels[np.isfinite(levels)])
        if levels.size == 1 and 0.0 < levels[0] < 1.0:
            return float(levels[0])
    return CI_LEVEL


def _interval_z(n: np.ndarray, level: float) -> np.ndarray:
    """Half-width of the ``level`` interval in standard errors: normal for one point,
    Student t with n - 1 degrees of freedom for the mean of n >= 2 replicas."""
    n = np.asarray(n, dtype=float)
    z = float(stats.norm.ppf(0.5 + 0.5 * level))
    t = stats.t.ppf(0.5 + 0.5 * level, np.maximum(n - 1.0, 1.0))
    return np.where(n >= 2, t, z)


def _stop_verdict(reason: object) -> float:
    """1 if a ``stop_reason`` says the error target was missed, 0 if met, NaN if silent."""
    text = "" if reason is None or pd.isna(reason) else str(reason)  # type: ignore[arg-type]
    if text.startswith(MAX_REACHED):
        return 1.0
    if text.startswith(CONVERGED):
        return 0.0
    return float("nan")


def _missed_column(transport: pd.DataFrame, quantity: str) -> tuple[str, np.ndarray] | None:
    """The table's own verdict on the error target of ``quantity``, per row (1 missed,
    0 met, NaN unknown) with the column it comes from; None when the table has none.

    Preference: ``target_met_<quantity>`` (bool), then, for D only (the production
    stop rule judges D of its ``converge_species``), ``target_met`` (bool) and
    ``stop_reason`` (str of :mod:`glassflow.md.segments`).
    """
    rows = _quantity_rows(transport, quantity)
    candidates = [f"target_met_{quantity}"]
    if _species(quantity) is not None:
        candidates += ["target_met", "stop_reason"]
    for col in candidates:
        if col not in rows.columns:
            continue
        if col == "stop_reason":
            return col, np.array([_stop_verdict(v) for v in rows[col]], dtype=float)
        met = rows[col].astype("boolean").to_numpy(dtype=float, na_value=np.nan)
        return col, 1.0 - met
    return None


def _flagged_missed(transport: pd.DataFrame, quantity: str, keys: list[str]) -> pd.DataFrame:
    """Per ``keys`` group, column ``flag``: 1 if any run's table flag says missed, 0 if
    the flags say met, NaN where no flag decides (:func:`_missed_column`); no rows when
    the table has no such column."""
    found = _missed_column(transport, quantity)
    if found is None:
        return pd.DataFrame(columns=[*keys, "flag"])
    rows = _quantity_rows(transport, quantity)
    flags = rows[keys].astype(float).assign(flag=found[1])
    return flags.groupby(keys)["flag"].max().reset_index()  # max skips NaN: any missed -> 1


def target_label(target: float) -> str:
    """Legend text of the points that missed a 1 sigma relative-error ``target`` (fraction)."""
    return f"missed target (1σ > {100.0 * target:g} %)"


def point_errors(
    transport_df: pd.DataFrame,
    quantity: str,
    keys: Sequence[str] = ("T_K", "x", "m"),
    targets: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The plotted points of ``quantity`` with their uncertainty and error-target verdict.

    Parameters
    ----------
    transport_df
        Campaign transport table (``TRANSPORT_COLUMNS``; optional replica-pooled,
        ``*_lo_*``/``*_hi_*`` bounds and ``target_met*``/``stop_reason`` columns).
    quantity
        ``"sigma"`` (collective conductivity, S/cm) or ``"D_<species>"`` (cm^2/s).
    keys
        Columns that define one plotted point (replicas and campaigns pooled).
    targets
        Optional map quantity -> target 1 sigma relative error (fraction, e.g. 0.1).

    Returns
    -------
    pandas.DataFrame
        One row per point: ``keys``; ``log10_mean`` and ``log10_se`` (decades; as
        :func:`glassflow.campaign.arrhenius.pool_log10`); ``n`` (points pooled);
        ``value`` = 10**log10_mean (S/cm or cm^2/s); ``rel_err``, the 1 sigma relative
        error ``ln(10) log10_se`` (dimensionless; y_err/y for one point); ``lo, hi``, the
        interval at :func:`interval_level` (95 % by default; unit of ``value``): the
        table's bounds for a single point where finite (the pivot interval of the fit), else
        ``10**(log10_mean -+ z log10_se)`` (z normal, or Student t for the mean of
        n >= 2 replicas); ``missed`` (bool): the point missed ``targets[quantity]``.
        With no target for ``quantity`` nothing is missed; otherwise the table's own
        verdict (:func:`_missed_column`) decides where it has one, else
        ``rel_err > target``.
    """
    keys = list(keys)
    points = _quantity_points(transport_df, quantity)
    if points.empty:
        return pd.DataFrame(columns=[*keys, *POINT_ERROR_COLUMNS])
    points = points.merge(
        _table_bounds(transport_df, quantity),
        on=["campaign", "x", "m", "T_K", "replica"],
        how="left",
    )
    out = pool_log10(points, keys)
    single = points.groupby(keys, sort=True)[["lo", "hi"]].first().reset_index()
    out = out.merge(single, on=keys, how="left")
    mean = out["log10_mean"].to_numpy(dtype=float)
    se = out["log10_se"].to_numpy(dtype=float)
    n = out["n"].to_numpy(dtype=float)
    half = _interval_z(n, interval_level(transport_df)) * se
    one = n == 1
    lo, hi = out["lo"].to_numpy(dtype=float), out["hi"].to_numpy(dtype=float)
    out["value"] = 10.0**mean
    out["rel_err"] = np.log(10.0) * se
    out["lo"] = np.where(one & np.isfinite(lo) & (lo > 0), lo, 10.0 ** (mean - half))
    out["hi"] = np.where(one & np.isfinite(hi), hi, 10.0 ** (mean + half))
    out["missed"] = _missed(transport_df, quantity, out, keys, targets)
    return out


def _missed(
    transport: pd.DataFrame,
    quantity: str,
    errs: pd.DataFrame,
    keys: list[str],
    targets: Mapping[str, float] | None,
) -> np.ndarray:
    """Bool per row of ``errs``: the point missed ``targets[quantity]`` (see
    :func:`point_errors`)."""
    if not targets or quantity not in targets:
        return np.zeros(len(errs), dtype=bool)
    compared = errs["rel_err"].to_numpy(dtype=float) > float(targets[quantity])
    flags = _flagged_missed(transport, quantity, keys)
    if flags.empty:
        return compared
    verdict = errs[keys].astype(float).merge(flags, on=keys, how="left")["flag"]
    v = verdict.to_numpy(dtype=float)
    return np.where(np.isfinite(v), v > 0.5, compared)


def _check_map_quantity(quantity: str) -> None:
    if quantity not in MAP_QUANTITIES:
        raise ValueError(f"map quantity must be one of {sorted(MAP_QUANTITIES)}, got {quantity!r}")


def _map_points(transport: pd.DataFrame, quantity: str) -> pd.DataFrame:
    _check_map_quantity(quantity)
    return _quantity_points(transport, quantity)


def map_data(
    transport_df: pd.DataFrame,
    T_K: float,
    quantity: str = "sigma",
    targets: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pooled, not_diffusive) at ``T_K`` (+-0.5 K): the measured compositions of one map.

    ``pooled``: the diffusive points of :func:`point_errors` keyed by x, m (log10 of
    S/cm or cm^2/s, their 1 sigma relative error, 95 % bounds and the ``missed``
    verdict against ``targets``). ``not_diffusive``: x, m of compositions that have runs
    at T_K in the table but no diffusive value of ``quantity``.
    """
    _check_map_quantity(quantity)
    at_t = transport_df[np.abs(transport_df["T_K"].astype(float) - T_K) <= T_TOL_K]
    pooled = point_errors(at_t, quantity, ("x", "m"), targets)
    comps = at_t[["x", "m"]].astype(float).drop_duplicates()
    if pooled.empty:
        missing = comps
    else:
        have = set(zip(pooled["x"].astype(float), pooled["m"].astype(float), strict=True))
        keep = [(a, b) not in have for a, b in zip(comps["x"], comps["m"], strict=True)]
        missing = comps[keep]
    return pooled, missing.sort_values(["x", "m"]).reset_index(drop=True)


def map_color_limits(transport_df: pd.DataFrame, quantity: str = "sigma") -> tuple[float, float]:
    """One colour scale (vmin, vmax of log10 y) for every temperature of a campaign.

    Computed over the replica-pooled diffusive points of *all* temperatures in the table,
    rounded outwards to 0.25 decade (:func:`glassflow.campaign.composition_map.shared_limits`);
    pass it to every per-T map so that colours mean the same value in all of them.
    (NaN, NaN) when the table has no diffusive point.
    """
    points = _map_points(transport_df, quantity)
    if points.empty:
        return float("nan"), float("nan")
    pooled = pool_log10(points, ["T_K", "x", "m"])
    return shared_limits([pooled["log10_mean"].to_numpy(dtype=float)])


def map_extent(transport_df: pd.DataFrame) -> tuple[float, float, float, float]:
    """(m_lo, m_hi, x_lo, x_hi) shared by the maps of a campaign (all its compositions).

    The measured compositions padded, extended so that the isostatic line x_c(m) (eq 1)
    and both rigidity regions are visible.
    """
    if transport_df.empty:
        return 1.5, 5.0, 0.0, 0.6
    mv = transport_df["m"].to_numpy(dtype=float)
    xv = transport_df["x"].to_numpy(dtype=float)
    m_pad = max(0.25, 0.1 * np.ptp(mv))
    x_pad = max(0.05, 0.1 * np.ptp(xv))
    m_lo, m_hi = max(0.05, mv.min() - m_pad), mv.max() + m_pad
    x_lo, x_hi = max(0.0, xv.min() - x_pad), min(0.99, xv.max() + x_pad)
    x_c = np.asarray(critical_x(np.linspace(m_lo, min(m_hi, 11.9), 50)))
    x_lo = max(0.0, min(x_lo, float(x_c.min()) - 0.05))
    x_hi = max(x_hi, min(0.99, float(x_c.max()) + 0.05))
    return float(m_lo), float(m_hi), float(x_lo), float(x_hi)


def _region_label_point(
    mm: np.ndarray, xx: np.ndarray, mask: np.ndarray
) -> tuple[float, float] | None:
    """Grid point of ``mask`` nearest to the centroid of the masked region (inside it)."""
    if not mask.any():
        return None
    pm, px = mm[mask], xx[mask]
    cm, cx = pm.mean(), px.mean()
    sm = np.ptp(mm) or 1.0
    sx = np.ptp(xx) or 1.0
    i = int(np.argmin(((pm - cm) / sm) ** 2 + ((px - cx) / sx) ** 2))
    return float(pm[i]), float(px[i])


def _draw_rigidity(ax: Axes, mm: np.ndarray, xx: np.ndarray, regions: bool) -> None:
    """Contours of f(x, m) (eq 1), the isostatic line f = 0 and the region labels."""
    f = np.asarray(floppy_fraction(xx, mm))
    levels = [v for v in (-0.4, -0.2, 0.2, 0.4, 0.6) if f.min() < v < f.max()]
    if levels:
        cs = ax.contour(mm, xx, f, levels=levels, colors="0.35", linewidths=0.6, alpha=0.8)
        ax.clabel(cs, fmt=lambda v: f"f={v:+.1f}", fontsize=6)
    if f.min() < 0.0 < f.max():
        ax.contour(mm, xx, f, levels=[0.0], colors=color(5), linewidths=1.8, linestyles="--")
        ax.plot([], [], "--", color=color(5), lw=1.8, label=r"isostatic $f = 0$ (eq 1)")
    if regions:
        for text, mask in (("flexible", f > 0), ("stressed rigid", f < 0)):
            where = _region_label_point(mm, xx, mask)
            if where is not None:
                ax.text(
                    *where,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    style="italic",
                    color="0.15",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.6},
                )


def _percent(rel: float) -> str:
    """``±4.6 %`` or ``±12 %`` for a 1 sigma relative error given as a fraction; ``±? %``
    when unknown (NaN)."""
    if not np.isfinite(rel):
        return "±? %"
    pct = 100.0 * rel
    return f"±{pct:.0f} %" if pct >= 10.0 else f"±{pct:.1f} %"


def draw_missed_targets(
    ax: Axes, xs: np.ndarray, ys: np.ndarray, target: float, **kwargs: object
) -> None:
    """Cross (:data:`MISSED_MARKER`) over the points that missed their error target.

    ``xs``, ``ys`` in data units of ``ax`` (nothing drawn when empty); ``target`` is the
    1 sigma relative error (fraction) named in the legend (:func:`target_label`).
    """
    if len(xs) == 0:
        return
    ax.scatter(
        xs,
        ys,
        marker=MISSED_MARKER,
        s=110,
        c=MISSED_COLOR,
        edgecolors="black",
        linewidths=0.8,
        zorder=7,
        label=target_label(target),
        **kwargs,
    )


def _draw_missed_compositions(
    ax: Axes, pooled: pd.DataFrame, quantity: str, targets: Mapping[str, float] | None
) -> None:
    """:func:`draw_missed_targets` at the (m, x) of the ``missed`` rows of ``pooled``."""
    if pooled.empty or not targets or quantity not in targets:
        return
    sel = pooled[pooled["missed"].to_numpy(dtype=bool)]
    draw_missed_targets(
        ax, sel["m"].to_numpy(dtype=float), sel["x"].to_numpy(dtype=float), targets[quantity]
    )


def _draw_point_errors(ax: Axes, pooled: pd.DataFrame, norm: Normalize) -> None:
    """Measured compositions coloured by their 1 sigma error of log10 y (decades, on the
    GP-std scale ``norm``) and labelled with their 1 sigma relative error in %."""
    if pooled.empty:
        return
    mv = pooled["m"].to_numpy(dtype=float)
    xv = pooled["x"].to_numpy(dtype=float)
    ax.scatter(
        mv,
        xv,
        c=pooled["log10_se"].to_numpy(dtype=float),
        cmap="Greys",
        norm=norm,
        s=60,
        edgecolors=color(4),
        linewidths=1.2,
        zorder=4,
        label="measured 1σ (decades; label: relative, %)",
    )
    for a, b, rel in zip(mv, xv, pooled["rel_err"].to_numpy(dtype=float), strict=True):
        ax.annotate(
            _percent(rel),
            (a, b),
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=7,
            color=color(4),
            zorder=5,
            bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 0.5},
        )


def _draw_points(
    ax: Axes, pooled: pd.DataFrame, missing: pd.DataFrame, norm: Normalize | None, cmap: str
) -> None:
    """Measured compositions: filled (coloured by value) if diffusive, hollow otherwise."""
    if not pooled.empty:
        mv = pooled["m"].to_numpy(dtype=float)
        xv = pooled["x"].to_numpy(dtype=float)
        z = pooled["log10_mean"].to_numpy(dtype=float)
        kw = {"c": z, "cmap": cmap, "norm": norm} if norm is not None else {"c": "white"}
        ax.scatter(
            mv,
            xv,
            s=70,
            edgecolors="black",
            linewidths=1.0,
            zorder=4,
            label="diffusive (replica mean)",
            **kw,
        )
        for a, b, v in zip(mv, xv, z, strict=True):
            ax.annotate(
                f"{v:.2f}", (a, b), xytext=(5, 5), textcoords="offset points", fontsize=6, zorder=5
            )
    _draw_not_diffusive(ax, missing, size=70)


def _draw_not_diffusive(ax: Axes, missing: pd.DataFrame, size: float) -> None:
    """Hollow markers at the (m, x) of compositions without a diffusive value."""
    if missing.empty:
        return
    ax.scatter(
        missing["m"].to_numpy(dtype=float),
        missing["x"].to_numpy(dtype=float),
        s=size,
        facecolors="none",
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
        label=NOT_DIFFUSIVE,
    )


def _gp_field(
    pooled: pd.DataFrame, m_grid: np.ndarray, x_grid: np.ndarray, T_K: float
) -> tuple[Field | None, str | None]:
    """(GP field, None) over the grid, or (None, note saying why there is none)."""
    if pooled.empty:
        return None, f"{NO_DATA} at T = {T_K:.0f} K"
    try:
        field = interpolate_field(
            pooled["m"], pooled["x"], pooled["log10_mean"], pooled["log10_se"], m_grid, x_grid
        )
    except (ValueError, np.linalg.LinAlgError) as exc:
        return None, f"GP failed ({exc}): points only"
    if field.fit is None:
        return None, f"{field.note}: points only"
    return field, None


def _draw_gp_mean(
    fig: Figure,
    ax: Axes,
    field: Field,
    grid: tuple[np.ndarray, np.ndarray],
    norm: Normalize,
    cbar_label: str,
) -> None:
    """GP mean of log10 y (filled contours, ``norm``), washed out in proportion to the GP
    std, with its :data:`MAP_STD_CONTOUR_DEC` contour dotted."""
    mm, xx = grid
    vmin, vmax = norm.vmin, norm.vmax
    step = 0.25 if vmax - vmin <= 4.0 else 0.5
    levels = np.arange(vmin, vmax + 0.5 * step, step)
    cs = ax.contourf(mm, xx, field.mean, levels=levels, cmap="viridis", norm=norm, extend="both")
    fig.colorbar(cs, ax=ax, label=cbar_label + " (GP mean)")
    wash = np.zeros((*field.std.shape, 4))
    wash[..., :3] = 1.0
    wash[..., 3] = 0.75 * np.clip(field.std / MAP_STD_MAX_DEC, 0.0, 1.0)
    ax.imshow(
        wash,
        extent=(mm.min(), mm.max(), xx.min(), xx.max()),
        origin="lower",
        aspect="auto",
        interpolation="bilinear",
        zorder=2,
    )
    if np.nanmin(field.std) < MAP_STD_CONTOUR_DEC < np.nanmax(field.std):
        ax.contour(
            mm,
            xx,
            field.std,
            levels=[MAP_STD_CONTOUR_DEC],
            colors="black",
            linewidths=1.0,
            linestyles=":",
            zorder=3,
        )
        ax.plot(
            [],
            [],
            ":",
            color="black",
            lw=1.0,
            label=f"GP std = {MAP_STD_CONTOUR_DEC} decade (faded: larger)",
        )


def _draw_error_panel(
    fig: Figure,
    ax: Axes,
    field: Field | None,
    grid: tuple[np.ndarray, np.ndarray],
    pooled: pd.DataFrame,
    cbar_label: str,
    note: str | None,
) -> None:
    """The uncertainty panel: GP std (decades, filled) when there is a field, and the
    measured points' own 1 sigma error on the same grey scale, labelled in %."""
    mm, xx = grid
    std_norm = Normalize(0.0, MAP_STD_MAX_DEC)
    label = cbar_label.split(" (")[0]
    errors = "points: measured 1σ, labels: 1σ relative error"
    if field is not None:
        cs = ax.contourf(
            mm,
            xx,
            field.std,
            levels=np.linspace(0, MAP_STD_MAX_DEC, 11),
            cmap="Greys",
            norm=std_norm,
            extend="max",
        )
        fig.colorbar(cs, ax=ax, label=f"GP std and 1σ of {label} (decades)")
        h = field.fit.hyper
        ax.set_title(
            f"GP std; l_m = {h.length_m * field.fit.scale[0]:.2g}, "
            f"l_x = {h.length_x * field.fit.scale[1]:.2g}, "
            rf"$\sigma_f$ = {h.sigma_f:.2g} dec" + f"\n{errors}",
            fontsize=9,
        )
    else:
        fig.colorbar(
            ScalarMappable(norm=std_norm, cmap="Greys"), ax=ax, label=f"1σ of {label} (decades)"
        )
        _no_data(ax, "no GP field:\n" + textwrap.fill(note or NO_DATA, 32))
        ax.set_title(f"measured error ({errors})", fontsize=9)
    _draw_point_errors(ax, pooled, std_norm)


def _draw_hopping_panel(
    fig: Figure,
    ax: Axes,
    hopping: HoppingInputs | None,
    axes_grid: tuple[np.ndarray, np.ndarray],
    grid: tuple[np.ndarray, np.ndarray],
) -> None:
    """Hopping-model prediction (PRL eq 3) when its inputs are given, else a note."""
    if hopping is None:
        _no_data(
            ax,
            "hopping model (PRL eq 2-4) not drawn:\nneeds the cluster tables "
            "W_jk, E_jk, N_jk, N_c(jk)\nof the PRL supplement (HoppingInputs)",
        )
        ax.set_title("hopping model (PRL eq 3)", fontsize=9)
        return
    hop = hopping_log10_field(*axes_grid, hopping)
    if np.isfinite(hop).any():
        ch = ax.contourf(*grid, hop, levels=12, cmap="cividis")
        fig.colorbar(ch, ax=ax, label=r"$\log_{10} \sigma_\mathrm{hop}$ (relative)")
    else:
        _no_data(ax, "hopping model undefined here\n(needs x <= 1/3, m >= 2)")
    ax.set_title(f"hopping model (PRL eq 3), $k_BT$ = {hopping.kT:g}", fontsize=9)


def map_figure(
    transport_df: pd.DataFrame,
    T_K: float,
    quantity: str = "sigma",
    color_limits: tuple[float, float] | None = None,
    hopping: HoppingInputs | None = None,
    n_grid: int = 60,
    targets: Mapping[str, float] | None = None,
) -> Figure:
    """The figure of :func:`plot_conductivity_map` / :func:`plot_diffusivity_map` (not saved).

    ``targets``: optional quantity -> 1 sigma relative-error target (fraction); the
    compositions that missed ``targets[quantity]`` (:func:`point_errors`) are crossed on
    the mean and error panels.
    """
    _check_map_quantity(quantity)
    cbar_label, word = MAP_QUANTITIES[quantity]
    pooled, missing = map_data(transport_df, T_K, quantity, targets)
    vmin, vmax = (
        color_limits if color_limits is not None else map_color_limits(transport_df, quantity)
    )
    m_lo, m_hi, x_lo, x_hi = map_extent(transport_df)
    m_grid = np.linspace(m_lo, m_hi, n_grid)
    x_grid = np.linspace(x_lo, x_hi, n_grid)
    grid = np.meshgrid(m_grid, x_grid)
    mm, xx = grid
    cmap = "viridis"
    norm = Normalize(vmin, vmax) if np.isfinite(vmin) and np.isfinite(vmax) else None
    field, note = _gp_field(pooled, m_grid, x_grid, T_K)

    fig = Figure(figsize=(14.0, 5.0), layout="constrained")
    ax_mean, ax_std, ax_hop = fig.subplots(1, 3, sharex=True, sharey=True)
    if field is not None and norm is not None:
        _draw_gp_mean(fig, ax_mean, field, (mm, xx), norm, cbar_label)
    elif norm is not None:
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax_mean, label=cbar_label)
    _draw_error_panel(
        fig, ax_std, field if norm is not None else None, (mm, xx), pooled, cbar_label, note
    )
    _draw_points(ax_mean, pooled, missing, norm, cmap)
    for ax in (ax_mean, ax_std):
        _draw_missed_compositions(ax, pooled, quantity, targets)
    if note:
        ax_mean.text(
            0.02,
            0.02,
            note,
            transform=ax_mean.transAxes,
            fontsize=8,
            color="0.2",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )
    _draw_hopping_panel(fig, ax_hop, hopping, (m_grid, x_grid), (mm, xx))
    _draw_not_diffusive(ax_std, missing, size=25)
    if not pooled.empty:
        ax_hop.scatter(pooled["m"], pooled["x"], s=25, c="white", edgecolors="black", zorder=4)
    _draw_not_diffusive(ax_hop, missing, size=25)
    for i, ax in enumerate((ax_mean, ax_std, ax_hop)):
        _draw_rigidity(ax, mm, xx, regions=i == 0)
        ax.set_xlim(m_lo, m_hi)
        ax.set_ylim(x_lo, x_hi)
        ax.set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    ax_mean.set_ylabel(r"modifier fraction $x$ (mole fraction Na$_2$S)")
    ax_mean.set_title(f"{word} at T = {T_K:.0f} K (GP mean, shared colour scale)", fontsize=9)
    ax_mean.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.13), ncols=2, frameon=False
    )
    return fig


def plot_conductivity_map(
    transport_df: pd.DataFrame,
    T_K: float,
    path_png: str | Path,
    *,
    color_limits: tuple[float, float] | None = None,
    hopping: HoppingInputs | None = None,
    targets: Mapping[str, float] | None = None,
) -> tuple[Path, Path]:
    """Collective sigma (S/cm) over the (m, x) plane at ``T_K``: GP field with uncertainty.

    Panels: (1) GP mean of log10 sigma (:mod:`glassflow.campaign.composition_map`:
    per-point noise from the replica spread, hyperparameters by maximum restricted
    marginal likelihood), washed out in proportion to the GP std, with the
    :data:`MAP_STD_CONTOUR_DEC` contour dotted; (2) the uncertainty: the GP std
    (decades) and, on the same grey scale, each measured composition's own 1 sigma error
    of log10 sigma, labelled with its 1 sigma relative error in % (:func:`point_errors`);
    (3) the hopping-model prediction (PRL eq 3) when ``hopping`` is given, else a note.
    Every panel has contours of f(x, m) and the isostatic line f = 0 (docs/physics.md
    §6, eq 1) and the measured compositions: filled if diffusive, hollow ("not
    diffusive") if the runs at T_K have no diffusive conductivity. ``targets``
    (quantity -> 1 sigma relative error, fraction; key ``"sigma"`` here): compositions
    that missed it are crossed on panels 1 and 2 (legend "missed target (1σ > X %)");
    none without a target. ``color_limits`` (log10 S/cm) default to
    :func:`map_color_limits` over *all* temperatures of ``transport_df``, so that maps of
    one campaign share one colour scale; the extent (:func:`map_extent`) is shared too.
    Fewer than 3 compositions, or all on one line: points only, with a note.
    """
    fig = map_figure(transport_df, T_K, "sigma", color_limits, hopping, targets=targets)
    return _save(fig, path_png)


def plot_diffusivity_map(
    transport_df: pd.DataFrame,
    T_K: float,
    path_png: str | Path,
    *,
    color_limits: tuple[float, float] | None = None,
    targets: Mapping[str, float] | None = None,
) -> tuple[Path, Path]:
    """D_Na (cm^2/s) over the (m, x) plane at ``T_K``; as :func:`plot_conductivity_map`.

    ``targets`` key ``"D_Na"``. The hopping panel carries a note (the model predicts
    sigma, not D).
    """
    fig = map_figure(transport_df, T_K, "D_Na", color_limits, None, targets=targets)
    return _save(fig, path_png)
