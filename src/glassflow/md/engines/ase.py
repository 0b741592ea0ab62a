"""Molecular dynamics through ASE with a machine-learned calculator (CHGNet).

The same protocol stages as the LAMMPS engine (docs/physics.md §3: melt, quench ramps,
relax; ramp, equilibration, production), run step by step with ASE's velocity-Verlet
integrator and the Bussi stochastic velocity-rescaling thermostat (Bussi, Donadio and
Parrinello 2007, canonical; damping time ``protocol.thermostat_damping_fs``; the target
temperature of a ramp moves linearly over the stage, as with LAMMPS ``fix nvt temp
T0 T1``). The centre of mass is held fixed (ASE ``FixCom``), so the temperature counts
3N - 3 degrees of freedom, as LAMMPS does after ``velocity all zero linear``.

Outputs are those of the LAMMPS engine: ``glass.data`` and ``melt.data`` (LAMMPS data
files, atom_style charge, with velocities), a thermo table with the LAMMPS engine's
columns and units (``units real``: kcal/mol, atm, fs steps), and the production frames
as a ``.gtrj`` trajectory (unwrapped positions in Å, velocities in Å/ps). So every
analysis, table and figure works unchanged.

Checkpoints: every ``restart_interval_fs`` of simulated time the whole dynamical state
(positions, momenta, the thermostat's random-number generator, the step) is written
atomically to ``checkpoint.npz``. A killed run resumes from it: thermo rows and frames
written after the checkpoint are dropped, and the continuation is bit for bit the run
that was never interrupted (one torch thread, same versions). The end state of a
production segment has the same format, so segment k + 1 continues segment k exactly.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.md.checksums import sha256_file
from glassflow.md.engines.ase_files import THERMO_FILE, read_data_atoms, read_thermo
from glassflow.md.engines.ase_md import AseEngineError, FramePlan, run_stages
from glassflow.md.engines.ase_stages import Stage, melt_quench_stages, production_stages
from glassflow.md.provenance import package_versions
from glassflow.md.run_lock import run_lock
from glassflow.runlog import note

#: calculators this engine knows, and the distribution that provides each
CALCULATORS = {"chgnet": "chgnet"}
#: pretrained CHGNet weights shipped inside the chgnet wheel
CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")
THERMOSTATS = ("bussi",)


@dataclass(frozen=True)
class AseSettings:
    """Config key ``engine.ase``: the calculator and how it runs.

    Attributes
    ----------
    calculator : str
        ``chgnet`` (pretrained weights from the chgnet wheel; nothing is downloaded).
    model : str
        CHGNet weights: ``0.3.0`` (default), ``0.2.0`` or ``r2scan``.
    thermostat : str
        ``bussi`` (stochastic velocity rescaling).
    torch_threads : int
        Intra-op threads of torch per run, from ``engine.threads`` (1: on two cores, two
        runs side by side beat one run on two threads, and one thread makes resumes bit
        for bit).
    device : str
        ``cpu`` or ``cuda``.
    minimize_fmax_eV_A, minimize_max_steps
        FIRE relaxation of the random cell before the melt (``protocol.minimize``).
    """

    calculator: str = "chgnet"
    model: str = "0.3.0"
    thermostat: str = "bussi"
    torch_threads: int = 1
    device: str = "cpu"
    minimize_fmax_eV_A: float = 0.5
    minimize_max_steps: int = 200

    @classmethod
    def from_config(cls, ase_cfg: Mapping[str, Any] | None, threads: int = 1) -> AseSettings:
        """Settings from the ``engine.ase`` block; ``threads`` is ``engine.threads``."""
        cfg = dict(ase_cfg or {})
        cfg.setdefault("torch_threads", int(threads))
        unknown = sorted(set(cfg) - set(cls.__dataclass_fields__) - {"torch_threads"})
        if unknown:
            raise ValueError(f"config key 'engine.ase': unknown keys {unknown}")
        settings = cls(**cfg)
        if problems := settings.problems():
            raise ValueError("; ".join(problems))
        return settings

    def problems(self) -> list[str]:
        out = []
        if self.calculator not in CALCULATORS:
            out.append(
                f"config key 'engine.ase.calculator': {self.calculator!r} is not one of "
                f"{sorted(CALCULATORS)}"
            )
        if self.calculator == "chgnet" and self.model not in CHGNET_MODELS:
            out.append(
                f"config key 'engine.ase.model': {self.model!r} is not a CHGNet model "
                f"shipped in the wheel ({', '.join(CHGNET_MODELS)})"
            )
        if self.thermostat not in THERMOSTATS:
            out.append(
                f"config key 'engine.ase.thermostat': {self.thermostat!r} not in {THERMOSTATS}"
            )
        if self.torch_threads < 1:
            out.append("config key 'engine.ase.torch_threads': must be >= 1")
        if self.device not in ("cpu", "cuda"):
            out.append(f"config key 'engine.ase.device': {self.device!r} is not cpu or cuda")
        return out


def _version_of(dist: str) -> str:
    return package_versions((dist,))[dist] or "not installed"


@dataclass(frozen=True)
class AseEngine:
    """MD engine running ASE dynamics with a machine-learned calculator.

    Built from the ``engine`` config block with ``kind: ase``
    (:meth:`from_config`); implements the engine interface of
    :mod:`glassflow.md.engines` (melt_quench, run_segment, thermo, version, command).
    """

    settings: AseSettings = AseSettings()
    kind: str = "ase"

    @classmethod
    def from_config(cls, eng: Mapping[str, Any]) -> AseEngine:
        return cls(AseSettings.from_config(eng.get("ase"), threads=eng.get("threads", 1)))

    # -- identity -------------------------------------------------------------
    def version(self) -> str:
        s = self.settings
        return (
            f"ase {_version_of('ase')}, {s.calculator} {_version_of(CALCULATORS[s.calculator])} "
            f"(model {s.model}), torch {_version_of('torch')}"
        )

    def command(self, input_name: str = "") -> list[str]:
        return ["glassflow", "(ase engine)", json.dumps(asdict(self.settings), sort_keys=True)]

    # -- calculator -----------------------------------------------------------
    def calculator(self) -> Any:
        """A fresh calculator (imports torch and the model here, not at import time)."""
        s = self.settings
        try:
            import torch
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator
        except ImportError as err:
            raise AseEngineError(
                "engine.kind ase with calculator chgnet needs the optional extra: "
                f"pip install -e '.[mlip]' ({err})"
            ) from err
        torch.set_num_threads(s.torch_threads)
        # FixCom is applied by ASE's integrator, not by the model: the note that pymatgen
        # drops it is expected; so is chgnet's own note about a volume tensor
        warnings.filterwarnings("ignore", message="Only FixAtoms and FixCartesian")
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
        model = CHGNet.load(model_name=s.model, use_device=s.device, verbose=False)
        return CHGNetCalculator(model=model, use_device=s.device, on_isolated_atoms="ignore")

    def preflight(self) -> dict[str, Any]:
        """Check before any MD that the calculator loads and gives a finite energy.

        Returns
        -------
        dict
            The report: engine version, calculator settings, the weights file and its
            SHA-256 (provenance), and the energy of an S2 molecule at 2.0 Å (eV) as a
            sign of life. Raises AseEngineError (the extra missing, a model that does
            not load, a non-finite energy).
        """
        from ase import Atoms

        calc = self.calculator()
        s2 = Atoms("S2", positions=[[0, 0, 0], [2.0, 0, 0]], cell=[12.0] * 3, pbc=True)
        s2.calc = calc
        energy = float(s2.get_potential_energy())
        if not np.isfinite(energy):
            raise AseEngineError(f"{self.settings.calculator} gave a non-finite energy ({energy})")
        report: dict[str, Any] = {
            "engine": "ase",
            "version": self.version(),
            "settings": asdict(self.settings),
            "s2_energy_at_2A_eV": energy,
        }
        if self.settings.calculator == "chgnet":
            import chgnet

            pretrained = Path(chgnet.__file__).parent / "pretrained" / self.settings.model
            weights = sorted(pretrained.glob("*.pth.tar"))
            if weights:
                report["weights_file"] = str(weights[0])
                report["weights_sha256"] = sha256_file(weights[0])
        return report

    # -- stages ---------------------------------------------------------------
    def melt_quench(
        self,
        workdir: str | Path,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        stdout_log: str | Path,
    ) -> dict[str, Any]:
        """Melt, quench and relax ``workdir/cell.data``; writes melt.data and glass.data."""
        workdir = Path(workdir)
        stages = melt_quench_stages(protocol)
        start = workdir / "cell.data"
        key = self._key("melt_quench", start, context, protocol, stages, seed=context["seed"])
        with run_lock(workdir, say=lambda m: note(stdout_log, m, "melt-quench")):
            for stale in ("glass.data", "melt.data"):
                (workdir / stale).unlink(missing_ok=True)
            info = run_stages(
                self,
                workdir,
                start,
                stages,
                context,
                protocol,
                key,
                seed=int(context["seed"]),
                stdout_log=stdout_log,
                minimize=bool(protocol["minimize"]),
                frames=None,
            )
        for out in ("glass.data", "melt.data"):
            if not (workdir / out).is_file():
                raise AseEngineError(f"ASE melt-quench finished without writing {workdir / out}")
        info["lammps_version"] = info["engine_version"] = self.version()
        return info

    def single_point(
        self, data_file: str | Path, context: Mapping[str, Any]
    ) -> tuple[float, npt.NDArray[np.float64], list[str]]:
        """Energy and forces of the calculator on the configuration of a data file.

        Parameters
        ----------
        data_file : path
            LAMMPS data file (atom_style charge), types in ``context["species"]`` order.
        context : mapping
            ``species`` and ``masses`` of the campaign.

        Returns
        -------
        energy : float, eV
        forces : (N, 3) float64, eV/Å, atoms in id order
        symbols : list of str, (N,)
        """
        atoms = read_data_atoms(data_file, list(context["species"]), context["masses"])
        atoms.calc = self.calculator()
        return (
            float(atoms.get_potential_energy()),
            np.array(atoms.get_forces(), dtype=np.float64),
            atoms.get_chemical_symbols(),
        )

    def anneal(
        self,
        workdir: str | Path,
        start: str | Path,
        stages: Sequence[Stage],
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        stdout_log: str | Path,
        seed: int,
    ) -> dict[str, Any]:
        """Run NVT ``stages`` from a data file; the last stage's ``write_after`` is the
        annealed configuration. Checkpointed and resumable like the MD stages."""
        workdir = Path(workdir)
        key = self._key("anneal", Path(start), context, protocol, stages, seed=seed)
        with run_lock(workdir, say=lambda m: note(stdout_log, m, "anneal")):
            info = run_stages(
                self,
                workdir,
                Path(start),
                stages,
                context,
                protocol,
                key,
                seed=seed,
                stdout_log=stdout_log,
                minimize=False,
                frames=None,
            )
        info["engine_version"] = self.version()
        return info

    def melt_quench_thermo(self, workdir: str | Path) -> pd.DataFrame:
        return read_thermo(Path(workdir) / THERMO_FILE)

    def run_segment(
        self,
        workdir: str | Path,
        segment: Any,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        T_K: float,
        stdout_log: str | Path,
        trajectory_out: str | Path,
        end_state_out: str | Path | None = None,
    ) -> dict[str, Any]:
        """Run production steps ``segment.start_step .. end_step`` at ``T_K``.

        The first segment starts from a LAMMPS data file (glass or melt), a later one
        from the previous segment's end state. Writes the frames to ``trajectory_out``
        and, with ``end_state_out``, the end state there.
        """
        workdir = Path(workdir)
        stages = production_stages(protocol, T_K, segment.start_step, segment.end_step)
        seed = context.get("seed")
        if seed is None:  # production seeds derive from what names the run
            label = f"{context.get('label')}|{context.get('replica')}|{float(T_K):.6g}"
            seed = int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little")
        key = self._key(
            f"production segment {segment.index}",
            Path(segment.start_file),
            context,
            protocol,
            stages,
            seed=seed,
            extra={"T_K": float(T_K), "start_step": segment.start_step, "end": segment.end_step},
        )
        dt = float(protocol["timestep_fs"])
        every = round(protocol["dump_interval_fs"] / dt)
        first = 0 if segment.start_step == 0 else segment.start_step + every
        frame_steps = np.arange(first, segment.end_step + 1, every, dtype=np.int64)
        with run_lock(workdir, say=lambda m: note(stdout_log, m)):
            info = run_stages(
                self,
                workdir,
                Path(segment.start_file),
                stages,
                context,
                protocol,
                key,
                seed=seed,
                stdout_log=stdout_log,
                minimize=False,
                frames=FramePlan(
                    frame_steps, bool(protocol["dump_velocities"]), Path(trajectory_out)
                ),
                end_state_out=None if end_state_out is None else Path(end_state_out),
                production_start=segment.start_step,
            )
        info.update(
            lammps_version=self.version(),
            engine_version=self.version(),
            n_lammps_runs=info["n_attempts"],
            start_step=segment.start_step,
            end_step=segment.end_step,
            start_file=Path(segment.start_file).name,
            start_sha256=key["start_sha256"],
        )
        return info

    def production_thermo(self, workdir: str | Path, timestep_fs: float) -> pd.DataFrame:
        return read_thermo(Path(workdir) / THERMO_FILE)

    def _key(
        self,
        what: str,
        start: Path,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        stages: Sequence[Stage],
        seed: int,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Everything a run's trajectory depends on; a checkpoint resumes only if equal."""
        physics = {
            "what": what,
            "stages": [asdict(s) for s in stages],
            "species": list(context["species"]),
            "charges": dict(context["charges"]),
            "masses": dict(context["masses"]),
            "protocol": {
                k: protocol[k]
                for k in (
                    "timestep_fs",
                    "thermostat_damping_fs",
                    "dump_interval_fs",
                    "dump_velocities",
                    "thermo_interval_fs",
                )
                if k in protocol
            },
            "settings": {k: v for k, v in asdict(self.settings).items() if k != "torch_threads"},
            "extra": dict(extra or {}),
        }
        return {
            "input_sha256": hashlib.sha256(
                json.dumps(physics, sort_keys=True).encode()
            ).hexdigest(),
            "start_sha256": sha256_file(start),
            "seed": int(seed),
            "engine_version": self.version(),
        }
