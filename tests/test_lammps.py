"""LAMMPS command lines for every launcher x accelerator, and rendered inputs that run."""

import itertools
import subprocess

import pytest

from glassflow.config.grid import build_campaign
from glassflow.io.trajectory import open_trajectory
from glassflow.md.lammps import (
    _ENV,
    Engine,
    accelerator_flags,
    force_field_context,
    lammps_command,
    quench_stages,
    render_melt_quench,
    render_production,
    render_production_resume,
)
from glassflow.md.lammps_io import dump_to_trajectory, parse_thermo
from glassflow.safety import check_command, check_element, check_name, lammps_comment

KOKKOS_GPU = ["-pk", "kokkos", "neigh", "half", "newton", "on", "comm", "device"]
EXPECTED_FLAGS = {
    ("none", 1, 1): [],
    ("omp", 4, 1): ["-sf", "omp", "-pk", "omp", "4"],
    ("gpu", 1, 2): ["-sf", "gpu", "-pk", "gpu", "2"],
    ("kokkos", 1, 1): ["-k", "on", "g", "1", "-sf", "kk", *KOKKOS_GPU],
    ("kokkos", 8, 2): ["-k", "on", "g", "2", "t", "8", "-sf", "kk", *KOKKOS_GPU],
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


def test_a_velocity_seed_draws_new_velocities_at_the_start_temperature(tiny_inputs):
    """A replica that reheats another's glass: `velocity create` at the ramp's start
    (relax_T_K for a reheat) with its seed, before the momentum is zeroed."""
    _, _, ctx, cfg = tiny_inputs
    plain = render_production(ctx, cfg["protocol"], 1800.0, "../glass.data")
    assert "velocity        all create" not in plain
    text = render_production(dict(ctx, velocity_seed=4711), cfg["protocol"], 1800.0, "g.data")
    line = "velocity        all create 300.000 4711 dist gaussian mom yes rot yes"
    assert line in text
    assert text.index(line) < text.index("velocity        all zero linear")
    with pytest.raises(ValueError):
        render_production(dict(ctx, velocity_seed="1; shell rm"), cfg["protocol"], 1800.0, "g")


@pytest.mark.lammps
def test_rendered_inputs_run_a_few_steps(tiny_inputs, lmp, tmp_path):
    camp, cr, ctx, cfg = tiny_inputs
    from glassflow.md.cell import build_random_cell, write_lammps_data

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


# --- no text injection into LAMMPS inputs ---------------------------------------------

HOSTILE = '"x" \'y\'\nshell touch PWNED & ${x} $(v_a) """ # &'
PLAIN_INJECTION = "x\nshell touch PWNED\n#"
EXPECTED_COMMANDS = {
    "units", "atom_style", "boundary", "read_data", "read_restart", "mass", "set",
    "pair_style", "pair_coeff", "kspace_style", "neighbor", "neigh_modify", "timestep",
    "thermo_style", "thermo_modify", "thermo", "print", "minimize", "reset_timestep",
    "velocity", "fix", "run", "unfix", "write_data", "dump", "dump_modify", "restart",
}  # fmt: skip


def _strip_comment(line: str) -> str:
    """Drop everything from the first '#' outside single, double or triple quotes."""
    quote = None
    i = 0
    while i < len(line):
        if quote is None and line[i] == "#":
            return line[:i]
        for q in ('"""', '"', "'"):
            if line.startswith(q, i) and quote in (None, q):
                quote = None if quote == q else q
                i += len(q) - 1
                break
        i += 1
    return line


def lammps_commands(text: str) -> list[str]:
    """The commands LAMMPS would execute from ``text``, by its parsing rules.

    Lines end at '\\n' only; a line whose last printable character is '&' is joined with
    the next (also inside a comment), as is a line with an odd number of triple quotes;
    then everything from the first '#' outside quotes is dropped; blank lines are no
    command. Asserts that no joining happened and that no '$' would be expanded.
    """
    commands = []
    for line in text.split("\n"):
        assert not line.rstrip().endswith("&"), f"continued line: {line!r}"
        assert line.count('"""') % 2 == 0, f"unbalanced triple quotes: {line!r}"
        cmd = _strip_comment(line).strip()
        if cmd:
            assert "$" not in cmd, f"variable expansion: {cmd!r}"
            commands.append(cmd)
    return commands


def _hostile_context(ctx):
    """``ctx`` with hostile text in every key that is written only into comments."""
    species = [f"{el}{HOSTILE}" for el in ctx["species"]]
    rename = dict(zip(ctx["species"], species, strict=True))
    return dict(
        ctx,
        potential_name=HOSTILE,
        citation=HOSTILE,
        label=PLAIN_INJECTION,  # first line of the input: runs first if it got through
        replica=HOSTILE,
        rerun_command=HOSTILE,
        species=species,
        masses={rename[k]: v for k, v in ctx["masses"].items()},
        charges={rename[k]: v for k, v in ctx["charges"].items()},
    )


def _renders(ctx, cfg):
    p = cfg["protocol"]
    resume = dict(ctx, restart_file="restart.400.bin", restart_step=400, dump_file="dump.1.x")
    return {
        "melt_quench": render_melt_quench(ctx, p),
        "production": render_production(ctx, p, 1800.0, "../../glass/glass.data"),
        "resume": render_production_resume(resume, p, 1800.0),
    }


def test_comment_filter_cannot_leave_the_comment():
    out = lammps_comment(HOSTILE + "\r\x0b\x85\u2028 Sørensen §2 \u00a0")
    assert out.isascii() and out.isprintable()
    assert not set(out) & set("\n\r&$#\"'`\\")
    assert "shell touch PWNED" in out  # kept as harmless text on the same line
    assert lammps_comment("Sørensen et al. 2023, Table 1") == "Sorensen et al. 2023, Table 1"


def test_hostile_text_stays_inside_comments(tiny_inputs):
    _, _, ctx, cfg = tiny_inputs
    benign = _renders(ctx, cfg)
    hostile = _renders(_hostile_context(ctx), cfg)
    for name, text in hostile.items():
        assert "PWNED" in text  # the text is there ...
        commands = lammps_commands(text)
        assert commands == lammps_commands(benign[name])  # ... but no command changed
        assert {c.split()[0] for c in commands} <= EXPECTED_COMMANDS, name
        assert not any("shell" in c or "PWNED" in c for c in commands)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kspace_style", "ewald\nshell touch PWNED"),
        ("kspace_style", "ewald ${x}"),
        ("dump_file", "d.lammpstrj &"),
        ("seed", "1\nshell touch PWNED"),
        ("thermo_steps", "10 &"),
        ("start_file", "a b"),
        ("dump_file", "dump.*.lammpstrj"),  # LAMMPS would write one file per step
        ("dump_file", "dump%.lammpstrj"),  # ... or one per processor
    ],
)
def test_hostile_words_and_numbers_refused(tiny_inputs, key, value):
    _, _, ctx, cfg = tiny_inputs
    ctx = dict(ctx, dump_file="dump.0.lammpstrj")
    with pytest.raises(ValueError, match=r"LAMMPS input: .*(not a plain word|an integer)"):
        if key == "start_file":
            render_production(ctx, cfg["protocol"], 1800.0, value)
        elif key == "seed":
            render_melt_quench(dict(ctx, seed=value), cfg["protocol"])
        else:
            render_production(dict(ctx, **{key: value}), cfg["protocol"], 1800.0, "g.data")


