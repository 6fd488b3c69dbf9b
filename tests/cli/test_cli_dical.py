"""``lofar-hires dical <op>``: the steps of the DI pipelines from the command line.

One chain of every op (the calibrator pipeline's order, then the target ops) runs once on a
short ``dical`` simulation (two minutes of calibrator and target). The tests check its
products (soltabs, axes, provenance, MS history), that the fits are the library's fits, and
that bad input gives one line, exit status 2, no output and untouched inputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lofar_hires.calibration.di_calibrator import CAL_SOLTABS
from lofar_hires.cli import main
from lofar_hires.cli.dical import COMMANDS
from lofar_hires.io.h5parm import read_h5parm
from lofar_hires.solutions.output import PROVENANCE_ATTR

#: Two minutes of the dical preset: 15 time slots, all 24 channels and 14 stations.
SHORT_DICAL = ("observation.duration_s=120", "calibrator.duration_s=120")


def tree_sha256(path: Path) -> str:
    """sha256 over every file below ``path`` (names and contents), or of the file itself."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


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
        "cal.MS", "solve1.h5", "polalign_initial.h5", "solve2.h5", "faraday.h5", "solve3.h5", "polalign.h5",
        "bandpass.h5", "solve4.h5", "clocktec.h5", "cal_solutions.h5", "transfer.h5", "target.MS",
        "target.phase.h5", "plots")}
    p.update(sim_cal_ms=cal_ms, sim_target_ms=target_ms, skymodel=sim.calibrator_model, sky=sim.sky_model)
    before = {k: tree_sha256(p[k]) for k in ("sim_cal_ms", "sim_target_ms", "skymodel", "sky")}
    s = {k: str(v) for k, v in p.items()}
    runs = [
        ["prepare", s["sim_cal_ms"], "-o", s["cal.MS"]],
        ["predict", s["cal.MS"], "--skymodel", s["skymodel"]],
        ["solve", s["cal.MS"], "-o", s["solve1.h5"], "--mode", "rotation+diagonal"],
        ["fit", "polalign", s["solve1.h5"], "-o", s["polalign_initial.h5"]],
        ["solve", s["cal.MS"], "-o", s["solve2.h5"], "--mode", "rotation+diagonal",
         "--apply", f"{s['polalign_initial.h5']}:polalign", "--apply-beam"],
        ["fit", "faraday", s["solve2.h5"], "-o", s["faraday.h5"]],
        ["corrupt-model", s["cal.MS"], "--faraday", s["faraday.h5"]],
        ["solve", s["cal.MS"], "-o", s["solve3.h5"], "--mode", "diagonal", "--apply", s["polalign_initial.h5"],
         "--model-column", "MODEL_CORRUPTED"],
        ["refine-polalign", s["polalign_initial.h5"], s["solve3.h5"], "-o", s["polalign.h5"]],
        ["fit", "bandpass", s["solve3.h5"], "-o", s["bandpass.h5"]],
        ["solve", s["cal.MS"], "-o", s["solve4.h5"], "--mode", "diagonal", "--apply", s["polalign.h5"],
         "--apply", f"{s['bandpass.h5']}:bandpass", "--model-column", "MODEL_CORRUPTED"],
        ["fit", "clocktec", s["solve4.h5"], "-o", s["clocktec.h5"]],
        ["collect", "--polalign", s["polalign.h5"], "--bandpass", s["bandpass.h5"], "--faraday", s["faraday.h5"],
         "--clocktec", s["clocktec.h5"], "-o", s["cal_solutions.h5"]],
        ["plots", "--solves", s["solve1.h5"], s["solve2.h5"], s["solve3.h5"], s["solve4.h5"], "--polalign-solve",
         s["solve1.h5"], "--polalign", s["polalign.h5"], "--faraday", s["faraday.h5"], "--bandpass", s["bandpass.h5"],
         "--clocktec", s["clocktec.h5"], "-o", s["plots"]],
        ["transfer", s["cal_solutions.h5"], "-o", s["transfer.h5"]],
        ["correct", s["sim_target_ms"], "--transfer", s["transfer.h5"], "-o", s["target.MS"]],
        ["phasecal", s["target.MS"], "--skymodel", s["sky"], "-o", s["target.phase.h5"]],
    ]
    for args in runs:
        assert main(["--log-level", "WARNING", "dical", *args]) == 0, args
    after = {k: tree_sha256(p[k]) for k in before}
    assert after == before, "an op modified its inputs"
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
    assert sorted(transfer.soltabs) == ["bandpass", "clock", "polalign"]
    assert all("time" not in tab.axes for tab in transfer.soltabs.values())
    # The clock is transferred as its median over the calibrator observation.
    clock = cal.soltabs["clock"].canonical()
    np.testing.assert_allclose(transfer.soltabs["clock"].val,
                               np.nanmedian(np.where(clock.weight > 0, clock.val, np.nan), axis=0))
    assert sorted(read_h5parm(chain["target.phase.h5"]).soltabs) == ["phase000"]
    pngs = sorted(p.name for p in chain["plots"].glob("*.png"))
    assert pngs == ["bandpass.png", "clocktec.png", "faraday.png", "polalign.png", "solve1_phase.png",
                    "solve2_phase.png", "solve3_phase.png", "solve4_phase.png"]
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
    assert [Path(i["path"]).name for i in prov["inputs"]] == ["cal.MS", "polalign_initial.h5"]
    assert prov["tool_runs"][0]["tool"] == "DP3.py" and prov["tool_runs"][0]["exit_status"] == 0
    fitted = json.loads(read_h5parm(chain["faraday.h5"]).attrs[PROVENANCE_ATTR])
    assert fitted["task"] == "dical fit" and fitted["inputs"][0]["sha256"]
    for name in ("cal_solutions.h5", "transfer.h5", "target.phase.h5"):
        assert json.loads(read_h5parm(chain[name]).attrs[PROVENANCE_ATTR])["task"].startswith("dical ")

    ops = [o.split(" ", 2)[-1] for o in ms_history(chain["cal.MS"]) if o.startswith("lofar-hires")]
    assert ops == ["dical prepare", "dical predict"] + ["dical solve"] * 2 + ["dical corrupt-model"] + \
        ["dical solve"] * 2
    assert [o.split(" ", 2)[-1] for o in ms_history(chain["target.MS"]) if o.startswith("lofar-hires")] == \
        ["dical correct", "dical phasecal"]


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
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "earlier product\n"
    assert main([*args, "--overwrite"]) == 0
    np.testing.assert_array_equal(read_h5parm(out).soltabs["faraday"].val,
                                  read_h5parm(chain["faraday.h5"]).soltabs["faraday"].val)


