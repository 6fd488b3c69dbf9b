"""Wide-field mosaic: facet images reprojected onto one grid, each pixel from its own facet, with a noise map."""
