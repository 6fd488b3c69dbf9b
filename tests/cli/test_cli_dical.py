"""``lofar-hires dical <op>`` and ``lofar-hires di-target``: the DI steps from the command line.

One chain of every op (the calibrator pipeline's order, then the target ops) runs once on a
short ``dical`` simulation (two minutes of calibrator and target). The tests check its
products (soltabs, axes, provenance, MS history), that no op modifies its inputs (every op
writes a new MS or h5parm; the ones that add columns copy their input MS), that the fits are
the library's fits, that bad input (missing, zero-row or all-flagged MSs, garbage sky models,
existing or unwritable outputs) gives one line, exit status 2, no output and untouched inputs,
and that a DP3 run leaving no usable data gives exit status 4 and no product.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from lofar_hires.calibration.di_calibrator import CAL_SOLTABS
from lofar_hires.cli import main
from lofar_hires.cli.dical import COMMANDS
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.solutions.output import PROVENANCE_ATTR

#: Two minutes of the dical preset: 15 time slots, all 24 channels and 14 stations.
SHORT_DICAL = ("observation.duration_s=120", "calibrator.duration_s=120")



def ms_history(ms: Path) -> list[str]:
    from casacore.tables import table

    with table(str(ms / "HISTORY"), ack=False) as t:
        return list(t.getcol("ORIGIN")) if t.nrows() else []


@pytest.fixture(scope="module")
def chain(simulated, tmp_path_factory) -> dict[str, Path]:
    """Every op once, in the calibrator pipeline's order, then transfer, correct and phasecal."""
    sim = simulated("dical_short", preset="dical", overrides=SHORT_DICAL)
    cal_ms = next(o.ms for o in sim.observations if o.kind == "calibrator")
    target_ms = next(o.ms for o in sim.observations if o.kind == "target")
    out = tmp_path_factory.mktemp("dical_chain")
    p = {name: out / name for name in (
        "cal.MS", "predicted.MS", "solve1.h5", "solve1.MS", "polalign_initial.h5", "solve2.h5", "solve2.MS",
        "faraday.h5", "corrupted.MS", "solve3.h5", "solve3.MS", "polalign.h5", "bandpass.h5", "solve4.h5",
        "solve4.MS", "clocktec.h5", "cal_solutions.h5", "transfer.h5", "target.MS", "target.phase.h5",
        "target_selfcal.MS", "plots")}
    p.update(sim_cal_ms=cal_ms, sim_target_ms=target_ms, skymodel=sim.calibrator_model, sky=sim.sky_model)
    s = {k: str(v) for k, v in p.items()}
    runs = [
        ["prepare", s["sim_cal_ms"], "-o", s["cal.MS"]],
        ["predict", s["cal.MS"], "-o", s["predicted.MS"], "--skymodel", s["skymodel"]],
        ["solve", s["predicted.MS"], "-o", s["solve1.h5"], "--output-ms", s["solve1.MS"], "--mode",
         "rotation+diagonal"],
        ["fit", "polalign", s["solve1.h5"], "-o", s["polalign_initial.h5"]],
        ["solve", s["solve1.MS"], "-o", s["solve2.h5"], "--output-ms", s["solve2.MS"], "--mode", "rotation+diagonal",
         "--apply", f"{s['polalign_initial.h5']}:polalign", "--apply-beam"],
        ["fit", "faraday", s["solve2.h5"], "-o", s["faraday.h5"]],
        ["corrupt-model", s["solve2.MS"], "-o", s["corrupted.MS"], "--faraday", s["faraday.h5"]],
        ["solve", s["corrupted.MS"], "-o", s["solve3.h5"], "--output-ms", s["solve3.MS"], "--mode", "diagonal",
         "--apply", s["polalign_initial.h5"], "--model-column", "MODEL_CORRUPTED"],
        ["refine-polalign", s["polalign_initial.h5"], s["solve3.h5"], "-o", s["polalign.h5"]],
        ["fit", "bandpass", s["solve3.h5"], "-o", s["bandpass.h5"]],
        ["solve", s["solve3.MS"], "-o", s["solve4.h5"], "--output-ms", s["solve4.MS"], "--mode", "diagonal",
         "--apply", s["polalign.h5"], "--apply", f"{s['bandpass.h5']}:bandpass", "--model-column",
         "MODEL_CORRUPTED"],
        ["fit", "clocktec", s["solve4.h5"], "-o", s["clocktec.h5"]],
        ["collect", "--polalign", s["polalign.h5"], "--bandpass", s["bandpass.h5"], "--faraday", s["faraday.h5"],
         "--clocktec", s["clocktec.h5"], "-o", s["cal_solutions.h5"]],
        ["plots", "--solves", s["solve1.h5"], s["solve2.h5"], s["solve3.h5"], s["solve4.h5"], "--polalign-solve",
         s["solve1.h5"], "--polalign", s["polalign.h5"], "--faraday", s["faraday.h5"], "--bandpass", s["bandpass.h5"],
         "--clocktec", s["clocktec.h5"], "-o", s["plots"]],
        ["transfer", s["cal_solutions.h5"], "-o", s["transfer.h5"]],
        ["correct", s["sim_target_ms"], "--transfer", s["transfer.h5"], "-o", s["target.MS"]],
        ["phasecal", s["target.MS"], "--skymodel", s["sky"], "-o", s["target.phase.h5"], "--output-ms",
         s["target_selfcal.MS"]],
    ]
    # Every input and product is fingerprinted when it first appears; no later op may change it.
    first = {k: tree_sha256(p[k]) for k in ("sim_cal_ms", "sim_target_ms", "skymodel", "sky")}
    for args in runs:
        assert main(["--log-level", "WARNING", "dical", *args]) == 0, args
        first.update({k: tree_sha256(path) for k, path in p.items() if k not in first and path.exists()})
    assert set(first) == set(p), "an op did not write its product"
    changed = [k for k, digest in first.items() if tree_sha256(p[k]) != digest]
    assert not changed, f"later ops modified {changed}"
    return p


