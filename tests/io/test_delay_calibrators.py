"""Delay-calibrator tables in the layout of the LOFAR-VLBI pipeline's delay_calibrators.csv."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.io.delay_calibrators import (
    LOTSS_FREQ_HZ,
    delay_calibrator_skymodel,
    pick_delay_calibrator,
    read_delay_calibrators,
)
from lofar_hires.io.skymodel import read_makesourcedb, write_makesourcedb

#: LBCS columns, then LoTSS columns, then the distance from the pointing centre (values made up).
HEADER = ("Observation,RA_LBCS,DEC_LBCS,Date,Time,Goodness,Flags,FT_Goodness,Quality,FT_total,Source_id,RA,DEC,"
          "Total_flux,Peak_flux,Majax,Minax,PA,DC_Maj,DC_Min,DC_PA,Isl_rms,Resolved,Radius")
ROWS = [
    "L100001,180.2501,45.1002,2016-01-02,03:04:05,PPPPPPPPP----,O,999-99999----,60.0,8.5,ILTJ120100.02+450600.7,"
    "180.250083,45.100194,812.5,400.25,12.1,8.2,45.0,10.5,6.1,45.0,0.1,R,0.41",
    "L100002,181.0,44.9,2016-01-02,03:04:05,PPX-SSXPX----,O,812-70012----,60.0,4.0,ILTJ120400.00+445400.0,"
    "181.0,44.9,95.0,70.0,7.0,6.5,0.0,2.0,1.0,0.0,0.2,U,0.93",
]


def write(tmp_path, text: str, name: str = "delay_calibrators.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_lotss_and_lbcs_columns(tmp_path):
    cals = read_delay_calibrators(write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n"))
    assert [c.name for c in cals] == ["ILTJ120100.02+450600.7", "ILTJ120400.00+445400.0"]
    assert [c.safe_name for c in cals] == [c.name for c in cals]  # already file-name safe
    first = cals[0]
    assert first.ra_deg == pytest.approx(180.250083) and first.dec_deg == pytest.approx(45.100194)  # LoTSS, not LBCS
    assert first.total_flux_jy == pytest.approx(0.8125) and first.peak_flux_jy == pytest.approx(0.40025)  # mJy
    assert first.radius_deg == pytest.approx(0.41)
    assert (first.lbcs_observation, first.goodness, first.ft_goodness) == ("L100001", "PPPPPPPPP----",
                                                                         "999-99999----")
    assert pick_delay_calibrator(cals) is first
    assert pick_delay_calibrator(cals, "ILTJ120400.00+445400.0") is cals[1]


def test_lbcs_only_table_with_numeric_ids_and_unsafe_names(tmp_path):
    """Outside LoTSS: LBCS columns with Observation renamed to Source_id; names made safe for file names."""
    text = ("Source_id,RA,DEC,Date,Time,Goodness,Flags,FT_Goodness,Quality,FT_total,Radius,Total_flux,LGZ_Size\n"
            "123456,10.5,-5.25,2016-01-02,03:04:05,PPP,O,999,60.0,9.0,0.3,1000.0,20.0\n"
            "J0042 +4116/a,350.0,41.25,2016-01-02,03:04:05,PPS,O,997,60.0,7.0,0.7,1000.0,20.0\n")
    cals = read_delay_calibrators(write(tmp_path, text))
    assert [c.name for c in cals] == ["S123456", "J0042 +4116/a"]
    assert [c.safe_name for c in cals] == ["S123456", "J0042_+4116_a"]
    assert cals[0].lbcs_observation == "" and cals[0].peak_flux_jy is None and cals[0].total_flux_jy == 1.0
    assert pick_delay_calibrator(cals, "J0042_+4116_a") is cals[1]


def test_lotss_position_columns_when_ra_dec_are_absent(tmp_path):
    text = "source,RA_LOTSS,DEC_LOTSS,Total_flux\nc1,20.0,30.0,50\n"
    (cal,) = read_delay_calibrators(write(tmp_path, text))
    assert (cal.name, cal.ra_deg, cal.dec_deg, cal.total_flux_jy) == ("c1", pytest.approx(20.0), pytest.approx(30.0),
                                                                       pytest.approx(0.05))


def test_skymodel_one_patch_per_calibrator_for_select_and_selfcal(tmp_path):
    from lofar_hires.selection.candidates import CandidateSettings, candidates_from_skymodel

    cals = read_delay_calibrators(write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n"))
    model = delay_calibrator_skymodel(cals, spectral_index=[-0.7])
    assert model.names == model.patches == [c.safe_name for c in cals]
    np.testing.assert_allclose(model.i_jy, [0.8125, 0.095])
    np.testing.assert_allclose(model.ref_freq_hz, LOTSS_FREQ_HZ)
    np.testing.assert_allclose(model.flux_jy(np.array([2 * LOTSS_FREQ_HZ]))[:, 0], model.i_jy * 2 ** -0.7)
    path = write_makesourcedb(model, tmp_path / "delay.skymodel")
    back = read_makesourcedb(path)
    assert back.names == model.names
    assert math.degrees(back.patch_positions[cals[0].safe_name][0]) == pytest.approx(180.250083)
    rows = candidates_from_skymodel(path, CandidateSettings(min_peak_flux_jy=0.0))
    assert [r.name for r in rows] == [c.safe_name for c in cals]  # brightest first
    assert rows[0].ra_deg == pytest.approx(180.250083) and rows[0].total_flux_jy == pytest.approx(0.8125)


#: (CSV text, what the one-line error must name besides the file).
BAD = [
    ("Source_id,Total_flux\nc1,5\n", "without column(s) RA, DEC"),
    ("Name,RA,DEC\nc1,1,2\n", "without column(s) Source_id"),
    ("", "without column(s) Source_id, RA, DEC (has no header)"),
    ("Source_id,RA,DEC\n", "has no rows"),
    ("Source_id,RA,DEC\nc1,abc,2\n", ":2 (c1): cannot parse right ascension 'abc'"),
    ("Source_id,RA,DEC\nc1,10,95\n", ":2 (c1): declination 95.0 deg is outside [-90, 90]"),
    ("Source_id,RA,DEC\n,10,20\n", ":2: empty Source_id"),
    ("Source_id,RA,DEC,Total_flux\nc1,10,20,lots\n", ":2: Total_flux 'lots' is not a number"),
    ("Source_id,RA,DEC\nc1,10,20\nc1,11,21\n", "delay calibrator name 'c1' is given twice"),
    ("Source_id,RA,DEC\na/b,10,20\na b,11,21\n", "both become the file name 'a_b'"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[
    "no-position", "no-name", "empty-file", "no-rows", "bad-ra", "bad-dec", "empty-name", "bad-flux",
    "duplicate-name", "colliding-safe-names"])
def test_bad_tables_refused_with_one_line(tmp_path, text, message):
    path = write(tmp_path, text, "cals.csv")
    with pytest.raises(InputError) as info:
        read_delay_calibrators(path)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
    if "given twice" not in message and "file name" not in message:
        assert "cals.csv" in str(info.value)


def test_missing_file_binary_file_and_unknown_name(tmp_path):
    with pytest.raises(MissingInputError, match="does not exist"):
        read_delay_calibrators(tmp_path / "absent.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="not UTF-8"):
        read_delay_calibrators(binary)
    cals = read_delay_calibrators(write(tmp_path, "Source_id,RA,DEC\nc1,10,20\n"))
    with pytest.raises(InputError, match="no delay calibrator 'c2'; the table has c1"):
        pick_delay_calibrator(cals, "c2")
    with pytest.raises(InputError, match="has no Total_flux or Peak_flux"):
        delay_calibrator_skymodel(cals)
