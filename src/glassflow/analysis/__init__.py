"""Per-run analysis stage: one production run (or one quenched glass) to tidy tables.

In: a ``.gtrj`` trajectory with its ``run.json`` (or a glass data file with its
``glass.json``) and the ``analysis`` sections of the config. ``dynamics/`` computes the
MSD, non-Gaussian parameter, Van Hove function, VACF and from them D and sigma with
their intervals; ``structure/`` g(r), coordination numbers, bond angles and S(k);
``topology`` the network bonds and constraint counts, with the mean-field theory of
``rigidity``; ``softness/`` which ions the static structure marks as about to move.
``runs`` drives them for the workflow; ``settings`` reads every settings block strictly.
Out: parquet tables with the run keys (campaign, x, m, T_K, replica) on every row.
"""
