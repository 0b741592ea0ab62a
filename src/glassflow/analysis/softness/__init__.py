"""Softness: learning from the static structure which ions will move (physics.md §7).

Method of Chen et al., ACS Energy Lett. 8, 1969 (2023), following Cubuk/Schoenholz et al.
In: the frames of one trajectory and its Van Hove table. ``features`` computes radial
structure functions of every mobile ion at the start of each window; ``labels`` marks
the ions that rearrange over the window (and those that clearly do not);
``classifier`` fits a hyperplane between the two, the softness being the signed distance
to it; ``relations`` and ``environment`` relate the softness to the displacement, the
neighbours, the Voronoi volume and a pair energy; ``analyse`` runs the chain for one
run. Out: a per-ion table, a one-row summary and P_R(S). Units: Å, ps, kcal/mol, e.
"""
