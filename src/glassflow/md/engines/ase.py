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
import io
import json
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.io.atomic import write_json_atomic
from glassflow.io.trajectory import (
    TrajectoryHeader,
    TrajectoryWriter,
    frame_dtype,
    open_trajectory,
)
from glassflow.md.checksums import sha256_file
from glassflow.md.lammps import quench_stages, steps
from glassflow.md.run_lock import run_lock
from glassflow.runlog import note

#: calculators this engine knows, and the distribution that provides each
CALCULATORS = {"chgnet": "chgnet"}
#: pretrained CHGNet weights shipped inside the chgnet wheel
CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")
THERMOSTATS = ("bussi",)
STATE_FILE = "ase_state.json"
CHECKPOINT = "checkpoint.npz"
THERMO_FILE = "thermo.ase.csv"
FRAMES_PART = "frames.ase.gtrj"
STATE_FORMAT = 1
#: checkpoint interval of stages whose protocol names none (the melt-quench), fs
MELT_QUENCH_CHECKPOINT_FS = 200.0
#: 1 eV in kcal/mol (CODATA via ASE's units: N_A e / 4184 J)
KCAL_MOL_PER_EV = 23.060547830619026
#: 1 eV/Å^3 in atm (1.602176634e11 Pa / 101325 Pa)
ATM_PER_EV_A3 = 1.602176634e11 / 101325.0
#: thermo columns, as the LAMMPS engine's parse_thermo gives them
THERMO_COLUMNS = (
    "stage",
    "step",
    "time_ps",
    "temp_K",
    "pe_kcal_mol",
    "ke_kcal_mol",
    "etotal_kcal_mol",
    "press_atm",
    "vol_A3",
    "cpu_s",
)


class AseEngineError(RuntimeError):
    """The ASE engine cannot run (calculator missing, bad state file, ...)."""


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


@dataclass(frozen=True)
class Stage:
    """One NVT stage: ``n_steps`` steps with the target going from ``T_start_K`` to ``T_end_K``.

    ``clock`` names the step counter the stage's thermo rows use: ``global`` (steps
    counted from the start of the job, as LAMMPS does before ``reset_timestep``) or
    ``production`` (production steps, 0 at the start of production). ``write_after``
    names a LAMMPS data file written at the end of the stage.
    """

    name: str
    T_start_K: float
    T_end_K: float
    n_steps: int
    clock: str = "global"
    write_after: str | None = None

    def target_K(self, j: int) -> float:
        """Target temperature of step ``j`` -> ``j + 1`` of the stage (K)."""
        if self.n_steps <= 0:
            return self.T_end_K
        return self.T_start_K + (self.T_end_K - self.T_start_K) * (j + 1) / self.n_steps


def melt_quench_stages(protocol: Mapping[str, Any]) -> list[Stage]:
    """The melt-quench as NVT stages (the LAMMPS engine's melt_quench.lmp.j2).

    Parameters
    ----------
    protocol : mapping
        The melt-quench keys of ``protocol`` (melt_T_K, melt_ps, quench, relax_T_K,
        relax_ps, timestep_fs).

    Returns
    -------
    list of Stage
        melt (writes melt.data), the quench ramps, relax (writes glass.data).
    """
    dt = protocol["timestep_fs"]
    melt_T = float(protocol["melt_T_K"])
    out = [Stage("melt", melt_T, melt_T, steps(protocol["melt_ps"], dt), write_after="melt.data")]
    for q in quench_stages(protocol):
        out.append(Stage(q["name"], float(q["T_start_K"]), float(q["T_end_K"]), int(q["steps"])))
    relax_T = float(protocol["relax_T_K"])
    out.append(
        Stage("relax", relax_T, relax_T, steps(protocol["relax_ps"], dt), write_after="glass.data")
    )
    return out


def production_stages(
    protocol: Mapping[str, Any], T_K: float, start_step: int, end_step: int
) -> list[Stage]:
    """Stages of a production segment (the LAMMPS engine's production.lmp.j2).

    The first segment (``start_step`` 0) ramps from the start structure's temperature
    to ``T_K`` at ``ramp_rate_K_ps``, equilibrates for ``equilibration_ps``, then runs
    production steps 0 .. ``end_step``; a later segment runs production steps
    ``start_step`` .. ``end_step`` only.
    """
    dt = protocol["timestep_fs"]
    prod = Stage("production", T_K, T_K, end_step - start_step, clock="production")
    if start_step > 0:
        return [prod]
    mode = protocol["production_start"]
    T0 = float(protocol["relax_T_K"] if mode == "reheat" else protocol["melt_T_K"])
    out = []
    ramp = steps(abs(T_K - T0) / protocol["ramp_rate_K_ps"], dt)
    if ramp > 0:
        out.append(Stage("ramp", T0, float(T_K), ramp))
    eq = steps(protocol["equilibration_ps"], dt)
    if eq > 0:
        out.append(Stage("equilibration", float(T_K), float(T_K), eq))
    return [*out, prod]


