"""The built-in simulator of LOFAR observations with known corruptions (ground truth)."""
