"""DD refinement of a facet (de Jong et al. 2025, section 6.4.4): the 6 arcsec Dutch self-calibration of the facet,
then the final joint self-calibration of its calibrator, on the facet datasets of every observation."""
