"""Flagging in the DI pipelines with the real DP3: station flags (preflagger) and AOFlagger."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from casacore.tables import table

from lofar_hires.calibration.config import FlaggingConfig
from lofar_hires.calibration.dp3_settings import flagging as flagging_steps
from lofar_hires.errors import InputError
from lofar_hires.runners.dp3_steps import run_steps

SHORT_DICAL = ("observation.duration_s=120", "calibrator.duration_s=120")


@pytest.fixture(scope="module")
def target_ms(simulated):
    sim = simulated("dical_short", preset="dical", overrides=SHORT_DICAL)
    return next(o.ms for o in sim.observations if o.kind == "target")


def _with_rfi(ms, tmp_path):
    """A copy of ``ms`` with two RFI bursts: 300 Jy in channel 7 for two time slots and in
    channel 15 for one; returns the copy and the (time index, channel) pairs hit."""
    copy = tmp_path / "rfi.MS"
    shutil.copytree(ms, copy)
    hits = [(3, 7), (4, 7), (10, 15)]
    with table(str(copy), readonly=False, ack=False) as t:
        data, times = t.getcol("DATA"), t.getcol("TIME")
        slots = np.unique(times)
        for slot, chan in hits:
            data[times == slots[slot], chan, :] += 300.0
        t.putcol("DATA", data)
    return copy, hits


def _flags(ms):
    with table(str(ms), ack=False) as t:
        return t.getcol("FLAG"), t.getcol("TIME"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2")


def test_aoflagger_flags_injected_rfi_and_little_else(target_ms, tmp_path):
    rfi, hits = _with_rfi(target_ms, tmp_path)
    out = tmp_path / "flagged.MS"
    steps = flagging_steps(FlaggingConfig(aoflagger=True, aoflagger_strategy="lofar-default"))
    run_steps(rfi, out, steps, tmp_path, "aoflag")
    flag, times, a1, a2 = _flags(out)
    slots = np.unique(times)
    hit = np.zeros(flag.shape[:2], bool)
    for slot, chan in hits:
        hit[times == slots[slot], chan] = True
    cross = (a1 != a2)[:, None]
    assert flag[..., 0][hit & cross].mean() == 1.0
    clean = ~hit & cross
    # Clean samples next to the bursts may be flagged too (AOFlagger dilates flags); most are kept.
    assert flag[..., 0][clean].mean() < 0.1, flag[..., 0][clean].mean()
    unflagged, *_ = _flags(rfi)
    assert not unflagged.any()  # the input is untouched


def test_station_flags_and_unknown_strategy(target_ms, tmp_path):
    out = tmp_path / "stations.MS"
    run_steps(target_ms, out, flagging_steps(FlaggingConfig(flag_stations=["RS509HBA", "DE*"])), tmp_path, "pf")
    flag, _, a1, a2 = _flags(out)
    with table(str(out / "ANTENNA"), ack=False) as t:
        names = list(t.getcol("NAME"))
    dead = {names.index(n) for n in names if n == "RS509HBA" or n.startswith("DE")}
    touched = np.array([i in dead or j in dead for i, j in zip(a1, a2)])
    assert flag[touched].all() and not flag[~touched].any()
    with pytest.raises(InputError, match="neither a file nor one shipped with DP3 .*lofar-default"):
        flagging_steps(FlaggingConfig(aoflagger=True, aoflagger_strategy="no-such-strategy"))
