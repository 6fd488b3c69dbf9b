"""The makesourcedb reader against LSMTool 1.9's parser (``lsmtool.load``) on the same small files.

Each file is written here from the format's public descriptions: the makesourcedb
documentation (format line, defaults, patch rows), the header ``gsm.py`` writes
(``# (...) = format`` with empty fields for Q, U, V and the reference frequency), the
header of the TGSS ADR ``tgss2bbs`` script (one patch, 147.5 MHz), a sky model as
the LOFAR-VLBI pipeline writes it for a delay calibrator, and a WSClean source list
(ordinary polynomial spectra). Names, types, positions, fluxes, reference
frequencies, spectra, shapes, patches and patch positions must agree.
"""
# ruff: noqa: E501  (the sky-model files below keep their format lines on one line, as the tools write them)

from __future__ import annotations

import lsmtool
import numpy as np
import pytest
from astropy.io import registry
from astropy.table import Table

from lofar_hires.errors import InputError
from lofar_hires.io.skymodel import read_makesourcedb


@pytest.fixture(scope="module", autouse=True)
def _astropy_registry_restored():
    """Importing LSMTool registers a 'makesourcedb' format identifier for every astropy Table, which
    then opens any path a Table is written to: take it out again after these tests."""
    yield
    try:
        registry.unregister_identifier("makesourcedb", Table)
    except registry.IORegistryError:
        pass  # not registered (another LSMTool version)

GSM = """\
# (Name, Type, Ra, Dec, I, Q, U, V, MajorAxis, MinorAxis, Orientation, ReferenceFrequency='60e6', SpectralIndex='[0.0]') = format
# The above line defines the field order and is required.

VLSSJ0813.6+4813, POINT, 08:13:36.05, +48.13.02.6, 83.1, , , , , , , , [-0.699]
VLSSJ0815.1+4820, GAUSSIAN, 08:15:06.00, +48.20.10.0, 1.25, , , , 45.0, 30.0, 120.0, 74e6, [-0.8, 0.05]
VLSSJ0809.9+4750, POINT, 08:09:55.20, +47.50.12.5, 0.64, , , , , , , ,
"""

TGSS = """\
FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, MajorAxis, MinorAxis, Orientation, ReferenceFrequency='147500000.0', SpectralIndex='[]'

 , , Patch, 01:37:41.2996, +33.09.35.079
3C48_0, GAUSSIAN, Patch, 01:37:41.30, +33.09.35.1, 63.52, 0, 0, 0, 12.5, 8.1, 152.0, 147500000.0, [-0.8]
TGSSJ013812+330515, POINT, Patch, 01:38:12.04, +33.05.15.3, 0.215, 0, 0, 0, 0.0, 0.0, 0.0, 147500000.0, [-0.8]
TGSSJ013655-325959, POINT, Patch, 01:36:55.71, -32.59.59.0, 0.103, 0, 0, 0, , , , ,
"""

PATCHES = """\
# Patches and Gaussians, columns in another order and letter case
format = name, patch, type, ra, dec, i, majoraxis, minoraxis, orientation, referencefrequency='144e6', spectralindex='[-0.7]', logarithmicsi='true'

, bright, , 14:08:15.23, +52.29.52.0
, faint, , 14:15:06.65, +52.24.19.2
b1, bright, GAUSSIAN, 14:08:15.23, +52.29.52.0, 0.553, 24.4, 8.8, 169.2, , [-0.75, 0.1], true
b2, bright, POINT, 14:08:16.00, +52.29.50.5, 0.120, , , , 150e6, ,
f1, faint, gaussian, 14h15m06.65s, +52.24.19.2, 0.687, 15.5, 10.7, 28.2, , , false
f2, faint, POINT, 14 15 10.00, +52.24.00.0, 0.050, , , , , [-0.5],
"""

DEGREES = """\
FORMAT = Name, Type, Ra, Dec, I, ReferenceFrequency='150e6', SpectralIndex='[]'
d1, POINT, 212.063470875937, 52.4977880964425, 0.553
d2, POINT, -10.25, -5.5, 1.5, 120e6, [-0.7]
d3, POINT, 359.999, 89.9, 0.25
"""

VLBI = """\
# (Name, Type, Patch, Ra, Dec, I, Q, U, V, MajorAxis, MinorAxis, Orientation, ReferenceFrequency='144e+06', SpectralIndex='[]', LogarithmicSI) = format
, , P0, 14:08:15.23301022, +52.29.52.03714719
ME0,GAUSSIAN,P0,14:08:15.23301022,+52.29.52.03714719,0.553346617196826,0.0,0.0,0.0,0.1,0.0,0.0,144e+06,[-0.5],true
ME1,POINT,P0,14:08:15.30000000,+52.29.51.50000000,0.1,0.0,0.0,0.0,0.0,0.0,0.0,144e+06,[-0.5],true
"""