def test_every_op_is_registered_and_has_help(capsys):
    assert set(COMMANDS) == {"prepare", "predict", "corrupt-model", "solve", "fit", "refine-polalign", "collect",
                             "transfer", "correct", "phasecal", "plots"}
    for op in COMMANDS:
        assert main(["dical", op, "--help"]) == 0
        assert f"usage: lofar-hires dical {op}" in capsys.readouterr().out


def test_chain_products(chain):
    solve1 = read_h5parm(chain["solve1.h5"])
    assert sorted(solve1.soltabs) == ["amplitude000", "phase000", "rotation000"]
    assert sorted(read_h5parm(chain["solve3.h5"]).soltabs) == ["amplitude000", "phase000"]
    for name, tabs in {"polalign_initial.h5": ["polalign"], "polalign.h5": ["polalign"], "faraday.h5": ["faraday"],
                       "bandpass.h5": ["bandpass"], "clocktec.h5": ["clock", "tec"]}.items():
        assert sorted(read_h5parm(chain[name]).soltabs) == tabs, name
    cal = read_h5parm(chain["cal_solutions.h5"])
    assert sorted(cal.soltabs) == sorted(CAL_SOLTABS)
    assert cal.antenna_names == solve1.antenna_names
    transfer = read_h5parm(chain["transfer.h5"])
    assert sorted(transfer.soltabs) == ["bandpass", "clock", "faraday", "polalign"]
    assert all("time" not in tab.axes for tab in transfer.soltabs.values())
    # The clock is transferred as its median over the calibrator observation.
    clock = cal.soltabs["clock"].canonical()
    np.testing.assert_allclose(transfer.soltabs["clock"].val,
                               np.nanmedian(np.where(clock.weight > 0, clock.val, np.nan), axis=0))
    assert sorted(read_h5parm(chain["target.phase.h5"]).soltabs) == ["phase000"]
    pngs = sorted(p.name for p in chain["plots"].glob("*.png"))
    figures = ["bandpass.png", "clocktec.png", "faraday.png", "polalign.png", "solve1_phase.png",
               "solve2_phase.png", "solve3_phase.png", "solve4_phase.png"]
    assert set(figures) <= set(pngs)
    grids = set(pngs) - set(figures)  # a grid of every station per soltab of each product
    for product, soltab in [("polalign", "polalign"), ("faraday", "faraday"), ("bandpass", "bandpass"),
                            ("clocktec", "clock"), ("clocktec", "tec")]:
        assert any(g.startswith(f"{product}_{soltab}") for g in grids), (product, soltab, sorted(grids))
    assert any(g.startswith("solve1_phase000") for g in grids), sorted(grids)
    assert all((chain["plots"] / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert json.loads((chain["plots"] / "provenance.json").read_text())["task"] == "dical plots"

    # Nothing half-written is left; DP3's parsets and logs are in logs/ next to the products.
    out = chain["cal.MS"].parent
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    logs = {p.name for p in (out / "logs").iterdir()}
    assert {"prepare.log", "predict.parset", "corrupt_model.log", "solve1.log", "solve4.parset",
            f"correct_{chain['sim_target_ms'].stem}.log", "phasecal_target.log", "applyphase_target.log"} <= logs


def test_provenance_in_h5parms_and_ms_history(chain):
    solve2 = read_h5parm(chain["solve2.h5"])
    prov = json.loads(solve2.attrs[PROVENANCE_ATTR])
    assert prov["task"] == "dical solve" and prov["parameters"]["mode"] == "rotation+diagonal"
    assert prov["parameters"]["corrections"] == [["h5parm", f"{chain['polalign_initial.h5']}:polalign"],
                                                 ["beam", None]]
    assert "CalibratorConfig(" in prov["parameters"]["settings"]
    assert [Path(i["path"]).name for i in prov["inputs"]] == ["solve1.MS", "polalign_initial.h5"]
    assert prov["tool_runs"][0]["tool"] == "DP3.py" and prov["tool_runs"][0]["exit_status"] == 0
    fitted = json.loads(read_h5parm(chain["faraday.h5"]).attrs[PROVENANCE_ATTR])
    assert fitted["task"] == "dical fit" and fitted["inputs"][0]["sha256"]
    for name in ("cal_solutions.h5", "transfer.h5", "target.phase.h5"):
        assert json.loads(read_h5parm(chain[name]).attrs[PROVENANCE_ATTR])["task"].startswith("dical ")

    def ops(ms: str) -> list[str]:
        return [o.split(" ", 2)[-1] for o in ms_history(chain[ms]) if o.startswith("lofar-hires")]

    # Each MS carries the history of the ops that made it; the inputs of later ops keep theirs.
    assert ops("solve4.MS") == ["dical prepare", "dical predict"] + ["dical solve"] * 2 + \
        ["dical corrupt-model"] + ["dical solve"] * 2
    assert ops("cal.MS") == ["dical prepare"]
    assert ops("predicted.MS") == ["dical prepare", "dical predict"]
    assert ops("target.MS") == ["dical correct"]
    assert ops("target_selfcal.MS") == ["dical correct", "dical phasecal"]


def test_fits_are_the_library_fits(chain, tmp_path):
    """``dical fit`` is a thin layer: its h5parms hold exactly what the library's step functions write."""
    from lofar_hires.calibration import di_calibrator as dc
    from lofar_hires.calibration.config import load_calibrator_config
    from lofar_hires.provenance import Provenance

    cfg = load_calibrator_config()
    prov = Provenance(task="test")
    for name, step, solve in (("polalign_initial.h5", dc.fit_polalign_step, "solve1.h5"),
                              ("faraday.h5", dc.fit_faraday_step, "solve2.h5"),
                              ("bandpass.h5", dc.fit_bandpass_step, "solve3.h5"),
                              ("clocktec.h5", dc.fit_clocktec_step, "solve4.h5")):
        step(chain[solve], tmp_path / name, cfg, prov)
        want, got = read_h5parm(tmp_path / name), read_h5parm(chain[name])
        for tab in want.soltabs:
            np.testing.assert_array_equal(got.soltabs[tab].val, want.soltabs[tab].val, err_msg=name)
            np.testing.assert_array_equal(got.soltabs[tab].weight, want.soltabs[tab].weight, err_msg=name)


def test_existing_output_needs_overwrite(chain, tmp_path, capsys):
    out = tmp_path / "faraday.h5"
    out.write_text("earlier product\n")
    args = ["dical", "fit", "faraday", str(chain["solve2.h5"]), "-o", str(out)]
    assert main(args) == 2
    assert "overwrite it or choose another output" in capsys.readouterr().err
    assert out.read_text() == "earlier product\n"
    assert main([*args, "--overwrite"]) == 0
    np.testing.assert_array_equal(read_h5parm(out).soltabs["faraday"].val,
                                  read_h5parm(chain["faraday.h5"]).soltabs["faraday"].val)


def columns(ms: Path) -> set[str]:
    from casacore.tables import table

    with table(str(ms), ack=False) as t:
        return set(t.colnames())


def test_ops_write_columns_into_their_own_output(chain):
    """The ops that add columns write them into their output MS only; the input MS keeps its columns."""
    assert "MODEL_DATA" not in columns(chain["cal.MS"])
    assert "MODEL_DATA" in columns(chain["predicted.MS"]) and "CORRECTED_DATA" not in columns(chain["predicted.MS"])
    assert "CORRECTED_DATA" in columns(chain["solve1.MS"])
    assert "MODEL_CORRUPTED" in columns(chain["corrupted.MS"]) and "MODEL_CORRUPTED" not in columns(chain["solve2.MS"])
    from casacore.tables import table

    with table(str(chain["target.MS"]), ack=False) as a, table(str(chain["target_selfcal.MS"]), ack=False) as b:
        assert a.nrows() == b.nrows()
        assert not np.allclose(a.getcol("DATA"), b.getcol("DATA"))  # the phases were applied to the copy


@pytest.fixture(scope="module")
def bad(chain, tmp_path_factory) -> dict[str, Path]:
    """Broken inputs next to the chain's good ones: zero-row and all-flagged copies of MSs, bad sky models."""
    from casacore.tables import table

    root = tmp_path_factory.mktemp("dical_bad")
    paths = {}
    for name, source in (("predicted", chain["predicted.MS"]), ("target", chain["sim_target_ms"]),
                         ("corrected", chain["target.MS"])):
        # Zero rows: a deep copy of an empty selection (DP3's storage managers cannot remove rows).
        path = paths[f"{name}_zero_rows"] = root / f"{name}_zero_rows.MS"
        with table(str(source), ack=False) as t, t.query("ROWNUMBER() < 0") as empty:
            empty.copy(str(path), deep=True, valuecopy=True).close()
        path = paths[f"{name}_all_flagged"] = root / f"{name}_all_flagged.MS"
        shutil.copytree(source, path)
        with table(str(path), readonly=False, ack=False) as t:
            t.putcol("FLAG", np.ones(t.getcol("FLAG").shape, dtype=bool))
    paths["binary_sky"] = root / "binary.skymodel"
    paths["binary_sky"].write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\xff\xfe")
    paths["text_sky"] = root / "notes.txt"
    paths["text_sky"].write_text("this is not a sky model\n")
    paths["nan_sky"] = root / "nan.skymodel"
    paths["nan_sky"].write_text("FORMAT = Name, Type, Ra, Dec, I\ns1, POINT, 16:11:00, +55.00.00, nan\n")
    paths["empty_sky"] = root / "empty.skymodel"
    paths["empty_sky"].write_text("FORMAT = Name, Type, Ra, Dec, I\n# no components\n")
    paths["dec_sky"] = root / "dec.skymodel"
    paths["dec_sky"].write_text("FORMAT = Name, Type, Ra, Dec, I\ns1, POINT, 16:11:00, +91.00.00, 1.0\n")
    # Tests run as root, which chmod cannot stop from writing: an output "directory" that is a
    # regular file makes an unwritable output location for anyone.
    paths["a_file"] = root / "somefile.txt"
    paths["a_file"].write_text("a regular file\n")
    return paths


#: (arguments, message, the output that must not appear). Paths: see ``paths`` in the test below.
BAD_INPUT = [
    (["prepare", "{missing_ms}", "-o", "{out_ms}"], "measurement set {missing_ms} does not exist", "out_ms"),
    (["prepare", "{cal_ms}", "-o", "{cal_ms}", "--overwrite"], "is an input", None),
    (["prepare", "{cal_ms}", "-o", "{out_ms}", "--set", "averaging.time_resolution_s=-1"], "below the minimum",
     "out_ms"),
    (["prepare", "{target_zero_rows}", "-o", "{out_ms}"], "has no rows", "out_ms"),
    (["prepare", "{target_all_flagged}", "-o", "{out_ms}"], "all data are flagged", "out_ms"),
    (["prepare", "{cal_ms}", "-o", "{a_file}/out.MS"], "is not a directory", None),
    (["prepare", "{cal_ms}", "-o", "{existing}"], "already exists; overwrite it", None),
    (["prepare", "{cal_ms}", "-o", "{out_ms}", "--logdir", "{a_file}/logs"], "log directory", "out_ms"),
    (["predict", "{missing_ms}", "-o", "{out_ms}", "--skymodel", "{skymodel}"], "does not exist", "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{missing}"], "neither a shipped model", "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{binary_sky}"], "not a makesourcedb text file",
     "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{text_sky}"], "no FORMAT line", "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{nan_sky}"], "non-finite flux", "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{empty_sky}"], "contains no components", "out_ms"),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{dec_sky}"], "outside [-90, 90]", "out_ms"),
    (["predict", "{predicted_zero_rows}", "-o", "{out_ms}", "--skymodel", "{skymodel}"], "has no rows", "out_ms"),
    (["predict", "{predicted_all_flagged}", "-o", "{out_ms}", "--skymodel", "{skymodel}"], "all data are flagged",
     "out_ms"),
    (["predict", "{cal_ms}", "-o", "{cal_ms}", "--skymodel", "{skymodel}", "--overwrite"], "is an input", None),
    (["predict", "{cal_ms}", "-o", "{cal_ms}/inside.MS", "--skymodel", "{skymodel}"], "lies inside the input",
     None),
    (["predict", "{cal_ms}", "-o", "{existing}", "--skymodel", "{skymodel}"], "already exists; overwrite it",
     None),
    (["predict", "{cal_ms}", "-o", "{a_file}/out.MS", "--skymodel", "{skymodel}"], "is not a directory", None),
    (["predict", "{cal_ms}", "-o", "{out_ms}", "--skymodel", "{skymodel}", "--threads", "0"],
     "--threads must be at least 1", "out_ms"),
    (["corrupt-model", "{target_ms}", "-o", "{out_ms}", "--faraday", "{faraday}"],
     "lacks column(s) MODEL_DATA (run `lofar-hires dical predict` first)", "out_ms"),
    (["corrupt-model", "{predicted}", "-o", "{out_ms}", "--faraday", "{bandpass}"], "faraday solutions: ", "out_ms"),
    (["corrupt-model", "{predicted_zero_rows}", "-o", "{out_ms}", "--faraday", "{faraday}"], "has no rows",
     "out_ms"),
    (["corrupt-model", "{predicted_all_flagged}", "-o", "{out_ms}", "--faraday", "{faraday}"],
     "all data are flagged", "out_ms"),
    (["corrupt-model", "{predicted}", "-o", "{predicted}", "--faraday", "{faraday}", "--overwrite"], "is an input",
     None),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "tec"],
     "argument --mode: invalid choice: 'tec'", "out"),
    (["solve", "{missing_ms}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal"], "does not exist",
     "out"),
    (["solve", "{target_ms}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal", "--model-column",
      "MODEL_CORRUPTED"], "lacks column(s) MODEL_CORRUPTED", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal", "--apply",
      "{polalign}:bandpass"], "solutions to apply: ", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal", "--apply",
      "{missing}"], "solutions to apply {missing} does not exist", "out"),
    (["solve", "{predicted_zero_rows}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal"],
     "has no rows", "out"),
    (["solve", "{predicted_all_flagged}", "-o", "{out}", "--output-ms", "{out_ms}", "--mode", "diagonal"],
     "all data are flagged", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{out}", "--mode", "diagonal"],
     "must be separate paths", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{predicted}", "--mode", "diagonal", "--overwrite"],
     "output measurement set {predicted} is an input", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{existing}", "--mode", "diagonal"],
     "already exists; overwrite it", "out"),
    (["solve", "{predicted}", "-o", "{out}", "--output-ms", "{a_file}/out.MS", "--mode", "diagonal"],
     "is not a directory", "out"),
    (["fit", "faraday", "{solve3}", "-o", "{out}"], "no soltab 'rotation000'", "out"),
    (["fit", "polalign", "{faraday}", "-o", "{out}"], "fit polalign needs a diagonal or rotation+diagonal solve",
     "out"),
    (["fit", "delay", "{solve1}", "-o", "{out}"], "invalid choice: 'delay'", "out"),
    (["fit", "bandpass", "{missing}", "-o", "{out}"], "does not exist", "out"),
    (["refine-polalign", "{faraday}", "{solve3}", "-o", "{out}"], "initial alignment: ", "out"),
    (["refine-polalign", "{polalign_initial}", "{solve3}", "-o", "{existing}"], "already exists; overwrite it",
     None),
    (["collect", "--polalign", "{polalign}", "--bandpass", "{bandpass}", "--faraday", "{faraday}",
      "--clocktec", "{faraday}", "-o", "{out}"], "clocktec solutions: ", "out"),
    (["transfer", "{faraday}", "-o", "{out}"], "calibrator solutions: ", "out"),
    (["transfer", "{cal_solutions}", "-o", "{existing}"], "already exists; overwrite it", None),
    (["transfer", "{cal_solutions}", "-o", "{a_file}/out.h5"], "is not a directory", None),
    (["correct", "{target_ms}", "--transfer", "{faraday}", "-o", "{out_ms}"], "transfer solutions: ", "out_ms"),
    (["correct", "{missing_ms}", "--transfer", "{transfer}", "-o", "{out_ms}"], "does not exist", "out_ms"),
    (["correct", "{target_zero_rows}", "--transfer", "{transfer}", "-o", "{out_ms}"], "has no rows", "out_ms"),
    (["correct", "{target_all_flagged}", "--transfer", "{transfer}", "-o", "{out_ms}"], "all data are flagged",
     "out_ms"),
    (["correct", "{target_ms}", "--transfer", "{transfer}", "-o", "{existing}"], "already exists; overwrite it",
     None),
    (["correct", "{target_ms}", "--transfer", "{transfer}", "-o", "{a_file}/out.MS"], "is not a directory", None),
    (["phasecal", "{corrected}", "--skymodel", "{missing}", "-o", "{out}", "--output-ms", "{out_ms}"],
     "sky model {missing} does not exist", "out"),
    (["phasecal", "{corrected}", "--skymodel", "{text_sky}", "-o", "{out}", "--output-ms", "{out_ms}"],
     "sky model: ", "out"),
    (["phasecal", "{corrected}", "--skymodel", "{nan_sky}", "-o", "{out}", "--output-ms", "{out_ms}"],
     "non-finite flux", "out"),
    (["phasecal", "{corrected_zero_rows}", "--skymodel", "{sky}", "-o", "{out}", "--output-ms", "{out_ms}"],
     "has no rows", "out"),
    (["phasecal", "{corrected_all_flagged}", "--skymodel", "{sky}", "-o", "{out}", "--output-ms", "{out_ms}"],
     "all data are flagged", "out"),
    (["phasecal", "{corrected}", "--skymodel", "{sky}", "-o", "{out}", "--output-ms", "{corrected}",
      "--overwrite"], "is an input", "out"),
    (["phasecal", "{corrected}", "--skymodel", "{sky}", "-o", "{existing}", "--output-ms", "{out_ms}"],
     "already exists; overwrite it", "out_ms"),
    (["plots", "--solves", "{solve1}", "--polalign-solve", "{solve1}", "--polalign", "{polalign}", "--faraday",
      "{bandpass}", "--bandpass", "{bandpass}", "--clocktec", "{faraday}", "-o", "{out}"], "faraday solutions: ",
     "out"),
    (["plots", "--solves", "{solve1}", "--polalign-solve", "{solve1}", "--polalign", "{polalign}", "--faraday",
      "{faraday}", "--bandpass", "{bandpass}", "--clocktec", "{clocktec}", "-o", "{a_file}/plots"],
     "is not a directory", None),
]


