"""Build and MD stage: from a composition to a glass and its production trajectories.

In: the validated campaign (compositions, potential file, protocol, engine settings).
The stage builds a random cell at the target density (``composition``, ``cell``), renders
the LAMMPS inputs from ``templates/`` with the force field (``potential``, ``lammps``),
checks that the LAMMPS build has what the campaign needs (``preflight``), runs the
melt-quench and the production runs in their run directories, the latter possibly as
segments that extend a run until D is converged (``protocol``, ``segments``), and reads
the LAMMPS logs and dumps (``lammps_io``). Out: ``glass.data`` and ``glass.json`` per
glass; ``trajectory.gtrj``, ``thermo.parquet`` and ``run.json`` per production run.
"""
