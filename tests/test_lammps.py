"""LAMMPS command lines for every launcher x accelerator, and rendered inputs that run."""

import itertools
import subprocess

import pytest

from glassflow.config import build_campaign
from glassflow.lammps import (
    Engine,
    accelerator_flags,
    force_field_context,
    lammps_command,
    quench_stages,
    render_melt_quench,
    render_production,
)
from glassflow.lammps_io import dump_to_trajectory, parse_thermo
from glassflow.trajectory import open_trajectory

EXPECTED_FLAGS = {
    ("none", 1, 1): [],
    ("omp", 4, 1): ["-sf", "omp", "-pk", "omp", "4"],
    ("gpu", 1, 2): ["-sf", "gpu", "-pk", "gpu", "2"],
    ("kokkos", 1, 1): ["-k", "on", "g", "1", "-sf", "kk"],
    ("kokkos", 8, 2): ["-k", "on", "g", "2", "t", "8", "-sf", "kk"],
    ("kokkos", 4, 0): ["-k", "on", "t", "4", "-sf", "kk"],
}
EXPECTED_PREFIX = {
    ("none", 1): [],
    ("mpiexec", 4): ["mpiexec", "-n", "4"],
    ("srun", 2): ["srun", "--ntasks", "2"],
}


@pytest.mark.parametrize(
    ("acc", "launch"), list(itertools.product(EXPECTED_FLAGS, EXPECTED_PREFIX))
)
def test_command_for_every_launcher_and_accelerator(acc, launch):
    accel, threads, gpus = acc
    launcher, ranks = launch
    eng = Engine(("lmp",), launcher, ranks, accel, threads, gpus)
    cmd = lammps_command(eng, "in.production.lmp", resolve=False)
    assert cmd == [
        *EXPECTED_PREFIX[launch],
        "lmp",
        *EXPECTED_FLAGS[acc],
        "-in",
        "in.production.lmp",
        "-log",
        "log.lammps",
        "-nocite",
    ]


def test_bad_engine_settings_rejected():
    with pytest.raises(ValueError, match="engine.accelerator"):
        accelerator_flags("cuda")
    with pytest.raises(ValueError, match="engine.gpus"):
        accelerator_flags("gpu", gpus=0)
    with pytest.raises(ValueError, match="engine.mpi_ranks"):
        lammps_command(Engine(mpi_ranks=2), "in.lmp", resolve=False)
    with pytest.raises(ValueError, match="command word"):
        lammps_command(
            Engine(
                command=(
                    "lmp",
                    "-in x; rm",
                )
            ),
            "in.lmp",
            resolve=False,
        )


def test_quench_stages(tiny_config, schema, root):
    p = build_campaign(tiny_config, schema, root).config["protocol"]
    (single,) = quench_stages(p)
    assert single["T_start_K"] == 3000 and single["T_end_K"] == 300
    assert single["steps"] == round(2700 / 3000 * 1000)
    p = dict(p, quench=dict(p["quench"], mode="three_stage"))
    three = quench_stages(p)
    assert [s["name"] for s in three] == ["quench_fast1", "quench_slow", "quench_fast2"]
    assert three[1]["steps"] == round((1200 - 400) / 10 * 1000)


@pytest.fixture
def tiny_inputs(tiny_config, schema, root, tmp_path):
    camp = build_campaign(tiny_config, schema, root)
    cr = camp.compositions["x0.50_m3.00"]
    cfg = camp.config
    ctx = force_field_context(
        camp.potential, cr.composition.species, cr.charges_used, cfg["engine"], cfg["protocol"]
    )
    ctx.update(label=cr.label, replica=1, seed=camp.seed(cr.label, 1), rerun_command="lmp -in x")
    return camp, cr, ctx, cfg


def test_rendered_input_is_readable_and_formatted(tiny_inputs):
    _, cr, ctx, cfg = tiny_inputs
    text = render_melt_quench(ctx, cfg["protocol"])
    assert "pair_style      buck/coul/long 7.0000" in text
    assert "pair_coeff 1 1 175918407.400000 0.080000 0.000000  # Na-Na" in text
    assert "pair_coeff 3 3 482620.301000 0.284000 3317.512000  # S-S" in text
    q_s = cr.charges_used["S"]
    assert f"set             type 3 charge {q_s:.8f}" in text
    assert "kspace_style    ewald 1.000e-04" in text
    assert "{{" not in text and "{%" not in text


@pytest.mark.lammps
def test_rendered_inputs_run_a_few_steps(tiny_inputs, lmp, tmp_path):
    camp, cr, ctx, cfg = tiny_inputs
    from glassflow.cell import build_random_cell, write_lammps_data

    atoms = build_random_cell(
        cr.composition, cr.charges_used, camp.potential.masses, cr.box_A, 1.5, 3
    )
    write_lammps_data(atoms, tmp_path / "cell.data", cr.composition.species)
    p = dict(
        cfg["protocol"],
        melt_ps=0.02,
        relax_ps=0.02,
        quench=dict(cfg["protocol"]["quench"], rate_K_ps=1e5),
    )
    (tmp_path / "in.mq").write_text(render_melt_quench(ctx, p))
    run = subprocess.run(
        [lmp, "-in", "in.mq", "-log", "log.lammps"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-2000:]
    thermo = parse_thermo(tmp_path / "log.lammps")
    assert {"melt", "quench", "relax"} <= set(thermo["stage"])
    assert (tmp_path / "glass.data").is_file()

    prod = tmp_path / "prod"
    prod.mkdir()
    p = dict(p, equilibration_ps=0.01, production_ps=0.05, dump_interval_fs=10, ramp_rate_K_ps=1e5)
    (prod / "in.prod").write_text(render_production(ctx, p, 2000, "../glass.data"))
    run = subprocess.run(
        [lmp, "-in", "in.prod", "-log", "log.lammps"], cwd=prod, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-2000:]
    species = cr.composition.species
    n = dump_to_trajectory(
        prod / "dump.0.lammpstrj",
        prod / "t.gtrj",
        species,
        [cr.charges_used[e] for e in species],
        [camp.potential.masses[e] for e in species],
        1.0,
    )
    assert n == 6  # steps 0, 10, ..., 50
    traj = open_trajectory(prod / "t.gtrj", verify=True)
    assert traj.n_atoms == cr.composition.n_atoms
    assert traj.times_ps.tolist() == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert traj.box_A == pytest.approx([cr.box_A] * 3, abs=1e-6)
    assert traj.has_velocities
    assert sorted(set(traj.types.tolist())) == [0, 1, 2]
    prod_thermo = parse_thermo(prod / "log.lammps")
    assert prod_thermo.loc[prod_thermo.stage == "production", "step"].tolist()[0] == 0
