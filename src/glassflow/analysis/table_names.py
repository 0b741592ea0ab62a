"""Names of the tables the run and glass analyses write (glassflow.analysis.runs).

Kept apart from the analyses so that the workflow, which parses its rules in every
Snakemake process (the planning one and, on a cluster, one per job), names its outputs
without importing pandas and scipy.
"""

DYNAMICS_TABLES = ("summary", "curves", "vanhove", "fastslow")
STRUCTURE_TABLES = ("gr", "sk", "angles", "summary", "topology")
SOFTNESS_TABLES = ("ions", "summary")
