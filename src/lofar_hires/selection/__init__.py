"""Calibrator selection: candidates, phasediff scores, classification and the facet layout.

Follows de Jong et al. 2025, section 6.3.1.
"""
