"""The ``glassflow`` command line: ``export``, ``status`` and ``init``.

- ``glassflow export RUN_DIR --format extxyz|dcd|lammpstrj``: a run's ``.gtrj``
  trajectory in a standard format (:mod:`glassflow.io.export`).
- ``glassflow status [RESULTS_DIR]``: done / running / failed / stalled / pending
  runs of a campaign (segments included), production simulated of the planned and
  maximum lengths, speed and time left (:mod:`glassflow.campaign.status`).
- ``glassflow fit-well SPEC``: fit the depth of a Morse bonding well on one pair of a
  potential file to a reference glass's bond fractions (:mod:`glassflow.campaign.bond_well_fit`)
  and write the fitted potential file.
- ``glassflow init [PATH] --preset NAME``: a commented campaign config. Values come
  from a preset campaign file of the checkout, defaults and comments from the JSON
  schema ``workflow/schemas/config.schema.yaml``, read at run time so the schema
  stays the single source of truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from glassflow import __version__

if TYPE_CHECKING:
    from glassflow.config.grid import Campaign

SCHEMA_REL = Path("workflow/schemas/config.schema.yaml")
PRESETS = {
    "default": Path("config/config.yaml"),
    "tiny": Path("tests/data/tiny.yaml"),
    "sorensen2023_ns": Path("config/campaigns/sorensen2023_ns.yaml"),
    "micoulaut2025_ns9": Path("config/campaigns/micoulaut2025_ns9_flexibility.yaml"),
}
COMMENT_WIDTH = 88


class CliError(Exception):
    """A user error: printed as ``glassflow <command>: error: <message>``, exit code 2."""


# locating the checkout's files ------------------------------------------------------------
def checkout_roots() -> list[Path]:
    """Where the workflow files may live: the source checkout of this package, then cwd."""
    here = Path(__file__).resolve().parents[2]  # src/glassflow/cli.py -> checkout root
    roots = [here, Path.cwd()]
    return [r for i, r in enumerate(roots) if r not in roots[:i]]


def find_checkout_file(rel: Path, option: str) -> Path:
    """``rel`` in the first checkout root that has it; CliError naming ``option`` if none."""
    for root in checkout_roots():
        if (root / rel).is_file():
            return root / rel
    tried = ", ".join(str(r / rel) for r in checkout_roots())
    raise CliError(
        f"cannot find {rel} (tried {tried}); run glassflow from a glassflow checkout "
        f"or give {option}"
    )


def schema_path(option_value: str | None) -> Path:
    if option_value:
        p = Path(option_value)
        if not p.is_file():
            raise CliError(f"--schema: {p} is not a file")
        return p
    return find_checkout_file(SCHEMA_REL, "--schema PATH")


# init: a commented config generated from the schema -------------------------------------
def _comment(text: str, indent: int) -> list[str]:
    words = " ".join(str(text).split())
    if not words:
        return []
    width = max(40, COMMENT_WIDTH - indent - 2)
    return [" " * indent + "# " + line for line in textwrap.wrap(words, width)]


def _yaml_value(value: Any) -> str:
    """One YAML value in flow style (lists and maps on one line)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _type_hint(sub: Mapping[str, Any]) -> str:
    if "enum" in sub:
        return " | ".join(map(str, sub["enum"]))
    t = sub.get("type", "value")
    return " or ".join(t) if isinstance(t, list) else str(t)


def _emit_mapping(
    values: Mapping[str, Any], properties: Mapping[str, Any], indent: int
) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for key, sub in properties.items():
        if indent == 0 and lines:
            lines.append("")
        lines += _comment(sub.get("description", ""), indent)
        if key not in values:
            lines.append(f"{pad}# {key}: (not set; {_type_hint(sub)})")
            continue
        value = values[key]
        if isinstance(value, dict) and "properties" in sub and value:
            lines.append(f"{pad}{key}:")
            lines += _emit_mapping(value, sub["properties"], indent + 2)
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            lines.append(f"{pad}{key}:")
            lines += [f"{pad}  - {_yaml_value(v)}" for v in value]
        else:
            lines.append(f"{pad}{key}: {_yaml_value(value)}")
    for key in values:
        if key not in properties:  # not in the schema: kept, validation will name it
            lines.append(f"{pad}{key}: {_yaml_value(values[key])}")
    return lines


