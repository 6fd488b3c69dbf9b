"""makesourcedb sky models: parsing, writing, spectra."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import (
    SkyModel,
    format_dec,
    format_ra,
    parse_dec,
    parse_ra,
    read_makesourcedb,
    write_makesourcedb,
)

MODEL = """\
# test model
FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', SpectralIndex='[]', LogarithmicSI='true', MajorAxis, MinorAxis, Orientation

, , P1, 16:11:00.0, +55.00.00.0
s1, POINT, P1, 16:11:00.000, +55.00.00.000, 2.0, 0, 0, 0, 150e6, [-0.7], true, , ,
s2, GAUSSIAN, P1, 16:12:30.5, +54.30.15.5, 1.0, 0, 0, 0, 120e6, [-0.8,0.1], true, 20.0, 10.0, 45.0
s3, POINT, P2, 16:10:00.0, +55.10.00.0, 1.0, 0, 0, 0, 150e6, [0.5,0.25], false, , ,
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.skymodel"
    path.write_text(MODEL)
    return path


def test_read_components_and_patches(model_file):
    m = read_makesourcedb(model_file)
    assert m.names == ["s1", "s2", "s3"]
    assert m.types == ["POINT", "GAUSSIAN", "POINT"]
    assert m.patches == ["P1", "P1", "P2"]
    assert math.degrees(m.ra_rad[0]) == pytest.approx(242.75)
    assert math.degrees(m.dec_rad[1]) == pytest.approx(54 + 30 / 60 + 15.5 / 3600)
    assert m.major_arcsec[1] == 20.0 and m.orientation_deg[1] == 45.0
    assert m.ref_freq_hz[1] == 120e6


def test_spectra_follow_makesourcedb(model_file):
    m = read_makesourcedb(model_file)
    f = np.array([100e6, 150e6, 200e6])
    flux = m.flux_jy(f)
    assert flux[0] == pytest.approx(2.0 * (f / 150e6) ** -0.7)
    x = f / 120e6
    assert flux[1] == pytest.approx(x ** (-0.8 + 0.1 * np.log10(x)))
    y = f / 150e6 - 1
    assert flux[2] == pytest.approx(1.0 + 0.5 * y + 0.25 * y**2)


def test_write_read_roundtrip(model_file, tmp_path):
    m = read_makesourcedb(model_file)
    out = write_makesourcedb(m, tmp_path / "out.skymodel")
    back = read_makesourcedb(out)
    assert back.names == m.names and back.patches == m.patches
    np.testing.assert_allclose(back.ra_rad, m.ra_rad, atol=1e-9)
    np.testing.assert_allclose(back.dec_rad, m.dec_rad, atol=1e-9)
    np.testing.assert_allclose(back.flux_jy(np.array([140e6])), m.flux_jy(np.array([140e6])), rtol=1e-7)


@pytest.mark.parametrize("text, deg", [("16:11:00", 242.75), ("16h11m00s", 242.75), ("242.75", 242.75),
                                       ("0:00:00.0", 0.0), ("16h11m", 242.75), ("16:11", 242.75),
                                       ("16 11 00", 242.75), ("-10.0", 350.0), ("-0:30:00", 352.5),
                                       ("242.75deg", 242.75)])
def test_parse_ra(text, deg):
    assert math.degrees(parse_ra(text)) == pytest.approx(deg)


@pytest.mark.parametrize("text, deg", [("+55.00.00.0", 55.0), ("-05.30.00", -5.5), ("55d30m00s", 55.5),
                                       ("-0.5", -0.5), ("+55:30:00", 55.5), ("55:30", 55.5), ("55d30m", 55.5),
                                       ("-05 30 00", -5.5), ("34.11.03.3360", 34 + 11 / 60 + 3.336 / 3600)])
def test_parse_dec(text, deg):
    assert math.degrees(parse_dec(text)) == pytest.approx(deg)


@pytest.mark.parametrize("text", ["25:00:00", "abc", "361", "-361", "12:60:00"])
def test_bad_ra(text):
    with pytest.raises(InputError):
        parse_ra(text)


def test_format_roundtrip():
    for ra in np.radians([0.0, 12.3456789, 242.75, 359.9999]):
        assert parse_ra(format_ra(ra)) == pytest.approx(ra % (2 * np.pi), abs=1e-9)
    for dec in np.radians([-89.5, -0.25, 0.0, 55.123456]):
        assert parse_dec(format_dec(dec)) == pytest.approx(dec, abs=1e-9)


def test_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.skymodel"
    bad.write_text("FORMAT = Name, Type, Ra, Dec, I\ns1, POINT, 16:11:00, +55.00.00, notanumber\n")
    with pytest.raises(InputError, match=r"bad.skymodel:2: cannot parse component"):
        read_makesourcedb(bad)
    noformat = tmp_path / "nf.skymodel"
    noformat.write_text("s1, POINT, 16:11:00, +55.00.00, 1\n")
    with pytest.raises(InputError, match="no FORMAT line"):
        read_makesourcedb(noformat)


