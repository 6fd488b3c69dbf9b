"""Sidereal visibility averaging: many observations of one field onto one template grid in local sidereal
time (module 9)."""
