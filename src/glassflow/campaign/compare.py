"""Two or more campaigns side by side, e.g. the two neutrality policies of docs/physics.md §2.

A campaign lists finished campaigns in the config key ``compare_with`` (their results
directories). Their campaign tables are joined to its own, keyed by ``campaign``, and
every row is compared with the same (x, m, T, quantity, species) of the *reference*
campaign (the one whose report is being built):

* transport: per campaign, composition and T the log10 of D_k (cm^2/s) and of the
  collective sigma (S/cm) from the points the campaign figures plot
  (:func:`glassflow.campaign.arrhenius.diffusivity_points`, ``conductivity_points``: the
  replica-pooled estimate when the table has it, else one point per run) pooled by
  :func:`glassflow.campaign.arrhenius.pool_log10` (mean of log10 and its standard error;
  ``n`` points); ``delta_log10 = log10_mean - log10_mean(reference)`` and
  ``z = delta_log10 / sqrt(se^2 + se_ref^2)``;
* Arrhenius: the fit table rows (docs/physics.md §4, eq 10) with
  ``delta_E_A_eV = E_A_eV - E_A_eV(reference)``.

Each row also carries the campaign's ``neutrality`` policy and mean ``net_charge_e``
(from its runs table) and ``campaign_label`` = "<campaign> (<neutrality>)", the name the
comparison figures use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glassflow.safety import check_results_dir

#: The keys a comparison row is matched on across campaigns.
MATCH_KEYS: tuple[str, ...] = ("x", "m", "T_K", "quantity", "species")
ARRHENIUS_MATCH_KEYS: tuple[str, ...] = ("x", "m", "quantity", "species")
COMPARISON_COLUMNS: tuple[str, ...] = (
    "campaign",
    "campaign_label",
    "neutrality",
    "x",
    "m",
    "T_K",
    "quantity",
    "species",
    "log10_mean",
    "log10_se",
    "n",
    "net_charge_e",
    "delta_log10",
    "delta_log10_se",
    "z",
)
#: Composition matching tolerance (x and m are stored as the requested values).
KEY_DECIMALS = 6


def campaign_info(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (campaign, x, m): ``neutrality`` and mean ``net_charge_e`` (e) of its runs.

    ``runs``: one or several ``tables/runs.parquet`` concatenated. A campaign whose runs
    disagree on ``neutrality`` raises ValueError naming it.
    """
    need = ["campaign", "x", "m", "neutrality", "net_charge_e"]
    missing = [c for c in need if c not in runs.columns]
    if missing:
        raise ValueError(
            f"runs table lacks columns {missing} (see glassflow.campaign.tables.run_row)"
        )
    policies = runs.groupby("campaign")["neutrality"].nunique()
    mixed = sorted(policies[policies > 1].index)
    if mixed:
        raise ValueError(f"campaigns {mixed} mix neutrality policies in their runs tables")
    return (
        runs.groupby(["campaign", "x", "m"], sort=True)
        .agg(neutrality=("neutrality", "first"), net_charge_e=("net_charge_e", "mean"))
        .reset_index()
    )


def check_distinct_campaigns(tables: Sequence[pd.DataFrame], sources: Sequence[str]) -> None:
    """Raise ValueError when two sources hold the same campaign name (rows would collide)."""
    seen: dict[str, str] = {}
    for df, src in zip(tables, sources, strict=True):
        for name in pd.unique(df["campaign"]) if "campaign" in df.columns else ():
            if name in seen and seen[name] != src:
                raise ValueError(
                    f"campaign {name!r} is in both {seen[name]} and {src}: campaigns compared "
                    "side by side need distinct names (config key 'campaign')"
                )
            seen[name] = src


