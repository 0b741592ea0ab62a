"""Campaign stage: all runs of a campaign to campaign tables, fits and comparisons.

In: the per-run tables and ``run.json`` files of every (composition, T, replica).
``tables`` concatenates them with provenance and lists the missing runs; ``arrhenius``
fits activation energies with intervals and pools replicas for plotting;
``composition_map`` interpolates transport over the (x, m) plane; ``series`` picks the
fixed-x series of the rigidity figures; ``constraint_diagnostics`` compares MD and ideal
constraint counts; ``compare`` joins other campaigns' tables; ``status`` reads the
progress of a campaign from disk. Out: ``tables/*.parquet`` of the campaign.
"""
