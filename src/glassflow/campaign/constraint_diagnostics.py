"""Why the MD floppy fraction differs from eq 1: per-species constraint terms, MD vs ideal.

docs/physics.md §6, eq 1 counts constraints on an *ideal* network: every Si 4-fold, every S
2-fold except one non-bridging S (NBS) per Na, Na 1-fold. The MD count of
:mod:`glassflow.analysis.topology` applies the same rules (an r-fold network atom carries r/2
bond-stretching and 2r - 3 bond-bending constraints if r >= 2; a terminal S gets +1/2 for
its Na-S bond; each Na 1/2) to the bonds the force field actually makes. This module
writes both counts term by term, so that

    f_MD - f_eq1(x, m) = sum over terms of -(n_c,MD - n_c,ideal)  +  composition term

holds exactly. Every n_c is a number of constraints *per atom of the whole cell* (Na
included, N = 1 + 2x + m(1 - x) atoms per formula unit, as in eq 1), so a term is
(atom fraction of the class) x (constraints per atom of the class).

Terms (``term`` column):

* ``Si(<=2)``, ``Si(3)``, ``Si(4)``, ``Si(5)``, ``Si(>=6)``: Si by coordination;
* ``S:BS`` (2 Si), ``S:NBS`` (1 Si, + 1/2 for the Na-S bond), ``S:S-S`` (in a homopolar
  bond: SS_only + SS_Si of :func:`glassflow.analysis.topology.classify_sulfur`), ``S:3Si``
  (3 or more Si), ``S:free`` (no network bond);
* ``Na``: 1/2 per Na (the MD count uses this constant too, so its difference is 0);
* ``unresolved``: MD only, the part of the measured ``n_constraints`` that the class
  fractions of a topology *table* cannot attribute (see below); 0 from bond counts;
* ``composition``: eq 1 at the cell's achieved (x, m) minus eq 1 at the requested one
  (integer atom counts never hit (x, m) exactly); only ``delta_f`` is set.

The ideal network (:func:`ideal_terms`), per formula unit: Si (1 - x), all 4-fold (2
stretching + 5 bending); NBS 2x (1 stretching incl. the Na-S half bond); S in S-S
(m - 2)(1 - x) and BS (2 - 3x), both 2-fold (1 + 1); Na 2x (1/2 each). Where the PRL
building blocks are defined (x <= 1/3, m >= 2) these are their populations
(docs/physics.md §6: S-S = 2 p2 n_b, NBS = p3 n_b, BS = (4 p4 + 3 p3) n_b / 2 with
n_b = m(1 - x)/2 blocks); for x > 1/3 the same octet-rule count is used (BS >= 0 needs
x <= 2/3); for m < 2 there is no S-S and BS takes all 2-fold S. Summed, the terms give
eq 1 exactly for any (x, m) with at least 0 two-fold S.

From a topology table (one row per run, columns of
:func:`glassflow.analysis.topology.frame_topology` plus ``x_achieved, m_achieved``) the MD terms are
reconstructed: Si stretching is exact (``si_cn_mean``/2); bending is linear in r for r >= 2, so it
is exact unless some Si or S-S atoms have r < 2; ``si_cn_le2`` is taken as 2-fold and ``si_cn_ge6``
takes the rest of ``si_cn_mean``; ``S:3Si`` is taken as 3-fold and ``S:S-S`` takes the rest of the
mean S coordination (from ``mean_r`` when Na is excluded from it). What these assumptions miss
is the ``unresolved`` term: the table's own ``n_constraints`` minus the reconstructed sum.
:func:`md_terms_from_counts` is exact (per-atom bond counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glassflow.analysis.rigidity import floppy_fraction
from glassflow.analysis.topology import (
    BondCounts,
    achieved_composition,
    atom_constraints,
    classify_sulfur,
)

SI_TERMS: tuple[str, ...] = ("Si(<=2)", "Si(3)", "Si(4)", "Si(5)", "Si(>=6)")
S_TERMS: tuple[str, ...] = ("S:BS", "S:NBS", "S:S-S", "S:3Si", "S:free")
TERMS: tuple[str, ...] = (*SI_TERMS, *S_TERMS, "Na", "unresolved")
TERM_SPECIES: dict[str, str] = {
    **dict.fromkeys(SI_TERMS, "Si"),
    **dict.fromkeys(S_TERMS, "S"),
    "Na": "Na",
    "unresolved": "unresolved",
    "composition": "composition",
}
#: Constraints of the Na-S bond carried by a terminal S, and per Na (docs/physics.md §6).
TERMINAL_BOND = 0.5
NA_CONSTRAINT = 0.5

KEY_COLUMNS: tuple[str, ...] = ("campaign", "x", "m", "stage", "T_K")
DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "term",
    "species",
    "atoms_md",
    "atoms_ideal",
    "r_md",
    "r_ideal",
    "stretching_md",
    "bending_md",
    "n_c_md",
    "stretching_ideal",
    "bending_ideal",
    "n_c_ideal",
    "delta_n_c",
    "delta_f",
    "x_achieved",
    "m_achieved",
    "n_runs",
)
REQUIRED_TOPOLOGY_COLUMNS: tuple[str, ...] = (
    "x",
    "m",
    "si_cn_mean",
    "si_cn_le2",
    "si_cn_3",
    "si_cn_4",
    "si_cn_5",
    "si_cn_ge6",
    "frac_BS",
    "frac_NBS",
    "frac_free",
    "frac_SS_only",
    "frac_SS_Si",
    "frac_S_3Si",
    "mean_r",
    "n_constraints",
    "f_md",
)


@dataclass(frozen=True)
class Term:
    """One constraint term: atoms of the class per atom of the cell, their mean
    coordination r (NaN when the class is empty) and constraints per atom of the cell."""

    atoms: float
    r: float
    stretching: float
    bending: float

    @property
    def n_c(self) -> float:
        return self.stretching + self.bending


def _r_fold(atoms: float, r: float, terminal: bool = False) -> Term:
    """Term of ``atoms`` atoms of mean coordination ``r`` (per-atom rules of eq 1).

    Integer r: r/2 stretching, 2r - 3 bending if r >= 2, +1/2 stretching if ``terminal``
    and r = 1. A non-integer mean r < 2 is read as the mix of the two neighbouring integer
    coordinations with that mean (e.g. r = 1.6: 60 % 2-fold, 40 % 1-fold), for which the
    rules are linear; for r >= 2 they are linear anyway.
    """
    if atoms == 0:
        return Term(0.0, float("nan"), 0.0, 0.0)
    tol = 1e-9
    if r >= 2.0 - tol:
        stretch, bend = r / 2.0, 2.0 * r - 3.0
    elif r >= 1.0 - tol:
        two = r - 1.0  # fraction of 2-fold atoms in a 1/2-fold mix
        stretch, bend = r / 2.0 + (TERMINAL_BOND * (1.0 - two) if terminal else 0.0), two
    else:
        stretch, bend = r / 2.0 + (TERMINAL_BOND * r if terminal else 0.0), 0.0
    return Term(atoms, r, atoms * stretch, atoms * bend)


def _zero() -> Term:
    return Term(0.0, float("nan"), 0.0, 0.0)


def atoms_per_formula_unit(x: float, m: float) -> dict[str, float]:
    """Na, Si, S and total atoms per formula unit of x Na2S-(1-x) SiS_m (docs/physics.md §1)."""
    na, si, s = 2.0 * x, 1.0 - x, x + m * (1.0 - x)
    return {"Na": na, "Si": si, "S": s, "total": na + si + s}


def ideal_populations(x: float, m: float) -> dict[str, float]:
    """Ideal-network S classes and Si, Na per formula unit (module docstring).

    Raises ValueError when there would be fewer than 0 two-fold S (m (1-x) < x) or x
    outside [0, 1).
    """
    if not (0.0 <= x < 1.0) or not np.isfinite(m):
        raise ValueError(f"composition x must lie in [0, 1) and m be finite, got x={x!r}, m={m!r}")
    two_fold = m * (1.0 - x) - x
    if two_fold < -1e-12:
        raise ValueError(
            f"(x, m) = ({x!r}, {m!r}) has fewer S than Si-S bonds can take as NBS "
            f"(m (1-x) - x = {two_fold:.4g} < 0): no ideal network"
        )
    ss = max((m - 2.0) * (1.0 - x), 0.0)
    return {
        "Si": 1.0 - x,
        "S:NBS": 2.0 * x,
        "S:S-S": ss,
        "S:BS": max(two_fold - ss, 0.0),
        "Na": 2.0 * x,
    }


def ideal_terms(x: float, m: float) -> dict[str, Term]:
    """Constraint terms of the ideal network of eq 1 at (x, m); they sum to 3 - f(x, m)."""
    pop = ideal_populations(x, m)
    n = atoms_per_formula_unit(x, m)["total"]
    out = {t: _zero() for t in TERMS}
    out["Si(4)"] = _r_fold(pop["Si"] / n, 4.0)
    out["S:BS"] = _r_fold(pop["S:BS"] / n, 2.0)
    out["S:S-S"] = _r_fold(pop["S:S-S"] / n, 2.0)
    out["S:NBS"] = _r_fold(pop["S:NBS"] / n, 1.0, terminal=True)
    na = pop["Na"] / n
    out["Na"] = Term(na, 1.0 if na else float("nan"), NA_CONSTRAINT * na, 0.0)
    return out


def md_terms_from_counts(counts: BondCounts) -> dict[str, Term]:
    """Exact MD constraint terms of one frame from its per-atom bond counts.

    Same rules as :func:`glassflow.analysis.topology.constraint_count` (terminal S +1/2, Na 1/2), so
    the terms sum to its n_c; ``unresolved`` is 0.
    """
    n_si, n_s, n_na = counts.si_cn.size, counts.s_nsi.size, counts.na_ns.size
    n = n_si + n_s + n_na
    if n == 0:
        raise ValueError("empty frame: no Si, S or Na atoms in the bond counts")
    out = {t: _zero() for t in TERMS}

    def term(r: np.ndarray, terminal_s: bool) -> Term:
        if r.size == 0:
            return _zero()
        c = atom_constraints(r)
        stretch = r / 2.0 + (TERMINAL_BOND * (r == 1) if terminal_s else 0.0)
        bend = c - r / 2.0
        return Term(r.size / n, float(r.mean()), float(stretch.sum()) / n, float(bend.sum()) / n)

    cn = counts.si_cn
    for name, sel in zip(SI_TERMS, (cn <= 2, cn == 3, cn == 4, cn == 5, cn >= 6), strict=True):
        out[name] = term(cn[sel].astype(float), False)
    labels = classify_sulfur(counts.s_nsi, counts.s_nss)
    r_s = (counts.s_nsi + counts.s_nss).astype(float)
    groups = {
        "S:BS": labels == "BS",
        "S:NBS": labels == "NBS",
        "S:S-S": (labels == "SS_only") | (labels == "SS_Si"),
        "S:3Si": labels == "S_3Si",
        "S:free": labels == "free",
    }
    for name, sel in groups.items():
        out[name] = term(r_s[sel], True)
    out["Na"] = Term(
        n_na / n,
        float(counts.na_ns.mean()) if n_na else float("nan"),
        NA_CONSTRAINT * n_na / n,
        0.0,
    )
    return out


def _num(row: Mapping[str, object], key: str, default: float = float("nan")) -> float:
    v = row.get(key, default)
    try:
        out = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return out if np.isfinite(out) else default


def md_terms_from_topology(row: Mapping[str, object]) -> tuple[dict[str, Term], float, float]:
    """MD terms reconstructed from one topology-table row (module docstring).

    Returns (terms, x_achieved, m_achieved); the ``unresolved`` term closes the sum on the
    row's ``n_constraints``. Missing columns raise a KeyError naming them.
    """
    missing = [c for c in REQUIRED_TOPOLOGY_COLUMNS if c not in row]
    if missing:
        raise KeyError(f"topology table lacks columns {missing} (see glassflow.analysis.topology)")
    x = _num(row, "x_achieved", _num(row, "x"))
    m = _num(row, "m_achieved", _num(row, "m"))
    per_fu = atoms_per_formula_unit(x, m)
    n = per_fu["total"]
    a_si, a_s, a_na = per_fu["Si"] / n, per_fu["S"] / n, per_fu["Na"] / n
    out = {t: _zero() for t in TERMS}

    # Si by coordination; <=2 taken as 2-fold, >=6 gets the rest of the mean
    si_cols = ("si_cn_le2", "si_cn_3", "si_cn_4", "si_cn_5", "si_cn_ge6")
    frac = {t: _num(row, c, 0.0) for t, c in zip(SI_TERMS, si_cols, strict=True)}
    r_si = {"Si(<=2)": 2.0, "Si(3)": 3.0, "Si(4)": 4.0, "Si(5)": 5.0}
    known = sum(frac[t] * r for t, r in r_si.items())
    if frac["Si(>=6)"] > 0:
        r_si["Si(>=6)"] = (_num(row, "si_cn_mean") - known) / frac["Si(>=6)"]
    for t in SI_TERMS:
        if frac[t] > 0 and t in r_si:
            out[t] = _r_fold(a_si * frac[t], r_si[t])

    # S classes; S-S (or, without S-S, 3Si) gets the rest of the mean S coordination
    f_bs, f_nbs, f_free = (_num(row, c, 0.0) for c in ("frac_BS", "frac_NBS", "frac_free"))
    f_ss = _num(row, "frac_SS_only", 0.0) + _num(row, "frac_SS_Si", 0.0)
    f_3 = _num(row, "frac_S_3Si", 0.0)
    out["S:BS"] = _r_fold(a_s * f_bs, 2.0)
    out["S:NBS"] = _r_fold(a_s * f_nbs, 1.0, terminal=True)
    out["S:free"] = Term(a_s * f_free, 0.0, 0.0, 0.0) if f_free > 0 else _zero()
    na_in_r = bool(row.get("include_na_in_mean_r", False) or False)
    r_s_mean = float("nan")
    if not na_in_r:
        total_r = _num(row, "mean_r") * (a_si + a_s) - _num(row, "si_cn_mean") * a_si
        r_s_mean = total_r / a_s if a_s > 0 else float("nan")
    rest = r_s_mean - 2.0 * f_bs - 1.0 * f_nbs  # per S atom, shared by S-S and 3Si
    if f_ss > 0:
        r_ss = (rest - 3.0 * f_3) / f_ss if np.isfinite(rest) else 2.0
        out["S:S-S"] = _r_fold(a_s * f_ss, r_ss, terminal=True)
        if f_3 > 0:
            out["S:3Si"] = _r_fold(a_s * f_3, 3.0)
    elif f_3 > 0:
        out["S:3Si"] = _r_fold(a_s * f_3, rest / f_3 if np.isfinite(rest) else 3.0, terminal=True)
    out["Na"] = Term(a_na, float("nan"), NA_CONSTRAINT * a_na, 0.0)
    resolved = sum(t.n_c for t in out.values())
    out["unresolved"] = Term(0.0, float("nan"), _num(row, "n_constraints") - resolved, 0.0)
    return out, x, m


def diagnostic_rows(
    md: Mapping[str, Term],
    x_achieved: float,
    m_achieved: float,
    x_requested: float,
    m_requested: float,
    keys: Mapping[str, object] | None = None,
    n_runs: int = 1,
) -> pd.DataFrame:
    """The term table (``DIAGNOSTIC_COLUMNS``) of one composition from its MD terms.

    ``delta_f`` of the terms plus the ``composition`` row sum to f_MD - f_eq1(requested).
    """
    ideal = ideal_terms(x_achieved, m_achieved)
    base = {k: (keys or {}).get(k, np.nan) for k in KEY_COLUMNS}
    base.update(x=x_requested, m=m_requested)
    rows = []
    for t in TERMS:
        a, b = md.get(t, _zero()), ideal[t]
        rows.append(
            {
                **base,
                "term": t,
                "species": TERM_SPECIES[t],
                "atoms_md": a.atoms,
                "atoms_ideal": b.atoms,
                "r_md": a.r,
                "r_ideal": b.r,
                "stretching_md": a.stretching,
                "bending_md": a.bending,
                "n_c_md": a.n_c,
                "stretching_ideal": b.stretching,
                "bending_ideal": b.bending,
                "n_c_ideal": b.n_c,
                "delta_n_c": a.n_c - b.n_c,
                "delta_f": -(a.n_c - b.n_c),
            }
        )
    shift = float(floppy_fraction(x_achieved, m_achieved)) - float(
        floppy_fraction(x_requested, m_requested)
    )
    rows.append({**base, "term": "composition", "species": "composition", "delta_f": shift})
    out = pd.DataFrame(rows, columns=list(DIAGNOSTIC_COLUMNS))
    out["x_achieved"] = x_achieved
    out["m_achieved"] = m_achieved
    out["n_runs"] = n_runs
    return out


def diagnostic_from_counts(
    counts: BondCounts,
    x_requested: float | None = None,
    m_requested: float | None = None,
    modifier_present: bool = True,
) -> pd.DataFrame:
    """Exact term table of one frame (bond counts); (x, m) achieved from the atom counts."""
    n_na = counts.na_ns.size if modifier_present else 0
    xa, ma = achieved_composition(n_na, counts.si_cn.size, counts.s_nsi.size)
    md = md_terms_from_counts(counts)
    return diagnostic_rows(
        md,
        xa,
        ma,
        xa if x_requested is None else x_requested,
        ma if m_requested is None else m_requested,
    )


def constraint_diagnostic(
    topology: pd.DataFrame,
    stage: str | None = "glass",
    group: Sequence[str] = KEY_COLUMNS,
) -> pd.DataFrame:
    """Term table per composition from the campaign topology table (tables/topology.parquet).

    Rows of ``stage`` ("glass", "production" or None for all) are averaged over replicas
    within ``group`` (the reconstruction is linear in the averaged columns, except for
    the ``unresolved`` closure, which is exact per average). Output: ``DIAGNOSTIC_COLUMNS``,
    sorted by composition; an empty input gives an empty table with those columns.
    """
    if topology.empty:
        return pd.DataFrame(columns=list(DIAGNOSTIC_COLUMNS))
    missing = [c for c in REQUIRED_TOPOLOGY_COLUMNS if c not in topology.columns]
    if missing:
        raise KeyError(f"topology table lacks columns {missing} (see glassflow.analysis.topology)")
    df = topology if stage is None else topology[topology["stage"] == stage]
    if df.empty:
        return pd.DataFrame(columns=list(DIAGNOSTIC_COLUMNS))
    keys = [k for k in group if k in df.columns]
    parts = []
    for key_values, sub in df.groupby(keys, dropna=False, sort=True):
        kv = dict(
            zip(keys, key_values if isinstance(key_values, tuple) else (key_values,), strict=True)
        )
        row = sub.mean(numeric_only=True).to_dict()
        if "include_na_in_mean_r" in sub.columns:
            row["include_na_in_mean_r"] = bool(sub["include_na_in_mean_r"].astype(bool).any())
        md, xa, ma = md_terms_from_topology(row)
        parts.append(
            diagnostic_rows(md, xa, ma, float(kv["x"]), float(kv["m"]), kv, n_runs=len(sub))
        )
    return pd.concat(parts, ignore_index=True)


def gap_summary(diagnostic: pd.DataFrame) -> pd.DataFrame:
    """Per composition: f_md, f_eq1 (requested and achieved), the gap and its parts.

    ``gap = f_md - f_eq1``; ``delta_f_<species>`` (Si, S, Na, unresolved, composition) are
    the per-species sums of the term ``delta_f`` and add up to ``gap``; ``gap_from_terms``
    is their sum (a check); ``largest_term`` has the largest |delta_f|.
    """
    parts = ("Si", "S", "Na", "unresolved", "composition")
    cols = [
        *KEY_COLUMNS,
        "f_md",
        "f_eq1",
        "f_eq1_achieved",
        "gap",
        *(f"delta_f_{p}" for p in parts),
        "gap_from_terms",
        "largest_term",
        "largest_delta_f",
    ]
    if diagnostic.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for kv, sub in diagnostic.groupby(list(KEY_COLUMNS), dropna=False, sort=True):
        terms = sub[sub["term"] != "composition"]
        n_md = float(terms["n_c_md"].sum())
        n_id = float(terms["n_c_ideal"].sum())
        f_eq1 = float(floppy_fraction(float(kv[1]), float(kv[2])))
        d = sub["delta_f"].to_numpy(dtype=float)
        i = int(np.nanargmax(np.abs(d)))
        by_species = sub.groupby("species")["delta_f"].sum()
        rows.append(
            dict(
                zip(KEY_COLUMNS, kv, strict=True),
                f_md=3.0 - n_md,
                f_eq1=f_eq1,
                f_eq1_achieved=3.0 - n_id,
                gap=(3.0 - n_md) - f_eq1,
                **{f"delta_f_{p}": float(by_species.get(p, 0.0)) for p in parts},
                gap_from_terms=float(np.nansum(d)),
                largest_term=str(sub["term"].iloc[i]),
                largest_delta_f=float(d[i]),
            )
        )
    return pd.DataFrame(rows, columns=cols)
