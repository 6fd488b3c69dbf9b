"""Final imaging (module 10): each facet at 0.3, 0.6 and 1.2 arcsec with its solutions, primary-beam corrected."""
