"""``lofar-hires report``: a synthetic run directory rendered to one self-contained HTML page.

The run (built here in a second: a run.json, matplotlib PNGs, a calibrator table with a hostile name, a
self-calibration run in the engine's format, two FITS images) is reported once through the CLI, and the page
is parsed with the standard library's ``html.parser``: every section is present, every picture is a PNG
data URI that PIL decodes, nothing is referenced outside the page, the numbers are those of the run, names
from data are escaped, modules that did not run say so. The FITS rendering is checked against a direct
computation (block means, the noise of a seeded Gaussian field) and bad manifests end with exit 2.
"""

from __future__ import annotations

import base64
import io
import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from lofar_hires.chain.modules import MODULE_NAMES
from lofar_hires.cli import main

HOSTILE = "<script>alert(1)</script>"
HOSTILE_FILE = "<img src=x onerror=alert(2)>.png"
SECTION_IDS = ("summary", "modules", "gate", "di", "calibrators", "selfcal", "images", "warnings")
NOISE_JY = 1.0e-3  # rms of the mosaic's seeded noise (Jy/beam)
MODULES = [
    {"name": "simulate", "status": "done", "wall_s": 4.25, "core_s": 3.5, "disk_bytes": 52_000_000, "warnings": []},
    {"name": "di_calibrator", "status": "done", "wall_s": 12.3, "core_s": 20.1, "disk_bytes": 123_456,
     "warnings": ["station RS508HBA: 41 % of its data flagged", f"calibrator name {HOSTILE}"]},
    {"name": "di_target", "status": "done", "wall_s": 30.0, "core_s": 55.5, "disk_bytes": 2_000_000, "warnings": []},
    {"name": "calibratability", "status": "stopped", "wall_s": 8.0, "core_s": 7.9, "disk_bytes": 4096,
     "message": "obs02 stopped: 62 % of visibilities flagged", "warnings": []},
    {"name": "select_calibrators", "status": "done", "wall_s": 61.7, "core_s": 118.2, "disk_bytes": 9_876_543,
     "warnings": []},
    {"name": "dd_international", "status": "failed", "wall_s": 100.0, "core_s": 190.0, "disk_bytes": 1024,
     "message": "DP3 failed <exit 3> & gave up", "warnings": ["cal1: no solutions for DE601HBA"]},
    {"name": "final_imaging", "status": "done", "wall_s": 250.5, "core_s": 480.25, "disk_bytes": 777_777,
     "warnings": []},
]
NOT_RUN = ("delay_calibration", "dd_dutch", "facet_subtract", "dd_refine", "sva")
CYCLES = [  # (rms Jy/beam, peak Jy/beam, phase stability rad, classifier score)
    (0.0040, 0.40, None, None), (0.0020, 0.42, 0.30, 0.81), (0.0018, 0.43, 0.05, 0.27)]


# --------------------------------------------------------------------------- the synthetic run


