"""Classification of scored calibrators (``lofar_hires.selection.classify``) and the calibrator table.

Thresholds and neighbour pruning with the shipped defaults (main < 2.0 rad, weak < 2.6 rad,
0.15 deg between main and 0.2 deg for weak calibrators), at positions near RA 242.75,
Dec 55 deg built with exact great-circle offsets so that cos(dec) matters; manual additions
and removals; the solution-interval metric of each row. Then the CSV round trip of
``lofar_hires.selection.table``: every field, comments, blank lines and one-line errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.errors import InputError, MissingInputError
from lofar_hires.selection.classify import category_by_score, classify
from lofar_hires.selection.config import load_selection_config
from lofar_hires.selection.phasediff import solint_from_score
from lofar_hires.selection.sky import separation_deg
from lofar_hires.selection.table import COLUMNS, CalibratorRow, read_table, write_table

CFG = load_selection_config().classify
RA0, DEC0 = 242.75, 55.0


def offset(sep_deg: float, pa_deg: float = 0.0, ra_deg: float = RA0, dec_deg: float = DEC0) -> tuple[float, float]:
    """The position ``sep_deg`` from (ra, dec) along position angle ``pa_deg`` (exact on the sphere)."""
    d1, s, pa = math.radians(dec_deg), math.radians(sep_deg), math.radians(pa_deg)
    d2 = math.asin(math.sin(d1) * math.cos(s) + math.cos(d1) * math.sin(s) * math.cos(pa))
    dra = math.atan2(math.sin(pa) * math.sin(s) * math.cos(d1), math.cos(s) - math.sin(d1) * math.sin(d2))
    return (ra_deg + math.degrees(dra)) % 360.0, math.degrees(d2)


def row(name: str, score: float | None, sep_deg: float = 0.0, pa_deg: float = 0.0, **kw) -> CalibratorRow:
    ra, dec = offset(sep_deg, pa_deg)
    return CalibratorRow(name, ra, dec, score_rad=score, **kw)


def by_name(rows) -> dict[str, CalibratorRow]:
    return {r.name: r for r in rows}


def test_offset_helper_is_exact():
    for sep, pa in [(0.1, 0.0), (0.1, 90.0), (0.18, 37.0), (0.25, 200.0)]:
        assert float(separation_deg(RA0, DEC0, *offset(sep, pa))) == pytest.approx(sep, abs=1e-10)
    # At Dec 55 an RA step is cos(dec) shorter on the sky.
    assert offset(0.1, 90.0)[0] - RA0 == pytest.approx(0.1 / math.cos(math.radians(DEC0)), rel=1e-3)


# ---------------------------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    "score, category",
    [(0.0, "main"), (1.99, "main"), (2.0, "weak"), (2.59, "weak"), (2.6, "rejected"), (3.5, "rejected"),
     (None, "rejected")],
    ids=str,
)
def test_thresholds(score, category):
    assert category_by_score(score, CFG)[0] == category
    (out,) = classify([row("a", score)], CFG)
    assert out.category == category


def test_threshold_reasons():
    assert category_by_score(None, CFG) == ("rejected", "no phasediff score")
    assert category_by_score(1.5, CFG)[1] == "sigma_c 1.50 < 2 rad"
    assert category_by_score(2.2, CFG)[1] == "2 <= sigma_c 2.20 < 2.6 rad"
    assert category_by_score(2.7, CFG)[1] == "sigma_c 2.70 >= 2.6 rad"


# ---------------------------------------------------------------------------------------------- significance


def noisy(name: str, score: float, threshold: float, sep_deg: float = 0.0, n: int = 14, **kw) -> CalibratorRow:
    return row(name, score, sep_deg, n_values=n, noise_median_rad=threshold + 0.8, noise_threshold_rad=threshold,
               false_alarm=1e-3, **kw)


def test_a_score_not_below_its_noise_level_is_rejected():
    # The tiny preset's noise candidate: 1.39 rad from 14 values is no better than noise.
    (out,) = classify([noisy("noise", 1.39, 0.89)], CFG)
    assert out.category == "rejected"
    assert out.reason == "not significant: sigma_c 1.39 >= noise level 0.89 at false-alarm 0.001 for 14 values"
    assert out.solint_min == pytest.approx(solint_from_score(1.39), rel=1e-12)  # still computed from the score


@pytest.mark.parametrize("score, threshold, category", [
    (0.5, 0.89, "main"), (0.89, 0.89, "rejected"), (1.9, 2.48, "main"), (2.3, 2.48, "weak"), (2.5, 2.48, "rejected"),
    (2.55, 2.7, "weak"), (2.65, 2.7, "rejected"), (1.95, 1.9, "rejected")],
    ids=["main", "at_threshold", "main_select", "weak_select", "weak_range_noise", "weak_low_n_high_threshold",
         "above_weak", "main_range_noise"])
def test_significance_then_thresholds(score, threshold, category):
    (out,) = classify([noisy("a", score, threshold)], CFG)
    assert out.category == category


def test_insignificant_rows_prune_nothing():
    # A noise-level row 0.05 deg from a significant one neither prunes it nor is pruned: it is rejected.
    out = by_name(classify([noisy("good", 1.0, 2.4, n=1000), noisy("bad", 0.9, 0.85, 0.05)], CFG))
    assert (out["good"].category, out["bad"].category) == ("main", "rejected")
    assert out["bad"].reason.startswith("not significant")


def test_rows_without_noise_level_are_classified_by_threshold_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="lofar_hires.selection.classify"):
        out = by_name(classify([row("old", 1.2), noisy("new", 1.2, 2.4, 1.0)], CFG))
    assert out["old"].category == out["new"].category == "main"
    assert "1 scored candidate(s) have no noise level" in caplog.text and "old" in caplog.text


def test_unscored_row_keeps_its_note():
    (out,) = classify([row("far", None, reason="not scored: 3.10 deg from the phase centre")], CFG)
    assert out.category == "rejected"
    assert out.reason == "not scored: 3.10 deg from the phase centre"
    (plain,) = classify([row("plain", None)], CFG)
    assert plain.reason == "no phasediff score"


def test_thresholds_follow_the_config():
    cfg = load_selection_config(overrides=["classify.main_max_rad=1.5", "classify.weak_max_rad=1.8"]).classify
    out = by_name(classify([row("a", 1.4), row("b", 1.6, 1.0), row("c", 1.9, 2.0)], cfg))
    assert [out[n].category for n in "abc"] == ["main", "weak", "rejected"]


# ------------------------------------------------------------------------------------------------- pruning


@pytest.mark.parametrize("pa_deg", [0.0, 90.0, 135.0])
def test_close_mains_keep_the_lower_score(pa_deg):
    out = by_name(classify([row("A", 0.9, 0.0), row("B", 0.5, 0.10, pa_deg)], CFG))
    assert out["B"].category == "main"
    assert out["A"].category == "pruned"
    assert out["A"].reason == "main, pruned: 0.100 deg from B (sigma_c 0.50) < 0.15 deg"


@pytest.mark.parametrize("pa_deg", [0.0, 90.0, 250.0])
def test_mains_0p2_deg_apart_are_both_kept(pa_deg):
    out = classify([row("A", 0.9, 0.0), row("B", 0.5, 0.20, pa_deg)], CFG)
    assert [r.category for r in out] == ["main", "main"]


@pytest.mark.parametrize(
    "score_b, sep_deg, category",
    [(0.9, 0.14, "pruned"), (0.9, 0.16, "main"), (2.3, 0.19, "pruned"), (2.3, 0.21, "weak")],
    ids=["main_0.14", "main_0.16", "weak_0.19", "weak_0.21"],
)
def test_pruning_radius_boundaries(score_b, sep_deg, category):
    out = by_name(classify([row("A", 0.5, 0.0), row("B", score_b, sep_deg, 120.0)], CFG))
    assert out["B"].category == category


def test_pruning_uses_the_distance_on_the_sky():
    # 0.2 deg of RA at Dec 55 is 0.115 deg on the sky: pruned. 0.2/cos(dec) deg of RA is 0.2 deg: kept.
    a = CalibratorRow("A", RA0, DEC0, score_rad=0.5)
    near = CalibratorRow("B", RA0 + 0.2, DEC0, score_rad=0.9)
    far = CalibratorRow("C", RA0 + 0.2 / math.cos(math.radians(DEC0)), DEC0, score_rad=0.9)
    assert by_name(classify([a, near], CFG))["B"].category == "pruned"
    assert by_name(classify([a, far], CFG))["C"].category == "main"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)], ids=str)
def test_greedy_best_first_chain(order):
    # A - B - C along declination, 0.1 deg steps: A-C is 0.2 deg, so A and C survive, B is pruned.
    chain = [row("A", 0.5, 0.0), row("B", 0.8, 0.1), row("C", 1.0, 0.2)]
    out = classify([chain[i] for i in order], CFG)
    assert [(r.name, r.category) for r in out] == [("A", "main"), ("C", "main"), ("B", "pruned")]
    assert "from A (sigma_c 0.50)" in out[2].reason


@pytest.mark.parametrize("sep_deg, category", [(0.18, "pruned"), (0.25, "weak")])
def test_weak_near_a_kept_main(sep_deg, category):
    out = by_name(classify([row("M", 1.0, 0.0), row("W", 2.3, sep_deg, 60.0)], CFG))
    assert out["M"].category == "main"
    assert out["W"].category == category
    if category == "pruned":
        assert out["W"].reason == "weak, pruned: 0.180 deg from M (sigma_c 1.00) < 0.2 deg"


def test_weak_is_pruned_by_a_main_even_with_a_better_score():
    # Mains are kept first; a weak row never prunes a main.
    out = by_name(classify([row("M", 1.9, 0.0), row("W", 0.1, 0.1)], CFG))
    assert out["W"].category == "main"  # 0.1 is a main score
    out = by_name(classify([row("M", 1.9, 0.0), row("W", 2.0, 0.1)], CFG))
    assert (out["M"].category, out["W"].category) == ("main", "pruned")


def test_weak_near_a_pruned_main_is_not_pruned_by_it():
    # M2 is pruned by M1; W is 0.18 deg from M2 but 0.28 deg from M1.
    out = by_name(classify([row("M1", 0.5, 0.0), row("M2", 0.8, 0.10), row("W", 2.3, 0.28)], CFG))
    assert out["M1"].category == "main"
    assert out["M2"].category == "pruned"
    assert out["W"].category == "weak"


def test_close_weak_calibrators_keep_the_lower_score():
    out = by_name(classify([row("W1", 2.4, 0.0), row("W2", 2.1, 0.1, 300.0)], CFG))
    assert out["W2"].category == "weak"
    assert out["W1"].category == "pruned"
    assert "from W2 (sigma_c 2.10)" in out["W1"].reason


def test_pruning_radii_follow_the_config():
    cfg = load_selection_config(overrides=["classify.prune_main_deg=0.05"]).classify
    out = classify([row("A", 0.5, 0.0), row("B", 0.8, 0.1)], cfg)
    assert [r.category for r in out] == ["main", "main"]


# ---------------------------------------------------------------------------------------------- manual edits


def test_manual_addition_is_kept_and_prunes_a_better_scored_neighbour():
    # Protected (manual) rows are placed first, so a scored main 0.05 deg away is pruned instead.
    added = CalibratorRow("mine", *offset(0.05, 45.0), category="main", origin="catalogue")
    out = by_name(classify([row("A", 0.3, 0.0)], CFG, add=[added]))
    assert out["mine"].category == "main"
    assert out["mine"].origin == "manual"
    assert out["mine"].reason == "added by hand as main"
    assert out["mine"].solint_min is None
    assert out["A"].category == "pruned"
    assert "from mine (added by hand)" in out["A"].reason


def test_manual_additions_are_never_pruned():
    adds = [CalibratorRow("w1", *offset(0.02), category="weak", score_rad=2.5),
            CalibratorRow("w2", *offset(0.04), category="weak", score_rad=2.2),
            CalibratorRow("m1", *offset(0.03, 180.0), category="main")]
    out = by_name(classify([row("A", 0.3, 1.0)], CFG, add=adds))
    assert {n: out[n].category for n in ("w1", "w2", "m1", "A")} == {"w1": "weak", "w2": "weak", "m1": "main",
                                                                       "A": "main"}
    # A manual weak row keeps its category whatever its score; its interval comes from the score.
    assert out["w1"].solint_min == pytest.approx(solint_from_score(2.5), rel=1e-12)


def test_removed_rows_are_marked_and_prune_nothing():
    out = by_name(classify([row("A", 0.3, 0.0), row("B", 0.9, 0.05)], CFG, remove=["A"]))
    assert (out["A"].category, out["A"].reason) == ("removed", "removed by hand")
    assert out["B"].category == "main"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"remove": ["nope"]}, "no candidate named nope"),
        ({"add": [CalibratorRow("A", RA0, DEC0, category="main")]}, "already exists"),
        ({"add": [CalibratorRow("X", RA0, DEC0, category="rejected")]}, "must be main or weak"),
        ({"add": [CalibratorRow("X", RA0, DEC0)]}, "must be main or weak"),
    ],
    ids=["unknown_remove", "name_clash", "rejected_add", "candidate_add"],
)
def test_bad_manual_edits(kwargs, match):
    with pytest.raises(InputError, match=match):
        classify([row("A", 0.5)], CFG, **kwargs)


# ---------------------------------------------------------------------------------- intervals and ordering


def test_solint_from_the_score_and_sorted_output():
    rows = [row("rej", 2.8, 1.0), row("none", None, 2.0), row("weak", 2.2, 3.0), row("m2", 1.0, 4.0),
            row("m1", 0.5, 5.0), row("noise", 3.3, 6.0), row("gone", 0.2, 7.0)]
    out = classify(rows, CFG, remove=["gone"])
    # Main first; within a category by score, unscored last.
    assert [r.name for r in out] == ["m1", "m2", "weak", "rej", "noise", "none", "gone"]
    assert [r.category for r in out] == ["main", "main", "weak", "rejected", "rejected", "rejected", "removed"]
    got = by_name(out)
    assert got["m2"].solint_min == pytest.approx(
        10 * math.log(1 - (1 / math.pi) ** 2) / math.log(1 - (1.75 / math.pi) ** 2), rel=1e-12)
    for name in ("m1", "weak", "rej", "gone"):
        assert got[name].solint_min == pytest.approx(solint_from_score(got[name].score_rad), rel=1e-12)
    assert got["none"].solint_min is None
    assert got["noise"].solint_min is None  # a score above pi has no finite interval


def test_solint_uses_the_reference_interval_and_formula():
    cfg = load_selection_config(overrides=["classify.solint_formula=squared"]).classify
    (out,) = classify([row("a", 1.0)], cfg, ref_solint_min=20.0)
    ratio = math.log(1 - (1 / math.pi) ** 2) / math.log(1 - (1.75 / math.pi) ** 2)
    assert out.solint_min == pytest.approx(20.0 * ratio**2, rel=1e-12)


def test_classify_keeps_the_other_fields():
    source = row("a", 1.2, peak_flux_jy=0.3, total_flux_jy=0.5, origin="pybdsf", score_stations=("UK608HBA",))
    (out,) = classify([source], CFG)
    assert (out.ra_deg, out.dec_deg, out.peak_flux_jy, out.total_flux_jy, out.origin, out.score_stations) == (
        source.ra_deg, source.dec_deg, 0.3, 0.5, "pybdsf", ("UK608HBA",))


# ------------------------------------------------------------------------------------------- the CSV table


def full_rows() -> list[CalibratorRow]:
    rng = np.random.default_rng(7)
    return [
        CalibratorRow("ILTJ161100.00+550000.0", 242.75, 55.0, peak_flux_jy=0.0123456789, total_flux_jy=0.25,
                      origin="pybdsf", score_rad=1.234567891, score_stations=("UK608HBA", "FR606HBA"),
                      category="main", reason="sigma_c 1.23 < 2 rad, \"quoted\"", solint_min=3.1415926535),
        CalibratorRow("b", float(rng.uniform(0, 360)), float(rng.uniform(-90, 90)), category="pruned",
                      origin="manual", reason="main, pruned: 0.100 deg from A (sigma_c 0.50) < 0.15 deg",
                      score_rad=0.9, score_stations=("IE613HBA",)),
        CalibratorRow("c", 0.0, -90.0),
        CalibratorRow("d", 10.0, 20.0, score_rad=2.5, n_values=3224, noise_median_rad=2.906, noise_threshold_rad=2.479,
                      false_alarm=1e-3, category="rejected", reason="not significant: sigma_c 2.50 >= noise level "
                      "2.48 at false-alarm 0.001 for 3224 values"),
    ]


def assert_rows_equal(back: list[CalibratorRow], rows: list[CalibratorRow]) -> None:
    assert len(back) == len(rows)
    for b, r in zip(back, rows):
        for key in COLUMNS:
            got, want = getattr(b, key), getattr(r, key)
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-9, abs=1e-8), key
            else:
                assert got == want, key


def test_table_round_trip(tmp_path: Path):
    rows = full_rows()
    path = write_table(tmp_path / "cal.csv", rows)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert_rows_equal(read_table(path), rows)
    assert read_table(path)[2] == rows[2]  # defaults come back exactly


def test_table_without_the_noise_columns_still_reads(tmp_path: Path):
    # A table written before the significance test: the noise columns are absent.
    old = ["name", "ra_deg", "dec_deg", "peak_flux_jy", "total_flux_jy", "origin", "score_rad", "score_stations",
           "category", "reason", "solint_min"]
    path = tmp_path / "old.csv"
    path.write_text(",".join(old) + "\na,10.0,20.0,,,catalogue,1.5,UK608HBA,main,sigma_c 1.50 < 2 rad,6.5\n")
    (back,) = read_table(path)
    assert (back.score_rad, back.n_values, back.noise_threshold_rad, back.false_alarm) == (1.5, None, None, None)
    assert COLUMNS[:len(old)] == tuple(old)  # new columns come last: hand-made tables keep their meaning


def test_table_skips_comments_and_blank_lines(tmp_path: Path):
    path = write_table(tmp_path / "cal.csv", full_rows())
    lines = path.read_text().splitlines()
    edited = ["# edited by hand", "", lines[0], "   # a comment", lines[1], "", "", lines[2], "#", lines[3], "",
              lines[4]]
    path.write_text("\n".join(edited) + "\n")
    assert_rows_equal(read_table(path), full_rows())


def write_csv(path: Path, body: list[str]) -> Path:
    path.write_text("\n".join([",".join(COLUMNS), *body]) + "\n")
    return path


@pytest.mark.parametrize(
    "bad, match",
    [
        ("bad,abc,55.0,,,,,,,,", "ra_deg/dec_deg are not numbers"),
        ("bad,242.0,55.0,x1,,,,,,,", "peak_flux_jy 'x1' is not a number"),
        ("bad,242.0,55.0,,,,nan,,,,", "score_rad is not a finite number"),
        ("bad,400.0,55.0,,,,,,,,", "ra_deg 400.0 is outside"),
        ("bad,242.0,95.0,,,,,,,,", "dec_deg 95.0 is outside"),
        ("bad,242.0,55.0,,,,,,great,,", "unknown category 'great'"),
        ("bad,242.0,55.0,,,elsewhere,,,,,", "unknown origin 'elsewhere'"),
        ("bad,242.0,55.0,,,,1.0,,,,,12.5,,,", "n_values '12.5' is not a whole number"),
        ("bad,242.0,55.0,,,,1.0,,,,,-3,,,", "n_values -3 is negative"),
        ("bad,242.0,55.0,,,,1.0,,,,,14,2.0,1.0,5", "false_alarm 5.0 is not a probability"),
        ("bad,242.0,55.0,,,,1.0,,,,,14,2.0,x,0.001", "noise_threshold_rad 'x' is not a number"),
        ("b\x00d,242.0,55.0,,,,,,,,", "control characters"),
        ("b{d},242.0,55.0,,,,,,,,", "braces"),
        ("b\x7fd,242.0,55.0,,,,,,,,", "control characters"),
    ],
    ids=["ra_text", "flux_text", "nan_score", "ra_range", "dec_range", "category", "origin", "n_values_float",
         "n_values_negative", "false_alarm", "threshold_text", "nul_name", "brace_name", "del_name"],
)
def test_table_errors_name_the_line(tmp_path: Path, bad, match):
    good = "ok,242.0,55.0,,,,,,,,"
    path = write_csv(tmp_path / "t.csv", [good, bad])
    with pytest.raises(InputError, match=match) as info:
        read_table(path)
    assert f"{path} line 3" in str(info.value)
    # With comments and blank lines before it, the bad row is on line 6 of the file.
    path.write_text(f"# hand-edited\n{','.join(COLUMNS)}\n\n{good}\n# next one is bad\n{bad}\n")
    with pytest.raises(InputError, match=match) as info:
        read_table(path)
    assert f"{path} line 6" in str(info.value)


def test_table_rejects_duplicate_names(tmp_path: Path):
    path = write_csv(tmp_path / "t.csv", ["a,1.0,2.0,,,,,,,,", "b,1.0,2.0,,,,,,,,", "a,3.0,4.0,,,,,,,,"])
    with pytest.raises(InputError, match="calibrator name a appears more than once"):
        read_table(path)
    rows = [CalibratorRow("a", 1.0, 2.0), CalibratorRow("a", 3.0, 4.0)]
    with pytest.raises(InputError, match="more than once"):
        write_table(tmp_path / "out.csv", rows)
    assert not (tmp_path / "out.csv").exists()


def test_table_missing_file_or_header(tmp_path: Path):
    with pytest.raises(MissingInputError):
        read_table(tmp_path / "nothing.csv")
    (tmp_path / "x.csv").write_text("ra_deg,dec_deg\n1,2\n")
    with pytest.raises(InputError, match=r"no header with the column\(s\) name\)$"):
        read_table(tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("")
    with pytest.raises(InputError, match=r"no header with the column\(s\) name, ra_deg, dec_deg"):
        read_table(tmp_path / "y.csv")
    (tmp_path / "z.csv").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_table(tmp_path / "z.csv")
    with pytest.raises(InputError, match="is not a file"):
        read_table(tmp_path)
