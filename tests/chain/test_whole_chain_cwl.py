"""The whole chain as one CWL workflow, ``workflows/lofar_hires.cwl``, and the job ``lofar-hires run`` writes for it.

* the workflow passes ``cwltool --validate`` without a warning;
* its module steps run exactly the workflows of ``lofar_hires.chain.modules.MODULES``, in the chain's order;
* every input of a module workflow is either wired from the run's inputs or earlier products (exactly the inputs
  the module's job builder of ``modules.py`` sets) or exposed as ``<module>__<input>`` with the module's own type
  and default; a module input that is neither is reported (checked on a module workflow with an input added);
* ``whole_chain_job`` on ``configs/run/tiny.yaml`` gives a job of declared inputs with every required one, the
  module settings under their names, relative paths resolved, and refuses what the whole workflow cannot run;
* the glue steps (``steps/gate_filter.cwl``, ``facet_datasets.cwl``, ``refined_pairs.cwl``,
  ``corrected_datasets.cwl``, ``sva_facets.cwl``, ``prefix_names.cwl``) run with cwltool on tiny synthetic
  inputs: an observation the gate stopped is left out, facet datasets are grouped as ``modules.facet_datasets``
  groups them, a facet whose refinement failed keeps its datasets uncorrected.

The end-to-end run of the whole workflow on the tiny field is documented in docs/chain.md (about ten minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from lofar_hires.chain import modules as M
from lofar_hires.chain.config import load_run_config, resolve_config_path
from lofar_hires.chain.profiles import load_profile, step_ram_mb
from lofar_hires.chain.run import input_is_required, workflow_inputs
from lofar_hires.chain.whole import SEPARATOR, refine_of, whole_chain_job, whole_workflow
from lofar_hires.errors import InputError

REPO = Path(__file__).resolve().parents[2]
WHOLE = REPO / "workflows" / "lofar_hires.cwl"
STEPS = REPO / "steps"
VENV_BIN = Path(sys.executable).parent
#: Inputs of a module workflow that the whole workflow leaves unset, with the reason.
NOT_PASSED = {
    ("final_imaging", "solutions"): "the module-by-module chain sets it only when apply_refined is skipped; the whole "
                                    "workflow applies the refined solutions before sva (apply_refined)",
}
#: Inputs of the whole workflow that are no module setting and no product (the ``when`` of the refinement).
CONDITION = "refine"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def normal_type(spec: Any) -> Any:
    """A CWL type without bindings, ``T?``/``T[]`` spelled out, so that two declarations compare."""
    if isinstance(spec, str):
        if spec.endswith("?"):
            return ["null", normal_type(spec[:-1])]
        if spec.endswith("[]"):
            return {"type": "array", "items": normal_type(spec[:-2])}
        return spec
    if isinstance(spec, list):
        return [normal_type(t) for t in spec]
    return {k: normal_type(v) for k, v in spec.items() if k not in ("inputBinding", "name", "label", "doc")}


def module_steps(whole: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The steps of the whole workflow that run a module workflow (by the module's workflow path)."""
    workflows = {m.workflow for m in M.MODULES}
    return {name: step for name, step in whole["steps"].items()
            if (WHOLE.parent / step["run"]).resolve().relative_to(REPO).as_posix() in workflows}


def source_of(value: Any) -> Any:
    return value.get("source") if isinstance(value, dict) else value


