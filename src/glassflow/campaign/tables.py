"""Campaign tables: keys, provenance, and aggregation of the per-run tables.

Every table is keyed by ``campaign, x, m, T_K, replica`` (+ ``species`` or ``stage``);
aggregation concatenates the per-run parquet files and sorts by these keys, so
adding grid points adds rows and leaves the rows of unchanged runs identical.
Missing or failed runs are reported (keys and reason), never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

RUN_KEYS: tuple[str, ...] = ("campaign", "x", "m", "T_K", "replica")


def config_hash(config: Mapping[str, Any]) -> str:
    """Short SHA-256 of the validated config (sorted JSON)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit(directory: str | Path) -> str:
    """Commit hash of the workflow checkout (``unknown`` outside git), ``+dirty`` if modified."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def sort_by_keys(df: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Sort rows by the run keys (and extra key columns present) with a fresh index."""
    cols = [c for c in (*RUN_KEYS, *extra) if c in df.columns]
    return df.sort_values(cols, kind="stable").reset_index(drop=True) if cols else df


def concat_tables(paths: Iterable[str | Path], extra_keys: Sequence[str] = ()) -> pd.DataFrame:
    """Concatenate per-run parquet tables, sorted by keys; raises naming an unreadable file."""
    frames = []
    for p in paths:
        try:
            frames.append(pd.read_parquet(p))
        except Exception as err:  # noqa: BLE001 - re-raised with the file name
            raise ValueError(f"{p}: unreadable table ({err})") from err
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return sort_by_keys(pd.concat(frames, ignore_index=True), extra_keys)


def run_row(run: Mapping[str, Any]) -> dict:
    """One row of ``runs.parquet`` from a production run.json."""
    counts = run["counts"]
    row: dict[str, Any] = {k: run[k] for k in RUN_KEYS}
    row.update(
        comp=run["comp"],
        x_achieved=run["x_achieved"],
        m_achieved=run["m_achieved"],
        n_atoms=int(sum(counts.values())),
        **{f"n_{el}": int(n) for el, n in counts.items()},
        **{f"q_{el}_e": float(q) for el, q in run["charges_used"].items()},
        **{f"q_potential_{el}_e": float(q) for el, q in run["potential_charges"].items()},
        net_charge_e=float(run["net_charge_e"]),
        neutrality=run["neutrality"],
        potential=run["potential"],
        box_A=float(run["box_A"]),
        density_g_cm3=float(run["density_g_cm3"]),
        production_start=run["protocol"]["production_start"],
        production_ps=float(run["protocol"]["production_ps"]),
        dump_interval_fs=float(run["protocol"]["dump_interval_fs"]),
        timestep_fs=float(run["protocol"]["timestep_fs"]),
        melt_T_K=float(run["protocol"]["melt_T_K"]),
        seed=int(run["seed"]),
        # the glass the run reheated (another replica's, for a replica added by the
        # convergence rounds, which then draws new velocities)
        glass_replica=int(run.get("glass_replica", run["replica"])),
        n_frames=int(run["n_frames"]),
        production_wall_s=float(run["wall_time_s"]),
        glass_wall_s=float(run["glass_wall_time_s"]),
        mean_temp_K=float(run["mean_temp_K"]),
        mean_press_atm=float(run["mean_press_atm"]),
        lammps_version=run["lammps_version"],
        accelerator=run["engine"]["accelerator"],
        kspace=f"{run['engine']['kspace_style']} {run['engine']['kspace_accuracy']:g}",
        cutoff_A=float(run["engine"]["cutoff_A"]),
        host=run.get("host", ""),
        **segment_columns(run),
    )
    return row


def segment_columns(run: Mapping[str, Any]) -> dict[str, Any]:
    """Runs-table columns of a run's production segments (glassflow.md.segments).

    ``n_segments``, ``total_production_ps``, ``stop_reason`` ("fixed length",
    "converged: ...", "max_production_ps reached ..."), ``segment_rel_errors`` (JSON
    text: per element, the 1 sigma relative error of D after each segment, null where
    not diffusive) and ``rel_err_D_<el>`` after the last segment (NaN: no D). A run.json
    written before segments existed was one fixed-length run.
    """
    if "stop_reason" not in run:
        return {
            "n_segments": 1,
            "total_production_ps": float(run["protocol"]["production_ps"]),
            "stop_reason": "fixed length",
            "segment_rel_errors": "{}",
        }
    rel = run.get("segment_rel_errors") or {}
    return {
        "n_segments": int(run["n_segments"]),
        "total_production_ps": float(run["total_production_ps"]),
        "stop_reason": str(run["stop_reason"]),
        "segment_rel_errors": json.dumps(rel, sort_keys=True),
        **{
            f"rel_err_D_{el}": float("nan") if not v or v[-1] is None else float(v[-1])
            for el, v in sorted(rel.items())
        },
    }


def runs_table(run_jsons: Sequence[str | Path]) -> pd.DataFrame:
    """One row per production run (keys, composition, charges, protocol, provenance)."""
    rows = [run_row(json.loads(Path(p).read_text())) for p in run_jsons]
    return sort_by_keys(pd.DataFrame(rows))


def missing_runs(expected: Sequence[Mapping[str, Any]], present: pd.DataFrame) -> pd.DataFrame:
    """Expected runs (dicts with the run keys + ``reason_if_missing``) absent from a table."""
    have = set()
    if len(present):
        have = set(zip(*(present[k] for k in RUN_KEYS), strict=True))
    rows = [
        {k: e[k] for k in (*RUN_KEYS, "reason")}
        for e in expected
        if tuple(e[k] for k in RUN_KEYS) not in have
    ]
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "reason"])


def failure_reason(log_path: str | Path) -> str:
    """Why a run has no output: the last error line of its log, or 'not run'."""
    p = Path(log_path)
    if not p.is_file():
        return "not run (no log)"
    lines = [ln.strip() for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(w in ln for w in ("ERROR", "Error", "error", "Killed", "Traceback")):
            return f"failed: {ln[:200]}"
    return "incomplete: " + (lines[-1][:200] if lines else "empty log")
