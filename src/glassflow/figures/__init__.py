"""Figures and report stage: tables to PNG + PDF figures and readable report tables.

In: the per-composition and campaign tables (transport, Arrhenius, structure, topology,
softness, thermo). ``common`` holds the palette and the saving of the campaign figures;
``arrhenius``, ``rigidity`` (transport against m at fixed x, PRL style), ``maps`` (over
the (x, m) plane) and ``constraints`` draw the campaign figures; ``dynamics``,
``structure``, ``softness`` and ``thermo`` the per-composition ones; ``report_tables``
renders parquet tables as HTML + CSV for the Snakemake report. Out: figure files and
``tables/*.html``.
"""