def wired_inputs(tmp: Path) -> dict[str, set[str]]:
    """Per module, the inputs its job builder in modules.py sets, on a synthetic state with every module's products
    (two observations, two facets)."""
    regions = tmp / "facets.reg"
    regions.write_text("fk5\npolygon(10,50,11,50,11,51) # text={F1}\npoint(10.5,50.5)\n"
                       "polygon(11,50,12,50,12,51) # text={F2}\npoint(11.5,50.5)\n")
    observations = [M.Observation(o, tmp / f"target_{o}.MS", tmp / f"calibrator_{o}.MS") for o in ("obs01", "obs02")]
    names = [o.name for o in observations]
    datasets = [tmp / f"{o}.{f}.ms" for f in ("F1", "F2") for o in names]
    state = M.ChainState(observations, tmp / "sky.skymodel", tmp / "cal.skymodel",
                         delay_calibrator=("bright01", 10.5, 50.5))
    state.outputs = {
        "di_calibrator": {o: {"cal_solutions": M.file_obj(tmp / o / "cal_solutions.h5")} for o in names},
        "di_target": {o: {"corrected_ms": [M.dir_obj(tmp / f"{o}.corrected.MS")]} for o in names},
        "delay_calibration": {"calibrated_ms": [M.dir_obj(tmp / f"{o}.delay.MS") for o in names]},
        "select_calibrators": {"calibrators": M.file_obj(tmp / "calibrators.csv"), "regions": M.file_obj(regions)},
        "dd_dutch": {"solutions": [M.file_obj(tmp / f"best_{o}.h5") for o in names]},
        "dd_international": {"solutions": [M.file_obj(tmp / f"merged_{o}.h5") for o in names]},
        "facet_subtract": {"facet_ms": [M.dir_obj(p) for p in datasets]},
        "dd_refine": {"solutions": [[M.file_obj(tmp / f"{f}.{o}.refined.h5") for o in names] for f in ("F1", "F2")]},
        "apply_refined": {"corrected_ms": [M.dir_obj(tmp / "ms" / p.name) for p in datasets]},
        "sva": {"averaged_ms": [M.dir_obj(tmp / f"{f}.ms") for f in ("F1", "F2")]},
    }
    wired = {}
    for mod in M.MODULES:
        job = mod.build_obs(state, observations[0]) if mod.per_observation else mod.build(state)
        wired[mod.name] = set(job)
    return wired


def unexposed(whole: dict[str, Any], module_inputs: dict[str, dict[str, Any]],
              wired: dict[str, set[str]]) -> list[str]:
    """What breaks the exposure rule: a module input the whole workflow's step neither wires (as the job builder
    does) nor takes from ``<module>__<input>`` with the module's type and default; a ``<module>__<input>`` of no
    module input."""
    declared = whole["inputs"]
    steps = module_steps(whole)
    problems = []
    for name, inputs in module_inputs.items():
        given = {k: source_of(v) for k, v in steps[name]["in"].items() if k != CONDITION}
        for key, decl in inputs.items():
            exposed = f"{name}{SEPARATOR}{key}"
            if (name, key) in NOT_PASSED:
                if key in given:
                    problems.append(f"{name}.{key} is listed as not passed but is given")
            elif key in wired[name]:
                if key not in given or given[key] == exposed:
                    problems.append(f"{name}.{key} is set by the module's job builder but not wired")
            elif given.get(key) != exposed or exposed not in declared:
                problems.append(f"{name}.{key} is neither wired nor exposed as {exposed}")
            else:
                mine = declared[exposed]
                if normal_type(mine["type"]) != normal_type(decl["type"]):
                    problems.append(f"{exposed}: type {mine['type']} is not the module's {decl['type']}")
                if mine.get("default") != decl.get("default"):
                    problems.append(f"{exposed}: default {mine.get('default')!r} is not the module's "
                                    f"{decl.get('default')!r}")
        extra = set(given) - set(inputs)
        if extra:
            problems.append(f"{name}: the step gives {sorted(extra)}, no inputs of the module")
    for exposed in declared:
        if SEPARATOR in exposed:
            module, key = exposed.split(SEPARATOR, 1)
            if module not in module_inputs or key not in module_inputs[module]:
                problems.append(f"{exposed} is no input of a module workflow")
    return problems


def module_workflow_inputs() -> dict[str, dict[str, Any]]:
    return {m.name: workflow_inputs(REPO / m.workflow) for m in M.MODULES}


# --------------------------------------------------------------------------- the workflow