# Declinations in letters, colons and spaces (LSMTool reads a column of these only when no entry is dotted).
LETTERS = """\
FORMAT = Name, Type, Ra, Dec, I, ReferenceFrequency='150e6'
l1, POINT, 14h15m06.65s, 52d24m19.2s, 0.687
l2, POINT, 14:15:10.0, -05:30:00.0, 0.05
l3, POINT, 2h00m, 0 30 00, 1.0
"""

WSCLEAN = """\
Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, ReferenceFrequency='143650817.871094', MajorAxis, MinorAxis, Orientation
s0c0,POINT,16:11:00.000,+55.00.00.000,0.5,[-0.12,0.03],false,143650817.871094,,,
s0c1,GAUSSIAN,16:11:05.120,+55.01.30.500,0.25,[-0.05],false,143650817.871094,30.0,20.0,45.0
"""

FILES = {"gsm": GSM, "tgss": TGSS, "patches-gaussians": PATCHES, "degrees": DEGREES, "letters": LETTERS,
         "vlbi-delay": VLBI, "wsclean": WSCLEAN}


def _padded(a: np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(a, dtype=float).reshape(len(a), -1)
    return np.hstack([a, np.zeros((len(a), n - a.shape[1]))])


@pytest.mark.parametrize("name", list(FILES))
def test_same_parse_as_lsmtool(tmp_path, name):
    path = tmp_path / f"{name}.skymodel"
    path.write_text(FILES[name])
    ours = read_makesourcedb(path)
    theirs = lsmtool.load(str(path))

    assert ours.names == list(theirs.getColValues("Name"))
    assert ours.types == [t.upper() for t in theirs.getColValues("Type")]
    np.testing.assert_allclose(np.degrees(ours.ra_rad), theirs.getColValues("Ra"), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.degrees(ours.dec_rad), theirs.getColValues("Dec"), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.i_jy, theirs.getColValues("I"), rtol=1e-12)
    np.testing.assert_allclose(ours.ref_freq_hz, theirs.getColValues("ReferenceFrequency"), rtol=1e-12)
    columns = theirs.getColNames()
    si = np.asarray(theirs.getColValues("SpectralIndex") if "SpectralIndex" in columns else np.zeros((len(ours), 0)),
                    dtype=float)
    n = max(ours.spectral_index.shape[1], si.reshape(len(ours), -1).shape[1])
    np.testing.assert_allclose(_padded(ours.spectral_index, n), _padded(si, n), rtol=1e-12)
    if "LogarithmicSI" in columns:
        # LSMTool stores the header default 'true' of an empty field as the string 'Tru' (a 5-character column
        # filled with "True"): its meaning, true, is compared.
        assert list(ours.log_si) == [str(v).lower().startswith("t") for v in theirs.getColValues("LogarithmicSI")]
    for ours_col, col in (("major_arcsec", "MajorAxis"), ("minor_arcsec", "MinorAxis"),
                          ("orientation_deg", "Orientation")):
        if col in columns:
            np.testing.assert_allclose(getattr(ours, ours_col), theirs.getColValues(col), rtol=1e-12)
    if theirs.hasPatches:
        assert ours.patches == list(theirs.getColValues("Patch"))
        positions = theirs.getPatchPositions()
        assert ours.patch_positions, "the file's patch rows were not read"
        for patch, (ra, dec) in ours.patch_positions.items():
            assert np.degrees([ra, dec]) == pytest.approx([positions[patch][0].deg, positions[patch][1].deg],
                                                         abs=1e-9)


def test_unknown_column_refused_by_both(tmp_path):
    path = tmp_path / "tag.skymodel"
    path.write_text("FORMAT = Name, Type, Ra, Dec, I, Tag\ns1, POINT, 16:11:00, +55.00.00, 1.0, x\n")
    with pytest.raises(IOError, match="not currently allowed"):
        lsmtool.load(str(path))
    with pytest.raises(InputError, match=r"tag.skymodel:1: the format line lists the unknown column 'Tag'") as info:
        read_makesourcedb(path)
    assert "\n" not in str(info.value)


def test_every_column_lsmtool_knows_is_accepted(tmp_path):
    from lsmtool.tableio import allowedColumnNames

    from lofar_hires.io.skymodel import KNOWN_COLUMNS

    assert set(KNOWN_COLUMNS) == set(allowedColumnNames)
    assert all(KNOWN_COLUMNS[k] == v for k, v in allowedColumnNames.items())
