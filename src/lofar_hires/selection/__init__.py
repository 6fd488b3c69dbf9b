"""Calibrator selection: candidates, phasediff scores, classification and the facet layout (SPEC 3)."""