def test_whole_workflow_validates_without_warnings() -> None:
    proc = subprocess.run([str(VENV_BIN / "cwltool"), "--validate", str(WHOLE)], capture_output=True, text=True,
                          timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "is valid CWL" in output, output
    assert "WARNING" not in output, output


def test_module_steps_run_the_chain_modules_in_order() -> None:
    steps = module_steps(load(WHOLE))
    assert list(steps) == [m.name for m in M.MODULES]
    assert [(WHOLE.parent / s["run"]).resolve() for s in steps.values()] == [REPO / m.workflow for m in M.MODULES]
    whole = load(WHOLE)
    assert whole["steps"]["dd_refine"]["when"] == whole["steps"]["apply_refined"]["when"] == "$(inputs.refine)"
    assert all("when" not in s for n, s in steps.items() if n not in ("dd_refine", "apply_refined"))


def test_every_module_input_is_wired_or_exposed(tmp_path: Path) -> None:
    assert unexposed(load(WHOLE), module_workflow_inputs(), wired_inputs(tmp_path)) == []


def test_a_module_input_neither_wired_nor_exposed_is_found(tmp_path: Path) -> None:
    inputs = module_workflow_inputs()
    inputs["sva"]["max_baseline_m"] = {"type": "float?", "label": "x", "doc": "x"}
    inputs["dd_dutch"]["data_column"] = {**inputs["dd_dutch"]["data_column"], "default": "CORRECTED_DATA"}
    problems = unexposed(load(WHOLE), inputs, wired_inputs(tmp_path))
    assert problems == ["dd_dutch__data_column: default 'DATA' is not the module's 'CORRECTED_DATA'",
                        "sva.max_baseline_m is neither wired nor exposed as sva__max_baseline_m"]


# --------------------------------------------------------------------------- the job


@pytest.fixture
def tiny(tmp_path: Path):
    config = load_run_config(resolve_config_path("tiny"))
    observations = [M.Observation(o, tmp_path / f"target_{o}.MS", tmp_path / f"calibrator_{o}.MS")
                    for o in ("obs01", "obs02")]
    for obs in observations:
        for ms in (obs.target, obs.calibrator):
            ms.mkdir()
            (ms / "table.f0").write_bytes(bytes(1000))
    return config, load_profile("local"), observations, tmp_path


def _job(config, profile, observations, tmp: Path) -> dict[str, Any]:
    return whole_chain_job(config, profile, observations, tmp / "sky.skymodel", tmp / "cal.skymodel",
                           ("bright01", 242.8, 55.3))


def test_whole_chain_job_of_the_tiny_run(tiny) -> None:
    config, profile, observations, tmp = tiny
    job = _job(config, profile, observations, tmp)
    declared = workflow_inputs(whole_workflow())
    assert set(job) <= set(declared)
    assert [n for n in declared if input_is_required(declared[n]) and n not in job] == []
    assert job["observation_names"] == ["obs01", "obs02"]
    assert [d["path"] for d in job["target_ms"]] == [str(o.target) for o in observations]
    assert [d["path"] for d in job["calibrator_ms"]] == [str(o.calibrator) for o in observations]
    assert job["delay_calibrator"] == {"name": "bright01", "ra_deg": 242.8, "dec_deg": 55.3}
    assert job["refine"] is ("dd_refine" not in config.skip)
    skipping = _job(replace(config, skip=("dd_refine", "apply_refined")), profile, observations, tmp)
    assert skipping["refine"] is False and {k: v for k, v in skipping.items() if k != "refine"} == {
        k: v for k, v in job.items() if k != "refine"}
    # Every module setting of tiny.yaml under <module>__<input>, relative paths resolved from the file.
    for module, settings in config.modules.items():
        for key, value in settings.items():
            if isinstance(value, dict) and value.get("class") == "File":
                path = Path(job[f"{module}__{key}"]["path"])
                assert path == config.path.parent / value["path"] and path.is_file()
            else:
                assert job[f"{module}__{key}"] == value, (module, key)
    # Cores and memory as complete_job gives them: the profile's, for the largest input measurement set.
    assert job["dd_dutch__selfcal_cores"] == job["di_calibrator__cores"] == profile.cores
    assert job["dd_international__image_ram_mb"] == step_ram_mb(profile, 1000)
    assert "calibratability__disk_mb" not in job


def test_whole_chain_job_refuses_what_the_workflow_cannot_run(tiny) -> None:
    config, profile, observations, tmp = tiny
    with pytest.raises(InputError, match="cannot leave out sva"):
        _job(replace(config, skip=("sva",)), profile, observations, tmp)
    with pytest.raises(InputError, match="together"):
        _job(replace(config, skip=("apply_refined",)), profile, observations, tmp)
    with pytest.raises(InputError, match="msin is no setting"):
        _job(replace(config, modules={"dd_dutch": {"msin": []}}), profile, observations, tmp)
    with pytest.raises(InputError, match="no calibrator measurement set"):
        _job(config, profile, [replace(observations[0], calibrator=None)], tmp)
    assert refine_of([]) is True and refine_of(["simulate", "dd_refine", "apply_refined"]) is False


# --------------------------------------------------------------------------- the glue steps


def run_tool(tool: str, job: dict[str, Any], tmp: Path, fails: bool = False) -> dict[str, Any] | str:
    """Run a step of steps/ with cwltool (no container); its output object, or its log when it must fail."""
    tmp.mkdir(parents=True, exist_ok=True)
    job_file = Path(tempfile.mkstemp(prefix=f"{tool}.", suffix=".json", dir=tmp)[1])
    job_file.write_text(json.dumps(job))
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(VENV_BIN / "cwltool"), "--no-container", "--quiet", "--outdir",
                           tempfile.mkdtemp(prefix="out.", dir=tmp),
                           str(STEPS / f"{tool}.cwl"), str(job_file)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp)
    if fails:
        assert proc.returncode != 0, proc.stdout
        return proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def gate_result(path: Path, verdicts: dict[str, dict[str, float]]) -> None:
    """A gate result written by the gate's own writer: per observation its metrics, judged against the shipped
    limits."""
    from lofar_hires.gate.config import load_calibratability_config
    from lofar_hires.gate.flags import FlagCount
    from lofar_hires.gate.ionosphere import DiSoltab, IonosphereMetric
    from lofar_hires.gate.phasediff import PhasediffMetric
    from lofar_hires.gate.run import Observation, ObservationResult, result_document
    from lofar_hires.gate.verdict import judge
    from lofar_hires.selection.config import load_selection_config

    config = load_calibratability_config()
    results = []
    for name, metric in verdicts.items():
        ionosphere = IonosphereMetric(metric["dtec_rate"], 100, ["RS106HBA"], ["CS001HBA"], "tec", 600.0)
        # The result document reads no score setup (it is the DP3 run's plan).
        obs = Observation(name, path.parent / f"{name}.MS", path.parent / f"{name}.h5",
                          DiSoltab(path.parent / f"{name}.h5", "calibrator", "tec", "tec"), None, ionosphere, name)
        phasediff = PhasediffMetric("bright01", 0.5, 1.2, 1.0, 1e-3, 376, ["DE601HBA"])
        flags = FlagCount(int(metric["flagged"] * 1000), 1000)
        results.append(ObservationResult(obs, phasediff, flags, judge(phasediff, flags, ionosphere, config)))
    path.write_text(json.dumps(result_document(results, config, load_selection_config())))