BAD_INPUT = [
    (["prepare", "{missing_ms}", "-o", "{out_ms}"], "measurement set {missing_ms} does not exist", "out_ms"),
    (["prepare", "{cal_ms}", "-o", "{cal_ms}", "--overwrite"], "is an input", None),
    (["prepare", "{cal_ms}", "-o", "{out_ms}", "--set", "averaging.time_resolution_s=-1"], "below the minimum",
     "out_ms"),
    (["predict", "{missing_ms}", "--skymodel", "{skymodel}"], "does not exist", None),
    (["predict", "{cal_ms}", "--skymodel", "{missing}"], "neither a shipped model", None),
    (["corrupt-model", "{target_ms}", "--faraday", "{faraday}"], "lacks column(s) MODEL_DATA (run `lofar-hires "
     "dical predict` first)", None),
    (["corrupt-model", "{cal_ms}", "--faraday", "{bandpass}"], "--faraday: ", None),
    (["solve", "{cal_ms}", "-o", "{out}", "--mode", "tec"], "argument --mode: invalid choice: 'tec'", "out"),
    (["solve", "{missing_ms}", "-o", "{out}", "--mode", "diagonal"], "does not exist", "out"),
    (["solve", "{target_ms}", "-o", "{out}", "--mode", "diagonal", "--model-column", "MODEL_CORRUPTED"],
     "lacks column(s) MODEL_CORRUPTED", "out"),
    (["solve", "{cal_ms}", "-o", "{out}", "--mode", "diagonal", "--apply", "{polalign}:bandpass"],
     "--apply: ", "out"),
    (["solve", "{cal_ms}", "-o", "{out}", "--mode", "diagonal", "--apply", "{missing}"],
     "--apply {missing} does not exist", "out"),
    (["fit", "faraday", "{solve3}", "-o", "{out}"], "no soltab 'rotation000'", "out"),
    (["fit", "polalign", "{faraday}", "-o", "{out}"], "fit polalign needs a diagonal or rotation+diagonal solve",
     "out"),
    (["fit", "delay", "{solve1}", "-o", "{out}"], "invalid choice: 'delay'", "out"),
    (["fit", "bandpass", "{missing}", "-o", "{out}"], "does not exist", "out"),
    (["refine-polalign", "{faraday}", "{solve3}", "-o", "{out}"], "INITIAL_H5: ", "out"),
    (["collect", "--polalign", "{polalign}", "--bandpass", "{bandpass}", "--faraday", "{faraday}",
      "--clocktec", "{faraday}", "-o", "{out}"], "--clocktec: ", "out"),
    (["transfer", "{faraday}", "-o", "{out}"], "CAL_H5: ", "out"),
    (["correct", "{target_ms}", "--transfer", "{faraday}", "-o", "{out_ms}"], "--transfer: ", "out_ms"),
    (["correct", "{missing_ms}", "--transfer", "{transfer}", "-o", "{out_ms}"], "does not exist", "out_ms"),
    (["phasecal", "{target_ms}", "--skymodel", "{missing}", "-o", "{out}"], "--skymodel {missing} does not exist",
     "out"),
    (["plots", "--solves", "{solve1}", "--polalign-solve", "{solve1}", "--polalign", "{polalign}", "--faraday",
      "{bandpass}", "--bandpass", "{bandpass}", "--clocktec", "{faraday}", "-o", "{out}"], "--faraday: ", "out"),
]


