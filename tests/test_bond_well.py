"""A Morse bonding well placed on a Buckingham + Coulomb pair, and the fit of its depth.

Expected values come from the formulas written out here with their constants, not from
the code under test: the Coulomb constant of LAMMPS units real, the Buckingham and Morse
forms, central finite differences for slopes.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from glassflow.campaign.bond_well_fit import best_depth, candidate_file, check_fit_spec
from glassflow.md.bond_well import morse_r0_for_bond, pair_energy
from glassflow.md.potential import load_potential

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "config/potentials/sorensen2023.yaml"
KE = 332.06371  # kcal Å / (mol e²), LAMMPS units real
KCAL_PER_EV = 23.060548
# Sørensen 2023 S-S: A (kcal/mol), rho (Å), C (kcal Å^6/mol)
A, RHO, C = 482620.301, 0.284, 3317.512


def buck_ss(r):
    return A * np.exp(-r / RHO) - C / r**6


def morse(r, d0, alpha, r0):
    return d0 * (np.exp(-2 * alpha * (r - r0)) - 2 * np.exp(-alpha * (r - r0)))


def fd(f, r, h=1e-5):
    return (f(r + h) - f(r - h)) / (2 * h)


@pytest.fixture(scope="module")
def base():
    return load_potential(BASE)


def test_bare_pair_energy_is_buckingham_plus_coulomb(base):
    r = np.array([2.0, 2.5, 3.3, 5.0])
    e, de = pair_energy(base, "S", "S", -1.2, -1.2, r)
    expected = buck_ss(r) + KE * 1.44 / r
    assert e == pytest.approx(expected, rel=1e-12)
    assert de == pytest.approx(fd(lambda x: buck_ss(x) + KE * 1.44 / x, r), rel=1e-6)
    # about +21 eV at 2.1 Å: why a bond needs a deep well
    e21, _ = pair_energy(base, "S", "S", -1.2, -1.2, np.array([2.1]))
    assert e21[0] / KCAL_PER_EV == pytest.approx(21.1, abs=0.2)


@pytest.mark.parametrize(
    ("alpha", "d0_eV", "q"), [(8.0, 11.0, 0.0), (5.0, 25.0, 0.0), (8.0, 12.0, -1.2)]
)
def test_morse_places_the_minimum_at_the_bond_length(base, alpha, d0_eV, q):
    d0 = d0_eV * KCAL_PER_EV
    r0 = morse_r0_for_bond(base, "S", "S", q, q, 2.10, d0, alpha)

    def total(r):
        return buck_ss(r) + KE * q * q / r + morse(r, d0, alpha, r0)

    assert fd(total, np.array([2.10]))[0] == pytest.approx(0.0, abs=1e-4 * d0)
    curvature = (total(2.10 + 1e-3) - 2 * total(2.10) + total(2.10 - 1e-3)) / 1e-6
    assert curvature > 0
    assert r0 < 2.10  # the Morse pulls outward of its own minimum


def test_too_shallow_a_well_is_refused_with_the_depth_it_needs(base):
    slope = fd(buck_ss, np.array([2.10]))[0]  # kcal/(mol Å), negative
    need_eV = -2 * slope / 8.0 / KCAL_PER_EV  # the Morse force peaks at alpha D0 / 2
    with pytest.raises(ValueError, match=rf"at least {need_eV:.2f} eV"):
        morse_r0_for_bond(base, "S", "S", 0.0, 0.0, 2.10, 0.99 * need_eV * KCAL_PER_EV, 8.0)
    morse_r0_for_bond(base, "S", "S", 0.0, 0.0, 2.10, 1.01 * need_eV * KCAL_PER_EV, 8.0)


def test_candidate_file_has_the_well_and_passes_the_checks(tmp_path, base):
    out = tmp_path / "cand.yaml"
    p = candidate_file(BASE, "S-S", 11.0, 8.0, 2.10, 4.0, out, "cand", "test")
    pot = load_potential(out)
    term = pot.overlay[frozenset(("S",))]
    assert term.D0_kcal_mol == pytest.approx(11.0 * KCAL_PER_EV, rel=1e-6)
    assert term.r0_A == pytest.approx(p["r0_A"], abs=1e-6)
    # short-range part (no Coulomb) has its minimum at the bond length
    r = np.linspace(1.9, 2.4, 5001)
    e, _ = pair_energy(pot, "S", "S", 0.0, 0.0, r)
    assert r[np.argmin(e)] == pytest.approx(2.10, abs=2e-4)
    # the other pairs are untouched
    assert pot.base_pairs == base.base_pairs
    # energies of the loaded file = formula with the file's numbers
    e1, _ = pair_energy(pot, "S", "S", -1.2, -1.2, np.array([2.3]))
    expected = buck_ss(2.3) + KE * 1.44 / 2.3 + morse(2.3, 11.0 * KCAL_PER_EV, 8.0, p["r0_A"])
    assert e1[0] == pytest.approx(expected, rel=1e-6)


def test_best_depth_recovers_a_known_minimiser():
    depths = np.array([10.0, 10.5, 11.0, 11.5, 12.0])
    # f_c(D) = t_c + s_c (D - 11.2): the misfit is zero at 11.2 for every composition
    t = np.array([0.1, 0.6, 0.7, 0.85])
    s = np.array([0.05, 0.2, 0.3, 0.1])
    frac = t[None] + s[None] * (depths[:, None] - 11.2)
    d, rms = best_depth(depths, frac, t)
    assert d == pytest.approx(11.2, abs=1e-3)
    assert rms == pytest.approx(0.0, abs=1e-3)
    # one composition off by a constant 0.2: least squares still at 11.2 plus the shift
    # of that composition's slope (analytic minimiser of sum s_c^2 (D - D*_c)^2)
    t2 = t.copy()
    t2[0] += 0.2
    d2, _ = best_depth(depths, frac, t2)
    dstar = np.array([11.2 + 0.2 / 0.05, 11.2, 11.2, 11.2])
    expected = float(np.sum(s**2 * dstar) / np.sum(s**2))
    assert d2 == pytest.approx(min(expected, 12.0), abs=1e-3)


def test_fit_spec_problems_name_the_key():
    spec = yaml.safe_load((ROOT / "config/fits/sorensen2023_ss_morse.yaml").read_text())
    assert check_fit_spec(spec, "spec") == []
    bad = dict(spec, depths_eV=[11.0, 10.0], alpha_per_A=-1, cutoff_A=1.0)
    del bad["pair"]
    problems = "\n".join(check_fit_spec(bad, "spec"))
    assert "'pair' is missing" in problems
    bad["pair"] = "S-S"
    problems = "\n".join(check_fit_spec(bad, "spec"))
    assert "'depths_eV'" in problems and "'alpha_per_A' = -1" in problems
    assert "'cutoff_A'" not in problems  # alpha is bad: the cutoff is not compared
    bad = dict(spec, cutoff_A=2.0, targets={2.0: 1.5}, extra=1)
    problems = "\n".join(check_fit_spec(bad, "spec"))
    assert "'cutoff_A' = 2.0: expected > r_bond_A" in problems
    assert "'targets'" in problems and "unknown key 'extra'" in problems
    # the written file's name and citation obey the potential schema before any MD
    out = dict(spec["output"], citation="x" * 301, name="../escape")
    problems = "\n".join(check_fit_spec(dict(spec, output=out), "spec"))
    assert "'output.citation'" in problems and "at most 300 characters" in problems
    assert "'output.name'" in problems


def test_shipped_fitted_file_has_its_well_where_the_fit_says():
    shipped = ROOT / "config/potentials/sorensen2023_ss_morse.yaml"
    pot = load_potential(shipped)
    term = pot.overlay[frozenset(("S",))]
    fit = yaml.safe_load((ROOT / "config/fits/sorensen2023_ss_morse.yaml").read_text())
    assert term.alpha_per_A == fit["alpha_per_A"]
    assert fit["depths_eV"][0] <= term.D0_kcal_mol / KCAL_PER_EV <= fit["depths_eV"][-1]
    r = np.linspace(1.9, 2.4, 5001)
    sr = buck_ss(r) + morse(r, term.D0_kcal_mol, term.alpha_per_A, term.r0_A)
    assert r[np.argmin(sr)] == pytest.approx(fit["r_bond_A"], abs=2e-4)
    # cut where the term is negligible, the other pairs are Sørensen's
    assert abs(morse(term.cutoff_A, term.D0_kcal_mol, term.alpha_per_A, term.r0_A)) < 1e-4
    assert pot.base_pairs == load_potential(BASE).base_pairs


@pytest.mark.slow
def test_fit_well_scans_chooses_writes_and_resumes(tmp_path, tiny_config, lmp):
    """Tiny end to end: 2 depths x 2 glasses, the chosen file, and a rerun that reuses them."""
    from glassflow.campaign.bond_well_fit import fit_well

    tiny_config["system"] = dict(
        tiny_config.get("system", {}), potential_dir=str(ROOT / "config/potentials")
    )
    tiny_config["engine"] = dict(tiny_config["engine"], command=[lmp])
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(yaml.safe_dump(tiny_config))
    spec = yaml.safe_load((ROOT / "config/fits/sorensen2023_ss_morse.yaml").read_text())
    spec.update(
        campaign=str(campaign),
        depths_eV=[10.2, 12.0],
        targets={2.0: 0.2, 3.0: 0.3},
        workdir=str(tmp_path / "fit"),
        output=dict(spec["output"], file=str(tmp_path / "out" / "well.yaml"), name="well"),
    )
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    schema = ROOT / "workflow/schemas/config.schema.yaml"
    result = fit_well(spec_file, ROOT, schema)
    scan = result["scan"]
    assert len(scan) == 4 and set(scan["D0_eV"]) == {10.2, 12.0}
    assert scan["frac_S_in_SS"].between(0, 1).all() and (scan["si_cn_mean"] > 0).all()
    assert (scan["r0_A"] < 2.10).all()  # the Morse minimum sits inside the bond length
    chosen = load_potential(tmp_path / "out" / "well.yaml")
    d0 = chosen.overlay[frozenset(("S",))].D0_kcal_mol / KCAL_PER_EV
    assert d0 == pytest.approx(result["best"]["D0_eV"], abs=1e-3) and 10.2 <= d0 <= 12.0
    assert len(result["check"]) == 2
    glass = tmp_path / "fit" / "scan_D10.2" / "x0.50_m2.00" / "glass.data"
    stamp = glass.stat().st_mtime_ns
    again = fit_well(spec_file, ROOT, schema)  # an interrupted fit rerun: nothing is redone
    assert glass.stat().st_mtime_ns == stamp
    assert again["best"] == result["best"]