def test_gate_filter_leaves_out_the_stopped_observations(tmp_path: Path) -> None:
    result = tmp_path / "calibratability.json"
    gate_result(result, {"obs01": {"dtec_rate": 0.01, "flagged": 0.05}, "obs02": {"dtec_rate": 0.01, "flagged": 0.95},
                         "obs03": {"dtec_rate": 0.01, "flagged": 0.1}})
    verdicts = json.loads(result.read_text())["observations"]
    assert [verdicts[o]["passed"] for o in ("obs01", "obs02", "obs03")] == [True, False, True]
    msin = []
    for obs in ("obs01", "obs02", "obs03"):
        (tmp_path / f"{obs}.delay.MS").mkdir()
        msin.append(M.dir_obj(tmp_path / f"{obs}.delay.MS"))
    job = {"result": M.file_obj(result), "observation_names": ["obs01", "obs02", "obs03"], "msin": msin}
    out = run_tool("gate_filter", job, tmp_path)
    assert out["observations_passed"] == ["obs01", "obs03"]
    assert [d["basename"] for d in out["msin_passed"]] == ["obs01.delay.MS", "obs03.delay.MS"]
    # Every observation stopped: the chain cannot go on.
    gate_result(result, {"obs01": {"dtec_rate": 0.01, "flagged": 0.99}})
    log = run_tool("gate_filter", {**job, "observation_names": ["obs01"], "msin": msin[:1]}, tmp_path, fails=True)
    assert "stopped every observation" in log


