"""Compute accounting: core-hours per module of a run and their projection to real LOFAR observations.

:mod:`~lofar_hires.accounting.config` holds the scaling model (``configs/lofar_dimensions.yaml``),
:mod:`~lofar_hires.accounting.manifest` reads a run manifest (``run.json``),
:mod:`~lofar_hires.accounting.projection` projects the measured costs and compares them with
de Jong et al. (2025, Figure 6.14), :mod:`~lofar_hires.accounting.report` writes the table and plot.
"""
