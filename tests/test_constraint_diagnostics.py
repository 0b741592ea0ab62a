"""Known-answer tests of glassflow.campaign.constraint_diagnostics (MD vs eq 1 constraint terms)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from glassflow.analysis.topology import BondCounts, constraint_count, frame_topology
from glassflow.campaign.constraint_diagnostics import (
    DIAGNOSTIC_COLUMNS,
    TERMS,
    constraint_diagnostic,
    diagnostic_from_counts,
    gap_summary,
    ideal_populations,
    ideal_terms,
    md_terms_from_counts,
    md_terms_from_topology,
)


def eq1_f(x: float, m: float) -> float:
    """physics.md §6 eq 1, written out: f = [m(1-x) - 4 + 12x] / [1 + 2x + m(1-x)]."""
    return (m * (1 - x) - 4 + 12 * x) / (1 + 2 * x + m * (1 - x))


F_EQ1_02_3 = 4.0 / 19.0  # eq 1 at (x, m) = (0.2, 3): (2.4 - 4 + 2.4) / (1 + 0.4 + 2.4)


def counts_of(si_cn, s_nsi, s_nss, n_na) -> BondCounts:
    n_si = len(si_cn)
    return BondCounts(
        np.asarray(si_cn, dtype=np.int64),
        np.asarray(s_nsi, dtype=np.int64),
        np.asarray(s_nss, dtype=np.int64),
        np.zeros(len(s_nsi), dtype=np.int64),
        np.ones(n_na, dtype=np.int64),
        sparse.csr_matrix((n_si, n_si)),
    )


def ideal_counts() -> BondCounts:
    """x = 0.2, m = 3, 10 formula units: 4 Na, 8 Si (4-fold), 26 S = 14 BS + 4 NBS + 8 in S-S
    rings (2 S neighbours each) - the ideal network of eq 1."""
    return counts_of([4] * 8, [2] * 14 + [1] * 4 + [0] * 8, [0] * 18 + [2] * 8, 4)


def overcoordinated_counts() -> BondCounts:
    """The same cell with 4 of the 8 Si 5-fold; the 4 extra Si-S bonds turn BS into 3-Si S."""
    return counts_of(
        [5] * 4 + [4] * 4, [2] * 10 + [3] * 4 + [1] * 4 + [0] * 8, [0] * 18 + [2] * 8, 4
    )


def topology_rows() -> pd.DataFrame:
    """A campaign-like topology table: ideal and over-coordinated replicas of (0.2, 3), one
    row of (0.2, 2) with 6-fold Si, and a production row that must be ignored."""
    keys = {"campaign": "t", "T_K": 300.0, "stage": "glass"}
    rows = [
        frame_topology(ideal_counts()) | keys | {"x": 0.2, "m": 3.0, "replica": 1},
        frame_topology(overcoordinated_counts()) | keys | {"x": 0.2, "m": 3.0, "replica": 2},
        frame_topology(counts_of([6] * 2 + [4] * 6, [3] * 4 + [2] * 10 + [1] * 4, [0] * 18, 4))
        | keys
        | {"x": 0.2, "m": 2.0, "replica": 1},
        frame_topology(ideal_counts()) | keys | {"x": 0.2, "m": 3.0, "stage": "production"},
    ]
    df = pd.DataFrame(rows)
    df["x_achieved"], df["m_achieved"] = df["x"], df["m"]
    df["include_na_in_mean_r"] = False
    return df


def _by_term(df: pd.DataFrame, col: str) -> pd.Series:
    return df.set_index("term")[col]


def test_ideal_network_has_zero_gap_and_reproduces_eq1() -> None:
    counts = ideal_counts()
    diag = diagnostic_from_counts(counts)
    terms = diag[diag["term"] != "composition"]
    f_eq1 = F_EQ1_02_3
    assert 3.0 - terms["n_c_ideal"].sum() == pytest.approx(f_eq1, abs=1e-12)
    assert 3.0 - terms["n_c_md"].sum() == pytest.approx(f_eq1, abs=1e-12)
    assert constraint_count(counts)[1] == pytest.approx(f_eq1, abs=1e-12)
    np.testing.assert_allclose(diag["delta_f"].to_numpy(dtype=float), 0.0, atol=1e-12)
    # populations per atom of the cell: 8 Si, 14 BS, 4 NBS, 8 S-S, 4 Na of 38 atoms
    atoms = _by_term(terms, "atoms_md")
    for term, n in (("Si(4)", 8), ("S:BS", 14), ("S:NBS", 4), ("S:S-S", 8), ("Na", 4)):
        assert atoms[term] == pytest.approx(n / 38)
        assert _by_term(terms, "atoms_ideal")[term] == pytest.approx(n / 38)
    # Si: r/2 = 2 stretching + 2r-3 = 5 bending per Si
    assert _by_term(terms, "stretching_md")["Si(4)"] == pytest.approx(2 * 8 / 38)
    assert _by_term(terms, "bending_md")["Si(4)"] == pytest.approx(5 * 8 / 38)
    assert list(diag.columns) == list(DIAGNOSTIC_COLUMNS)


@pytest.mark.parametrize(
    "x, m", [(0.0, 2.0), (0.1, 28 / 9), (0.2, 3.0), (1 / 3, 2.0), (0.5, 3.0), (0.5, 1.5)]
)
def test_ideal_terms_sum_to_eq1(x: float, m: float) -> None:
    terms = ideal_terms(x, m)
    n_c = sum(t.n_c for t in terms.values())
    assert 3.0 - n_c == pytest.approx(eq1_f(x, m), abs=1e-12)


@pytest.mark.parametrize("x, m", [(0.05, 2.0), (0.1, 3.5), (0.2, 5.0), (1 / 3, 4.0)])
def test_ideal_populations_are_the_building_blocks(x: float, m: float) -> None:
    # physics.md §6: p4 = 2(1-3x)/(m(1-x)), p3 = 4x/(m(1-x)), p2 = 1 - 2/m
    p4, p3, p2 = 2 * (1 - 3 * x) / (m * (1 - x)), 4 * x / (m * (1 - x)), 1 - 2 / m
    n_blocks = m * (1 - x) / 2
    pop = ideal_populations(x, m)
    assert pop["S:S-S"] == pytest.approx(2 * p2 * n_blocks)
    assert pop["S:NBS"] == pytest.approx(p3 * n_blocks)
    assert pop["S:BS"] == pytest.approx((4 * p4 + 3 * p3) / 2 * n_blocks)


def test_ideal_populations_reject_too_little_sulfur() -> None:
    with pytest.raises(ValueError, match="fewer S"):
        ideal_populations(0.6, 0.5)


def test_overcoordinated_si_gives_a_negative_gap_from_si() -> None:
    counts = overcoordinated_counts()
    diag = diagnostic_from_counts(counts, x_requested=0.2, m_requested=3.0)
    d = _by_term(diag, "delta_f")
    gap = constraint_count(counts)[1] - F_EQ1_02_3
    assert gap < 0  # more constraints than eq 1: the MD network is more rigid
    assert d.sum() == pytest.approx(gap, abs=1e-12)
    # 4 Si go from 7 to 9.5 constraints, 4 S from 2 (BS) to 4.5 (3 Si): -10 - 10 + 10 (Si(4))
    assert d["Si(5)"] == pytest.approx(-4 * 9.5 / 38)
    assert d["Si(4)"] == pytest.approx(4 * 7 / 38)
    assert d["S:3Si"] == pytest.approx(-4 * 4.5 / 38)
    assert d["Si(4)"] + d["Si(5)"] < 0 and d["S:BS"] > 0
    assert d["Na"] == pytest.approx(0.0, abs=1e-15) and d["unresolved"] == 0.0


def test_table_reconstruction_matches_exact_counts() -> None:
    for counts in (ideal_counts(), overcoordinated_counts()):
        row = frame_topology(counts) | {"x": 0.2, "m": 3.0, "x_achieved": 0.2, "m_achieved": 3.0}
        table, _, _ = md_terms_from_topology(row)
        exact = md_terms_from_counts(counts)
        for t in TERMS:
            assert table[t].n_c == pytest.approx(exact[t].n_c, abs=1e-12), t
        assert table["unresolved"].n_c == pytest.approx(0.0, abs=1e-12)


def test_unresolved_term_closes_the_sum_when_assumptions_fail() -> None:
    # a 1-fold Si (lumped into si_cn_le2, assumed 2-fold) and a 4-fold 3Si-class S
    counts = counts_of([1] + [4] * 7, [2] * 12 + [4] + [1] * 5 + [0] * 8, [0] * 18 + [2] * 8, 4)
    row = frame_topology(counts) | {"x": 0.2, "m": 3.0}
    table, _, _ = md_terms_from_topology(row)
    assert abs(table["unresolved"].n_c) > 1e-3
    assert sum(t.n_c for t in table.values()) == pytest.approx(row["n_constraints"], abs=1e-12)


def test_mixed_one_and_two_fold_chain_s_is_exact() -> None:
    # S2 dimers held only by each other: S-S atoms with r = 1 (terminal) next to chain S
    counts = counts_of([4] * 8, [2] * 14 + [1] * 4 + [0] * 8, [0] * 18 + [1] * 4 + [2] * 4, 4)
    row = frame_topology(counts) | {"x": 0.2, "m": 3.0}
    table, _, _ = md_terms_from_topology(row)
    assert table["S:S-S"].n_c == pytest.approx(md_terms_from_counts(counts)["S:S-S"].n_c)
    assert table["unresolved"].n_c == pytest.approx(0.0, abs=1e-12)


def test_campaign_table_diagnostic_and_summary() -> None:
    topo = topology_rows()
    diag = constraint_diagnostic(topo)
    assert set(diag["stage"]) == {"glass"}
    summary = gap_summary(diag)
    assert len(summary) == 2
    for _, s in summary.iterrows():
        rows = topo[(topo["m"] == s["m"]) & (topo["stage"] == "glass")]
        assert s["f_md"] == pytest.approx(rows["f_md"].mean(), abs=1e-12)
        assert s["gap"] == pytest.approx(s["f_md"] - eq1_f(s["x"], s["m"]), abs=1e-12)
        parts = sum(s[f"delta_f_{p}"] for p in ("Si", "S", "Na", "unresolved", "composition"))
        assert parts == pytest.approx(s["gap"], abs=1e-12)
        assert s["gap"] < 0
    m3 = diag[diag["m"] == 3.0]
    assert (m3["n_runs"] == 2).all()
    assert gap_summary(diag).set_index("m").loc[2.0, "largest_term"] == "Si(>=6)"


def test_composition_term_for_off_target_cells() -> None:
    row = frame_topology(ideal_counts()) | {"x": 0.21, "m": 3.0, "x_achieved": 0.2,
                                            "m_achieved": 3.0, "campaign": "t", "stage": "glass",
                                            "T_K": 300.0}  # fmt: skip
    diag = constraint_diagnostic(pd.DataFrame([row]))
    comp = _by_term(diag, "delta_f")["composition"]
    assert comp == pytest.approx(F_EQ1_02_3 - eq1_f(0.21, 3.0))
    s = gap_summary(diag).iloc[0]
    assert s["gap"] == pytest.approx(comp, abs=1e-12)  # ideal cell: only the composition shift


def test_bad_tables_name_the_missing_columns() -> None:
    with pytest.raises(KeyError, match="mean_r"):
        constraint_diagnostic(topology_rows().drop(columns=["mean_r"]))
    assert constraint_diagnostic(topology_rows().iloc[0:0]).empty
