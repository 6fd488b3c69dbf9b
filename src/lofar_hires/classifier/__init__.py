"""The self-calibration image classifier: P(continue) of a self-calibration image (SPEC section 7)."""
