"""Known-answer tests of glassflow.analysis.structure: g(r), bond angles, S(k) and the tables."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from scipy.spatial import cKDTree

from glassflow.analysis.structure import pair_correlation as pcor
from glassflow.analysis.structure import structure_factor as sfac
from glassflow.analysis.structure import tables as stt
from glassflow.analysis.structure.angles import angle_distribution, angle_peak, bond_angles
from glassflow.analysis.structure.geometry import frame_stride
from glassflow.analysis.structure.settings import StructureSettings

KEYS = {"campaign": "t", "x": 0.5, "m": 2.0, "T_K": 300.0, "replica": 1, "stage": "glass"}


def _crystal(name: str, kind: str, a: float, reps: int = 4, jitter: float = 0.0, seed: int = 0):
    atoms = bulk(name, kind, a=a, cubic=True).repeat((reps, reps, reps))
    symbols = atoms.get_chemical_symbols()
    species = tuple(dict.fromkeys(symbols))
    types = np.array([species.index(s) for s in symbols])
    pos = atoms.positions + np.random.default_rng(seed).normal(0, jitter, atoms.positions.shape)
    return pos, types, species, atoms.cell.lengths()


def _hard_core(n: int, d: float, box: float, rng: np.random.Generator) -> np.ndarray:
    """Random sequential addition of n points with minimum separation d (liquid-like)."""
    x = np.zeros((0, 3))
    while len(x) < n:
        c = rng.random((400, 3)) * box
        if len(x):
            dist, _ = cKDTree(x, boxsize=box).query(c)
            c = c[dist >= d]
        p = cKDTree(c, boxsize=box).query_pairs(d, output_type="ndarray")
        c = np.delete(c, np.unique(p[:, 1]), axis=0)
        x = np.concatenate([x, c])[:n]
    return x


def test_random_points_gr_and_sk_tend_to_one():
    rng = np.random.default_rng(3)
    box = np.array([20.0, 22.0, 24.0])
    pos = rng.random((6, 2000, 3)) * box
    types = rng.integers(0, 2, 2000)
    pdist = pcor.pair_distribution(pos, types, ("A", "B"), box, 8.0, 0.05)
    far = pdist.r_A > 3.0
    for a in range(2):
        for b in range(2):
            assert abs(pdist.g[a, b, far].mean() - 1.0) < 0.01
    # running CN equals rho_b 4/3 pi r^3
    nb = np.count_nonzero(types == 1)
    expect = nb / np.prod(box) * 4 / 3 * np.pi * pdist.edges_A[-1] ** 3
    assert pdist.cn[0, 1, -1] == pytest.approx(expect, rel=0.02)
    k = np.arange(2.0, 10.0, 0.1)
    sf = sfac.structure_factor_fourier(pdist, k)
    assert np.abs(sf - 1).mean() < 0.05
    kd, sd, nvec = sfac.structure_factor_direct(pos, types, ("A", "B"), box, 0.5, 6.0, 0.2, 100)
    assert np.all(nvec > 0)
    assert abs(sd.mean() - 1.0) < 0.03


def test_rocksalt_distances_and_coordination():
    pos, types, species, box = _crystal("NaCl", "rocksalt", 5.64, jitter=0.03)
    pdist = pcor.pair_distribution(pos, types, species, box)
    peaks, cuts = pcor.find_cutoffs(pdist)
    assert peaks["Na-Cl"] == pytest.approx(5.64 / 2, abs=0.03)
    assert peaks["Na-Na"] == pytest.approx(5.64 / np.sqrt(2), abs=0.03)
    assert pcor.coordination_number(pdist, "Na", "Cl", cuts["Na-Cl"]) == pytest.approx(6.0)
    assert pcor.coordination_number(pdist, "Cl", "Na", cuts["Na-Cl"]) == pytest.approx(6.0)
    assert pcor.coordination_number(pdist, "Na", "Na", cuts["Na-Na"]) == pytest.approx(12.0)
    # overrides win, in either pair order
    _, cuts2 = pcor.find_cutoffs(pdist, {"Cl-Na": 3.1})
    assert cuts2["Na-Cl"] == 3.1


def test_diamond_peak_and_fourfold():
    a = 5.431
    pos, types, species, box = _crystal("Si", "diamond", a)
    pdist = pcor.pair_distribution(pos, types, species, box)
    peaks, cuts = pcor.find_cutoffs(pdist)
    assert peaks["Si-Si"] == pytest.approx(a * np.sqrt(3) / 4, abs=0.02)
    assert pcor.coordination_number(pdist, "Si", "Si", cuts["Si-Si"]) == pytest.approx(4.0)
    theta = bond_angles(pos, types, species, box, ("Si", "Si", "Si"), cuts)
    assert theta.size == 6 * len(types)  # 4 choose 2 angles per atom
    assert np.allclose(theta, np.degrees(np.arccos(-1 / 3)), atol=0.01)
    centres, dens = angle_distribution(theta)
    assert (dens * 1.0).sum() == pytest.approx(1.0)
    assert angle_peak(centres, dens) == pytest.approx(109.5, abs=1.0)


def test_mixed_triplet_angles_rocksalt():
    pos, types, species, box = _crystal("NaCl", "rocksalt", 5.64)
    cuts = {"Na-Cl": 3.5, "Na-Na": 4.5, "Cl-Cl": 4.5}
    theta = bond_angles(pos, types, species, box, ("Cl", "Na", "Cl"), cuts)
    # octahedron: 12 right angles and 3 straight angles per Na
    assert theta.size == 15 * np.count_nonzero(types == 0)
    assert np.count_nonzero(np.isclose(theta, 90.0, atol=0.01)) == 12 * 256


@pytest.mark.slow
def test_fourier_and_direct_routes_agree_on_liquid_like_configuration():
    rng = np.random.default_rng(1)
    box = 28.0
    pos = np.array([_hard_core(1500, 1.9, box, rng) for _ in range(16)])
    types = np.arange(1500) % 2
    pdist = pcor.pair_distribution(pos, types, ("A", "B"), [box] * 3)
    kd, sd, _ = sfac.structure_factor_direct(pos, types, ("A", "B"), [box] * 3, 1.0, 10.0, 0.1, 200)
    sf = sfac.structure_factor_fourier(pdist, kd, "lorch")
    sel = (kd > 2.0) & (kd < 8.0)
    diff = np.abs(sf[:, :, sel] - sd[:, :, sel])
    assert diff.mean() < 0.05
    assert diff.max() < 0.15
    assert sd[:, :, sel].max() > 1.2  # there is structure to compare


def test_direct_route_finds_bragg_peak():
    pos, types, species, box = _crystal("NaCl", "rocksalt", 5.64)
    kd, sd, _ = sfac.structure_factor_direct(pos, types, species, box, 0.5, 4.0, 0.05, 500)
    s_tot = sfac.total_structure_factor(sd, [0.5, 0.5], [1.0, 1.0])
    k200 = 2 * np.pi * 2 / 5.64
    i = int(np.argmax(s_tot))
    assert kd[i] == pytest.approx(k200, abs=0.03)
    assert s_tot[i] > 10  # shell average of the Bragg vectors and their neighbours


def test_xray_form_factor_and_neutron_lengths():
    f = sfac.xray_form_factors(["Na", "Si", "S"], [0.0, 4.0])
    assert f[0, 0] == pytest.approx(11.0, abs=0.05)
    assert f[1, 0] == pytest.approx(14.0, abs=0.05)
    assert f[2, 0] == pytest.approx(16.0, abs=0.05)
    assert np.all(f[:, 1] < f[:, 0])
    b = sfac.neutron_scattering_lengths(["Na", "Si", "S"])
    assert b == pytest.approx([3.63, 4.1491, 2.847], abs=0.01)


# International Tables for Crystallography Vol. C (1992), Table 6.1.1.4: coefficients of the
# analytic approximation f0(s) = c + sum_i a_i exp(-b_i s^2), s = sin(theta)/lambda in 1/Å,
# to the neutral-atom form factors of its Table 6.1.1.1 (the Cromer-Mann fit, a reprint of
# International Tables for X-ray Crystallography Vol. IV (1974), Table 2.2B). xraydb uses the
# independent five-Gaussian fit of Waasmaier & Kirfel (1995) to the same tabulated values.
IT_VOL_C_6114 = {
    "Na": ((4.7626, 3.1736, 1.2674, 1.1128), (3.2850, 8.8422, 0.3136, 129.424), 0.6760),
    "Si": ((6.2915, 3.0353, 1.9891, 1.5410), (2.4386, 32.3337, 0.6785, 81.6937), 1.1407),
    "S": ((6.9053, 5.2034, 1.4379, 1.5863), (1.4679, 22.2151, 0.2536, 56.1720), 0.8669),
}


def test_xray_form_factors_match_international_tables_at_finite_k():
    s = np.array([0.1, 0.3, 0.5])  # sin(theta)/lambda, 1/Å
    k = 4.0 * np.pi * s  # k = 4 pi sin(theta)/lambda
    f = sfac.xray_form_factors(["Na", "Si", "S"], k)
    for row, el in zip(f, ("Na", "Si", "S"), strict=True):
        a, b, c = IT_VOL_C_6114[el]
        expect = c + sum(ai * np.exp(-bi * s**2) for ai, bi in zip(a, b, strict=True))
        # the two fits agree with the tabulated values (and each other) to ~0.01 electron;
        # f0 falls by 1-2 electrons per 0.1 1/Å of s here, so a wrong k <-> s factor fails
        np.testing.assert_allclose(row, expect, atol=0.01, err_msg=el)
    assert f[0] == pytest.approx([9.76, 6.88, 4.29], abs=0.01)  # Na, from the coefficients


UNIT_N = ((1, 0, 0), (0, 1, 0), (0, 0, 1))  # |n| = 1, one of each +-n pair


def _plane_wave_partials(pos, types, box, n_vectors):
    """Faber-Ziman S_ab (2, 2) averaged over the given k = 2 pi n / L, summed atom by atom:

    S_ab = 1 + N / (N_a N_b) [Re(rho_a rho_b*) - delta_ab N_a], rho_a = sum_{j in a} e^{ik.r_j}.
    """
    n_tot = len(types)
    counts = np.bincount(types, minlength=2)
    s = np.zeros((2, 2))
    for n in n_vectors:
        k = 2.0 * np.pi * np.asarray(n) / box
        rho = [np.exp(1j * pos[types == a] @ k).sum() for a in (0, 1)]
        for a in (0, 1):
            for b in (0, 1):
                self_term = counts[a] if a == b else 0.0
                corr = (rho[a] * np.conj(rho[b])).real - self_term
                s[a, b] += 1.0 + n_tot / (counts[a] * counts[b]) * corr
    return s / len(n_vectors)


def _faber_ziman(s_ab, c, f):
    """physics.md §5: S - 1 = sum_ab c_a c_b f_a f_b (S_ab - 1) / (sum_a c_a f_a)^2."""
    pairs = [(a, b) for a in range(len(c)) for b in range(len(c))]
    num = sum(c[a] * c[b] * f[a] * f[b] * (s_ab[a, b] - 1.0) for a, b in pairs)
    return 1.0 + num / (c @ f) ** 2


def test_total_structure_factor_with_cross_terms_matches_plane_wave_sum():
    box = np.array([10.0, 10.0, 10.0])
    pos = np.array(
        [[1.0, 2.0, 3.0], [4.5, 1.0, 7.0], [8.0, 6.5, 2.5], [3.0, 8.0, 5.0], [6.0, 4.0, 9.0]]
    )
    types = np.array([0, 0, 0, 1, 1])  # 3 A, 2 B
    # the shell 0.5 <= |k| < 0.7 1/Å holds only |n| = 1 (three vectors in the half space)
    k, s_ab, nvec = sfac.structure_factor_direct(pos, types, ("A", "B"), box, 0.5, 0.7, 0.2)
    assert nvec.tolist() == [3] and k == pytest.approx([2.0 * np.pi / 10.0])
    by_hand = _plane_wave_partials(pos, types, box, UNIT_N)
    np.testing.assert_allclose(s_ab[:, :, 0], by_hand, atol=1e-5)
    assert abs(by_hand[0, 1] - 1.0) > 0.3  # a real cross term, not zeroed
    c = np.array([3.0, 2.0]) / 5.0
    f = np.array([11.0, 16.0])
    expect = _faber_ziman(by_hand, c, f)
    # the same number from the scattered amplitude, with no partials at all:
    # S = 1 + (<|sum_j f_j e^{ik.r_j}|^2> / N - <f^2>) / <f>^2
    amp2 = np.mean(
        [
            abs(np.sum(f[types] * np.exp(2j * np.pi * pos @ (np.array(n) / box)))) ** 2
            for n in UNIT_N
        ]
    )
    assert expect == pytest.approx(1.0 + (amp2 / 5 - c @ f**2) / (c @ f) ** 2, rel=1e-12)
    assert sfac.total_structure_factor(s_ab, c, f)[0] == pytest.approx(expect, abs=1e-5)
    # k-dependent weights (S, nk), as the X-ray total uses them
    f2 = np.array([[11.0, 7.0], [16.0, 3.0]])
    tot2 = sfac.total_structure_factor(np.repeat(s_ab, 2, axis=2), c, f2)
    assert tot2 == pytest.approx([expect, _faber_ziman(by_hand, c, f2[:, 1])], abs=1e-5)


def test_total_structure_factor_and_interference():
    s = np.ones((2, 2, 5))
    s[0, 0] = 2.0
    tot = sfac.total_structure_factor(s, [0.5, 0.5], [2.0, 0.0])
    assert np.allclose(tot, 2.0)
    assert np.allclose(sfac.interference_function(np.arange(5.0), tot), np.arange(5.0))


def test_prepeak():
    k = np.arange(0.3, 3.0, 0.01)
    s = 1 + 0.5 * np.exp(-((k - 1.0) ** 2) / 0.02) + 0.01 * k
    pp = sfac.prepeak(k, s)
    assert pp.k_inv_A == pytest.approx(1.0, abs=0.01)
    assert pp.length_A == pytest.approx(7.7, abs=0.1)
    assert pp.is_local_max
    assert not sfac.prepeak(k, k).is_local_max


def test_settings_reject_unknown_keys():
    cfg = StructureSettings.from_dict({"dr_A": 0.05, "cutoffs_A": {"Si-S": 2.8}})
    assert cfg.dr_A == 0.05 and cfg.cutoffs_A == {"Si-S": 2.8}
    assert cfg.r_max_for([41.277] * 3) == 10.0
    assert cfg.r_max_for([12.0] * 3) == 6.0
    with pytest.raises(ValueError, match="analysis.structure.bogus, analysis.structure.dr"):
        StructureSettings.from_dict({"bogus": 1, "dr": 2})


def test_frame_stride():
    assert frame_stride(10, 50).tolist() == list(range(10))
    assert len(frame_stride(1000, 50)) == 50
    assert len(frame_stride(101, 50)) <= 50


def test_read_lammps_data(tmp_path):
    text = """LAMMPS data file via write_data

