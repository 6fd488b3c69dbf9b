"""Imaging with WSClean and measurements on the resulting FITS images."""
