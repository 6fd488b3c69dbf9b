"""``lofar-hires h5 merge-dd``: Dutch DD solutions followed by each facet's international self-calibration."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import tree_snapshot
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, read_h5parm, write_h5parm
from lofar_hires.io.regions import write_ds9_polygons
from lofar_hires.solutions.dd_merge import (
    DEFAULT_MATCH_DEG,
    InternationalRun,
    assign_directions,
    merge_dd,
    read_selfcal_run,
)

DUTCH = ["CS001HBA0", "CS002HBA0", "RS106HBA"]
ALL = [*DUTCH, "DE601HBA", "UK608HBA"]
POS = {name: np.array([3826577.0 + 300 * i, 461022.0 - 50 * i, 5064892.0]) for i, name in enumerate(ALL)}
T = 4.9e9 + np.arange(0.0, 60.0, 10.0)
F = 140e6 + 2e6 * np.arange(2)
POLS = np.array(["XX", "YY"])
#: Facet points = calibrator positions (degrees); a field at RA > 180 deg (written as negative RA in the h5parm).
POINTS = {"cal_0": (242.5, 55.0), "cal_1": (243.5, 55.4), "cal_2": (243.9, 55.5)}
FACETS = [f"facet_{k}" for k in range(3)]


def _write(path: Path, ants: list[str], dirs: dict[str, tuple[float, float]], rng) -> tuple[np.ndarray, np.ndarray]:
    axes = {"time": T, "freq": F, "ant": np.array(ants), "dir": np.array(list(dirs)), "pol": POLS}
    shape = tuple(len(v) for v in axes.values())
    phase, amp = rng.uniform(-np.pi, np.pi, shape), rng.uniform(0.6, 1.4, shape)
    write_h5parm(path, [Soltab("phase000", "phase", axes, phase), Soltab("amplitude000", "amplitude", axes, amp)],
                 ants, np.array([POS[a] for a in ants]),
                 {n: (np.radians(ra), np.radians(dec)) for n, (ra, dec) in dirs.items()})
    return phase, amp


def _selfcal_dir(root: Path, name: str, rng, failed: str = "") -> tuple[Path, np.ndarray | None, np.ndarray | None]:
    """A ``lofar-hires selfcal`` output directory: its report and, for a successful run, best_obs.h5."""
    outdir = root / f"selfcal_{name}"
    outdir.mkdir()
    report = {"status": "failed" if failed else "ok", "name": name, "phase_centre_deg": list(POINTS[name]),
              "best_solutions": {}}
    phase = amp = None
    if failed:
        report["error"] = failed
    else:
        # selfcal's own direction name and position (the phase centre) are not the facet's
        phase, amp = _write(outdir / "best_obs.h5", ALL, {"pointing": POINTS[name]}, rng)
        report["best_solutions"] = {"obs": "best_obs.h5"}
    (outdir / "selfcal_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return outdir, phase, amp


@pytest.fixture()
def field(tmp_path) -> dict:
    rng = np.random.default_rng(11)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    dirs = {f: POINTS[c] for f, c in zip(FACETS, POINTS)}
    dutch = inputs / "dutch.h5"
    dph, damp = _write(dutch, DUTCH, dirs, rng)
    runs = {name: _selfcal_dir(inputs, name, rng, failed="DP3 solve diverged\nsecond line")
            if name == "cal_2" else _selfcal_dir(inputs, name, rng) for name in POINTS}
    regions = write_ds9_polygons(inputs / "facets.reg",
                                 [[(ra - 0.2, dec - 0.1), (ra + 0.2, dec - 0.1), (ra, dec + 0.1)]
                                  for ra, dec in POINTS.values()], FACETS, list(POINTS.values()))
    return {"root": tmp_path, "inputs": inputs, "dutch": dutch, "dph": dph, "damp": damp, "runs": runs,
            "regions": regions}


def _argv(field: dict, out: Path, *extra: str) -> list[str]:
    argv = ["h5", "merge-dd", str(field["dutch"])]
    for outdir, _, _ in field["runs"].values():
        argv += ["--international", str(outdir)]
    return [*argv, "-o", str(out), *extra]


def _wrapped(a):
    return np.angle(np.exp(1j * a))


def test_merge_dd_per_direction_with_fallback(field, capsys):
    before = tree_snapshot(field["inputs"])
    out = field["root"] / "out" / "merged.h5"
    assert main(_argv(field, out, "--facet-regions", str(field["regions"]), "--observation", "obs")) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == f"{out}: 3 directions, 2 international calibrators, 1 fallback(s)"
    assert tree_snapshot(field["inputs"]) == before

    got = read_h5parm(out)
    assert list(got.directions) == [f"[{f}]" for f in FACETS]
    for f, (ra, dec) in zip(FACETS, POINTS.values()):
        np.testing.assert_allclose(got.directions[f"[{f}]"], (np.radians(ra) - 2 * np.pi, np.radians(dec)),
                                   atol=1e-12)
    assert got.antenna_names == ALL
    ph, amp = got.soltabs["phase000"].val, got.soltabs["amplitude000"].val
    n = len(DUTCH)
    # facet_2's own calibrator failed: cal_1 (0.25 deg away) is nearer than cal_0.
    for d, cal in enumerate(["cal_0", "cal_1", "cal_1"]):
        _, cph, camp = field["runs"][cal]
        np.testing.assert_allclose(_wrapped(ph[:, :, :n, d] - field["dph"][:, :, :, d] - cph[:, :, :n, 0]), 0,
                                   atol=1e-9)
        np.testing.assert_allclose(amp[:, :, :n, d], field["damp"][:, :, :, d] * camp[:, :, :n, 0], rtol=1e-9)
        np.testing.assert_allclose(_wrapped(ph[:, :, n:, d] - cph[:, :, n:, 0]), 0, atol=1e-9)
        np.testing.assert_allclose(amp[:, :, n:, d], camp[:, :, n:, 0], rtol=1e-9)

    with (out.parent / "merged.directions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["direction", "ra_deg", "dec_deg", "calibrator", "separation_deg", "fallback", "note"]
    assert [(r["direction"], r["calibrator"], r["fallback"]) for r in rows] == [
        ("[facet_0]", "cal_0", "false"), ("[facet_1]", "cal_1", "false"), ("[facet_2]", "cal_1", "true")]
    assert float(rows[0]["ra_deg"]) == pytest.approx(242.5) and float(rows[2]["dec_deg"]) == pytest.approx(55.5)
    assert float(rows[0]["separation_deg"]) < 1e-6
    assert float(rows[2]["separation_deg"]) == pytest.approx(0.2479, abs=1e-3)
    assert rows[2]["note"].startswith("own calibrator cal_2 failed (DP3 solve diverged); nearest working "
                                      "calibrator cal_1 at 0.248 deg")
    assert "WARNING" in printed.err and "direction [facet_2]: own calibrator cal_2 failed" in printed.err
    assert "international calibrator cal_2 failed (DP3 solve diverged): not used" in printed.err
    prov = json.loads(got.attrs["lofar_hires_provenance"])
    assert prov["task"] == "h5 merge-dd"
    assert [a["calibrator"] for a in prov["parameters"]["assignments"]] == ["cal_0", "cal_1", "cal_1"]


def test_international_stations_keep_the_dutch_solutions_of_the_others(field, capsys):
    """``--international-stations international``: the Dutch stations get their Dutch solutions alone, the
    international stations the runs' solutions; no scratch file is left next to the output."""
    before = tree_snapshot(field["inputs"])
    out = field["root"] / "out" / "merged.h5"
    out.parent.mkdir()
    assert main(_argv(field, out, "--international-stations", "international")) == 0
    assert tree_snapshot(field["inputs"]) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["merged.directions.csv", "merged.h5"]
    got = read_h5parm(out)
    ph, amp = got.soltabs["phase000"].val, got.soltabs["amplitude000"].val
    n = len(DUTCH)
    for d, cal in enumerate(["cal_0", "cal_1", "cal_1"]):
        _, cph, camp = field["runs"][cal]
        np.testing.assert_allclose(_wrapped(ph[:, :, :n, d] - field["dph"][:, :, :, d]), 0, atol=1e-9)
        np.testing.assert_allclose(amp[:, :, :n, d], field["damp"][:, :, :, d], rtol=1e-9)
        np.testing.assert_allclose(_wrapped(ph[:, :, n:, d] - cph[:, :, n:, 0]), 0, atol=1e-9)
        np.testing.assert_allclose(amp[:, :, n:, d], camp[:, :, n:, 0], rtol=1e-9)
    prov = json.loads(got.attrs["lofar_hires_provenance"])
    assert prov["parameters"]["international_stations"] == "international"
    assert "solutions of 2 station(s) used, 3 left to the Dutch solutions (CS001HBA0, CS002HBA0, RS106HBA)" \
        in capsys.readouterr().err


