"""Input/output: measurement sets, h5parms, sky models and atomic product writing."""