def test_duplicate_names_refused():
    z = np.zeros(2)
    with pytest.raises(InputError, match="duplicate component names"):
        SkyModel(["a", "a"], ["POINT"] * 2, ["a", "a"], z, z, z + 1, z + 1e8, np.zeros((2, 0)),
                 np.ones(2, bool), z, z, z)


_HEADER = "FORMAT = Name, Type, Patch, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]', MajorAxis, MinorAxis\n"

#: (file content, what the one-line error must say): files DP3 would misread or reject.
BAD_MODELS = [
    (b"\x89HDF\r\n\x1a\n\x00\xff\xfe", "not a makesourcedb text file"),
    (b"", "no FORMAT line and no components"),
    (b"# only a comment\n", "no FORMAT line and no components"),
    (b"just some text\n", "no FORMAT line before the first component"),
    (_HEADER.encode(), "contains no components"),
    ((_HEADER + ", , P1, 16:11:00, +55.00.00\n").encode(), "contains no components"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0\nrubbish\n").encode(), ":3: cannot parse component"),
    ((_HEADER + ", , , 16:11:00, +55.00.00\n").encode(), ":2: cannot parse line"),
    ((_HEADER + ",,,\n").encode(), "contains no components"),
    (b"FORMAT = Name, Type, Ra, Dec, I, Tag\n", ":1: the format line lists the unknown column 'Tag'"),
    (b"FORMAT = Name, Ra, Dec, I\n", ":1: the format line has no Type column"),
    (b"FORMAT = Name, Type, Ra, Dec, I, , Q\n", ":1: the format line has an empty column name"),
    (b"FORMAT = Name, Type, Ra, Dec, I, i\n", ":1: the format line lists the column I twice"),
    ((_HEADER + "FORMAT = Name, Type, Ra, Dec, I\n").encode(), ":2: a second format line with other columns"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0, 150e6, [], 1, 1, 7\n").encode(),
     ":2: 11 fields but the format line lists 10 columns"),
    ((_HEADER.replace("MinorAxis", "MinorAxis, LogarithmicSI") + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0, 150e6, "
      "[], 1, 1, maybe\n").encode(), "LogarithmicSI 'maybe' is not true or false"),
    ((_HEADER + "s1, POINT, P1, 16:61:00, +55.00.00, 1.0\n").encode(), "out of range"),
    ((_HEADER + "s1, POINT, P1, -400, +55.00.00, 1.0\n").encode(), "outside [0, 360)"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, nan\n").encode(), ":2: component 's1' has a non-finite flux"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, inf\n").encode(), "non-finite flux"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0, 150e6, [nan]\n").encode(), "non-finite spectral index"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0, inf\n").encode(), "non-finite reference frequency"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0, 0\n").encode(), "reference frequencies must be positive"),
    ((_HEADER + "s1, POINT, P1, 25:00:00, +55.00.00, 1.0\n").encode(), "out of range"),
    ((_HEADER + "s1, POINT, P1, 400.0, +55.00.00, 1.0\n").encode(), "outside [0, 360)"),
    ((_HEADER + "s1, POINT, P1, nan, +55.00.00, 1.0\n").encode(), "outside [0, 360)"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +95.00.00, 1.0\n").encode(), "outside [-90, 90]"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, nan, 1.0\n").encode(), "outside [-90, 90]"),
    ((_HEADER + "s1, GAUSSIAN, P1, 16:11:00, +55.00.00, 1.0, 150e6, [], -5, 2\n").encode(),
     "negative Gaussian axis"),
    ((_HEADER + "s1, BLOB, P1, 16:11:00, +55.00.00, 1.0\n").encode(), "unknown component type"),
    ((_HEADER + "s1, POINT, P1, 16:11:00, +55.00.00, 1.0\ns1, POINT, P1, 16:12:00, +55.00.00, 1.0\n").encode(),
     "duplicate component names"),
    ((_HEADER + ", POINT, P1, 16:11:00, +55.00.00, 1.0\n").encode(), "has no name"),
]


@pytest.mark.parametrize("content, message", BAD_MODELS, ids=[
    "binary", "empty", "comments-only", "prose", "format-only", "patches-only", "garbage-line",
    "patch-row-without-patch", "commas-only", "unknown-column", "no-type-column", "empty-column", "repeated-column",
    "second-format-line", "extra-fields", "bad-logarithmic-si", "ra-minutes-out-of-range", "ra-below-minus-360",
    "nan-flux", "inf-flux", "nan-spectral-index", "inf-reference-frequency", "zero-reference-frequency",
    "ra-hours-out-of-range", "ra-degrees-out-of-range", "nan-ra", "dec-out-of-range", "nan-dec",
    "negative-axis", "unknown-type", "duplicate-names", "no-name"])
