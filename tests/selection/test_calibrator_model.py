"""The calibrators of the Dutch direction-dependent solve and their sky model (de Jong et al. 2025, section 6.4.1).

A selection table gives its main calibrators whatever their brightness; a plain catalogue (no
``main`` row) gives its rows with ``peak_flux_jy`` at or above the threshold (85 mJy/beam by
default; exactly 0.085 is in). The flux of a calibrator is its peak brightness, else its total flux;
a chosen row without a positive one, and a table that gives no calibrator, are refused with one
line naming the row or the table. The sky model has one point source per calibrator in a patch of
its own name, with the flux at the reference frequency and the configured spectral index.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.selection.calibrator_model import (
    calibrator_flux_jy,
    calibrator_skymodel,
    dd_calibrators,
    faintest_calibrator,
    selection_rule,
)
from lofar_hires.selection.config import SkymodelConfig, load_selection_config
from lofar_hires.selection.table import CalibratorRow

THRESHOLD_JY = 0.085


def row(name: str, peak: float | None = None, total: float | None = None, category: str = "candidate",
        ra: float = 242.0, dec: float = 55.0) -> CalibratorRow:
    return CalibratorRow(name, ra, dec, peak_flux_jy=peak, total_flux_jy=total, category=category)


def test_shipped_threshold_is_85_mjy_per_beam():
    cfg = load_selection_config().skymodel
    assert cfg == SkymodelConfig()
    assert (cfg.min_peak_flux_jy, cfg.reference_freq_hz, cfg.spectral_index) == (0.085, 144.0e6, -0.7)


def test_selection_table_gives_its_main_calibrators_whatever_their_brightness():
    rows = [row("m1", peak=0.01, category="main"), row("w1", peak=2.0, category="weak"),
            row("r1", peak=5.0, category="rejected"), row("m2", total=0.4, category="main"),
            row("c1", peak=1.0)]
    chosen = dd_calibrators(rows, THRESHOLD_JY)
    assert [r.name for r in chosen] == ["m1", "m2"]
    assert selection_rule(rows, THRESHOLD_JY) == "the main calibrators of the selection table"


@pytest.mark.parametrize("peak, chosen", [(0.085, True), (0.0849999, False), (0.0850001, True), (None, False)],
                         ids=["at-threshold", "just-below", "just-above", "no-peak"])
def test_plain_catalogue_threshold_edge(peak, chosen):
    rows = [row("bright", peak=0.5), row("edge", peak=peak, total=1.0)]
    names = [r.name for r in dd_calibrators(rows, THRESHOLD_JY)]
    assert names == (["bright", "edge"] if chosen else ["bright"])
    assert selection_rule(rows, THRESHOLD_JY) == "the sources with peak_flux_jy >= 0.085 Jy/beam"


def test_plain_catalogue_with_weak_rows_uses_the_threshold():
    """A table without a main row is a catalogue, whatever the categories of its rows."""
    rows = [row("w1", peak=0.2, category="weak"), row("w2", peak=0.05, category="weak")]
    assert [r.name for r in dd_calibrators(rows, THRESHOLD_JY)] == ["w1"]


def test_flux_is_peak_else_total():
    assert calibrator_flux_jy(row("a", peak=0.2, total=0.9)) == 0.2
    assert calibrator_flux_jy(row("b", total=0.9)) == 0.9
    rows = [row("m1", peak=0.3, total=0.1, category="main"), row("m2", total=0.15, category="main"),
            row("m3", peak=0.25, category="main")]
    faint, flux = faintest_calibrator(dd_calibrators(rows, THRESHOLD_JY))
    assert (faint.name, flux) == ("m2", 0.15)


@pytest.mark.parametrize("bad, message", [
    (row("nofluxcal", category="main"), "nofluxcal has no peak_flux_jy or total_flux_jy"),
    (row("negcal", peak=-0.2, total=0.5, category="main"), "negcal has peak_flux_jy -0.2"),
    (row("negtotal", total=-1.0, category="main"), "negtotal has total_flux_jy -1"),
    (row("zerocal", peak=0.0, category="main"), "zerocal has peak_flux_jy 0"),
], ids=["no-flux", "negative-peak", "negative-total", "zero-peak"])
def test_a_chosen_row_without_a_usable_flux_is_refused(bad, message):
    rows = [row("good", peak=0.5, category="main"), bad]
    with pytest.raises(InputError, match=message) as err:
        dd_calibrators(rows, THRESHOLD_JY, table="sel.csv")
    assert "calibrator table sel.csv" in str(err.value) and "\n" not in str(err.value)


def test_nan_flux_is_refused_by_name():
    """Rows are checked on creation; a NaN that reached the rule anyway is named too."""
    with pytest.raises(InputError, match="nancal: peak_flux_jy is not a finite number"):
        row("nancal", peak=math.nan, category="main")
    bad = row("nancal", peak=0.5, category="main")
    object.__setattr__(bad, "peak_flux_jy", math.nan)
    with pytest.raises(InputError, match="nancal has peak_flux_jy nan"):
        dd_calibrators([bad], THRESHOLD_JY)


@pytest.mark.parametrize("rows", [
    [row("faint", peak=0.05), row("nopeak", total=5.0)],
    [row("w1", peak=0.01, category="weak")],
    [],
], ids=["all-faint", "weak-only", "empty"])
def test_no_calibrator_is_one_line_naming_the_table(rows):
    with pytest.raises(InputError) as err:
        dd_calibrators(rows, THRESHOLD_JY, table="cat.csv")
    assert str(err.value) == ("calibrator table cat.csv has no main calibrator and no source with peak_flux_jy >= "
                              "0.085 Jy/beam")


@pytest.mark.parametrize("threshold", [-0.1, math.nan, math.inf])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(InputError, match="min_peak_flux_jy"):
        dd_calibrators([row("a", peak=1.0)], threshold)


def test_skymodel_has_one_point_patch_per_calibrator():
    rows = [row("calA", peak=0.5, total=0.7, ra=242.5, dec=55.1, category="main"),
            row("calB", total=0.2, ra=243.25, dec=54.75, category="main")]
    model = calibrator_skymodel(rows, 144.0e6, -0.7)
    assert model.names == ["calA", "calB"] and model.patches == ["calA", "calB"]
    assert model.types == ["POINT", "POINT"]
    np.testing.assert_allclose(model.i_jy, [0.5, 0.2])
    np.testing.assert_allclose(np.degrees(model.ra_rad), [242.5, 243.25])
    np.testing.assert_allclose(np.degrees(model.dec_rad), [55.1, 54.75])
    np.testing.assert_allclose(model.ref_freq_hz, 144.0e6)
    assert model.spectral_index.tolist() == [[-0.7], [-0.7]] and model.log_si.all()
    assert model.patch_positions["calB"] == pytest.approx((math.radians(243.25), math.radians(54.75)))
    # flux at the reference frequency; at 2 x the frequency 2**-0.7 of it
    np.testing.assert_allclose(model.flux_jy([144.0e6, 288.0e6]), [[0.5, 0.5 * 2**-0.7], [0.2, 0.2 * 2**-0.7]])


@pytest.mark.parametrize("freq, si, setting", [(0.0, -0.7, "reference_freq_hz"), (math.nan, -0.7, "reference_freq_hz"),
                                               (144e6, math.inf, "spectral_index")])
def test_skymodel_refuses_bad_spectrum_settings(freq, si, setting):
    with pytest.raises(InputError, match=setting):
        calibrator_skymodel([row("a", peak=1.0)], freq, si)


def test_skymodel_refuses_no_rows_and_rows_without_flux():
    with pytest.raises(InputError, match="no calibrator"):
        calibrator_skymodel([], 144e6, -0.7)
    with pytest.raises(InputError, match="fluxless has no peak_flux_jy"):
        calibrator_skymodel([row("fluxless")], 144e6, -0.7)
