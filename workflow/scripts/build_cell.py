"""Snakemake script: random initial cell of one (composition, replica)."""

from glassflow.io.atomic import write_json_atomic
from glassflow.md.cell import build_random_cell, min_pair_distance, write_lammps_data
from glassflow.md.composition import Composition
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    p = smk.params.cell
    sp = p["species"]
    comp = Composition(
        sp[0], sp[1], sp[2], *(p["counts"][el] for el in sp), p["x_requested"], p["m_requested"]
    )
    atoms = build_random_cell(
        comp, p["charges"], p["masses"], p["box_A"], p["min_distance_A"], p["seed"]
    )
    write_lammps_data(atoms, smk.output.cell, tuple(sp))
    d_min = min_pair_distance(atoms.positions, p["box_A"])
    log.info("%d atoms in %.4f A box, min pair distance %.3f A", len(atoms), p["box_A"], d_min)
    write_json_atomic(smk.output.meta, dict(p, n_atoms=len(atoms), min_pair_distance_A=d_min))
