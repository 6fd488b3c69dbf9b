"""Direction-independent calibration: separating LOFAR's systematic effects."""
