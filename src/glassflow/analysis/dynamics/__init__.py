"""Ion dynamics and transport of one run (docs/physics.md §4; method in docs/transport.md).

In: the unwrapped positions (and velocities) of a trajectory. ``correlations`` computes
the all-origin MSD, non-Gaussian parameter, Van Hove function and VACF (FFT, streamed
over blocks of atoms); ``msd_covariance`` models the covariance of MSD values between
lags for generalised least squares; ``transport`` turns the curves into Einstein and
Green-Kubo diffusivities, the collective conductivity and the Haven ratio; ``tables``
writes the per-run tables and pools replicas. Out: curves and D, sigma with 95 %
intervals and a verdict ("diffusive" or why not).
"""
