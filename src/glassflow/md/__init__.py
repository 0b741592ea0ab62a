"""Build and MD stage: from a composition to a glass and its production trajectories.

In: the validated campaign (compositions, potential file, protocol, engine settings).
The stage builds a random cell at the target density (``composition``, ``cell``), renders
the LAMMPS inputs from ``templates/`` with the force field (``potential``, ``lammps``),
checks that the LAMMPS build has what the campaign needs (``preflight``), runs the
melt-quench and the production runs in their run directories through an MD engine
(``engines``: LAMMPS, or ASE), the latter possibly as segments that extend a run until
D is converged (``jobs``, ``segments``, ``stitching``), and reads the LAMMPS logs and
dumps (``lammps_io``). Checksums of inputs and files (``checksums``) decide whether a
run is the same run; ``provenance`` records the software versions. Out: ``glass.data``
and ``glass.json`` per glass; ``trajectory.gtrj``, ``thermo.parquet`` and ``run.json``
per production run.
"""