def anneal_stages(
    T_low_K: float,
    T_high_K: float,
    hold_ps: float,
    rate_K_ps: float,
    timestep_fs: float,
    out: str = "annealed.data",
) -> list[Stage]:
    """Heat from ``T_low_K`` to ``T_high_K`` at ``rate_K_ps``, hold ``hold_ps``, cool
    back at the same rate; the configuration at the end is written to ``out``."""
    ramp = steps(abs(T_high_K - T_low_K) / rate_K_ps, timestep_fs)
    return [
        Stage("anneal_heat", T_low_K, T_high_K, ramp),
        Stage("anneal_hold", T_high_K, T_high_K, steps(hold_ps, timestep_fs)),
        Stage("anneal_cool", T_high_K, T_low_K, ramp, write_after=out),
    ]


# ----------------------------------------------------------------------------- state


@dataclass
class DynamicalState:
    """Everything the continuation of a run depends on.

    Attributes
    ----------
    positions : (N, 3) float64, Å (unwrapped)
    momenta : (N, 3) float64, ASE units (amu Å / ASE time)
    cell : (3, 3) float64, Å
    global_step : int
        Steps done since the start of the job's stage list.
    production_step : int
        Production step of this state (0 before production).
    rng_state : dict
        ``numpy.random.Generator.bit_generator.state`` of the thermostat's generator.
    """

    positions: npt.NDArray[np.float64]
    momenta: npt.NDArray[np.float64]
    cell: npt.NDArray[np.float64]
    global_step: int
    production_step: int
    rng_state: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def write_state(path: str | Path, state: DynamicalState) -> None:
    """Write a dynamical state (checkpoint or segment end state) atomically (npz)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    doc = {
        "global_step": state.global_step,
        "production_step": state.production_step,
        "rng_state": state.rng_state,
        "meta": state.meta,
        "format": STATE_FORMAT,
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        positions=state.positions,
        momenta=state.momenta,
        cell=state.cell,
        doc=np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8),
    )
    with open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_state(path: str | Path) -> DynamicalState:
    """Read a state written by :func:`write_state`; ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(bytes(z["doc"]).decode())
            if doc.get("format") != STATE_FORMAT:
                raise ValueError(f"{path}: state format {doc.get('format')!r}")
            return DynamicalState(
                positions=np.array(z["positions"], dtype=np.float64),
                momenta=np.array(z["momenta"], dtype=np.float64),
                cell=np.array(z["cell"], dtype=np.float64),
                global_step=int(doc["global_step"]),
                production_step=int(doc["production_step"]),
                rng_state=doc["rng_state"],
                meta=dict(doc.get("meta", {})),
            )
    except (OSError, KeyError, json.JSONDecodeError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{path}: not a glassflow ASE state ({err})") from err
    except ValueError as err:  # numpy's own "not a zip file" and the format check
        raise ValueError(f"{path}: not a glassflow ASE state ({err})") from err


# ----------------------------------------------------------------------------- engine


def _version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


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
            info = _run_stages(
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
            info = _run_stages(
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
            info = _run_stages(
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


# ----------------------------------------------------------------------------- files


def read_data_atoms(path: str | Path, species: Sequence[str], masses: Mapping[str, float]):
    """ASE Atoms of a LAMMPS data file (atom_style charge, units real), types in
    ``species`` order; velocities are read when the file has them."""
    from ase.data import atomic_numbers
    from ase.io.lammpsdata import read_lammps_data

    z_of_type = {i + 1: atomic_numbers[el] for i, el in enumerate(species)}
    atoms = read_lammps_data(str(path), Z_of_type=z_of_type, units="real", atom_style="charge")
    atoms.set_masses([masses[s] for s in atoms.get_chemical_symbols()])
    return atoms


def write_data_atoms(atoms, path: str | Path, species: Sequence[str]) -> None:
    """Write ``atoms`` (wrapped into the box) as a LAMMPS data file with velocities."""
    from ase.io.lammpsdata import write_lammps_data

    out = atoms.copy()
    out.set_constraint()
    out.wrap()
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w") as fh:
        write_lammps_data(
            fh,
            out,
            specorder=list(species),
            masses=True,
            velocities=True,
            units="real",
            atom_style="charge",
        )
    os.replace(tmp, path)


def read_thermo(path: str | Path) -> pd.DataFrame:
    """Thermo table written by this engine (the columns of the LAMMPS engine's)."""
    df = pd.read_csv(path)
    df = df.drop_duplicates(subset=["stage", "step"], keep="last").reset_index(drop=True)
    return df[list(THERMO_COLUMNS)]


@dataclass(frozen=True)
class FramePlan:
    """Production frames to store: their steps, velocities or not, the output file."""

    steps: npt.NDArray[np.int64]
    velocities: bool
    out: Path


# ----------------------------------------------------------------------------- the loop


def _thermo_row(atoms, stage: str, step: int, dt_fs: float, cpu_s: float) -> dict[str, Any]:
    from ase import units

    pe = float(atoms.get_potential_energy())
    ke = float(atoms.get_kinetic_energy())
    vol = float(atoms.get_volume())
    ndof = atoms.get_number_of_degrees_of_freedom()
    temp = 2.0 * ke / (ndof * units.kB)
    stress = atoms.get_stress(voigt=True, include_ideal_gas=False)
    virial_p = -float(np.sum(stress[:3])) / 3.0
    press = (ndof / 3.0 * units.kB * temp / vol + virial_p) * ATM_PER_EV_A3
    return {
        "stage": stage,
        "step": int(step),
        "time_ps": step * dt_fs / 1000.0,
        "temp_K": temp,
        "pe_kcal_mol": pe * KCAL_MOL_PER_EV,
        "ke_kcal_mol": ke * KCAL_MOL_PER_EV,
        "etotal_kcal_mol": (pe + ke) * KCAL_MOL_PER_EV,
        "press_atm": press,
        "vol_A3": vol,
        "cpu_s": cpu_s,
    }


def _stage_offsets(stages: Sequence[Stage]) -> list[int]:
    out, g = [], 0
    for s in stages:
        out.append(g)
        g += s.n_steps
    return out


def _position(stages: Sequence[Stage], g: int) -> tuple[int, int]:
    """(stage index, local step) of global step ``g`` (the step about to be made)."""
    for i, (s, g0) in enumerate(zip(stages, _stage_offsets(stages), strict=True)):
        if g < g0 + s.n_steps:
            return i, g - g0
    return len(stages), 0


def _header(atoms, species: Sequence[str], context, dt_fs: float, velocities: bool):
    symbols = atoms.get_chemical_symbols()
    return TrajectoryHeader(
        species=tuple(species),
        types=np.array([species.index(s) for s in symbols], dtype=np.int32),
        charges=np.array([context["charges"][s] for s in symbols], dtype=np.float64),
        masses=np.array([context["masses"][s] for s in symbols], dtype=np.float64),
        timestep_fs=float(dt_fs),
        has_velocities=velocities,
    )


def _truncate_thermo(path: Path, last_global: int) -> None:
    if not path.is_file():
        return
    df = pd.read_csv(path)
    df = df[df["global_step"] <= last_global]
    tmp = path.with_name(path.name + ".part")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _truncate_frames(path: Path, n_keep: int, velocities: bool, n_atoms: int) -> None:
    """Keep the first ``n_keep`` frames of a partial trajectory; ValueError if fewer."""
    traj = open_trajectory(path, verify="off")
    if traj.n_frames < n_keep:
        raise ValueError(f"{path.name} holds {traj.n_frames} frames, the checkpoint {n_keep}")
    record = frame_dtype(n_atoms, velocities).itemsize
    header_bytes = path.stat().st_size - traj.n_frames * record
    del traj
    with open(path, "r+b") as fh:
        fh.truncate(header_bytes + n_keep * record)


def _run_stages(
    engine: AseEngine,
    workdir: Path,
    start: Path,
    stages: Sequence[Stage],
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    key: Mapping[str, Any],
    *,
    seed: int,
    stdout_log: str | Path,
    minimize: bool,
    frames: FramePlan | None,
    end_state_out: Path | None = None,
    production_start: int = 0,
) -> dict[str, Any]:
    """Run ``stages`` from ``start`` (data file or state), resuming a matching checkpoint."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.bussi import Bussi
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    species = list(context["species"])
    dt_fs = float(protocol["timestep_fs"])
    thermo_every = max(1, round(protocol["thermo_interval_fs"] / dt_fs))
    # the melt-quench protocol has no restart interval (LAMMPS writes no restart there)
    ckpt_fs = float(protocol.get("restart_interval_fs", MELT_QUENCH_CHECKPOINT_FS))
    ckpt_every = max(1, round(ckpt_fs / dt_fs))
    total = sum(s.n_steps for s in stages)
    offsets = _stage_offsets(stages)
    t0 = time.perf_counter()

    state_doc = _previous_state(workdir, key)
    resumed: DynamicalState | None = None
    if state_doc is not None:
        try:
            resumed = read_state(workdir / CHECKPOINT)
            _truncate_thermo(workdir / THERMO_FILE, resumed.global_step)
            if frames is not None:
                n_keep = int(np.count_nonzero(frames.steps <= resumed.production_step))
                part = Path(str(frames.out) + ".part")
                if n_keep:
                    _truncate_frames(part, n_keep, frames.velocities, resumed.positions.shape[0])
                else:
                    part.unlink(missing_ok=True)
        except (ValueError, OSError) as err:
            note(stdout_log, f"cannot resume from {CHECKPOINT} ({err}); starting clean")
            resumed, state_doc = None, None
    if state_doc is None:
        for name in (CHECKPOINT, THERMO_FILE, STATE_FILE):
            (workdir / name).unlink(missing_ok=True)
        if frames is not None:
            Path(str(frames.out) + ".part").unlink(missing_ok=True)
        state_doc = {"format": STATE_FORMAT, "key": dict(key), "attempts": []}
        note(
            stdout_log, f"new run in {workdir}: " + ", ".join(f"{k}={v!r}" for k, v in key.items())
        )
    state_doc["attempts"].append({"started_unix": time.time(), "from_step": 0})
    write_json_atomic(workdir / STATE_FILE, state_doc)

    calc = engine.calculator()
    # a data file (cell, glass or melt), else a segment's end state (positions, momenta,
    # generator and step)
    from_data = start.suffix == ".data"
    atoms = read_data_atoms(start, species, context["masses"]) if from_data else None
    rng = np.random.default_rng(seed)
    g = 0
    if resumed is not None or atoms is None:
        src = resumed if resumed is not None else read_state(start)
        if atoms is None:
            from ase import Atoms

            ref = read_data_atoms_from_meta(src.meta, species, context["masses"])
            atoms = Atoms(symbols=ref, cell=src.cell, pbc=True)
            atoms.set_masses([context["masses"][s] for s in ref])
        atoms.set_cell(src.cell)
        atoms.set_positions(src.positions, apply_constraint=False)
        atoms.set_momenta(src.momenta, apply_constraint=False)
        rng.bit_generator.state = src.rng_state
        if resumed is not None:
            g = resumed.global_step
            state_doc["attempts"][-1]["from_step"] = g
            note(stdout_log, f"resuming {workdir} from {CHECKPOINT} at step {g} of {total}")
    atoms.set_initial_charges([context["charges"][s] for s in atoms.get_chemical_symbols()])
    atoms.calc = calc

    if g == 0 and resumed is None and start.suffix == ".data":
        if minimize:
            from ase.optimize import FIRE

            s = engine.settings
            FIRE(atoms, logfile=None).run(fmax=s.minimize_fmax_eV_A, steps=s.minimize_max_steps)
        if not np.any(atoms.get_momenta()):
            thermalize_momenta(atoms, stages[0].T_start_K, rng=rng)
        Stationary(atoms)
    atoms.set_constraint(FixCom())

    dyn = Bussi(
        atoms,
        timestep=dt_fs * units.fs,
        temperature_K=max(stages[0].T_start_K, 1e-3),
        taut=float(protocol["thermostat_damping_fs"]) * units.fs,
        rng=rng,
        logfile=None,
    )
    writer = None
    if frames is not None:
        part = Path(str(frames.out) + ".part")
        header = _header(atoms, species, context, dt_fs, frames.velocities)
        writer = TrajectoryWriter(part, header, append=part.is_file())
    thermo_path = workdir / THERMO_FILE
    new_thermo = not thermo_path.is_file()
    thermo_fh = open(thermo_path, "a")  # noqa: SIM115 - closed below
    if new_thermo:
        thermo_fh.write(",".join([*THERMO_COLUMNS, "global_step"]) + "\n")
        thermo_fh.flush()
    t_stage = time.perf_counter()

    def clock(i: int, local: int) -> int:
        gg = offsets[i] + local
        if stages[i].clock == "production":
            return production_start + local
        return gg

    def emit_thermo(i: int, local: int) -> None:
        row = _thermo_row(
            atoms, stages[i].name, clock(i, local), dt_fs, time.perf_counter() - t_stage
        )
        values = [row[c] for c in THERMO_COLUMNS]
        thermo_fh.write(",".join(str(v) for v in values) + f",{offsets[i] + local}\n")
        thermo_fh.flush()

    def emit_frame(p: int) -> None:
        pos = atoms.get_positions()
        vel = atoms.get_velocities() * (units.fs * 1000.0) if frames.velocities else None
        box = np.diag(atoms.cell.array)
        writer.write(
            [p], [p * dt_fs / 1000.0], box[None, :], pos[None], None if vel is None else vel[None]
        )
        writer.flush()

    def snapshot(step_g: int, prod_step: int) -> DynamicalState:
        return DynamicalState(
            positions=atoms.get_positions().copy(),
            momenta=atoms.get_momenta().copy(),
            cell=np.array(atoms.cell.array),
            global_step=step_g,
            production_step=prod_step,
            rng_state=rng.bit_generator.state,
            meta={"symbols": atoms.get_chemical_symbols()},
        )

    frame_set = set(frames.steps.tolist()) if frames is not None else set()
    try:
        i, local = _position(stages, g)
        if g == 0:  # the state before the first step
            emit_thermo(0, 0)
            if stages[0].clock == "production" and production_start in frame_set:
                emit_frame(production_start)
        while i < len(stages):
            stage = stages[i]
            if local == 0 and g > 0:
                emit_thermo(i, 0)  # LAMMPS prints the first line of every run
                if stage.clock == "production" and production_start in frame_set:
                    emit_frame(production_start)
            for j in range(local, stage.n_steps):
                dyn.temp = stage.target_K(j) * units.kB
                dyn.target_kinetic_energy = 0.5 * dyn.temp * dyn.ndof
                dyn.step()
                g += 1
                done = j + 1
                # on the stage's own clock: production rows at production steps
                # 0, every, 2 every, ... as LAMMPS prints them after reset_timestep 0
                if clock(i, done) % thermo_every == 0 or done == stage.n_steps:
                    emit_thermo(i, done)
                if stage.clock == "production" and (production_start + done) in frame_set:
                    emit_frame(production_start + done)
                # never at the end of a stage: a resume then always lands inside a
                # stage, after that stage's start row, first frame and data file
                if g % ckpt_every == 0 and done < stage.n_steps:
                    prod = production_start + done if stage.clock == "production" else -1
                    write_state(workdir / CHECKPOINT, snapshot(g, prod))
            if stage.write_after:
                write_data_atoms(atoms, workdir / stage.write_after, species)
            i, local = i + 1, 0
            t_stage = time.perf_counter()
    finally:
        thermo_fh.close()
        if writer is not None:
            writer.close()

    n_frames = 0
    if frames is not None:
        part = Path(str(frames.out) + ".part")
        traj = open_trajectory(part, verify=True)
        if not np.array_equal(traj.steps, frames.steps):
            raise AseEngineError(f"{part}: frames at steps other than the planned ones")
        n_frames = traj.n_frames
        os.replace(part, frames.out)
    end_prod = production_start + (stages[-1].n_steps if stages[-1].clock == "production" else 0)
    if end_state_out is not None:
        write_state(end_state_out, snapshot(g, end_prod))
    wall = time.perf_counter() - t0
    state_doc["attempts"][-1]["wall_s"] = wall
    state_doc["finished"] = True
    write_json_atomic(workdir / STATE_FILE, state_doc)
    (workdir / CHECKPOINT).unlink(missing_ok=True)
    attempts = state_doc["attempts"]
    return {
        "wall_time_s": float(sum(a.get("wall_s", 0.0) for a in attempts)),
        "wall_time_s_last_attempt": wall,
        "n_attempts": len(attempts),
        "n_frames": n_frames,
        "n_steps": total,
        "resumed_from_step": None if resumed is None else resumed.global_step,
    }


def read_data_atoms_from_meta(meta: Mapping[str, Any], species, masses) -> list[str]:
    """Chemical symbols recorded in a state's meta (a state holds no topology file)."""
    symbols = meta.get("symbols")
    if not symbols or any(s not in species for s in symbols):
        raise ValueError(f"state symbols {sorted(set(symbols or []))} vs species {list(species)}")
    return list(symbols)


def _previous_state(workdir: Path, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The state document of an earlier attempt with the same key and a checkpoint."""
    path = workdir / STATE_FILE
    if not path.is_file() or not (workdir / CHECKPOINT).is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != STATE_FORMAT
        or doc.get("key") != dict(key)
    ):
        return None
    if doc.get("finished"):
        return None
    return doc
