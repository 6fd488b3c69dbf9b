"""The mosaic's grid: SIN about the centre with WSClean's reference pixel, holding every facet polygon."""

from __future__ import annotations

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.mosaic.grid import MARGIN_PIX, edge_points_deg, field_centre_deg, mosaic_grid
from lofar_hires.selection.facets import ClipRegion, make_facets


@pytest.fixture(scope="module")
def facets():
    """Three facets of a 1 deg box about a field at RA 359.8 deg (across RA = 0)."""
    layout = make_facets(["a", "b", "c"], [359.6, 0.1, 359.9], [30.2, 30.1, 29.7], (359.8, 30.0),
                         ClipRegion("box", 1.0))
    return layout.facets


def test_grid_holds_every_polygon(facets) -> None:
    grid = mosaic_grid(facets, 10.0 / 3600.0)
    assert grid.crpix == (grid.nx // 2 + 1, grid.ny // 2 + 1) and grid.nx % 2 == 0 and grid.ny % 2 == 0
    wcs = grid.wcs()
    for facet in facets:
        pts = edge_points_deg(facet.vertices_deg)
        x, y = grid.pixel_of(pts[:, 0], pts[:, 1])
        wx, wy = wcs.all_world2pix(pts[:, 0], pts[:, 1], 0)
        np.testing.assert_allclose(x, wx, atol=1e-6)
        np.testing.assert_allclose(y, wy, atol=1e-6)
        assert x.min() >= MARGIN_PIX - 1 and x.max() <= grid.nx - MARGIN_PIX
        assert y.min() >= MARGIN_PIX - 1 and y.max() <= grid.ny - MARGIN_PIX
    # about the box's own centre, the 1 deg box at 10 arcsec: 360 pixels plus the margins
    box = mosaic_grid(facets, 10.0 / 3600.0, centre_deg=(359.8, 30.0))
    assert box.nx == pytest.approx(360 + 2 * MARGIN_PIX, abs=2) and box.ny == pytest.approx(360 + 2 * MARGIN_PIX, abs=2)


def test_centre_is_the_mean_of_the_facet_centres(facets) -> None:
    ra, dec = field_centre_deg(facets)
    assert (ra > 359.0 or ra < 1.0) and 29.5 < dec < 30.5
    grid = mosaic_grid(facets, 10.0 / 3600.0, centre_deg=(359.5, 30.0))
    assert (grid.centre_ra_deg, grid.centre_dec_deg) == (359.5, 30.0)
    assert grid.nx > mosaic_grid(facets, 10.0 / 3600.0).nx, "an off-centre grid is wider"


@pytest.mark.parametrize("pixel_deg, centre, message", [
    (0.0, None, "pixel scale"), (float("nan"), None, "pixel scale"), (1e-8, None, "larger than"),
    (1e-3, (359.8, 95.0), "not a sky position"), (1e-3, (180.0, -30.0), "reaches"),
])
def test_bad_grids(facets, pixel_deg, centre, message) -> None:
    with pytest.raises(InputError, match=message):
        mosaic_grid(facets, pixel_deg, centre)