def test_safe_name_checks_match_the_whole_string():
    """'$' in a Python regex also matches before a final newline; the checks do not."""
    for check, value in ((check_name, "tiny\n"), (check_element, "Na\n")):
        with pytest.raises(ValueError, match=r"\\n"):
            check(value, "key")
    with pytest.raises(ValueError, match="command word"):
        check_command(["lmp\n"], "engine.command")


def test_unfiltered_expression_is_still_checked():
    """A template that forgets its filter cannot emit a newline, '&', '$' or quotes."""
    tpl = _ENV.from_string("# {{ v }}\nrun 10\n")
    assert tpl.render(v="Na-S 1.5") == "# Na-S 1.5\nrun 10\n"
    for bad in ("a\nshell touch PWNED", "a &", "${x}", 'say "x"', "a\u2028b", None):
        with pytest.raises(ValueError, match="LAMMPS input"):
            tpl.render(v=bad)


@pytest.mark.lammps
def test_lammps_executes_no_injected_command(tiny_inputs, lmp, tmp_path):
    """LAMMPS itself reads the hostile input (-skiprun: no MD) and runs no shell command;
    the control input with a bare 'shell touch' line shows that it would have."""
    camp, cr, ctx, cfg = tiny_inputs
    from glassflow.md.cell import build_random_cell, write_lammps_data

    atoms = build_random_cell(
        cr.composition, cr.charges_used, camp.potential.masses, cr.box_A, 1.5, 3
    )
    write_lammps_data(atoms, tmp_path / "cell.data", cr.composition.species)
    text = render_melt_quench(_hostile_context(ctx), cfg["protocol"])
    control = text + "shell touch CONTROL\n"
    for name, body in (("in.hostile", text), ("in.control", control)):
        (tmp_path / name).write_text(body)
        run = subprocess.run(
            [lmp, "-in", name, "-log", "none", "-nocite", "-skiprun"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert not list(tmp_path.glob("PWNED*")), name
        assert run.returncode == 0, run.stdout[-2000:]
        assert "Total wall time" in run.stdout
    assert (tmp_path / "CONTROL").is_file()
