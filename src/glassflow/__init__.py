"""glassflow: high-throughput MD campaigns on glassy sulfide electrolytes.

Subpackages follow the stages of a campaign: :mod:`glassflow.config` (the campaign
YAML to a validated grid), :mod:`glassflow.md` (build a cell, run LAMMPS),
:mod:`glassflow.analysis` (per-run dynamics, structure, topology, softness),
:mod:`glassflow.campaign` (aggregation and fits over all runs) and
:mod:`glassflow.figures` (figures and report tables); :mod:`glassflow.io` holds the file
formats every stage shares. docs/design.md draws the layout.
"""

__version__ = "0.1.0"