def _facet_datasets(tmp: Path) -> tuple[Path, list[dict[str, str]]]:
    """A region file of facets F2, F1, F10 (in that order) and their empty datasets of two observations."""
    regions = tmp / "facets.reg"
    regions.write_text("# Region file format: DS9 version 4.1\nfk5\n"
                       "polygon(10,50,11,50,11,51) # text={F2}\npoint(10.5,50.5) # color=red\n"
                       "polygon(11,50,12,50,12,51) # text={F1}\npoint(11.5,50.5)\n"
                       "polygon(12,50,13,50,13,51) # text={F10}\npoint(12.5,50.5)\n")
    datasets = []
    for facet in ("F1", "F2", "F10"):
        for obs in ("obs02", "obs01"):
            (tmp / "facets" / f"{obs}.{facet}.ms").mkdir(parents=True)
            datasets.append(M.dir_obj(tmp / "facets" / f"{obs}.{facet}.ms"))
    return regions, datasets


def test_facet_datasets_grouped_as_the_chain_groups_them(tmp_path: Path) -> None:
    regions, datasets = _facet_datasets(tmp_path)
    out = run_tool("facet_datasets", {"facet_ms": datasets, "facet_regions": M.file_obj(regions)}, tmp_path)
    state = M.ChainState([], None, None, outputs={
        "select_calibrators": {"calibrators": M.file_obj(tmp_path / "c.csv"), "regions": M.file_obj(regions)},
        "facet_subtract": {"facet_ms": datasets}})
    expected = M.facet_datasets(state)
    assert out["facets"] == list(expected) == ["F2", "F1", "F10"]
    assert [[d["basename"] for d in g] for g in out["grouped"]] == [[p.name for p in ps] for ps in expected.values()]
    assert [d["basename"] for d in out["datasets"]] == [p.name for ps in expected.values() for p in ps]
    # A facet without a dataset is refused.
    log = run_tool("facet_datasets", {"facet_ms": datasets[:4], "facet_regions": M.file_obj(regions)}, tmp_path,
                   fails=True)
    assert "no dataset of facet F10" in log


