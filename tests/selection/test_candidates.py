"""Calibrator candidates (``lofar_hires.selection.candidates``) against hand-computed values.

Sky models: patch centroids on the sphere, summed fluxes and the peak of point and
Gaussian components at a resolution. Source tables: CSV with sexagesimal and degree
positions, FITS with flux units, filters, names and one-line errors. Images: PyBDSF
on a synthetic image with known sources, and closed loop on a simulated, WSClean-imaged
field against the simulator's truth.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import ALL_CORRUPTIONS_OFF, image
from lofar_hires.errors import InputError, LofarHiresWarning, MissingInputError, OutputExistsError
from lofar_hires.io.skymodel import read_makesourcedb
from lofar_hires.provenance import Provenance
from lofar_hires.selection.candidates import (
    DEFAULT_MIN_PEAK_FLUX_JY,
    DEFAULT_RESOLUTION_ARCSEC,
    CandidateSettings,
    candidates_from_image,
    candidates_from_skymodel,
    candidates_from_table,
    convolved_peak_jy,
    read_source_table,
    separation_deg,
    write_split_tables,
)
from lofar_hires.selection.table import read_table

ALL = CandidateSettings(min_peak_flux_jy=0.0)

MODEL = """\
FORMAT = Name, Type, Patch, Ra, Dec, I, Q, U, V, ReferenceFrequency='150e6', SpectralIndex='[]', \
LogarithmicSI='true', MajorAxis, MinorAxis, Orientation

, , pA, 10.0, 40.0
, , pB, 0.0, 10.0
, , pC, 20.0, 41.0
a1, POINT, pA, 10.0, 40.0, 0.5, 0, 0, 0, 150e6, [-0.7]
a2, GAUSSIAN, pA, 10.01, 40.0, 1.0, 0, 0, 0, 150e6, [-0.7], true, 8.0, 6.0, 30.0
b1, POINT, pB, 359.999, 10.0, 0.2, 0, 0, 0, 150e6, [-0.7]
b2, POINT, pB, 0.001, 10.0, 0.2, 0, 0, 0, 150e6, [-0.7]
c1, POINT, pC, 20.0, 41.0, 0.01, 0, 0, 0, 150e6, [-0.7]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def expected_centroid(ra_deg, dec_deg, weights) -> tuple[float, float]:
    """Weighted mean direction, computed independently with astropy."""
    from astropy import units as u
    from astropy.coordinates import CartesianRepresentation, SkyCoord

    xyz = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg).cartesian.xyz.value @ np.asarray(weights, float)
    c = SkyCoord(CartesianRepresentation(*xyz), representation_type="cartesian").spherical
    return float(c.lon.deg) % 360.0, float(c.lat.deg)


def by_name(rows):
    return {r.name: r for r in rows}


# --------------------------------------------------------------------------- sky models


def test_convolved_peak_of_point_and_gaussian_components():
    # Point: the flux. Gaussian 8" x 6" seen with a 6" beam: 36 / sqrt((36 + 64) (36 + 36)).
    got = convolved_peak_jy(np.array([0.5, 1.0]), np.array([0.0, 8.0]), np.array([0.0, 6.0]), 6.0)
    np.testing.assert_allclose(got, [0.5, 36.0 / math.sqrt(100.0 * 72.0)], rtol=1e-12)
    # A circular Gaussian as large as the beam halves its peak.
    assert convolved_peak_jy(np.array([2.0]), np.array([6.0]), np.array([6.0]), 6.0)[0] == pytest.approx(1.0)
    with pytest.raises(InputError, match="resolution_arcsec"):
        convolved_peak_jy(np.array([1.0]), np.array([0.0]), np.array([0.0]), 0.0)