def _ids(table: list) -> list[str]:
    """Readable ids: the op and what is wrong (the first bad path or option)."""
    ids = []
    for args, message, _ in table:
        op = args[0] if args[0] != "fit" else f"fit-{args[1]}"
        words = "".join(ch if ch.isalnum() else "-" for ch in message.lower()[:32]).strip("-")
        ids.append(f"{op}-{words}")
    return [f"{i}-{n}" for n, i in enumerate(ids)]


@pytest.mark.parametrize("args, message, output", BAD_INPUT, ids=_ids(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_and_changes_nothing(chain, bad, tmp_path, capsys, args, message, output):
    paths = {"cal_ms": chain["cal.MS"], "predicted": chain["predicted.MS"], "target_ms": chain["sim_target_ms"],
             "corrected": chain["target.MS"], "skymodel": chain["skymodel"], "sky": chain["sky"],
             "faraday": chain["faraday.h5"], "bandpass": chain["bandpass.h5"], "polalign": chain["polalign.h5"],
             "polalign_initial": chain["polalign_initial.h5"], "clocktec": chain["clocktec.h5"],
             "solve1": chain["solve1.h5"], "solve3": chain["solve3.h5"], "transfer": chain["transfer.h5"],
             "cal_solutions": chain["cal_solutions.h5"], **bad,
             "missing": tmp_path / "missing.skymodel", "missing_ms": tmp_path / "missing.MS",
             "out": tmp_path / "out.h5", "out_ms": tmp_path / "out.MS", "existing": tmp_path / "existing.out"}
    paths["existing"].write_text("an earlier product\n")
    inputs = [p for k, p in paths.items() if k not in ("missing", "missing_ms", "out", "out_ms")]
    before = {p: tree_sha256(p) for p in inputs}
    code = main(["dical", *[a.format(**paths) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message.format(**paths) in err[0], err
    if output is not None:
        assert not paths[output].exists()
    assert {p: tree_sha256(p) for p in inputs} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.out"]  # nothing new, nothing partial
    for folder in (chain["cal.MS"].parent, bad["a_file"].parent):
        assert not [p for p in folder.iterdir() if ".partial-" in p.name]


def errors(stderr: str) -> list[str]:
    """The ERROR lines of a command's log (its progress is logged at INFO before them)."""
    lines = stderr.strip().splitlines()
    found = [line for line in lines if " ERROR " in line]
    assert found and lines[-1] == found[-1], lines  # the error is the last word
    return found


def _station_names(ms: Path) -> list[str]:
    from casacore.tables import table

    with table(str(ms / "ANTENNA"), ack=False) as t:
        return list(t.getcol("NAME"))


def test_dp3_leaving_no_usable_data_exits_4_without_product(chain, tmp_path, capsys):
    """DP3 exits 0 but flags every visibility (every station named in flagging.flag_stations): the op
    fails with exit status 4 (a result that failed its checks), one line, and no product."""
    every = "[" + ",".join(_station_names(chain["sim_target_ms"])) + "]"
    before = tree_sha256(chain["sim_target_ms"])
    out = tmp_path / "out.MS"
    code = main(["dical", "correct", str(chain["sim_target_ms"]), "--transfer", str(chain["transfer.h5"]),
                 "-o", str(out), "--set", f"flagging.flag_stations={every}", "--logdir", str(tmp_path / "logs")])
    err = errors(capsys.readouterr().err)
    assert code == 4
    assert len(err) == 1 and "holds no usable data" in err[0] and "flag_stations" in err[0], err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
    assert tree_sha256(chain["sim_target_ms"]) == before


# --------------------------------------------------------------------------- di-target

#: (arguments after the MS, message): bad input of the whole target pipeline, refused before any work.
DI_TARGET_BAD = [
    (["{target_ms}", "--cal-solutions", "{cal_solutions}", "--skymodel", "{text_sky}", "--set",
      "phase_calibration=true"], "sky model: "),
    (["{target_ms}", "--cal-solutions", "{cal_solutions}", "--skymodel", "{nan_sky}", "--set",
      "phase_calibration=true"], "non-finite flux"),
    (["{target_ms}", "--cal-solutions", "{cal_solutions}", "--skymodel", "{binary_sky}", "--set",
      "phase_calibration=true"], "not a makesourcedb text file"),
    (["{target_ms}", "--cal-solutions", "{cal_solutions}", "--skymodel", "{sky}"],
     "only used by the self-calibration"),
    (["{target_ms}", "--cal-solutions", "{cal_solutions}", "--set", "phase_calibration=true"],
     "phase_calibration needs an existing sky model"),
    (["{target_zero_rows}", "--cal-solutions", "{cal_solutions}"], "has no rows"),
    (["{target_all_flagged}", "--cal-solutions", "{cal_solutions}"], "all data are flagged"),
    (["{target_ms}", "{target_zero_rows}", "--cal-solutions", "{cal_solutions}"], "has no rows"),
    (["{target_ms}", "--cal-solutions", "{faraday}"], "has no soltab(s) polalign, bandpass, clock"),
    (["{target_ms}", "--cal-solutions", "{text_sky}"], "not a readable h5parm"),
]


@pytest.mark.parametrize("args, message", DI_TARGET_BAD, ids=[
    "garbage-skymodel", "nan-skymodel", "binary-skymodel", "skymodel-without-phasecal", "phasecal-without-skymodel",
    "zero-rows", "all-flagged", "second-ms-zero-rows", "cal-solutions-without-soltabs", "cal-solutions-not-h5"])
def test_di_target_bad_input_exits_2_before_any_work(chain, bad, tmp_path, capsys, args, message):
    paths = {"target_ms": chain["sim_target_ms"], "cal_solutions": chain["cal_solutions.h5"], "sky": chain["sky"],
             "faraday": chain["faraday.h5"], **bad}
    inputs = [p for k, p in paths.items() if "{" + k + "}" in " ".join(args)]
    before = {p: tree_sha256(p) for p in inputs}
    code = main(["di-target", *[a.format(**paths) for a in args], "--outdir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []
    assert {p: tree_sha256(p) for p in inputs} == before


def test_di_target_outputs_refused_before_any_work(chain, bad, tmp_path, capsys):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("user data\n")
    base = ["di-target", str(chain["sim_target_ms"]), "--cal-solutions", str(chain["cal_solutions.h5"])]
    for outdir, message in ((existing, "already exists; overwrite it"),
                            (bad["a_file"] / "out", "is not a directory")):
        assert main([*base, "--outdir", str(outdir)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert [p.name for p in tmp_path.iterdir()] == ["existing"]
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_di_target_reports_no_product_when_dp3_leaves_no_usable_data(chain, tmp_path, capsys):
    """DP3 exits 0 having flagged everything: di-target exits 4, prints no product, leaves no directory."""
    every = "[" + ",".join(_station_names(chain["sim_target_ms"])) + "]"
    code = main(["di-target", str(chain["sim_target_ms"]), "--cal-solutions", str(chain["cal_solutions.h5"]),
                 "--outdir", str(tmp_path / "out"), "--set", f"flagging.flag_stations={every}"])
    captured = capsys.readouterr()
    assert code == 4
    assert captured.out == ""
    err = errors(captured.err)
    assert len(err) == 1 and "holds no usable data" in err[0], err
    assert list(tmp_path.iterdir()) == []