def leading_comments(text: str) -> list[str]:
    """The comment block at the top of a YAML file (without the '#')."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line[1:].strip())
    return out


def commented_config(
    filled: Mapping[str, Any],
    schema: Mapping[str, Any],
    preset: str,
    preset_file: str,
    notes: Sequence[str] = (),
) -> str:
    """The campaign config ``filled`` (defaults filled in) as YAML text with comments.

    Every key of the schema appears in schema order, with its description as a
    comment above it; keys without a value are shown commented out. Deterministic:
    the same inputs give the same bytes.
    """
    head = [
        f"# glassflow campaign configuration, written by `glassflow init --preset {preset}`",
        f"# from {preset_file}. Every key is listed with its value (the preset's, or the",
        "# schema default) and its description from workflow/schemas/config.schema.yaml.",
        "# Check it with: snakemake -n --configfile <this file>",
    ]
    if notes:
        head += ["#", f"# Preset notes ({preset_file}):"] + [f"# {n}".rstrip() for n in notes]
    desc = schema.get("description", "")
    if desc:
        head += ["#"] + _comment(f"{schema.get('title', 'Configuration')}: {desc}", 0)
    body = _emit_mapping(filled, schema.get("properties", {}), 0)
    return "\n".join([*head, "", *body]) + "\n"


def init_config(preset: str, schema_file: Path) -> str:
    """Text of the commented config of ``preset``; validated before it is returned."""
    from glassflow.config.schema import load_schema, validate_config

    preset_file = find_checkout_file(PRESETS[preset], "another --preset")
    raw = preset_file.read_text()
    values = yaml.safe_load(raw) or {}
    filled = validate_config(values, schema_file)
    rel = PRESETS[preset].as_posix()
    text = commented_config(filled, load_schema(schema_file), preset, rel, leading_comments(raw))
    written = validate_config(yaml.safe_load(text), schema_file)
    if written != filled:  # the text must say exactly what the preset says
        raise RuntimeError(f"glassflow init: the written config differs from {rel}")
    return text


def cmd_init(args: argparse.Namespace) -> int:
    out = Path(args.path)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; use --force to overwrite it")
    text = init_config(args.preset, schema_path(args.schema))
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    part.write_text(text)
    part.replace(out)
    print(f"wrote {out} (preset {args.preset}); dry run: snakemake -n --configfile {out}")
    return 0


# status -------------------------------------------------------------------------------------
def campaign_dirs(path: Path) -> list[Path]:
    """``path`` if it is a campaign directory, else the campaign directories inside it."""
    from glassflow.campaign.status import COMP_RE

    def is_campaign(d: Path) -> bool:
        if any((d / "logs" / rule).is_dir() for rule in ("production", "production_segment")):
            return True
        return any(c.is_dir() and COMP_RE.fullmatch(c.name) for c in d.iterdir())

    if not path.is_dir():
        raise CliError(f"RESULTS_DIR: {path} is not a directory")
    if is_campaign(path):
        return [path]
    found = sorted(d for d in path.iterdir() if d.is_dir() and is_campaign(d))
    if not found:
        raise CliError(
            f"RESULTS_DIR: {path} holds no campaign (expected results/<campaign> with "
            "<comp>/ directories, or results/ holding such directories)"
        )
    return found


def _campaign_from_config(configfile: str, schema_file: Path) -> Campaign:
    """The campaign of ``configfile``, for reading its results (nothing is written).

    Parameters
    ----------
    configfile
        The ``--configfile`` path.
    schema_file
        The config schema.

    Returns
    -------
    Campaign
        Built from the first checkout root (working directory first) the config's paths
        resolve in. ``results_dir`` need not be writable: ``status`` reads finished or
        other users' results, read-only mounts included.

    Raises
    ------
    CliError
        The file is missing or the config is invalid under every root.
    """
    from glassflow.config.grid import build_campaign
    from glassflow.config.schema import ConfigError

    p = Path(configfile)
    if not p.is_file():
        raise CliError(f"--configfile: {p} is not a file")
    cfg = yaml.safe_load(p.read_text()) or {}
    errors = []
    for root in checkout_roots()[::-1]:  # cwd first: config paths are relative to it
        try:
            return build_campaign(cfg, schema_file, root=root, check_writable=False)
        except ConfigError as err:
            errors.append(str(err))
    raise CliError(f"--configfile {p}: {errors[0]}")


def cmd_status(args: argparse.Namespace) -> int:
    from glassflow.campaign.status import RunKey, campaign_status, format_status

    expected = protocol = modifier = None
    if args.configfile:
        camp = _campaign_from_config(args.configfile, schema_path(args.schema))
        expected = [RunKey(c, int(t), int(r)) for c, t, r in camp.runs()]
        protocol = camp.config.get("protocol")
        modifier = camp.config.get("system", {}).get("modifier")
        dirs = [Path(args.results_dir) if args.results_dir else camp.results]
    else:
        dirs = campaign_dirs(Path(args.results_dir or "results"))
    if args.active_minutes <= 0:
        raise CliError(f"--active-minutes: {args.active_minutes} is not > 0")
    if args.jobs is not None and args.jobs < 1:
        raise CliError(f"--jobs: {args.jobs} is not a positive integer")
    statuses = [
        campaign_status(
            d,
            expected,
            protocol=protocol,
            modifier=modifier,
            active_minutes=args.active_minutes,
            jobs=args.jobs,
        )
        for d in dirs
    ]
    if args.json:
        doc: Any = [s.to_dict() for s in statuses]
        print(json.dumps(doc[0] if len(doc) == 1 else doc, indent=2))
    else:
        print("\n\n".join(format_status(s, all_runs=args.all) for s in statuses))
    return 0


# fit-well -----------------------------------------------------------------------------------
def cmd_fit_well(args: argparse.Namespace) -> int:
    from glassflow.campaign.bond_well_fit import fit_well

    spec = Path(args.spec)
    if not spec.is_file():
        raise CliError(f"SPEC: {spec} does not exist")
    root = (
        find_checkout_file(Path("Snakefile"), "--root").parent
        if args.root is None
        else Path(args.root)
    )
    try:
        result = fit_well(spec, root, schema_path(args.schema))
    except ValueError as err:
        raise CliError(str(err)) from err
    cols = ["D0_eV", "m", "frac_S_in_SS", "cn_S_S", "r_peak_A_S_S", "si_cn_mean", "f_md"]
    print(result["scan"][cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(json.dumps(result["best"], indent=2))
    print(result["check"][cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


# export -------------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from glassflow.io.export import default_output, export_trajectory, find_trajectory

    traj = find_trajectory(args.run_dir)
    out = Path(args.output) if args.output else default_output(traj, args.format)
    result = export_trajectory(
        traj,
        out,
        args.format,
        start=args.start,
        stop=args.stop,
        stride=args.stride,
        wrap=args.wrap,
        velocities=args.velocities,
        force=args.force,
    )
    kind = "wrapped into the box" if result.wrapped else "unwrapped"
    idx = result.indices
    print(
        f"wrote {result.outputs[0]}: {idx.size} frames (file frames {idx[0]} to {idx[-1]}, "
        f"stride {args.stride}), {kind} positions in Angstrom, box of each frame"
    )
    if args.format == "dcd":
        top = result.outputs[1]
        print(f"topology: {top}  (VMD: vmd {top} {out}; MDAnalysis: Universe('{top}', '{out}'))")
    return 0


def cmd_slurm_submit(args: argparse.Namespace) -> int:
    import os
    import shutil
    import subprocess

    from glassflow.md.packing import (
        GPUS_PER_RUN_ENV,
        RUNS_PER_GPU_ENV,
        jobscript_properties,
        packed_jobscript,
        sbatch_request,
    )

    script = Path(args.jobscript)
    try:
        text = script.read_text()
        props = jobscript_properties(text)
    except (OSError, ValueError) as err:
        raise CliError(f"{script}: {err}") from None
    per_gpu = int(os.environ.get(RUNS_PER_GPU_ENV, "1") or 1)
    gpus_per_run = int(os.environ.get(GPUS_PER_RUN_ENV, "1") or 1)
    req = sbatch_request(props, per_gpu, gpus_per_run)
    packed = script.with_name(script.stem + ".sbatch.sh")
    packed.write_text(packed_jobscript(text, req, per_gpu, args.mps))
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    name = str(props.get("rule") or props.get("groupid") or "glassflow")
    cmd = [
        shutil.which("sbatch") or "sbatch",
        *req.args(f"glassflow-{name}", str(log_dir / f"{name}-%j.log")),
        str(packed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CliError(f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}")
    jobid = proc.stdout.strip().split(";")[0]
    with open(log_dir / "submitted.tsv", "a") as fh:  # what each allocation asked for
        fh.write(f"{jobid}\t{req.runs}\t{' '.join(cmd[1:-1])}\n")
    print(jobid)
    return 0


def cmd_slurm_status(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    from glassflow.md.packing import status_of_state

    state = ""
    if shutil.which("squeue"):
        q = subprocess.run(
            ["squeue", "-h", "-j", args.jobid, "--states=all", "-o", "%T"],
            capture_output=True,
            text=True,
        )
        state = q.stdout.strip() if q.returncode == 0 else ""
    if not state and shutil.which("sacct"):
        q = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-j", args.jobid, "-o", "State"],
            capture_output=True,
            text=True,
        )
        state = q.stdout.strip().splitlines()[0] if q.returncode == 0 and q.stdout.strip() else ""
    if not state:
        print(
            f"glassflow slurm-status: job {args.jobid} unknown to squeue and sacct", file=sys.stderr
        )
    print(status_of_state(state))
    return 0


# parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="glassflow",
        description="glassflow: MD campaigns on glassy sulfide electrolytes. "
        "Run the workflow with snakemake; these commands help around it.",
        epilog="MDAnalysis reads .gtrj files directly after "
        "`import glassflow.io.mdanalysis_reader` (see glassflow export --help).",
    )
    parser.add_argument("--version", action="version", version=f"glassflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ex = sub.add_parser(
        "export",
        help="write a run's trajectory as extxyz, DCD (+ PDB) or a LAMMPS text dump",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            Write the trajectory of one production run in a standard format that OVITO,
            VMD, MDAnalysis, ASE or kinisi can open.

              extxyz     ASE's extended XYZ: species, box, charges, masses, step and
                         time_ps per frame; with --velocities, ASE momenta.
              dcd        MDAnalysis's DCD writer, plus OUT.pdb (ASE) as topology:
                         vmd OUT.pdb OUT.dcd
              lammpstrj  LAMMPS's own dump writer (needs the LAMMPS Python module):
                         columns id type element q mass xu yu zu (x y z with --wrap),
                         vx vy vz in A/fs with --velocities.

            Positions are UNWRAPPED (as stored, what diffusion analyses need) unless
            --wrap puts them into the box of their frame. Frames are chosen like the
            Python slice [start:stop:stride] of the stored frames.

            Instead of exporting, MDAnalysis can read the .gtrj file itself:
              import MDAnalysis as mda, glassflow.io.mdanalysis_reader
              u = mda.Universe("trajectory.gtrj")
            """
        ),
    )
    ex.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="production directory results/<campaign>/<comp>/T<T>/rep<NN>/production "
        "(or its parent, or the .gtrj file)",
    )
    ex.add_argument("--format", "-f", required=True, choices=["extxyz", "dcd", "lammpstrj"])
    ex.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (default: <campaign>_<comp>_T<T>_rep<NN>.<format> here)",
    )
    ex.add_argument("--start", type=int, default=None, help="first frame index (default 0)")
    ex.add_argument(
        "--stop", type=int, default=None, help="frame index to stop before (default: the end)"
    )
    ex.add_argument("--stride", type=int, default=1, help="write every N-th frame (default 1)")
    ex.add_argument(
        "--wrap", action="store_true", help="wrap positions into the box (default: unwrapped)"
    )
    ex.add_argument(
        "--velocities",
        action="store_true",
        help="also write velocities (extxyz, lammpstrj; needs protocol.dump_velocities)",
    )
    ex.add_argument("--force", action="store_true", help="overwrite existing output files")
    ex.set_defaults(func=cmd_export)

    st = sub.add_parser(
        "status",
        help="summarise a campaign: runs and segments done, running, failed; ps; time left",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            Summarise a campaign from the files on disk (safe while Snakemake runs).

            done     run.json written
            failed   the latest attempt of one of its jobs logged an error:
                     logs/production/<run>.log, the log of an unfinished segment
                     (logs/production_segment/<run>_seg<k>.log), or the glass's
                     melt_quench/build_cell log when the glass is missing; a failed
                     run outranks a live one, and so does the campaign's state
            stalled  started, but its writer (writer.lock) on this host is gone, or
                     nothing was written for --active-minutes (killed at its wall
                     time, or hung); a rerun resumes it from its newest restart file
            running  the run wrote a file in the last --active-minutes
            pending  nothing on disk yet

            Segmented runs (protocol.segment_ps, target_rel_error) list their segments
            done, running and failed. Per run: production ps done, planned
            (production_ps) and maximum (max_production_ps); the last production thermo
            step and its age; the speed (ns/day) measured on the run's own thermo; the
            ETA to the length the run reaches at least, and to its maximum. Runs without
            their own speed use the finished runs' (wall time per ns, ramp and
            equilibration included), else the other runs' measured speed.
            Without --configfile the expected runs are the grid seen on disk and the
            lengths those recorded by a finished run.
            """
        ),
    )
    st.add_argument(
        "results_dir",
        metavar="RESULTS_DIR",
        nargs="?",
        help="results/<campaign> (default: every campaign under ./results, or the "
        "configfile's campaign)",
    )
    st.add_argument(
        "--configfile", help="campaign config: lists the expected runs (pending ones too)"
    )
    st.add_argument("--schema", help="config schema (default: the checkout's)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.add_argument("--all", action="store_true", help="list every run, not only the active")
    st.add_argument(
        "--active-minutes",
        type=float,
        default=10.0,
        help="a run that wrote a file this recently is running (default 10)",
    )
    st.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at a time for the remaining-time estimate (default: as many as running)",
    )
    st.set_defaults(func=cmd_status)

    fw = sub.add_parser(
        "fit-well",
        help="fit a Morse bonding well on one pair to a reference glass's bond fractions",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            Fit the depth D0 of a Morse term overlaid on one pair of a campaign's
            potential file (docs/physics.md §2, "A bonding well fitted to a reference").
            SPEC is a YAML file with the keys:

              campaign     campaign config whose glasses are made (grid, cell, protocol)
              pair         the pair, e.g. S-S
              alpha_per_A  Morse width (fixed)
              r_bond_A     bond length of the reference glass; r0 is placed so that the
                           short-range part of the pair has its minimum there
              cutoff_A     cutoff of the Morse term
              depths_eV    depths to scan (at least two, increasing)
              targets      {m: fraction of S in S-S bonds of the reference glass}
              output       {file, name, citation} of the potential file to write
              workdir      where the glasses and tables go

            Each depth melts and quenches every composition with LAMMPS; the depth that
            minimises the squared misfit of the bond fractions (linear between scanned
            depths) is written as a potential file, whose glasses are made once more as
            a check. Tables: <workdir>/scan.parquet, fit.json, chosen.parquet.
            """
        ),
    )
    fw.add_argument("spec", metavar="SPEC", help="fit specification (YAML)")
    fw.add_argument("--root", help="checkout root the paths of SPEC are relative to")
    fw.add_argument("--schema", help="config schema (default: the checkout's)")
    fw.set_defaults(func=cmd_fit_well)

    it = sub.add_parser(
        "init",
        help="write a commented campaign config from a preset",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            Write a campaign config with every key, its value and its description
            (from workflow/schemas/config.schema.yaml). Presets:

              default            config/config.yaml: 2x2 compositions, 250 atoms, ps runs
              tiny               tests/data/tiny.yaml: 150 atoms, a few ps (smoke test)
              sorensen2023_ns    Na2SiS3, 3000 atoms, 10 ns (cluster scale)
              micoulaut2025_ns9  the PRL's NS9/NS m-series, 3000 atoms (cluster scale)
            """
        ),
    )
    it.add_argument("path", nargs="?", default="campaign.yaml", help="default: campaign.yaml")
    it.add_argument("--preset", choices=list(PRESETS), default="default")
    it.add_argument("--schema", help="config schema (default: the checkout's)")
    it.add_argument("--force", action="store_true", help="overwrite an existing file")
    it.set_defaults(func=cmd_init)

    sb = sub.add_parser(
        "slurm-submit",
        help="submit a Snakemake job script to Slurm, sized for the runs packed into it",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            The submit command of profiles/slurm-pack (Snakemake's cluster-generic
            executor). Reads the job's properties from the script, asks sbatch for the
            group's summed CPUs and memory, the longest member's time (per layer) and one GPU per
            GLASSFLOW_RUNS_PER_GPU GPU runs, lets the Snakemake inside use all the CPUs
            (--cores), and prints the Slurm job id. Each request is appended to
            LOG_DIR/submitted.tsv. docs/slurm.md, "Packed runs".
            """
        ),
    )
    sb.add_argument("jobscript", help="the job script Snakemake wrote")
    sb.add_argument(
        "--mps",
        action="store_true",
        help="start a CUDA MPS daemon in jobs with GPUs, for the runs that share one",
    )
    sb.add_argument(
        "--log-dir",
        default=".snakemake/glassflow-slurm",
        help="Slurm output logs and submitted.tsv (default: %(default)s)",
    )
    sb.set_defaults(func=cmd_slurm_submit)

    ss = sub.add_parser(
        "slurm-status",
        help="running, success or failed for a Slurm job id (squeue, then sacct)",
    )
    ss.add_argument("jobid")
    ss.set_defaults(func=cmd_slurm_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glassflow`` command; returns the exit code."""
    from glassflow.config.schema import ConfigError
    from glassflow.io.export import ExportError
    from glassflow.io.trajectory import TrajectoryError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ExportError, ConfigError, TrajectoryError) as err:
        print(f"glassflow {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
