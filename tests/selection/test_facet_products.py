"""The facet layout products of a calibrator table (lofar_hires.selection.facet_products), called directly.

``lofar-hires facets`` runs the same function (tests/cli/test_cli_facets.py, with a simulated MS);
here: settings refused by their own names, the field centre and data resolution from an MS's
metadata or from explicit values, and the products of a layout about a given centre.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError, OutputExistsError
from lofar_hires.io.ms import MsInfo
from lofar_hires.selection.facet_products import (
    PRODUCTS,
    FacetSettings,
    data_resolution,
    field_centre,
    make_facet_products,
)
from lofar_hires.selection.table import CalibratorRow, write_table

CENTRE = (242.75, 55.0)


def ms_info(n_chan: int = 8) -> MsInfo:
    """Metadata of a small MS: 10 s integrations, 390.625 kHz channels from 120 MHz, phase centre CENTRE."""
    return MsInfo(path=Path("x.MS"), station_names=("CS001HBA0", "RS106HBA"), station_positions_m=np.zeros((2, 3)),
                  freqs_hz=120e6 + 390625.0 * np.arange(n_chan), chan_width_hz=390625.0,
                  times_mjd_s=4.9e9 + 10.0 * np.arange(3), integration_s=10.0,
                  phase_centre_rad=(math.radians(CENTRE[0] - 360.0), math.radians(CENTRE[1])), n_rows=3,
                  columns=("DATA",))


@pytest.mark.parametrize("kwargs, message", [
    ({"box_deg": -1.0}, "box_deg must be a positive number, got -1.0"),
    ({"circle_deg": float("nan")}, "circle_deg must be a positive number, got nan"),
    ({"max_edge_deg": 0.0}, "max_edge_deg must be a positive number"),
    ({"resolution_arcsec": -0.3}, "resolution_arcsec must be a positive number"),
    ({"integration_s": -1.0}, "integration_s must be a positive number"),
    ({"max_smearing_loss": 1.5}, "max_smearing_loss is a fraction in (0, 1), got 1.5"),
    ({"box_deg": 90.0}, "the clip box width must be in"),
], ids=["box", "circle", "edge", "resolution", "integration", "loss", "box-too-large"])
def test_settings_refused_by_name(kwargs, message):
    with pytest.raises(InputError) as err:
        FacetSettings(**kwargs)
    assert message in str(err.value) and "--" not in str(err.value)


def test_clip_region_from_settings():
    assert FacetSettings().clip.describe() == "box 2.5 deg wide"
    assert FacetSettings(circle_deg=0.4).clip.describe() == "circle of radius 0.4 deg"


def test_field_centre_from_ms_or_given():
    assert field_centre(ms_info(), None) == pytest.approx(CENTRE)  # the MS's RA wrapped into [0, 360)
    assert field_centre(None, (10.0, -30.0)) == (10.0, -30.0)
    with pytest.raises(InputError, match=r"centre_deg 400.0 55.0 is not a sky position"):
        field_centre(None, (400.0, 55.0))
    with pytest.raises(InputError, match="give a measurement set or centre_deg"):
        field_centre(None, None)


def test_data_resolution_from_ms_with_overrides():
    info = ms_info()
    from_ms = data_resolution(info, FacetSettings())
    assert (from_ms.integration_s, from_ms.chan_width_hz, from_ms.freq_min_hz, from_ms.n_chan) == (
        10.0, 390625.0, 120e6, 8)
    overridden = data_resolution(info, FacetSettings(integration_s=2.0, chan_width_hz=97656.25))
    # another channel width: the MS's channel count no longer applies
    assert (overridden.integration_s, overridden.chan_width_hz, overridden.n_chan) == (2.0, 97656.25, None)
    assert data_resolution(None, FacetSettings()) is None
    explicit = data_resolution(None, FacetSettings(integration_s=1.0, chan_width_hz=12207.03125, freq_hz=120e6))
    assert explicit.n_chan is None and explicit.freq_min_hz == 120e6
    with pytest.raises(InputError, match="integration_s given without chan_width_hz, freq_hz; give all three"):
        data_resolution(None, FacetSettings(integration_s=1.0))


def test_products_of_a_layout_about_a_given_centre(tmp_path):
    rows = [CalibratorRow("calA", 242.95, 55.30, score_rad=0.9, category="main"),
            CalibratorRow("calB", 242.30, 55.10, score_rad=1.4, category="main"),
            CalibratorRow("calC", 243.10, 54.70, score_rad=1.8, category="main"),
            CalibratorRow("weak1", 242.90, 55.35, score_rad=2.2, category="weak"),
            CalibratorRow("rej1", 242.75, 55.00, score_rad=2.9, category="rejected")]
    table = write_table(tmp_path / "cal.csv", rows)
    out = tmp_path / "layout"
    settings = FacetSettings(circle_deg=0.6, integration_s=1.0, chan_width_hz=12207.03125, freq_hz=120e6,
                             resolution_arcsec=6.0)
    layout = make_facet_products(table, out, settings, centre_deg=CENTRE, parameters={"request": "test"})
    assert sorted(p.name for p in out.iterdir()) == sorted(PRODUCTS)
    assert layout.names == ["calA", "calB", "calC"]
    document = json.loads((out / "facets.json").read_text())
    assert document["settings"]["clip"] == "circle of radius 0.6 deg"
    assert document["settings"]["data"]["integration_s"] == 1.0
    assert [f["weak_calibrators"] for f in document["facets"]] == [["weak1"], [], []]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["task"] == "facets" and prov["parameters"]["request"] == "test"
    assert prov["parameters"]["settings"]["centre_deg"] == list(CENTRE)
    with pytest.raises(OutputExistsError):
        make_facet_products(table, out, settings, centre_deg=CENTRE)
    with pytest.raises(InputError, match="not both or neither"):
        make_facet_products(table, tmp_path / "other", settings)
