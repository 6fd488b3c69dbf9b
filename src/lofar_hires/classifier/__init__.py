"""The self-calibration image classifier: P(continue) of a self-calibration image
(de Jong et al. 2025, section 6.3.3)."""