def test_skymodel_patches_centroid_total_and_peak(tmp_path):
    rows = candidates_from_skymodel(write(tmp_path / "m.skymodel", MODEL), ALL)
    assert [r.name for r in rows] == ["pA", "pB", "pC"]  # brightest peak first
    a, b, c = rows
    # Patch A: total 1.5 Jy at the 1:2 flux-weighted centroid; peak = the point (0.5 > 0.424 of the Gaussian).
    assert a.total_flux_jy == pytest.approx(1.5) and a.peak_flux_jy == pytest.approx(0.5)
    ra, dec = expected_centroid([10.0, 10.01], [40.0, 40.0], [0.5, 1.0])
    assert (a.ra_deg, a.dec_deg) == (pytest.approx(ra, abs=1e-9), pytest.approx(dec, abs=1e-9))
    assert separation_deg(a.ra_deg, a.dec_deg, 10.0 + 0.02 / 3, 40.0)[0] < 1e-6  # 2/3 of the way, on a small arc
    # Patch B straddles RA 0: its centroid is at RA 0 (not 180), a little north of Dec 10 (a great circle).
    assert b.ra_deg < 1e-9 or b.ra_deg > 360 - 1e-9
    assert b.dec_deg == pytest.approx(expected_centroid([359.999, 0.001], [10.0, 10.0], [1, 1])[1], abs=1e-9)
    assert b.dec_deg > 10.0 and b.total_flux_jy == pytest.approx(0.4) and b.peak_flux_jy == pytest.approx(0.2)
    assert c.total_flux_jy == pytest.approx(0.01)
    assert {r.origin for r in rows} == {"skymodel"} and {r.category for r in rows} == {"candidate"}


def test_skymodel_resolution_frequency_and_default_threshold(tmp_path):
    path = write(tmp_path / "m.skymodel", MODEL)
    # At 20" the Gaussian (400 / sqrt(464 * 436) = 0.889 Jy/beam) outshines the 0.5 Jy point.
    a = by_name(candidates_from_skymodel(path, ALL, resolution_arcsec=20.0))["pA"]
    assert a.peak_flux_jy == pytest.approx(400.0 / math.sqrt(464.0 * 436.0), rel=1e-12)
    # At 120 MHz every flux scales by (120/150)^-0.7.
    scale = 0.8**-0.7
    a = by_name(candidates_from_skymodel(path, ALL, freq_hz=120e6))["pA"]
    assert a.total_flux_jy == pytest.approx(1.5 * scale) and a.peak_flux_jy == pytest.approx(0.5 * scale)
    # The defaults (25 mJy/beam at 6") drop the 10 mJy patch.
    assert (DEFAULT_MIN_PEAK_FLUX_JY, DEFAULT_RESOLUTION_ARCSEC) == (0.025, 6.0)
    assert [r.name for r in candidates_from_skymodel(path)] == ["pA", "pB"]


def test_skymodel_without_patches_gives_one_candidate_per_component(tmp_path):
    text = ("FORMAT = Name, Type, Ra, Dec, I, ReferenceFrequency='150e6', MajorAxis, MinorAxis, Orientation\n"
            "s1, POINT, 10.0, 40.0, 0.3\n"
            "s2, GAUSSIAN, 10.5, 40.0, 0.6, 150e6, 6.0, 6.0, 0\n")
    rows = candidates_from_skymodel(write(tmp_path / "np.skymodel", text), ALL)
    # Equal peaks (a 6" Gaussian at 6" halves its 0.6 Jy): the larger total flux comes first.
    assert [(r.name, r.peak_flux_jy, r.total_flux_jy) for r in rows] == [
        ("s2", pytest.approx(0.3), pytest.approx(0.6)), ("s1", pytest.approx(0.3), pytest.approx(0.3))]
    assert (rows[0].ra_deg, rows[0].dec_deg) == (pytest.approx(10.5), pytest.approx(40.0))


# --------------------------------------------------------------------------- source tables

LOTSS_CSV = """\
# LoTSS-like source list, fluxes in mJy
Source_Name,RA,DEC,Peak_flux,Total_flux
ILTJ160454.72+555949.7,16:04:54.72,+55:59:49.7,120.0,150.0
src B,241.5,55.5,30.0,40.0
3C 196[x],08h13m36.0s,+48.13.03,20000,80000
,-116.25,54.0,10.0,12.0
"""


