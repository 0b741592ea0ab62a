"""Benchmark: does the time step resolve a stiff S–S bonding well? NVE energy drift.

A Morse S–S overlay fitted to a reference glass (``glassflow fit-well``) is stiff: its
vibration period is about 13 fs (docs/physics.md §2, eq 2c). For each glass directory
given (a melt-quench directory of ``glassflow fit-well`` or of a campaign: it holds
``in.melt_quench.lmp`` and ``glass.data``), this script reuses the force-field lines of
that directory's own input, heats the glass to ``--temperature`` (NVT, Nosé–Hoover,
``--nvt-ps``), then integrates NVE for ``--nve-ps`` at each time step of ``--dt-fs``
from the same state, with PPPM at ``--kspace-accuracy`` (1e-5 by default, whose own
drift is below 1.5 meV/atom/ns, docs/engine_settings.md), and reports the energy drift
(least-squares slope of E_total, meV/atom/ns) and the rms fluctuation about it.

Usage (about 4 min on one core for two glasses and two steps)::

    .venv/bin/python benchmarks/bond_well_timestep.py \\
        results/fits/sorensen2023_ss_morse/chosen/x0.10_m4.40 \\
        results/fits/sorensen2023_ss_morse/scan_D10.2/x0.10_m3.10 \\
        --out results/benchmarks/bond_well_timestep.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from engine_settings import energy_drift  # noqa: E402  (one home for the drift fit)

FF_KEYWORDS = ("mass", "set", "pair_style", "pair_coeff", "units", "atom_style", "boundary")


def force_field_lines(input_text: str) -> list[str]:
    """The units, masses, charges and pair lines of a melt-quench input (no read_data)."""
    return [ln for ln in input_text.splitlines() if ln.split()[:1] and ln.split()[0] in FF_KEYWORDS]


def drift_input(
    ff: Sequence[str], T_K: float, nvt_ps: float, nve_ps: float, dt_fs: float, kacc: float
) -> str:
    """LAMMPS input: glass.data -> NVT at T (1 fs) -> write state -> NVE at dt_fs."""
    head = [ln for ln in ff if ln.split()[0] in ("units", "atom_style", "boundary")]
    rest = [ln for ln in ff if ln not in head]
    return "\n".join(
        [
            *head,
            "read_data       glass.data",
            *rest,
            f"kspace_style    pppm {kacc:.3e}",
            "neighbor        2.0 bin",
            "neigh_modify    every 1 delay 0 check yes",
            "thermo_style    custom step time temp pe ke etotal",
            "thermo_modify   flush yes",
            "timestep        1.0",
            f"velocity        all create {T_K:.3f} 4242 mom yes rot yes dist gaussian",
            f"fix             md all nvt temp {T_K:.3f} {T_K:.3f} 100.0",
            "thermo          1000",
            f"run             {round(nvt_ps * 1000)}",
            "unfix           md",
            "reset_timestep  0",
            f"timestep        {dt_fs}",
            "fix             md all nve",
            f"thermo          {max(1, round(10 / dt_fs))}",
            'print           "GLASSFLOW_STAGE nve"',
            f"run             {round(nve_ps * 1000 / dt_fs)}",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("glass_dirs", nargs="+", type=Path)
    ap.add_argument("--dt-fs", type=float, nargs="+", default=[1.0, 0.5])
    ap.add_argument("--temperature", type=float, default=1500.0)
    ap.add_argument("--nvt-ps", type=float, default=5.0)
    ap.add_argument("--nve-ps", type=float, default=10.0)
    ap.add_argument("--kspace-accuracy", type=float, default=1e-5)
    ap.add_argument("--lmp", default="lmp")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from glassflow.md.lammps_io import parse_thermo

    rows = []
    for d in args.glass_dirs:
        ff = force_field_lines((d / "in.melt_quench.lmp").read_text())
        n_atoms = int(
            next(
                ln.split()[0] for ln in (d / "glass.data").read_text().splitlines() if "atoms" in ln
            )
        )
        style = next(ln for ln in ff if ln.startswith("pair_style"))
        for dt in args.dt_fs:
            work = d / f"drift_dt{dt:g}"
            work.mkdir(exist_ok=True)
            (work / "glass.data").write_bytes((d / "glass.data").read_bytes())
            text = drift_input(
                ff, args.temperature, args.nvt_ps, args.nve_ps, dt, args.kspace_accuracy
            )
            (work / "in.drift.lmp").write_text(text)
            subprocess.run(
                [args.lmp, "-in", "in.drift.lmp", "-log", "log.lammps", "-nocite"],
                cwd=work,
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            th = parse_thermo(work / "log.lammps")
            nve = th[th["stage"] == "nve"]
            drift, fluct = energy_drift(nve["time_ps"], nve["etotal_kcal_mol"], n_atoms)
            rows.append(
                {
                    "glass": str(d),
                    "pair_style": " ".join(style.split()[1:]),
                    "dt_fs": dt,
                    "T_mean_K": float(nve["temp_K"].mean()),
                    "drift_meV_atom_ns": drift,
                    "fluct_meV_atom": fluct,
                }
            )
            print(
                f"{d}  dt {dt:g} fs  T {rows[-1]['T_mean_K']:.0f} K  drift {drift:+.2f} "
                f"meV/atom/ns  fluct {fluct:.3f} meV/atom",
                flush=True,
            )
    lines = [
        "| glass | pair style | dt (fs) | mean T (K) | drift (meV/atom/ns) | fluct (meV/atom) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['glass']} | {r['pair_style']} | {r['dt_fs']:g} | {r['T_mean_K']:.0f} | "
            f"{r['drift_meV_atom_ns']:+.2f} | {r['fluct_meV_atom']:.3f} |"
            for r in rows
        ),
    ]
    print("\n".join(lines))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