4 atoms
3 atom types

0.0 10.0 xlo xhi
-5.0 5.0 ylo yhi
0.0 12.0 zlo zhi

Masses

1 22.98977
2 28.0855
3 32.06

Atoms # charge

3 3 -1.2 1.0 2.0 3.0 0 0 0
1 1 0.6 0.5 -4.0 1.0 0 0 0
2 2 2.4 9.5 4.0 11.0 1 0 0
4 3 -1.2 2.0 0.0 6.0 0 0 0

Velocities

1 0 0 0
"""
    p = tmp_path / "glass.data"
    p.write_text(text)
    pos, types, box = stt.read_lammps_data(str(p), ["Na", "Si", "S"])
    assert box.tolist() == [10.0, 10.0, 12.0]
    assert types.tolist() == [0, 1, 2, 2]
    assert pos[0].tolist() == [0.5, 1.0, 1.0]
    assert pos[2].tolist() == [1.0, 7.0, 3.0]


def test_analyse_configurations_tables():
    # a small SiS2-like crystal stand-in: zincblende-type Si-S with Na in rocksalt voids is
    # overkill; use rocksalt NaS + random Si to exercise every table
    pos, types, species, box = _crystal("NaCl", "rocksalt", 5.64, reps=3, jitter=0.05)
    sp = ("Na", "Si", "S")
    t = np.where(types == 0, 0, 2)
    t[::7] = 1
    cfg = StructureSettings.from_dict({"max_k_vectors_per_shell": 16, "k_max_inv_A": 6.0})
    out = stt.analyse_configurations(pos, t, sp, box, KEYS, cfg)
    assert set(out) == {"gr", "sk", "angles", "summary", "topology"}
    for df in out.values():
        assert list(df.columns[:6]) == list(stt.KEY_COLUMNS)
    assert set(out["sk"]["method"]) == {"fourier", "direct"}
    assert {"xray", "neutron", "Na-Na", "Si-S"} <= set(out["sk"]["pair"])
    assert len(out["summary"]) == 1 and len(out["topology"]) == 1
    assert out["topology"]["f_mean_field"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        stt.analyse_configurations(pos, t, sp, box, {**KEYS, "stage": "melt"}, cfg)


def test_trajectory_frames_roundtrip(tmp_path):
    from glassflow.io.trajectory import write_trajectory

    rng = np.random.default_rng(0)
    pos = rng.random((120, 30, 3)) * 10 + 10.0  # unwrapped, outside the box
    path = write_trajectory(
        tmp_path / "t.gtrj", ["Na", "S"], np.arange(30) % 2, pos, [10.0] * 3, np.arange(120) * 0.1
    )
    frames, types, species, box = stt.load_trajectory_frames(str(path), 50)
    assert frames.shape[0] <= 50 and species == ("Na", "S") and box.tolist() == [10.0] * 3
    assert np.allclose(frames[1], pos[3])


def _write_data_file(path, pos, types, box):
    lines = ["LAMMPS data file via write_data", "", f"{len(types)} atoms", "3 atom types", ""]
    lines += [f"0.0 {box[i]} {a}lo {a}hi" for i, a in enumerate("xyz")]
    lines += ["", "Atoms # charge", ""]
    lines += [
        f"{k + 1} {t + 1} 0.0 {x:.6f} {y:.6f} {z:.6f} 0 0 0"
        for k, (t, (x, y, z)) in enumerate(zip(types, pos, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")


def pd_read(path):
    import pandas as pd

    return pd.read_parquet(path)


def test_structure_scripts_end_to_end(tmp_path):
    import json
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    root = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    pos, types, _, box = _crystal("NaCl", "rocksalt", 5.64, reps=3, jitter=0.05)
    t = np.where(types == 0, 0, 2)
    t[::7] = 1
    _write_data_file(tmp_path / "glass.data", pos, t, box)
    (tmp_path / "run.json").write_text(json.dumps({k: KEYS[k] for k in KEYS if k != "stage"}))
    names = ("gr", "sk", "angles", "summary", "topology")
    from glassflow.analysis.runs import structure_of_glass, structure_settings, write_tables

    settings = structure_settings({"k_max_inv_A": 5.0, "max_k_vectors_per_shell": 8}, 1)
    keys = {k: KEYS[k] for k in KEYS if k != "stage"}
    tables = structure_of_glass(tmp_path / "glass.data", ("Na", "Si", "S"), keys, settings)
    write_tables(tables, {n: tmp_path / f"{n}.parquet" for n in names})
    for n in names:
        assert (tmp_path / f"{n}.parquet").stat().st_size > 0
    assert set(pd_read(tmp_path / "summary.parquet")["stage"]) == {"glass"}
    figs = SimpleNamespace(
        input=SimpleNamespace(
            **{n: [str(tmp_path / f"{n}.parquet")] for n in ("gr", "sk", "angles", "topology")}
        ),
        output=SimpleNamespace(
            **{f"{n}_png": str(tmp_path / f"{n}.png") for n in ("gr", "sk", "angles", "topology")}
        ),
        log=[str(tmp_path / "fig.log")],
    )
    runpy.run_path(str(root / "structure_figures.py"), init_globals={"snakemake": figs})
    for n in ("gr", "sk", "angles", "topology"):
        assert (tmp_path / f"{n}.png").stat().st_size > 1000

    import pandas as pd

    from glassflow.figures.structure import plot_topology_vs_m

    topo = pd.read_parquet(tmp_path / "topology.parquet")
    topo2 = topo.assign(m=3.0)
    out = plot_topology_vs_m(pd.concat([topo, topo2]), tmp_path / "campaign_topology.png")
    assert out.stat().st_size > 1000