def test_a_failed_refinement_leaves_its_facet_uncorrected(tmp_path: Path) -> None:
    regions, datasets = _facet_datasets(tmp_path)
    grouped = run_tool("facet_datasets", {"facet_ms": datasets, "facet_regions": M.file_obj(regions)},
                       tmp_path / "group")
    # The refinement of F1 failed: no F1.<obs>.refined.h5.
    refined = []
    for facet in ("F2", "F10"):
        (tmp_path / "refine" / facet).mkdir(parents=True)
        files = []
        for obs in ("obs01", "obs02"):
            h5 = tmp_path / "refine" / facet / f"{facet}.{obs}.refined.h5"
            h5.write_bytes(b"h5")
            files.append(M.file_obj(h5))
        refined.append(files)
    pairs = run_tool("refined_pairs", {"facets": grouped["facets"], "grouped": grouped["grouped"],
                                       "solutions": [[], *refined[:1], *refined[1:]]}, tmp_path / "pairs")
    state = M.ChainState([], None, None, outputs={
        "select_calibrators": {"calibrators": M.file_obj(tmp_path / "c.csv"), "regions": M.file_obj(regions)},
        "facet_subtract": {"facet_ms": datasets}, "dd_refine": {"solutions": refined}})
    expected = M.job_apply_refined(state)
    assert [d["basename"] for d in pairs["facet_ms"]] == [Path(d["path"]).name for d in expected["facet_ms"]] == [
        "obs01.F2.ms", "obs02.F2.ms", "obs01.F10.ms", "obs02.F10.ms"]
    assert [f["basename"] for f in pairs["pair_solutions"]] == [Path(f["path"]).name for f in expected["solutions"]]
    # No refinement at all: no pairs.
    none = run_tool("refined_pairs", {"facets": grouped["facets"], "grouped": grouped["grouped"]}, tmp_path / "none")
    assert none == {"facet_ms": [], "pair_solutions": []}

    # The corrected copies (marked) replace their datasets; F1's stay as the subtraction made them.
    corrected = []
    for d in pairs["facet_ms"]:
        (tmp_path / "ms" / d["basename"]).mkdir(parents=True)
        (tmp_path / "ms" / d["basename"] / "corrected").write_bytes(b"")
        corrected.append(M.dir_obj(tmp_path / "ms" / d["basename"]))
    out = run_tool("corrected_datasets", {"grouped": grouped["grouped"], "corrected_ms": corrected},
                   tmp_path / "corrected")
    state.outputs["apply_refined"] = {"corrected_ms": corrected}
    expected_groups = M.corrected_datasets(state)
    got = [[("ms/" if (Path(d["path"]) / "corrected").exists() else "facets/") + d["basename"] for d in g]
           for g in out["grouped_corrected"]]
    assert got == [[f"{p.parent.name}/{p.name}" for p in ps] for ps in expected_groups.values()] == [
        ["ms/obs01.F2.ms", "ms/obs02.F2.ms"], ["facets/obs01.F1.ms", "facets/obs02.F1.ms"],
        ["ms/obs01.F10.ms", "ms/obs02.F10.ms"]]
    # Without the refinement every dataset stays.
    same = run_tool("corrected_datasets", {"grouped": grouped["grouped"]}, tmp_path / "same")
    assert [[d["basename"] for d in g] for g in same["grouped_corrected"]] == [
        [d["basename"] for d in g] for g in grouped["grouped"]]


def test_sva_facets_and_prefixed_names(tmp_path: Path) -> None:
    averaged = []
    for facet in ("F2", "F1", "F10"):
        (tmp_path / f"{facet}.ms").mkdir()
        averaged.append(M.dir_obj(tmp_path / f"{facet}.ms"))
    out = run_tool("sva_facets", {"averaged_ms": averaged}, tmp_path / "sva")
    state = M.ChainState([], None, None, outputs={
        "select_calibrators": {"calibrators": M.file_obj(tmp_path / "c.csv"), "regions": M.file_obj(tmp_path / "r")},
        "sva": {"averaged_ms": averaged}})
    assert out["facets"] == M.job_final_imaging(state)["facets"] == ["F2", "F1", "F10"]

    files = []
    for obs in ("obs01", "obs02"):
        (tmp_path / obs / "plots").mkdir(parents=True)
        (tmp_path / obs / "cal_solutions.h5").write_bytes(obs.encode())
        files.append([M.file_obj(tmp_path / obs / "cal_solutions.h5")])
    named = run_tool("prefix_names", {"prefixes": ["obs01", "obs02", "unused"], "files": files,
                                      "directories": [M.dir_obj(tmp_path / o / "plots") for o in ("obs01", "obs02")]},
                     tmp_path / "named")
    assert [Path(f["path"]).name for f in named["named_files"]] == ["obs01.cal_solutions.h5", "obs02.cal_solutions.h5"]
    assert [Path(f["path"]).read_text() for f in named["named_files"]] == ["obs01", "obs02"]
    assert [Path(d["path"]).name for d in named["named_directories"]] == ["obs01.plots", "obs02.plots"]