def test_csv_with_sexagesimal_and_degree_positions_in_mjy(tmp_path):
    rows = candidates_from_table(write(tmp_path / "lotss.csv", LOTSS_CSV), ALL, flux_unit="mJy")
    got = by_name(rows)
    assert list(got) == ["3C_196_x_", "ILTJ160454.72+555949.7", "src_B", "cand003"]
    ilt = got["ILTJ160454.72+555949.7"]
    assert ilt.ra_deg == pytest.approx((16 + 4 / 60 + 54.72 / 3600) * 15, abs=1e-9)
    assert ilt.dec_deg == pytest.approx(55 + 59 / 60 + 49.7 / 3600, abs=1e-9)
    assert (ilt.peak_flux_jy, ilt.total_flux_jy) == (pytest.approx(0.12), pytest.approx(0.15))
    c196 = got["3C_196_x_"]
    assert c196.ra_deg == pytest.approx((8 + 13 / 60 + 36 / 3600) * 15) and c196.dec_deg == pytest.approx(
        48 + 13 / 60 + 3 / 3600)
    assert got["cand003"].ra_deg == pytest.approx(243.75)  # a negative RA is the same direction
    assert {r.origin for r in rows} == {"catalogue"}
    # Read in Jy by default: 1000 times brighter.
    assert by_name(candidates_from_table(tmp_path / "lotss.csv", ALL))["src_B"].peak_flux_jy == pytest.approx(30.0)


def test_fits_table_with_flux_units(tmp_path):
    from astropy.table import Table

    t = Table({"Source_Name": ["a", "b"], "RA": [242.0, 243.0], "DEC": [55.0, 56.0],
               "Peak_flux": [85.0, 20.0], "Total_flux": [90.0, 25000.0]})
    t["RA"].unit = t["DEC"].unit = "deg"
    t["Peak_flux"].unit = "mJy/beam"
    t["Total_flux"].unit = "uJy"
    t.write(tmp_path / "cat.fits", format="fits")  # lsmtool, once imported, claims tables without a format
    # The FITS units win over flux_unit.
    rows = candidates_from_table(tmp_path / "cat.fits", CandidateSettings(min_peak_flux_jy=0.05), flux_unit="Jy")
    assert [(r.name, r.peak_flux_jy, r.total_flux_jy) for r in rows] == [
        ("a", pytest.approx(0.085), pytest.approx(9e-5))]
    t["Peak_flux"].unit = "K"
    t.write(tmp_path / "kelvin.fits", format="fits")
    with pytest.raises(InputError, match=r"column Peak_flux has unit 'K'"):
        read_source_table(tmp_path / "kelvin.fits")


def test_column_aliases_and_missing_peak_column(tmp_path):
    csv = "id,ra_deg,dec_deg,flux\n7,10.0,20.0,0.5\n8,10.2,20.0,0.02\n"
    with pytest.warns(LofarHiresWarning, match="no peak-flux column"):
        rows = candidates_from_table(write(tmp_path / "t.csv", csv))
    # Numeric ids are row numbers, not names; the threshold applies to the total flux.
    assert [(r.name, r.peak_flux_jy, r.total_flux_jy) for r in rows] == [("cand000", None, 0.5)]
    # Our own table format reads back as a source table (columns with _jy are in Jy whatever flux_unit says).
    write(tmp_path / "own.csv", "name,ra_deg,dec_deg,peak_flux_jy,total_flux_jy\nx,1.0,2.0,0.3,0.4\n")
    (row,) = candidates_from_table(tmp_path / "own.csv", ALL, flux_unit="mJy")
    assert (row.name, row.peak_flux_jy, row.total_flux_jy) == ("x", 0.3, 0.4)


