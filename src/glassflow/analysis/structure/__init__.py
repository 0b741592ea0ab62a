"""Static structure of glasses and melts (docs/physics.md §5, §6, §8).

In: positions per frame, shape (frames, atoms, 3), in an orthorhombic periodic box (Å),
with the species index of every atom. ``geometry`` holds the periodic-box helpers
(the one ``wrap_positions``), the neighbour search and per-atom neighbour counts;
``pair_correlation`` g(r) (of species, or of any two sets of atoms), running
coordination numbers and bond cutoffs; ``fast_slow`` the partition of the mobile ions
into fast and slow ones ([S23] §3.4.3); ``angles`` bond-angle distributions;
``structure_factor`` S(k) by the Fourier
and the direct route, X-ray and neutron totals and the Na-Na prepeak; ``settings`` the
settings block; ``tables`` the tidy tables of one run or glass, including the network
topology. Out: tables keyed by the run keys and ``stage`` (glass or production).
"""