def test_bad_models_refused_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.skymodel"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_makesourcedb(path)
    text = str(info.value)
    assert message in text and "\n" not in text, text
    assert "bad.skymodel" in text  # the file is named


def test_non_finite_values_refused_when_built_in_code():
    one = np.ones(1)
    with pytest.raises(InputError, match="non-finite flux"):
        SkyModel(["a"], ["POINT"], ["a"], one, one * 0.5, one * np.nan, one * 1e8, np.zeros((1, 0)),
                 np.ones(1, bool), one * 0, one * 0, one * 0)
    with pytest.raises(InputError, match="outside \\[-90, 90\\]"):
        SkyModel(["a"], ["POINT"], ["a"], one, one * 2.0, one, one * 1e8, np.zeros((1, 0)),
                 np.ones(1, bool), one * 0, one * 0, one * 0)


def test_shipped_calibrator_models_pass_the_checks():
    from lofar_hires.io.calibrator_models import calibrator_model_path

    for name in ("3C196", "3C295"):
        assert len(read_makesourcedb(calibrator_model_path(name))) > 0


def test_patch_rows_give_patch_positions_that_are_written_back(model_file, tmp_path):
    m = read_makesourcedb(model_file)
    assert list(m.patch_positions) == ["P1"]  # P2 has no patch row
    assert np.degrees(m.patch_positions["P1"]) == pytest.approx((242.75, 55.0))
    back = read_makesourcedb(write_makesourcedb(m, tmp_path / "out.skymodel"))
    assert np.degrees(back.patch_positions["P1"]) == pytest.approx((242.75, 55.0))
    assert np.degrees(back.patch_positions["P2"]) == pytest.approx((242.5, 55 + 10 / 60))  # its first component
    assert list(m.select(np.array([False, False, True])).patch_positions) == []


def test_gsm_header_with_fixed_patch_and_defaults(tmp_path):
    """gsm.py's header: ``(...) = format`` form, defaults, empty fields and a ``fixed`` patch column."""
    path = tmp_path / "gsm.skymodel"
    path.write_text(
        "# (Name, Type, Ra, Dec, I, Q, U, V, ReferenceFrequency='60e6', SpectralIndex='[0.0]', MajorAxis, "
        "MinorAxis, Orientation, patch=fixed'GSM') = format\n\n"
        "# the next line defines the patch\n,, 08:13:36.0, +48.13.03, 84.35\n\n"
        "# the next lines define the sources\n"
        "VLSS J0813.6+4813, POINT, 08:13:36.05, +48.13.02.6, 83.1, , , , , [-0.699]\n"
        "VLSS J0815.1+4820, GAUSSIAN, 08:15:06.00, +48.20.10.0, 1.25, , , , 74e6, [-0.8, 0.05], 45.0, 30.0, 120.0\n")
    m = read_makesourcedb(path)
    assert m.names == ["VLSS J0813.6+4813", "VLSS J0815.1+4820"] and m.patches == ["GSM", "GSM"]
    assert np.degrees(m.patch_positions["GSM"]) == pytest.approx((123.4, 48 + 13 / 60 + 3 / 3600))
    np.testing.assert_allclose(m.ref_freq_hz, [60e6, 74e6])
    np.testing.assert_allclose(m.spectral_index, [[-0.699, 0.0], [-0.8, 0.05]])
    assert m.types == ["POINT", "GAUSSIAN"] and m.major_arcsec[1] == 45.0 and m.orientation_deg[1] == 120.0


def test_columns_in_any_order_and_case_with_ignored_stokes(tmp_path, caplog):
    path = tmp_path / "any.skymodel"
    path.write_text("format = dec, I, NAME, ra, type, q, RotationMeasure, referencefrequency='144e6', "
                    "spectralindex='[-0.7]', Category, OrientationIsAbsolute\n"
                    "+55.00.00, 2.5, src, 16:11:00, point, 0.3, 12.0, , , 1, true\n")
    with caplog.at_level("INFO", logger="lofar_hires.io.skymodel"):
        m = read_makesourcedb(path)
    assert m.names == ["src"] and m.types == ["POINT"] and m.i_jy[0] == 2.5 and m.ref_freq_hz[0] == 144e6
    assert np.degrees([m.ra_rad[0], m.dec_rad[0]]) == pytest.approx([242.75, 55.0])
    np.testing.assert_allclose(m.spectral_index, [[-0.7]])
    assert "columns Q, RotationMeasure are not used" in caplog.text


def test_uncommented_format_line_wins_over_a_commented_one(tmp_path):
    path = tmp_path / "two.skymodel"
    path.write_text("# FORMAT = Name, Type, Ra, Dec, I, Q\nFORMAT = Name, Type, Ra, Dec, I\n"
                    "s1, POINT, 16:11:00, +55.00.00, 1.0\n")
    assert read_makesourcedb(path).i_jy[0] == 1.0