def test_filters_distance_peak_and_number(tmp_path):
    centre = (242.75, 55.0)
    lines = ["name,RA,DEC,Peak_flux,Total_flux"]
    # Peaks and distances from the centre (deg): n1 0.5 Jy at 0.1, n2 0.3 at 0.5, n3 0.02 at 0.2, far 2.0 at 1.5.
    for name, peak, sep in (("n1", 0.5, 0.1), ("n2", 0.3, 0.5), ("n3", 0.02, 0.2), ("far", 2.0, 1.5)):
        lines.append(f"{name},{centre[0]},{centre[1] + sep},{peak},{peak * 1.2}")
    path = write(tmp_path / "f.csv", "\n".join(lines) + "\n")
    assert [r.name for r in candidates_from_table(path, ALL)] == ["far", "n1", "n2", "n3"]
    near = CandidateSettings(min_peak_flux_jy=0.0, centre_deg=centre, max_distance_deg=1.0)
    assert [r.name for r in candidates_from_table(path, near)] == ["n1", "n2", "n3"]
    assert [r.name for r in candidates_from_table(path, CandidateSettings(
        min_peak_flux_jy=0.1, centre_deg=centre, max_distance_deg=1.0))] == ["n1", "n2"]
    rows = candidates_from_table(path, CandidateSettings(min_peak_flux_jy=0.1, max_candidates=2))
    assert [r.name for r in rows] == ["far", "n1"]
    assert "peak>=0.1Jy" in rows[0].reason


def test_names_sanitised_generated_and_unique(tmp_path):
    csv = ("Source_Name,RA,DEC,Peak_flux\n"
           "dup,10.0,10.0,0.1\n"
           "dup,11.0,10.0,0.9\n"
           ",12.0,10.0,0.5\n"
           "a;b c,13.0,10.0,0.2\n"
           "cand001,14.0,10.0,0.05\n")
    rows = candidates_from_table(write(tmp_path / "n.csv", csv), ALL)
    # Brightest first: the unnamed source is second, so cand001; the listed cand001 then gets a suffix.
    assert [r.name for r in rows] == ["dup", "cand001", "a_b_c", "dup_2", "cand001_2"]
    assert [r.peak_flux_jy for r in rows] == [0.9, 0.5, 0.2, 0.1, 0.05]


def test_duplicate_positions_keep_the_brighter(tmp_path):
    csv = "name,RA,DEC,Peak_flux\nfaint,10.0,10.0,0.1\nbright,10.0,10.0002,0.4\nother,10.1,10.0,0.2\n"
    with pytest.warns(LofarHiresWarning, match="faint at .* dropped as duplicates|dropped as duplicates: faint"):
        rows = candidates_from_table(write(tmp_path / "d.csv", csv), ALL)  # 0.72 arcsec apart
    assert [r.name for r in rows] == ["bright", "other"]


def test_grouping_merges_close_sources(tmp_path):
    dec = 30.0
    step = 5.0 / 3600 / math.cos(math.radians(dec))  # 5 arcsec in RA
    csv = ("name,RA,DEC,Peak_flux,Total_flux\n"
           f"core,20.0,{dec},0.3,0.3\nlobe,{20.0 + step},{dec},0.1,0.6\nalone,21.0,{dec},0.2,0.2\n")
    path = write(tmp_path / "g.csv", csv)
    assert len(candidates_from_table(path, ALL)) == 3  # off by default
    rows = candidates_from_table(path, CandidateSettings(min_peak_flux_jy=0.0, group_radius_arcsec=10.0))
    group = by_name(rows)["core"]
    assert [r.name for r in rows] == ["core", "alone"]
    assert (group.peak_flux_jy, group.total_flux_jy) == (pytest.approx(0.3), pytest.approx(0.9))
    ra, dec_c = expected_centroid([20.0, 20.0 + step], [dec, dec], [0.3, 0.6])
    assert (group.ra_deg, group.dec_deg) == (pytest.approx(ra, abs=1e-9), pytest.approx(dec_c, abs=1e-9))


