"""Files every stage shares: the ``.gtrj`` trajectory format, atomic writes, exports.

In: arrays and tables of any stage. ``trajectory`` defines the compact binary
trajectory (written by the MD stage, read by the analyses, CRC-checked per frame),
``atomic`` writes JSON and parquet outputs via ``*.part`` and a rename, ``export``
converts a trajectory to extended XYZ, DCD or a LAMMPS text dump, and
``mdanalysis_reader`` lets MDAnalysis open ``.gtrj`` files. Out: files on disk. Nothing
here imports another glassflow subpackage, so every stage may depend on it.
"""
