"""Static structure of glasses and melts (docs/physics.md §5, §6, §8).

In: positions per frame, shape (frames, atoms, 3), in an orthorhombic periodic box (Å),
with the species index of every atom. ``geometry`` holds the periodic-box helpers and
the neighbour search; ``pair_correlation`` g(r), running coordination numbers and bond
cutoffs; ``angles`` bond-angle distributions; ``structure_factor`` S(k) by the Fourier
and the direct route, X-ray and neutron totals and the Na-Na prepeak; ``settings`` the
settings block; ``tables`` the tidy tables of one run or glass, including the network
topology. Out: tables keyed by the run keys and ``stage`` (glass or production).
"""
