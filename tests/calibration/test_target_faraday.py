"""The target pipeline removes the calibrator's Faraday rotation after the station beam.

A 2 Jy source at the pointing centre, observed by the tiny array (two international stations) with only the
station beam and a constant differential Faraday rotation in the data. ``lofar-hires di-target`` with the true
rotation measures as the calibrator's solutions must leave Stokes I on every baseline and nothing in the cross
hands; removed before the beam, the rotation came out doubled instead (the order of
:func:`lofar_hires.calibration.di_target.correction_order`).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.calibration.di_target import correction_order
from lofar_hires.cli import main
from lofar_hires.io.h5parm import CALIBRATOR_SOLSET, read_h5parm, write_h5parm

pytestmark = pytest.mark.slow


def test_instrumental_terms_then_beam_then_faraday():
    types = {"polalign": "phase", "bandpass": "amplitude", "clock": "clock", "faraday": "rotationmeasure"}
    assert correction_order(["faraday", "polalign", "bandpass", "clock"], types, True) == [
        "polalign", "bandpass", "clock", None, "faraday"]
    assert correction_order(["polalign", "faraday"], types, False) == ["polalign", "faraday"]


def _data(ms):
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return t.getcol("DATA"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2")


def test_faraday_rotation_is_removed_not_doubled(simulated, tmp_path):
    sky = tmp_path / "centre.skymodel"
    sky.write_text("FORMAT = Name, Type, Patch, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]'\n"
                   "src, POINT, src, 242.75, 55.0, 2.0, 150e6, [-0.7]\n")
    keep = ("corruptions.faraday.enabled", "corruptions.beam.enabled")
    overrides = [o for o in ALL_CORRUPTIONS_OFF if not o.startswith(keep)] + [
        f"sky.skymodel={sky}", "calibrator.enabled=false", "corruptions.faraday.variation_fraction=0",
        "corruptions.faraday.rm_rms_at_100km_rad_m2=0.3"]
    (target,) = simulated("faraday_and_beam", overrides=overrides).targets()
    truth = read_h5parm(target.truth_h5)
    cal = write_h5parm(tmp_path / "cal_solutions.h5", [truth.soltabs["faraday"]], truth.antenna_names,
                       truth.antenna_positions_m, solset=CALIBRATOR_SOLSET)
    out = tmp_path / "target"
    assert main(["di-target", str(target.ms), "--cal-solutions", str(cal), "--outdir", str(out),
                 "--set", "corrections=[faraday]", "--set", "averaging.time_resolution_s=0",
                 "--set", "averaging.freq_resolution_hz=0"]) == 0

    raw, a1, a2 = _data(target.ms)
    got, _, _ = _data(out / target.ms.name)
    cross = a1 != a2
    stokes_i = np.abs(raw[cross][..., 0] + raw[cross][..., 3]) / 2
    assert np.max(np.abs(raw[cross][..., 1]) / stokes_i) > 0.5, "the test needs a large rotation in the data"
    i_after = (got[cross][..., 0] + got[cross][..., 3]) / 2
    for hand in (1, 2):
        assert np.max(np.abs(got[cross][..., hand]) / np.abs(i_after)) < 1e-3
    np.testing.assert_allclose(np.abs(got[cross][..., 0]), np.abs(got[cross][..., 3]), rtol=1e-3)
