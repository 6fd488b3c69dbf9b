"""Calibration solutions: merging, station resets, superstations, directions, bases.

The h5parm files themselves are read and written by :mod:`lofar_hires.io.h5parm`;
this package holds the operations on solutions, each in its own module.
"""