def test_split_tables_one_row_each(tmp_path):
    rows = candidates_from_skymodel(write(tmp_path / "m.skymodel", MODEL))
    paths = write_split_tables(rows, tmp_path / "split")
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["pA.csv", "pB.csv"]
    for path, row in zip(paths, rows):
        (back,) = read_table(path)
        assert back == row.with_(ra_deg=back.ra_deg, dec_deg=back.dec_deg)
        assert (back.ra_deg, back.dec_deg) == (pytest.approx(row.ra_deg, abs=1e-8), pytest.approx(row.dec_deg))
    with pytest.raises(OutputExistsError, match="already exists"):
        write_split_tables(rows, tmp_path / "split")
    write_split_tables(rows[:1], tmp_path / "split", overwrite=True)  # replaced as a whole
    assert [p.name for p in (tmp_path / "split").iterdir()] == ["pA.csv"]


@pytest.mark.parametrize("text, suffix, match", [
    ("name,ra,dec,peak_flux\nx,10,95,1\n", ".csv", r"row 1, column dec: .*declination"),
    ("name,ra,dec,peak_flux\nx,10,10,1\ny,25:99:00,10,1\n", ".csv", r"row 2, column ra: .*right ascension"),
    ("name,ra,dec,peak_flux\nx,10,10,\n", ".csv", r"row 1, column peak_flux: the flux is missing"),
    ("name,ra,dec,peak_flux\nx,10,10,lots\n", ".csv", r"row 1, column peak_flux: 'lots' is not a number"),
    ("name,x,y,peak_flux\nx,10,10,1\n", ".csv", r"no RA/Dec columns .*columns seen: name, x, y, peak_flux"),
    ("name,ra,dec,size\nx,10,10,1\n", ".csv", r"no flux column"),
    ("name,ra,dec,peak_flux\n", ".csv", r"lists no sources"),
    ("some text\n", ".dat", r"unknown format"),
], ids=["dec-range", "bad-sexagesimal", "empty-flux", "text-flux", "no-radec", "no-flux", "no-rows", "format"])
def test_table_errors_are_one_line(tmp_path, text, suffix, match):
    path = write(tmp_path / f"bad{suffix}", text)
    with pytest.raises(InputError, match=match) as info:
        candidates_from_table(path, ALL)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_errors_missing_input_and_nothing_left(tmp_path):
    with pytest.raises(MissingInputError, match="does not exist"):
        candidates_from_table(tmp_path / "nope.csv")
    with pytest.raises(MissingInputError, match="does not exist"):
        candidates_from_skymodel(tmp_path / "nope.skymodel")
    path = write(tmp_path / "m.skymodel", MODEL)
    with pytest.raises(InputError, match=r"minimum peak flux 2 Jy removed all 3 source\(s\) \(brightest peak "
                                         r"brightness 0.5 Jy\)"):
        candidates_from_skymodel(path, CandidateSettings(min_peak_flux_jy=2.0))
    with pytest.raises(InputError, match=r"within max_distance_deg 0.5 .*nearest at 1\.0\d* deg"):
        candidates_from_skymodel(path, CandidateSettings(centre_deg=(20.0, 42.0), max_distance_deg=0.5))
    for bad in (dict(max_distance_deg=1.0), dict(centre_deg=(400.0, 0.0), max_distance_deg=1.0),
                dict(min_peak_flux_jy=-1.0), dict(max_candidates=0), dict(group_radius_arcsec=0.0)):
        with pytest.raises(InputError):
            CandidateSettings(**bad)


# --------------------------------------------------------------------------- images (PyBDSF)