def pooled_transport(transport: pd.DataFrame) -> pd.DataFrame:
    """Pooled log10 of D per species (``quantity`` "D") and of sigma ("sigma", "all").

    Columns ``campaign, x, m, T_K, quantity, species, log10_mean, log10_se, n``; only
    diffusive points enter (:func:`glassflow.campaign.arrhenius.diffusivity_points`: the
    replica-pooled columns when present, ``n`` = 1, else one point per run).
    """
    # imported here: the workflow imports this module at DAG time (check_compare_dirs),
    # which should not load matplotlib
    from glassflow.campaign.arrhenius import conductivity_points, diffusivity_points, pool_log10

    keys = ["campaign", "x", "m", "T_K"]
    species = [s for s in ("Na", "Si", "S") if s in set(transport["species"])]
    species += sorted(set(transport["species"]) - {"Na", "Si", "S", "all"})
    parts = [
        pool_log10(diffusivity_points(transport, sp), keys).assign(quantity="D", species=sp)
        for sp in species
    ]
    parts.append(
        pool_log10(conductivity_points(transport), keys).assign(quantity="sigma", species="all")
    )
    parts = [p for p in parts if len(p)]
    cols = [*keys, "quantity", "species", "log10_mean", "log10_se", "n"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def _match_frame(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``df[keys]`` with float keys rounded, so that 0.1 from two tables matches."""
    out = df[list(keys)].copy()
    for k in keys:
        if pd.api.types.is_float_dtype(out[k].dtype):
            out[k] = out[k].astype(float).round(KEY_DECIMALS)
    return out


def _with_info(df: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    left = _match_frame(df, ["campaign", "x", "m"])
    right = _match_frame(info, ["campaign", "x", "m"]).assign(
        neutrality=info["neutrality"].to_numpy(), net_charge_e=info["net_charge_e"].to_numpy()
    )
    merged = left.merge(right, on=["campaign", "x", "m"], how="left")
    out = df.copy()
    out["neutrality"] = merged["neutrality"].fillna("unknown").to_numpy()
    out["net_charge_e"] = merged["net_charge_e"].to_numpy(dtype=float)
    out["campaign_label"] = [
        f"{c} ({p})" for c, p in zip(out["campaign"], out["neutrality"], strict=True)
    ]
    return out


def _reference_values(
    df: pd.DataFrame, reference: str, keys: Sequence[str], values: Sequence[str]
) -> pd.DataFrame:
    """For every row of ``df``: the ``values`` of the reference row with the same keys."""
    ref = df[df["campaign"] == reference]
    right = _match_frame(ref, keys)
    for v in values:
        right[f"_ref_{v}"] = pd.to_numeric(ref[v], errors="coerce").astype(float).to_numpy()
    merged = _match_frame(df, keys).merge(right, on=list(keys), how="left")
    return merged[[f"_ref_{v}" for v in values]]


def compare_transport(
    transports: Sequence[pd.DataFrame], runs: Sequence[pd.DataFrame], reference: str
) -> pd.DataFrame:
    """Transport of several campaigns, each row compared with the ``reference`` campaign.

    ``transports`` and ``runs``: the ``tables/transport.parquet`` and ``runs.parquet`` of
    every campaign (any order). Output :data:`COMPARISON_COLUMNS` (module docstring),
    sorted by composition, T, quantity, species and campaign; ``delta_*`` and ``z`` are NaN
    where the reference has no diffusive value. Raises ValueError if ``reference`` is not
    among the campaigns.
    """
    transport = pd.concat([t for t in transports if len(t)], ignore_index=True)
    if reference not in set(transport["campaign"]):
        raise ValueError(
            f"reference campaign {reference!r} is not in the transport tables "
            f"(have {sorted(set(transport['campaign']))})"
        )
    pooled = _with_info(pooled_transport(transport), campaign_info(pd.concat(runs)))
    ref = _reference_values(pooled, reference, MATCH_KEYS, ("log10_mean", "log10_se"))
    mean_ref = ref["_ref_log10_mean"].to_numpy(dtype=float)
    se_ref = ref["_ref_log10_se"].to_numpy(dtype=float)
    delta = pooled["log10_mean"].to_numpy(dtype=float) - mean_ref
    se = np.hypot(pooled["log10_se"].to_numpy(dtype=float), se_ref)
    pooled["delta_log10"] = delta
    pooled["delta_log10_se"] = se
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled["z"] = np.where(se > 0, delta / se, np.nan)
    order = ["x", "m", "T_K", "quantity", "species", "campaign"]
    return pooled.sort_values(order, kind="stable").reset_index(drop=True)[list(COMPARISON_COLUMNS)]


def compare_arrhenius(
    arrhenius: Sequence[pd.DataFrame], runs: Sequence[pd.DataFrame], reference: str
) -> pd.DataFrame:
    """Arrhenius tables of several campaigns with ``neutrality``, ``net_charge_e``,
    ``campaign_label`` and ``delta_E_A_eV`` (eV; E_A minus the reference campaign's E_A of
    the same composition, quantity and species; NaN where either has no fit)."""
    table = pd.concat([a for a in arrhenius if len(a)], ignore_index=True)
    if reference not in set(table["campaign"]):
        raise ValueError(
            f"reference campaign {reference!r} is not in the Arrhenius tables "
            f"(have {sorted(set(table['campaign']))})"
        )
    out = _with_info(table, campaign_info(pd.concat(runs)))
    ref = _reference_values(out, reference, ARRHENIUS_MATCH_KEYS, ("E_A_eV",))
    e = pd.to_numeric(out["E_A_eV"], errors="coerce").astype(float).to_numpy()
    out["delta_E_A_eV"] = e - ref["_ref_E_A_eV"].to_numpy(dtype=float)
    order = ["x", "m", "quantity", "species", "campaign"]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def campaign_labels(compared: pd.DataFrame) -> dict[str, str]:
    """``campaign -> campaign_label`` of a comparison table."""
    pairs = compared[["campaign", "campaign_label"]].drop_duplicates()
    return dict(zip(pairs["campaign"], pairs["campaign_label"], strict=True))


def label_campaigns(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Copy of ``df`` whose ``campaign`` is replaced by its label (figures name campaigns by
    that column); campaigns without a label keep their name."""
    return df.assign(campaign=[labels.get(c, c) for c in df["campaign"]])


#: The tables of a compared campaign that the comparison reads (under <dir>/tables/).
COMPARED_TABLES: tuple[str, ...] = ("transport", "arrhenius", "runs")


def check_compare_dirs(
    dirs: Sequence[str], own: str | Path, key: str = "config key 'compare_with'"
) -> list[str]:
    """The results directories of ``compare_with``, checked before any job runs.

    Each must be a safe path (:func:`glassflow.safety.check_results_dir`), not ``own``
    (this campaign's results directory), listed once, and hold the finished tables
    :data:`COMPARED_TABLES` (relative paths are taken from the working directory).
    Returns them without a trailing '/'. Raises ValueError naming the entry and the
    problem.
    """
    out: list[str] = []
    own_path = Path(own).resolve()
    for i, d in enumerate(dirs):
        where = f"{key}[{i}]"
        check_results_dir(d, where)
        d = d.rstrip("/") or "/"
        if Path(d).resolve() == own_path:
            raise ValueError(
                f"{where}: {d!r} is this campaign's own results directory; list the results "
                "directories of other campaigns (results/<campaign>)"
            )
        if d in out:
            raise ValueError(f"{where}: {d!r} is listed twice")
        missing = [
            t for t in COMPARED_TABLES if not (Path(d) / "tables" / f"{t}.parquet").is_file()
        ]
        if missing:
            names = ", ".join(f"tables/{t}.parquet" for t in missing)
            raise ValueError(
                f"{where}: {d!r} has no {names}; expected the results directory of a finished "
                "campaign (results/<campaign>): run that campaign first"
            )
        out.append(d)
    return out
