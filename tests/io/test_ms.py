"""Measurement-set metadata and validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF
from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.ms import read_ms_info, require_ms


def test_read_ms_info_matches_the_simulation(simulated):
    obs = simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0]
    truth = json.loads(obs.truth_json.read_text())
    info = read_ms_info(obs.ms)
    assert list(info.station_names) == [s["name"] for s in truth["stations"]]
    np.testing.assert_allclose(info.freqs_hz, truth["freqs_hz"])
    assert info.chan_width_hz == truth["chan_width_hz"] and info.integration_s == truth["integration_s"]
    assert len(info.times_mjd_s) == truth["n_time"]
    assert math.degrees(info.phase_centre_rad[0]) == pytest.approx(truth["pointing_deg"][0])
    n_st = len(info.station_names)
    assert info.n_rows == truth["n_time"] * n_st * (n_st - 1) // 2
    assert {"DATA", "WEIGHT_SPECTRUM"} <= set(info.columns)
    assert require_ms(obs.ms, ("DATA",)) == obs.ms
    with pytest.raises(InputError, match="lacks column\\(s\\) CORRECTED_DATA"):
        require_ms(obs.ms, ("CORRECTED_DATA",))


def test_times_are_read_in_chunks(simulated, monkeypatch):
    """The TIME column is read a chunk at a time (an 8-hour MS holds tens of millions of rows): chunks that end
    inside a time slot and a last partial chunk give the same distinct times as the whole column."""
    from casacore.tables import table

    import lofar_hires.io.ms as ms_module

    obs = simulated("runner_clean", overrides=ALL_CORRUPTIONS_OFF + ("calibrator.enabled=false",)).targets()[0]
    with table(str(obs.ms), ack=False) as t:
        want = np.unique(t.getcol("TIME"))
        n_rows = t.nrows()
    monkeypatch.setattr(ms_module, "TIME_CHUNK_ROWS", 7)
    assert n_rows % 7 and n_rows > 7 * len(want)
    np.testing.assert_array_equal(read_ms_info(obs.ms).times_mjd_s, want)


def test_not_an_ms(tmp_path):
    with pytest.raises(MissingInputError, match="does not exist"):
        require_ms(tmp_path / "absent.MS")
    (tmp_path / "empty.MS").mkdir()
    with pytest.raises(InputError, match="is not a measurement set"):
        read_ms_info(tmp_path / "empty.MS")


def test_zero_rows_and_all_flagged_are_refused(simulated, tmp_path):
    """An MS without rows, or with every value flagged, is bad input (nothing to work on)."""
    import shutil

    from casacore.tables import table

    from lofar_hires.errors import InputError
    from lofar_hires.io.ms import require_ms

    source = simulated("ms_checks", overrides=("calibrator.enabled=false",)).targets()[0].ms
    assert require_ms(source, ("DATA",)) == source
    flagged = tmp_path / "flagged.MS"
    shutil.copytree(source, flagged)
    with table(str(flagged), readonly=False, ack=False) as t:
        t.putcol("FLAG", t.getcol("FLAG") | True)
    with pytest.raises(InputError, match="all data are flagged"):
        require_ms(flagged)
    require_ms(flagged, unflagged=False)
    empty = zero_row_copy(source, tmp_path / "empty.MS")
    with pytest.raises(InputError, match="has no rows"):
        require_ms(empty)
    with pytest.raises(InputError, match="lacks column"):
        require_ms(source, ("NO_SUCH_COLUMN",))


def zero_row_copy(source, path):
    """A deep copy of an MS with its subtables and no rows (DP3's storage managers cannot remove rows)."""
    from casacore.tables import table

    with table(str(source), ack=False) as t:
        t.query("FALSE").copy(str(path), deep=True).close()
    return path