def _png(path: Path, title: str, seed: int) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5), dpi=50)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.random.default_rng(seed).normal(size=20))
    ax.set_title(title, parse_math=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _fits(path: Path, data: np.ndarray, wsclean_axes: bool) -> Path:
    from astropy.io import fits

    header = fits.Header()
    ny, nx = data.shape
    for key, value in (("CTYPE1", "RA---SIN"), ("CRPIX1", nx / 2 + 1), ("CRVAL1", 243.0), ("CDELT1", -1.0 / 3600),
                       ("CUNIT1", "deg"), ("CTYPE2", "DEC--SIN"), ("CRPIX2", ny / 2 + 1), ("CRVAL2", 55.0),
                       ("CDELT2", 1.0 / 3600), ("CUNIT2", "deg"), ("BMAJ", 4.0 / 3600), ("BMIN", 3.0 / 3600),
                       ("BPA", 30.0), ("BUNIT", "JY/BEAM")):
        header[key] = value
    if wsclean_axes:  # WSClean's (stokes, freq, dec, ra) cube of one plane
        header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"] = "FREQ", 1.4e8, 1.0e6, 1.0
        header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
        data = data[None, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
    return path


def _mosaic_data() -> np.ndarray:
    data = np.random.default_rng(7).normal(0.0, NOISE_JY, (300, 2100))
    data[150, 1000] = 0.5  # a bright source
    return data


def make_run(root: Path) -> Path:
    from lofar_hires.selection.table import CalibratorRow, write_table

    run = root / "run"
    run.mkdir()
    manifest = {
        "format": "lofar-hires-run/1", "config": "/abs/configs/field.yaml", "runner": "cwltool",
        "started_utc": "2026-12-07T04:00:00.000000Z", "finished_utc": "2026-12-07T04:10:00.500000Z",
        "observations": ["obs01", "obs02"], "chain": list(MODULE_NAMES),
        "data": {"n_observations": 2, "n_stations": 18, "n_international": 2, "n_times": 90, "integration_s": 20.0,
                 "n_channels": 8, "channel_width_hz": 390625.0, "n_directions": 4},
        "modules": [{"workflow": f"workflows/{m['name']}.cwl", "started_utc": "2026-12-07T04:00:00Z",
                     "message": None, "outputs": {}, **m} for m in MODULES],
        "gate": {"obs01": {"passed": True, "score": 0.9, "reasons": []},
                 "obs02": {"passed": False, "score": 0.2, "reasons": ["62 % of visibilities flagged, above 50 %"]}},
    }
    (run / "run.json").write_text(json.dumps(manifest, indent=1))
    _png(run / "plots" / "di_calibrator" / "bandpass.png", "bandpass", 1)
    _png(run / "plots" / "di_target" / HOSTILE_FILE, "phases", 2)
    write_table(run / "facets" / "calibrators.csv", [
        CalibratorRow("cal1", 243.1, 55.1, peak_flux_jy=0.5, origin="skymodel", score_rad=0.7, category="main"),
        CalibratorRow(HOSTILE, 242.9, 54.9, peak_flux_jy=0.05, origin="manual", score_rad=2.2, category="rejected",
                      reason="score above 1.6 rad")])
    _png(run / "facets" / "facets.png", "facets", 3)
    sc = run / "selfcal" / "dd_international" / "cal1.obs01"
    cycles = [{"cycle": i, "rms_jy": rms, "peak_jy": peak, "min_jy": -0.01, "dynamic_range": peak / rms,
               "min_max_ratio": 0.01 / peak, "phase_stability_rad": ps, "amplitude_stability": None,
               "classifier_score": None, "n_solves": 1, "wall_time_s": 10.0 + i, "image": f"cycle_{i:03d}/image.fits",
               "solutions": None} for i, (rms, peak, ps, _) in enumerate(CYCLES)]
    sc.mkdir(parents=True)
    (sc / "metrics.json").write_text(json.dumps({"cycles": cycles}))
    (sc / "selfcal_report.json").write_text(json.dumps({
        "status": "ok", "name": "cal1", "phase_centre_deg": [243.1, 55.1], "pre_applied": [],
        "strategy": "international",
        "stopped_by": "classifier", "stop_criterion": "classifier: score 0.27 < 0.5",
        "decision": {"stop": True, "reason": "classifier", "criteria": {"classifier": True}, "best_cycle": 2,
                     "classifier_used": True, "message": "cycle 2: stopped"},
        "n_cycles": 3, "stop_cycle": 2, "best_cycle": 2, "best_solutions_from_cycle": 1,
        "dynamic_range_gain": (0.43 / 0.0018) / (0.40 / 0.0040), "best_image": "best_image.fits",
        "best_solutions": {"obs01": "best_obs01.h5"}, "final_solutions": {"obs01": "final_obs01.h5"},
        "classifier": "shipped model", "classifier_scores": [c[3] for c in CYCLES]}))
    _png(sc / "montage.png", "montage", 4)
    _fits(run / "images" / "final_imaging" / "facet1.0.3asec-image.fits",
          np.random.default_rng(3).normal(0.0, 2e-3, (64, 64)), wsclean_axes=True)
    _fits(run / "images" / "final_imaging" / "mosaic.0.3asec-image-pb.fits", _mosaic_data(), wsclean_axes=False)
    return run


# --------------------------------------------------------------------------- parsing the page


class Page(HTMLParser):
    """Ids, pictures, links, tags and the text of the page's tables (cells unescaped by the parser)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.imgs: list[dict[str, str]] = []
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value) of every src/href
        self.tags: set[str] = set()
        self.tables: dict[str, list[list[tuple[str, dict[str, str]]]]] = {}
        self.captions: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._attrs: dict[str, str] = {}
        self._caption: list[str] | None = None
        self._section: str | None = None
        self.text_by_section: dict[str, list[str]] = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "section":
            self._section = a.get("id")
        for key in ("src", "href", "action", "data"):
            if key in a:
                self.refs.append((tag, key, a[key]))
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self._table = a.get("id", f"_anon{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell, self._attrs = [], a
        elif tag == "figcaption":
            self._caption = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(("".join(self._cell).strip(), self._attrs))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "figcaption" and self._caption is not None:
            self.captions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)
        if self._section is not None:
            self.text_by_section.setdefault(self._section, []).append(data)

    def section_text(self, ident: str) -> str:
        return " ".join(self.text_by_section.get(ident, []))

    def rows(self, table: str) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """Rows of a table by their first cell (header row left out)."""
        return {r[0][0]: r for r in self.tables[table][1:]}


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Path, Path, str, Page, str]:
    root = tmp_path_factory.mktemp("report")
    run = make_run(root)
    before = tree_sha256(run)
    assert main(["--log-level", "WARNING", "report", str(run)]) == 0
    out = run / "report" / "index.html"
    after = tree_sha256(run / "report")
    text = out.read_text(encoding="utf-8")
    return run, out, text, Page(text), before + after


# --------------------------------------------------------------------------- the page


def test_every_section_and_only_inline_content(reported) -> None:
    """All eight sections; every picture a PNG data URI that PIL decodes; no script, no external reference."""
    from PIL import Image

    _, _, text, page, _ = reported
    assert [i for i in page.ids if i in SECTION_IDS] == list(SECTION_IDS)
    # 2 DI plots, the facet layout, one montage, two FITS images
    assert len(page.imgs) == 6
    sizes = []
    for img in page.imgs:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix), img["src"][:40]
        png = base64.b64decode(img["src"][len(prefix):], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            assert im.format == "PNG"
            sizes.append(im.size)
    assert sum(480 <= w <= 700 for w, _ in sizes) == 2  # the two rendered FITS images (6.4 inches at 100 dpi)
    assert {"script", "link", "iframe", "object", "embed", "base"}.isdisjoint(page.tags)
    for tag, attr, value in page.refs:
        assert value.startswith("#") or (tag == "img" and value.startswith("data:image/png;base64,")), \
            (tag, attr, value[:60])
    assert "url(" not in text and "@import" not in text
    assert "default-src 'none'" in text  # the page forbids every load but its own inline content


def test_module_table_holds_the_numbers_of_run_json(reported) -> None:
    _, _, _, page, _ = reported
    rows = page.rows("module-table")
    for m in MODULES:
        name, status, wall, core, ratio, disk, n_warn, message = rows[m["name"]]
        assert status[0] == m["status"]
        assert float(wall[1]["data-value"]) == m["wall_s"] and wall[0] == f"{m['wall_s']:,.1f}"
        assert float(core[1]["data-value"]) == m["core_s"] and core[0] == f"{m['core_s']:,.1f}"
        assert ratio[0] == f"{m['core_s'] / m['wall_s']:,.2f}"
        assert int(disk[1]["data-value"]) == m["disk_bytes"]
        assert int(n_warn[0]) == len(m["warnings"])
        assert message[0] == (m.get("message") or "")
    assert rows["di_calibrator"][5][0] == "120.6 KiB"  # 123456 B
    for name in NOT_RUN:  # modules absent from run.json
        assert rows[name][1][0] == "not run"
    summary = page.section_text("summary")
    assert f"{sum(m['wall_s'] for m in MODULES):,.1f}" in summary
    assert f"{sum(m['core_s'] for m in MODULES):,.1f}" in summary
    assert "600.5 s" in summary  # finished - started
    assert "cwltool" in summary and "/abs/configs/field.yaml" in summary and "obs01, obs02" in summary


def test_names_from_data_are_escaped(reported) -> None:
    """A calibrator, a warning and a file named like markup come out as text."""
    _, _, text, page, _ = reported
    assert HOSTILE not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "script" not in page.tags
    assert page.rows("calibrator-table")[HOSTILE][9][0] == "rejected"
    assert HOSTILE_FILE in page.captions
    assert "DP3 failed <exit 3> & gave up" in page.section_text("modules")
    assert f"calibrator name {HOSTILE}" in page.section_text("warnings")


def test_calibrators_gate_selfcal_and_warnings(reported) -> None:
    _, _, _, page, _ = reported
    cal = page.rows("calibrator-table")
    assert float(cal["cal1"][6][1]["data-value"]) == 0.7 and cal["cal1"][9][0] == "main"
    assert "2 sources: 1 main, 1 rejected" in page.section_text("calibrators")
    gate = page.rows("gate-table")
    assert gate["obs01"][1][0] == "passed" and gate["obs02"][1][0] == "failed"
    assert "62 % of visibilities flagged, above 50 %" in gate["obs02"][3][0]
    # the self-calibration run: its cycle table, the stopping reason and the classifier score per cycle
    selfcal = page.section_text("selfcal")
    assert "dd_international / cal1.obs01" in selfcal and "classifier: score 0.27 < 0.5" in selfcal
    cycle_table = next(t for name, t in page.tables.items() if t and t[0][0][0] == "cycle")
    body = cycle_table[1:]
    assert [r[0][0] for r in body] == ["0", "1", "2"]
    for row, (rms, _, ps, score) in zip(body, CYCLES):
        assert float(row[1][1]["data-value"]) == rms and row[1][0] == f"{rms * 1e3:.3g}"
        assert row[5][0] == ("\u2013" if ps is None else f"{ps:.3g}")
        assert row[7][0] == ("\u2013" if score is None else f"{score:.3g}")
    assert body[2][9][0] == "best; stopped: classifier"
    warnings = page.section_text("warnings")
    assert "station RS508HBA: 41 % of its data flagged" in warnings and "cal1: no solutions for DE601HBA" in warnings
    assert "could not show" not in warnings  # every part of this run was readable


def test_images_mosaic_first_with_noise_and_beam(reported) -> None:
    """The mosaic leads the images; its caption gives the block size and the noise of the seeded field (5 %)."""
    _, _, _, page, _ = reported
    images = [c for c in page.captions if c.startswith("images/")]
    assert [c.split(":")[0] for c in images] == ["images/final_imaging/mosaic.0.3asec-image-pb.fits",
                                                 "images/final_imaging/facet1.0.3asec-image.fits"]
    mosaic, facet = images
    assert "2100 \u00d7 300 pixels" in mosaic and "averaged in 3 \u00d7 3 blocks" in mosaic
    assert "beam 4\u2033 \u00d7 3\u2033, PA 30\u00b0" in mosaic
    value, unit = mosaic.split("rms ")[1].split(" ")[:2]
    rms_jy = float(value) * {"mJy/beam": 1e-3, "\u00b5Jy/beam": 1e-6}[unit]
    assert abs(rms_jy / NOISE_JY - 1) < 0.05
    assert "64 \u00d7 64 pixels" in facet and "averaged" not in facet


def test_provenance_and_existing_report(reported, tmp_path, capsys) -> None:
    run, out, _, _, digests = reported
    prov = json.loads((out.parent / "index.provenance.json").read_text())
    assert prov["task"] == "report" and prov["inputs"][0]["path"].endswith("run.json")
    assert len(prov["parameters"]["embedded"]) == 6 and prov["parameters"]["problems"] == []
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no partial file left
    before = tree_sha256(run)
    assert main(["report", str(run)]) == 2  # an existing report needs --overwrite
    assert "already exists" in capsys.readouterr().err
    assert tree_sha256(run) == before
    copy = tmp_path / "elsewhere.html"
    assert main(["--log-level", "WARNING", "report", str(run), "-o", str(copy)]) == 0
    assert (tmp_path / "elsewhere.provenance.json").is_file()
    assert tree_sha256(run) == before  # the run is read only when -o points elsewhere


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium installed (Debian package chromium)")
def test_page_renders_in_headless_chromium(reported, tmp_path) -> None:
    _, out, _, _, _ = reported
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
                           "--dump-dom", out.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Page(proc.stdout)
    assert [i for i in dom.ids if i in SECTION_IDS] == list(SECTION_IDS) and len(dom.imgs) == 6
    assert "script" not in dom.tags


# --------------------------------------------------------------------------- parts missing or unreadable


def test_bare_run_says_not_run_and_names_unreadable_parts(tmp_path) -> None:
    """A run of two modules with a corrupt plot, image and calibrator table: the page is made and says so."""
    from lofar_hires.report.build import write_report

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format": "lofar-hires-run/1", "modules": [
        {"name": "simulate", "status": "done", "wall_s": 1.0, "core_s": 1.0, "disk_bytes": 10},
        {"name": "di_calibrator", "status": "failed", "wall_s": 2.0, "core_s": 1.0, "disk_bytes": 0,
         "message": "no calibrator data"}]}))
    (run / "plots" / "di_target").mkdir(parents=True)
    (run / "plots" / "di_target" / "fake.png").write_bytes(b"GIF89a not a png")
    (run / "plots" / "di_target" / "link.png").symlink_to(_png(tmp_path / "outside.png", "outside", 5))
    (run / "images").mkdir()
    (run / "images" / "broken.fits").write_bytes(b"SIMPLE  = garbage")
    (run / "facets").mkdir()
    (run / "facets" / "calibrators.csv").write_text("a,b\n1,2\n")
    result = write_report(run)
    page = Page(result.report.read_text())
    assert [i for i in page.ids if i in SECTION_IDS] == list(SECTION_IDS) and not page.imgs
    assert "di_calibrator: failed (no calibrator data)" in page.section_text("di")
    assert "not run" in page.section_text("gate") and "not run" in page.section_text("selfcal")
    assert sorted(p.split(" ")[0] for p in result.problems) == ["facets/calibrators.csv", "images/broken.fits",
                                                               "plots/di_target/fake.png", "plots/di_target/link.png"]
    assert "plots/di_target/link.png points outside the run directory" in page.section_text("warnings")
    assert "not shown" in page.section_text("warnings")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "top level must be an object"),
    ('{"format": "other/1", "modules": []}', "format is 'other/1'"),
    ('{"format": "lofar-hires-run/1", "modules": [{"name": "x", "status": "done", "wall_s": "12"}]}',
     "wall_s must be a number"),
    ('{"format": "lofar-hires-run/1", "modules": [{"name": "x", "status": "done", "core_s": NaN}]}',
     "core_s is nan"),
    ('{"format": "lofar-hires-run/1", "modules": [{"name": "x", "status": "happy"}]}', "status 'happy'"),
], ids=["not-json", "list", "format", "text-number", "nan", "status"])
def test_corrupt_manifest_exits_2_with_one_line(tmp_path, capsys, content: str, message: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(content)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "run.json" in err[0]
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]


def test_block_average_matches_numpy(tmp_path) -> None:
    """Block means of a 2100 x 300 image (step 3) equal numpy's; NaN pixels are left out of their block."""
    from lofar_hires.report.figures import block_average

    data = _mosaic_data()
    data[0, 0] = np.nan
    path = _fits(tmp_path / "m.fits", data, wsclean_axes=True)
    got = block_average(path, max_pix=1024)
    assert got.step == 3 and got.image.shape == (100, 700) and got.shape == (300, 2100)
    f32 = data.astype(np.float32).astype(float)
    want = np.nanmean(f32.reshape(100, 3, 700, 3), axis=(1, 3))
    np.testing.assert_allclose(got.image, want, rtol=1e-12)
    assert got.sample.size == 100 * 700 - 1  # every 3rd pixel of every 3rd row, the NaN left out
    small = block_average(path, max_pix=4000)
    assert small.step == 1 and small.image.shape == (300, 2100)
    assert math.isclose(np.nanstd(small.sample), np.nanstd(f32), rel_tol=1e-9)


def test_the_report_orders_modules_as_the_run_wrote_them():
    """The run writes the chain's modules into its manifest; the report lists them in that order, a module absent
    from the records as not run, and any other module after them."""
    from lofar_hires.chain.state import RunManifest
    from lofar_hires.report.manifest import parse_manifest

    written = RunManifest(config="c.yaml", runner="cwltool").to_dict()
    assert written["chain"] == list(MODULE_NAMES)
    written["modules"] = [{"name": "sva", "status": "done"}, {"name": "extra", "status": "done"}]
    manifest = parse_manifest(written, Path("run.json"))
    assert manifest.module_order() == [*MODULE_NAMES, "extra"]