@pytest.mark.parametrize("args, message, output", BAD_INPUT, ids=[
    "prepare-missing-ms", "prepare-output-is-input", "prepare-bad-setting", "predict-missing-ms",
    "predict-missing-skymodel", "corrupt-without-model", "corrupt-without-faraday-soltab", "solve-unknown-mode",
    "solve-missing-ms", "solve-missing-model-column", "solve-missing-soltab", "solve-missing-h5parm",
    "fit-faraday-without-rotation", "fit-polalign-on-rm", "fit-unknown-effect", "fit-missing-solve",
    "refine-without-polalign", "collect-without-clock", "transfer-without-soltabs", "correct-without-soltabs",
    "correct-missing-ms", "phasecal-missing-skymodel", "plots-without-faraday"])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(chain, tmp_path, capsys, args, message, output):
    paths = {"cal_ms": chain["cal.MS"], "target_ms": chain["sim_target_ms"], "skymodel": chain["skymodel"],
             "faraday": chain["faraday.h5"], "bandpass": chain["bandpass.h5"], "polalign": chain["polalign.h5"],
             "solve1": chain["solve1.h5"], "solve3": chain["solve3.h5"], "transfer": chain["transfer.h5"],
             "missing": tmp_path / "missing.skymodel", "missing_ms": tmp_path / "missing.MS",
             "out": tmp_path / "out.h5", "out_ms": tmp_path / "out.MS"}
    inputs = [p for k, p in paths.items() if k not in ("missing", "missing_ms", "out", "out_ms")]
    before = {p: tree_sha256(p) for p in inputs}
    code = main(["dical", *[a.format(**paths) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message.format(**paths) in err[0], err
    if output is not None:
        assert not paths[output].exists()
    assert {p: tree_sha256(p) for p in inputs} == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert not [p for p in chain["cal.MS"].parent.iterdir() if ".partial-" in p.name]
