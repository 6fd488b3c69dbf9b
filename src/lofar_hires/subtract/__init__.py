"""1.2 arcsec facet subtraction: one phase-shifted, corrected, averaged dataset per facet.

:mod:`.plan` checks the inputs and decides each facet's job (centre, components,
averaging); :mod:`.run` runs DP3 by the new method (subtract the field once, add each
facet back) or the old one (per facet, subtract every other facet); :mod:`.timing`
reads where each DP3 run spent its time.
"""