def test_international_stations_with_a_hostile_calibrator_name(field):
    """A calibrator name from a report never becomes a file name: nothing is written outside the output."""
    report_path = field["runs"]["cal_0"][0] / "selfcal_report.json"
    report = json.loads(report_path.read_text())
    report["name"] = "../../escaped"
    report_path.write_text(json.dumps(report))
    out = field["root"] / "out" / "merged.h5"
    out.parent.mkdir()
    assert main(_argv(field, out, "--international-stations", "international")) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["merged.directions.csv", "merged.h5"]
    assert sorted(p.name for p in field["root"].iterdir()) == ["inputs", "out"]
    assert not (field["root"].parent / "escaped.h5").exists()


def test_international_stations_unknown_group_is_refused(field, capsys):
    out = field["root"] / "merged.h5"
    assert main(_argv(field, out, "--international-stations", "nosuchgroup")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown station group 'nosuchgroup'" in err[0], err
    assert sorted(p.name for p in field["root"].iterdir()) == ["inputs"]


def test_assignment_beyond_match_deg_falls_back_to_nearest():
    runs = [InternationalRun("near", (np.radians(10.0), np.radians(50.0)), Path("near.h5")),
            InternationalRun("far", (np.radians(12.0), np.radians(50.0)), Path("far.h5"))]
    dirs = {"a": (np.radians(10.0), np.radians(50.0)), "[b]": (np.radians(10.5), np.radians(50.0))}
    got = assign_directions(dirs, runs, DEFAULT_MATCH_DEG)
    assert [(a.direction, a.calibrator, a.fallback) for a in got] == [("[a]", "near", False), ("[b]", "near", True)]
    assert got[1].note.startswith("no calibrator within 0.01667 deg; nearest working calibrator near at 0.32")
    assert got[1].separation_deg == pytest.approx(0.5 * np.cos(np.radians(50.0)), rel=1e-3)
    assert assign_directions(dirs, runs, 1.0)[1].fallback is False
    with pytest.raises(InputError, match="match_deg"):
        assign_directions(dirs, runs, float("nan"))


def test_read_selfcal_run_picks_the_observation(field):
    outdir, _, _ = field["runs"]["cal_0"]
    report = json.loads((outdir / "selfcal_report.json").read_text())
    report["best_solutions"] = {"obs": "best_obs.h5", "obs2": "best_obs.h5"}
    (outdir / "selfcal_report.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match="several observations"):
        read_selfcal_run(outdir)
    run = read_selfcal_run(outdir, "obs2")
    assert run.name == "cal_0" and run.h5parm == outdir / "best_obs.h5" and not run.failure
    assert run.position_rad == pytest.approx((np.radians(242.5), np.radians(55.0)))
    with pytest.raises(InputError, match="no observation 'obs3'"):
        read_selfcal_run(outdir, "obs3")
    failed = read_selfcal_run(field["runs"]["cal_2"][0])
    assert failed.h5parm is None and failed.failure == "DP3 solve diverged"


def _break(field: dict, case: str) -> tuple[list[str] | None, str]:
    """Make one input bad; returns replacement --international dirs (None: keep) and the expected message."""
    runs = field["runs"]
    if case == "extra-facet":
        ra, dec = 244.5, 55.0
        polys = [[(r - 0.2, d - 0.1), (r + 0.2, d - 0.1), (r, d + 0.1)] for r, d in [*POINTS.values(), (ra, dec)]]
        write_ds9_polygons(field["regions"], polys, [*FACETS, "facet_9"], [*POINTS.values(), (ra, dec)])
        return None, r"facet regions .*facets\.reg do not match the solutions .*dutch\.h5: facets without " \
                     r"solutions: \[facet_9\]"
    if case == "moved-facet":
        points = [*POINTS.values()]
        points[1] = (points[1][0] + 0.01, points[1][1])
        write_ds9_polygons(field["regions"], [[(r - 0.2, d - 0.1), (r + 0.2, d - 0.1), (r, d + 0.1)]
                                              for r, d in points], FACETS, points)
        return None, r"at other positions: \[facet_1\] \(2\d\.\d arcsec from its facet point\)"
    if case == "no-success":
        dirs = []
        for name, (outdir, _, _) in runs.items():
            if name != "cal_2":
                report = json.loads((outdir / "selfcal_report.json").read_text())
                report.update(status="failed", error=f"{name} broke", best_solutions={})
                (outdir / "selfcal_report.json").write_text(json.dumps(report))
            dirs.append(str(outdir))
        return dirs, "no international calibrator succeeded: cal_0: cal_0 broke; cal_1: cal_1 broke; cal_2: DP3 solve"
    if case == "corrupt-report":
        (runs["cal_1"][0] / "selfcal_report.json").write_text('{"status": "ok", "name": ')
        return None, r"selfcal_cal_1/selfcal_report\.json is not a JSON report"
    if case == "missing-report":
        (runs["cal_0"][0] / "selfcal_report.json").unlink()
        return None, r"selfcal_cal_0/selfcal_report\.json does not exist"
    if case == "missing-key":
        report = json.loads((runs["cal_1"][0] / "selfcal_report.json").read_text())
        del report["phase_centre_deg"]
        (runs["cal_1"][0] / "selfcal_report.json").write_text(json.dumps(report))
        return None, r"selfcal_cal_1/selfcal_report\.json: no 'phase_centre_deg' key"
    if case == "missing-h5parm":
        (runs["cal_0"][0] / "best_obs.h5").unlink()
        return None, r"'best_solutions' of obs is .*best_obs\.h5, which does not exist"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["extra-facet", "moved-facet", "no-success", "corrupt-report", "missing-report",
                                  "missing-key", "missing-h5parm"])
def test_merge_dd_bad_input(field, capsys, case):
    dirs, message = _break(field, case)
    before = tree_snapshot(field["inputs"])
    out = field["root"] / "merged.h5"
    argv = _argv(field, out, "--facet-regions", str(field["regions"]))
    if dirs is not None:
        argv = ["h5", "merge-dd", str(field["dutch"]), *[x for d in dirs for x in ("--international", d)],
                "-o", str(out), "--facet-regions", str(field["regions"])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert tree_snapshot(field["inputs"]) == before
    assert sorted(p.name for p in field["root"].iterdir()) == ["inputs"]  # no output, no partial file


def test_existing_output_or_table_is_kept(field, capsys):
    out = field["root"] / "merged.h5"
    table = field["root"] / "merged.directions.csv"
    table.write_text("earlier table\n")
    assert main(_argv(field, out)) == 2
    assert "merged.directions.csv already exists" in capsys.readouterr().err
    assert table.read_text() == "earlier table\n" and not out.exists()
    assert main(_argv(field, out, "--overwrite")) == 0
    assert table.read_text().startswith("direction,ra_deg,dec_deg")
    with pytest.raises(Exception, match="already exists"):
        merge_dd(field["dutch"], [read_selfcal_run(d) for d, _, _ in field["runs"].values()], out,
                 match_deg=DEFAULT_MATCH_DEG)
    assert sorted(p.name for p in field["root"].iterdir()) == ["inputs", "merged.directions.csv", "merged.h5"]