def synthetic_image(path: Path, sources_pix_jy, n: int = 200, scale_arcsec: float = 2.0, beam_arcsec: float = 10.0,
                    noise_jy: float = 1e-3, seed: int = 3) -> Path:
    """A WSClean-like FITS image: point sources restored with a circular beam, plus Gaussian noise."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    data = rng.normal(0.0, noise_jy, (n, n))
    sigma_pix = beam_arcsec / scale_arcsec / (2 * math.sqrt(2 * math.log(2)))
    for x, y, flux in sources_pix_jy:
        data += flux * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_pix**2))
    header = fits.Header()
    for key, value in {"CTYPE1": "RA---SIN", "CRPIX1": n / 2 + 1, "CRVAL1": -117.25, "CDELT1": -scale_arcsec / 3600,
                       "CUNIT1": "deg", "CTYPE2": "DEC--SIN", "CRPIX2": n / 2 + 1, "CRVAL2": 55.0,
                       "CDELT2": scale_arcsec / 3600, "CUNIT2": "deg", "CTYPE3": "FREQ", "CRPIX3": 1, "CRVAL3": 150e6,
                       "CDELT3": 1e6, "CTYPE4": "STOKES", "CRPIX4": 1, "CRVAL4": 1, "CDELT4": 1,
                       "BMAJ": beam_arcsec / 3600, "BMIN": beam_arcsec / 3600, "BPA": 0.0, "BUNIT": "JY/BEAM"}.items():
        header[key] = value
    fits.PrimaryHDU(data[None, None].astype(np.float32), header).writeto(path)
    return path


def test_pybdsf_on_a_synthetic_image(tmp_path, capfd):
    import bdsf
    from astropy.wcs import WCS

    sources = [(60.0, 70.0, 0.5), (140.0, 120.0, 0.08), (100.0, 160.0, 0.012)]
    path = synthetic_image(tmp_path / "img.fits", sources)
    prov = Provenance(task="test")
    rows = candidates_from_image(path, tmp_path / "work", CandidateSettings(min_peak_flux_jy=0.05), provenance=prov)
    captured = capfd.readouterr()
    # PyBDSF's chatter stays off the console: only the project's own log lines (if logging was set up by an
    # earlier test) may reach stderr.
    foreign = [line for line in captured.err.splitlines() if line.strip() and "lofar_hires." not in line]
    assert captured.out == "" and not foreign, foreign

    wcs = WCS(str(path)).celestial
    truth = [(*(float(v) for v in wcs.pixel_to_world_values(x, y)), flux) for x, y, flux in sources]
    assert [r.name for r in rows] == ["cand000", "cand001"] and {r.origin for r in rows} == {"pybdsf"}
    for row, (ra, dec, flux) in zip(rows, truth[:2]):
        assert separation_deg(row.ra_deg, row.dec_deg, ra, dec)[0] * 3600 < 0.1 * 10.0
        assert row.peak_flux_jy == pytest.approx(flux, rel=0.05)
        assert row.total_flux_jy == pytest.approx(flux, rel=0.1)
    # PyBDSF found the 12 mJy source (12 sigma); the peak-flux filter removed it.
    srl = tmp_path / "work" / "img.srl.fits"
    found = read_source_table(srl, origin="pybdsf")
    assert len(found) == 3 and min(found.peak_flux_jy) == pytest.approx(0.012, rel=0.2)
    assert (tmp_path / "work" / "img.fits.pybdsf.log").is_file()
    (run,) = prov.tool_runs
    assert (run.tool, run.version, run.exit_status) == ("PyBDSF", bdsf.__version__, 0)
    assert "thresh_isl=4.0" in run.command and "thresh_pix=5.0" in run.command


def test_pybdsf_errors(tmp_path):
    from astropy.io import fits

    noise = synthetic_image(tmp_path / "noise.fits", [])
    with pytest.raises(InputError, match="PyBDSF found no source"):
        candidates_from_image(noise, tmp_path / "w1")
    header = fits.getheader(noise)
    del header["BMAJ"], header["BMIN"]
    fits.PrimaryHDU(fits.getdata(noise), header).writeto(tmp_path / "nobeam.fits")
    with pytest.raises(InputError, match="no restoring beam"):
        candidates_from_image(tmp_path / "nobeam.fits", tmp_path / "w2")
    with pytest.raises(InputError, match="thresh_isl"):
        candidates_from_image(noise, tmp_path / "w3", thresh_isl=6.0, thresh_pix=5.0)
    with pytest.raises(MissingInputError):
        candidates_from_image(tmp_path / "missing.fits", tmp_path / "w4")


#: A field PyBDSF can be checked on: the tiny preset without its international stations (a 6-12"
#: image), with all Dutch stations and 20 minutes so that 2000 clean iterations converge (the
#: preset's 7 Dutch stations over 10 min give sidelobes of 0.9), sources within 0.3 deg (little
#: bandwidth smearing) and faint sources of 30-45 mJy (detected, below the threshold). Noise on.
CLOSED_LOOP = tuple(o for o in ALL_CORRUPTIONS_OFF if not o.startswith("corruptions.noise")) + (
    "calibrator.enabled=false", "observation.duration_s=1200", "stations.international=[]",
    "stations.core=[CS001HBA0,CS002HBA0,CS002HBA1,CS003HBA0,CS004HBA0,CS005HBA0,CS006HBA0,CS007HBA0]",
    "stations.remote=[RS106HBA,RS205HBA,RS305HBA,RS306HBA,RS503HBA,RS407HBA,RS208HBA,RS509HBA]",
    "sky.field_radius_deg=0.3", "sky.n_faint=3", "sky.faint_flux_jy=[0.03,0.045]")


def test_pybdsf_closed_loop_on_a_simulated_field(simulated, tmp_path):
    """The bright truth sources are candidates within 0.3 beam and 15 % in total flux; faint ones are not."""
    from lofar_hires.imaging.measure import load_image

    sim = simulated("candidates_field", preset="tiny", overrides=CLOSED_LOOP)
    fits = image(sim.targets()[0].ms, tmp_path, "field", size_pix=896, scale_arcsec=3.0, niter=2000,
                 maxuv_lambda=20000, restoring_beam_arcsec=12.0)
    freq_hz = load_image(fits["image"]).freq_hz
    threshold_jy = 0.1
    rows = candidates_from_image(fits["image"], tmp_path / "work", CandidateSettings(min_peak_flux_jy=threshold_jy))
    truth = read_makesourcedb(sim.sky_model)
    flux = truth.flux_jy(np.array([freq_hz]))[:, 0]
    ra, dec = np.degrees(truth.ra_rad), np.degrees(truth.dec_rad)
    beam_deg = 12.0 / 3600

    def nearest(rows_ra, rows_dec, i):
        sep = separation_deg(np.asarray(rows_ra), np.asarray(rows_dec), ra[i], dec[i])
        return int(np.argmin(sep)), float(sep.min())

    bright = [i for i, name in enumerate(truth.names) if name.startswith("bright")]
    assert len(bright) == 2 and min(flux[bright]) > 3 * threshold_jy
    for i in bright:
        k, sep = nearest([r.ra_deg for r in rows], [r.dec_deg for r in rows], i)
        assert sep < 0.3 * beam_deg, (truth.names[i], sep * 3600)
        assert rows[k].total_flux_jy == pytest.approx(flux[i], rel=0.15), truth.names[i]
    assert all(r.peak_flux_jy >= threshold_jy for r in rows)

    # A faint source below the threshold was found by PyBDSF but is not a candidate.
    found = read_source_table(tmp_path / "work" / "field-image.srl.fits", origin="pybdsf")
    faint = [i for i, name in enumerate(truth.names) if name.startswith("faint") and flux[i] < threshold_jy]
    detected = [i for i in faint if nearest(found.ra_deg, found.dec_deg, i)[1] < 0.5 * beam_deg]
    assert detected, "PyBDSF found none of the faint sources: the threshold test would be empty"
    for i in detected:
        assert nearest([r.ra_deg for r in rows], [r.dec_deg for r in rows], i)[1] > beam_deg, truth.names[i]
