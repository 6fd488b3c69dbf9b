"""The chain's parts without running a workflow: module selection, run configurations, cluster profiles and the
runner's command line, the run tree, the manifest, the checks of observations, and the reading of runner logs.

Every shipped run configuration loads and names only inputs of its modules' workflows; a target without its
calibrator scan, observations of two fields, an unknown SLURM partition (a stand-in ``sinfo`` on PATH lists the
partitions) and a run folder of another configuration are refused with one line and exit status 2.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lofar_hires.chain import modules as M
from lofar_hires.chain.config import load_run_config, resolve_config_path, run_config_names
from lofar_hires.chain.profiles import (
    check_partition,
    load_profile,
    profile_names,
    runner_command,
    runner_environment,
    step_ram_mb,
)
from lofar_hires.chain.run import (
    check_observations,
    complete_job,
    failed_step_statuses,
    run_chain,
    step_message,
    steps_run_elsewhere,
    workflow_inputs,
    workflows_dir,
)
from lofar_hires.chain.state import RunManifest, hold_run_folder, read_manifest, write_manifest
from lofar_hires.chain.tree import missing_products, place_outputs, remove_products
from lofar_hires.cli import main
from lofar_hires.errors import InputError

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ modules


def test_modules_run_in_chain_order_and_from_to_select_a_part():
    assert M.MODULE_NAMES[0] == "simulate" and M.MODULE_NAMES[-1] == "final_imaging"
    names = list(M.MODULE_NAMES)
    assert M.selected(names, "dd_dutch", "facet_subtract") == ["dd_dutch", "dd_international", "facet_subtract"]
    assert M.selected(names, None, "di_target") == ["simulate", "di_calibrator", "di_target"]
    assert M.selected([n for n in names if n != "sva"], "dd_refine", None) == ["dd_refine", "apply_refined",
                                                                              "final_imaging"]
    with pytest.raises(InputError, match="comes after"):
        M.selected(names, "sva", "dd_dutch")
    with pytest.raises(InputError, match="unknown module 'nope'"):
        M.selected(names, "nope", None)


def test_every_module_workflow_exists_and_validates_its_job_inputs():
    for module in M.MODULES:
        path = REPO / module.workflow
        assert path.is_file(), module
        assert workflow_inputs(path), module
    assert workflows_dir() == REPO / "workflows"


def test_shipped_run_configurations_load_and_name_only_workflow_inputs():
    assert {"tiny", "medium"} <= set(run_config_names())
    for name in run_config_names():
        cfg = load_run_config(resolve_config_path(name))
        for module, settings in cfg.modules.items():
            path = REPO / ("workflows/simulate.cwl" if module == "simulate" else M.module(module).workflow)
            unknown = set(settings) - set(workflow_inputs(path))
            assert not unknown, f"run/{name}.yaml: modules.{module}: {unknown}"
    # the embedded default: the medium field, imaged at 0.3 arcsec with all six international stations
    default = load_run_config(resolve_config_path(None))
    assert default.path == resolve_config_path("medium")
    assert default.modules["final_imaging"]["resolutions"] == ["0.3"]


def test_a_job_gets_cores_memory_and_the_user_s_settings(tmp_path):
    profile = replace(load_profile("local"), cores=3, ram_mb=1000, ram_mb_per_gb_data=2000.0)
    ms = tmp_path / "a.MS"
    ms.mkdir()
    (ms / "table.f0").write_bytes(b"\0" * 2_000_000)  # 2 MB of data: 4 MB of memory at 2000 MB per GB
    settings = {"config": {"class": "File", "path": "rel/final.yaml"}, "resolutions": ["10"]}
    job = complete_job({"facet_ms": [M.dir_obj(ms)], "facets": ["f"], "facet_regions": M.file_obj(ms)},
                       REPO / "workflows/final_imaging.cwl", profile, settings, "final_imaging", tmp_path)
    assert job["cores"] == 3 and job["ram_mb"] == 1000
    assert job["config"]["path"] == str(tmp_path / "rel/final.yaml") and job["resolutions"] == ["10"]
    assert step_ram_mb(profile, 5_000_000_000) == 10_000
    with pytest.raises(InputError, match="modules.final_imaging: nope is no input of final_imaging.cwl"):
        complete_job({}, REPO / "workflows/final_imaging.cwl", profile, {"nope": 1}, "final_imaging", tmp_path)
    with pytest.raises(InputError, match="lacks facet_ms"):
        complete_job({}, REPO / "workflows/final_imaging.cwl", profile, {}, "final_imaging", tmp_path)


# ------------------------------------------------------------------------------------------------ configurations


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("simulate: {preset: tiny}\nobservations: [{name: a, target: t.MS, calibrator: c.MS}]\n",
     "either simulate or observations"),
    ("observations: [{name: a, target: t.MS}]\n", "observation a has no calibrator measurement set"),
    ("observations: [{name: a, target: t.MS, calibrator: c.MS}, {name: a, target: u.MS, calibrator: d.MS}]\n",
     "observation names must differ"),
    ("simulate: {preset: tiny}\nfoo: 1\n", "unknown key"),
    ("simulate: {preset: tiny}\nmodules: {nosuch: {}}\n", "modules.nosuch: no such module"),
    ("simulate: {preset: tiny}\nskip: [nosuch]\n", "skip must list modules"),
    ("simulate: {preset: tiny, seed: x}\n", "simulate.seed must be an integer"),
])
def test_bad_run_configurations_are_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_run_config(_config(tmp_path, text))


def test_a_configuration_extends_another_with_its_overrides_appended(tmp_path):
    base_dir = tmp_path / "site"
    base_dir.mkdir()
    (base_dir / "base.yaml").write_text(
        "observations: [{name: obs01, target: data/t.MS, calibrator: data/c.MS}]\n"
        "skymodel: sky.txt\n"
        "modules:\n"
        "  final_imaging: {resolutions: ['0.3'], overrides: [multiscale=false],"
        " config: {class: File, path: final.yaml}}\n"
        "  dd_refine: {image_on_calibrator: true}\n")
    child = _config(tmp_path, "extends: site/base.yaml\nskip: [sva]\n"
                              "modules: {final_imaging: {overrides: [niter=10], resolutions: ['1.2']}}\n")
    cfg = load_run_config(child)
    assert cfg.path == child.absolute() and cfg.skip == ("sva",)
    # paths of the base keep meaning its own folder
    assert cfg.observations[0].target == base_dir / "data/t.MS" and cfg.skymodel == base_dir / "sky.txt"
    final = cfg.modules["final_imaging"]
    assert final["config"]["path"] == str(base_dir / "final.yaml")
    # override lists append (later wins), plain values replace, untouched modules stay
    assert final["overrides"] == ["multiscale=false", "niter=10"] and final["resolutions"] == ["1.2"]
    assert cfg.modules["dd_refine"] == {"image_on_calibrator": True}
    # the shipped hard case: the medium field with a disturbed screen
    medium = load_run_config(resolve_config_path("medium"))
    hard = load_run_config(resolve_config_path("medium_disturbed"))
    assert hard.simulate.overrides[:len(medium.simulate.overrides)] == medium.simulate.overrides
    assert "corruptions.tecscreen.diffractive_scale_km=1.0" in hard.simulate.overrides
    assert hard.modules == medium.modules and hard.simulate.seed == medium.simulate.seed


@pytest.mark.parametrize("text, message", [
    ("extends: nosuch\n", "extends nosuch: run configuration nosuch does not exist"),
    ("extends: run.yaml\n", r"extends runs in a circle \(run.yaml -> run.yaml\)"),
    ("extends: [medium]\n", "extends must name a shipped run or a configuration file"),
])
def test_a_bad_extends_is_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_run_config(_config(tmp_path, text))


def test_a_missing_calibrator_is_one_line_and_exit_2(tmp_path, capfd):
    path = _config(tmp_path, "observations:\n  - {name: obs01, target: t1.MS, calibrator: c1.MS}\n"
                             "  - {name: obs02, target: t2.MS}\n")
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "observation obs02 has no calibrator measurement set" in err[0]
    assert not (tmp_path / "out").exists()  # nothing was started


def test_observations_of_two_fields_are_refused(simulated, tmp_path):
    a = simulated("chain_field_a", preset="tiny").targets()[0]
    b = simulated("chain_field_b", preset="tiny", overrides=("observation.pointing_ra_deg=200.0",)).targets()[0]
    obs = [M.Observation("obs01", a.ms, a.ms), M.Observation("obs02", b.ms, b.ms)]
    with pytest.raises(InputError, match="observations obs01 and obs02 are of different fields"):
        check_observations(obs)
    data = check_observations(obs[:1])
    assert data["n_observations"] == 1 and data["n_international"] == 2 and data["n_channels"] == 8
    with pytest.raises(InputError, match="the target measurement set .* does not exist"):
        check_observations([M.Observation("obs01", tmp_path / "none.MS", a.ms)])


# ------------------------------------------------------------------------------------------------ profiles


def test_profiles_choose_the_runner_and_its_options(tmp_path):
    assert set(profile_names()) >= {"local", "podman", "toil", "slurm"}
    local, toil, slurm = load_profile("local"), load_profile("toil"), load_profile("slurm")
    assert (local.label, toil.label, slurm.label) == ("cwltool", "toil-single-machine", "toil-slurm")
    cmd = runner_command(local, tmp_path, "dd_dutch", tmp_path / "out", False, tmp_path / "logs")
    assert Path(cmd[0]).name == "cwltool" and "--no-container" in cmd and "--log-dir" in cmd
    # the podman profile: cwltool runs every step in the image of the steps' DockerRequirement hint
    cmd = runner_command(load_profile("podman"), tmp_path, "dd_dutch", tmp_path / "out", False, tmp_path / "logs")
    assert Path(cmd[0]).name == "cwltool" and "--podman" in cmd and "--no-container" not in cmd
    # CPU time: the steps of a container runtime or SLURM are not this process's children, their usage lines count
    assert [steps_run_elsewhere(load_profile(n)) for n in ("local", "toil", "podman", "slurm")] == \
        [False, False, True, True]
    cmd = runner_command(slurm, tmp_path, "dd_dutch", tmp_path / "out", True, tmp_path / "logs")
    assert Path(cmd[0]).name == "toil-cwl-runner" and cmd[cmd.index("--batchSystem") + 1] == "slurm"
    # Toil's own retries are off: it would retry exit status 2 too; the chain retries exit status 3 itself.
    assert cmd[cmd.index("--retryCount") + 1] == "0" and "--restart" in cmd
    assert cmd[cmd.index("--jobStore") + 1] == str(tmp_path / "jobstore" / "dd_dutch")
    assert "--disableCaching" in cmd and cmd[cmd.index("--cleanWorkDir") + 1] == "onSuccess"
    env = runner_environment(replace(slurm, partition="short", slurm_args=["--account=lofar"]), {"PATH": ""})
    assert env["TOIL_SLURM_ARGS"] == "--export=ALL --account=lofar --partition=short"
    with pytest.raises(InputError, match="unknown cluster profile 'nosuch'"):
        load_profile("nosuch")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runner: cwltool\nbatch_system: slurm\n")
    with pytest.raises(InputError, match="cwltool runs on one machine only"):
        load_profile(bad)


def test_a_partition_sinfo_does_not_list_is_refused(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sinfo = bindir / "sinfo"
    sinfo.write_text("#!/bin/sh\necho 'debug*'\necho long\n")
    sinfo.chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    slurm = load_profile("slurm")
    check_partition(replace(slurm, partition="long"), env)
    check_partition(replace(slurm, partition="debug"), env)
    with pytest.raises(InputError, match="partition 'gpu' does not exist; sinfo lists debug, long"):
        check_partition(replace(slurm, partition="gpu"), env)


# ------------------------------------------------------------------------------------------------ the tree


def test_outputs_move_into_the_tree_and_a_clash_moves_nothing(tmp_path):
    staging, run = tmp_path / "staging", tmp_path / "run"
    (staging / "obs.MS").mkdir(parents=True)
    (staging / "obs.MS" / "table.dat").write_text("t")
    for name in ("sol.h5", "img.fits", "plot.png", "step.log", "summary.json", "calibrators.csv"):
        (staging / name).write_text(name)
    outputs = {"ms": [M.dir_obj(staging / "obs.MS")], "h5": M.file_obj(staging / "sol.h5"),
               "image": M.file_obj(staging / "img.fits"), "plot": M.file_obj(staging / "plot.png"),
               "logs": [M.file_obj(staging / "step.log")], "summary": M.file_obj(staging / "summary.json"),
               "calibrators": M.file_obj(staging / "calibrators.csv"), "count": 3}
    placed, written = place_outputs(outputs, staging, run, "mod", {"calibrators": "facets"}, sub="obs01")
    assert placed["ms"][0]["path"] == str(run / "ms/mod/obs01/obs.MS")
    assert placed["h5"]["path"] == str(run / "solutions/mod/obs01/sol.h5")
    assert placed["image"]["path"] == str(run / "images/mod/obs01/img.fits")
    assert placed["plot"]["path"] == str(run / "plots/mod/obs01/plot.png")
    assert placed["logs"][0]["path"] == str(run / "logs/mod/obs01/step.log")
    assert placed["summary"]["path"] == str(run / "products/mod/obs01/summary.json")
    assert placed["calibrators"]["path"] == str(run / "facets/obs01/calibrators.csv") and placed["count"] == 3
    assert written == 1 + sum(len(n) for n in ("sol.h5", "img.fits", "plot.png", "step.log", "summary.json",
                                                 "calibrators.csv"))
    assert not missing_products(placed) and not list(staging.iterdir())
    # A second product of the same name: refused before anything moves.
    (staging / "img.fits").write_text("again")
    (staging / "other.h5").write_text("x")
    with pytest.raises(InputError, match="exists already"):
        place_outputs({"a": M.file_obj(staging / "other.h5"), "b": M.file_obj(staging / "img.fits")}, staging, run,
                      "mod", {}, sub="obs01")
    assert (staging / "other.h5").exists() and not (run / "solutions/mod/obs01/other.h5").exists()
    remove_products(placed, run)
    assert missing_products(placed) and (run / "ms").is_dir()
    # Secondary files count as products: missing when deleted, removed with their file (a module run again).
    (staging / "scores.csv").write_text("s")
    (staging / "scores.json").write_text("j")
    scored = {"class": "File", "path": str(staging / "scores.csv"),
              "secondaryFiles": [M.file_obj(staging / "scores.json")]}
    placed, _ = place_outputs({"scores": [scored]}, staging, run, "mod", {"scores": "facets"})
    secondary = Path(placed["scores"][0]["secondaryFiles"][0]["path"])
    assert secondary == run / "facets" / "scores.json" and not missing_products(placed)
    secondary.unlink()
    assert missing_products(placed) == [str(secondary)]
    secondary.write_text("j")
    remove_products(placed, run)
    assert not secondary.exists() and not (run / "facets" / "scores.csv").exists()
    with pytest.raises(InputError, match="outside the output directory"):
        remove_products({"x": M.file_obj(staging / "other.h5")}, run)


def test_the_manifest_round_trips_and_a_foreign_one_is_refused(tmp_path):
    manifest = RunManifest(config="/c.yaml", runner="cwltool", observations=["obs01"])
    rec = manifest.record("dd_dutch", "workflows/dd_dutch.cwl")
    rec.status, rec.wall_s = "done", 1.5
    write_manifest(manifest, tmp_path)
    back = read_manifest(tmp_path)
    assert back.done("dd_dutch").wall_s == 1.5 and back.observations == ["obs01"]
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="is not a run manifest"):
        read_manifest(tmp_path)
    write_manifest(manifest, tmp_path)
    other = _config(tmp_path, "simulate: {preset: tiny}\n")
    with pytest.raises(InputError, match="holds a run of /c.yaml"):
        run_chain(load_run_config(other), load_profile("local"), tmp_path)


def test_a_run_folder_in_use_is_refused(tmp_path):
    config = load_run_config(_config(tmp_path, "simulate: {preset: tiny}\n"))
    run = tmp_path / "run"
    run.mkdir()
    with hold_run_folder(run):
        assert f"pid {os.getpid()}" in (run / ".run.lock").read_text()
        with pytest.raises(InputError, match=rf"{run} is in use by another lofar-hires run \(host .*, pid "):
            run_chain(config, load_profile("local"), run, last="simulate")
        assert not (run / "run.json").exists()  # nothing was started
    assert not (run / ".run.lock").exists()  # a refused or finished run leaves nothing behind
    with hold_run_folder(run):  # released when the first run ended
        pass


def test_runner_logs_give_the_failed_step_s_status_and_message(tmp_path):
    log = tmp_path / "runner.log"
    log.write_text("INFO [job image] exited with status: 0\nWARNING [job solve] exited with status: 3\n"
                   "WARNING [job solve] completed permanentFail\n")
    assert failed_step_statuses(log) == [3]
    steps = tmp_path / "steps" / "solve"
    steps.mkdir(parents=True)
    (steps / "solve.stderr.log").write_text("2026-12-07 04:00:00 INFO    lofar_hires.cli: start\n"
                                            "2026-12-07 04:00:01 ERROR   lofar_hires.cli: DP3 failed (log: x)\n")
    assert step_message(log, tmp_path / "steps") == "solve: DP3 failed (log: x)"
    assert step_message(log, tmp_path / "none").endswith("completed permanentFail")


def test_list_modules_names_every_module(capsys):
    assert main(["run", "--list-modules"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(M.MODULE_NAMES)
    assert json.dumps(yaml.safe_load((REPO / "configs/run/tiny.yaml").read_text()))


def test_a_command_logs_its_usage_and_slurm_modules_sum_it(tmp_path):
    """Every successful ``lofar-hires`` command ends with its usage line (task, wall and CPU seconds, a tag of the
    process); a failing one ends with its error. The CPU time of a module on SLURM is the sum over the usage lines
    in its logs, each command counted once however many copies of its log the runner kept."""
    import subprocess
    import sys

    from lofar_hires.chain.run import steps_cpu_s
    from lofar_hires.provenance import Usage, parse_usage, usage_line

    exe = Path(sys.executable).parent / "lofar-hires"
    helped = subprocess.run([str(exe), "run", "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and not parse_usage(helped.stderr)  # --help runs no task
    listed = subprocess.run([str(exe), "run", "--list-modules"], capture_output=True, text=True, timeout=120)
    (usage,) = parse_usage(listed.stderr)
    assert listed.returncode == 0 and usage.task == "run" and usage.status == 0
    assert usage.wall_s > 0 and usage.cpu_s > 0 and str(os.getpid()) not in usage.run
    failed = subprocess.run([str(exe), "h5", "info", str(tmp_path / "absent.h5")], capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 2 and not parse_usage(failed.stderr)
    assert "ERROR" in failed.stderr.strip().splitlines()[-1]

    logs = tmp_path / "logs" / "dd_dutch"
    (logs / "steps" / "selfcal").mkdir(parents=True)
    a, b = Usage("selfcal", 0, 10.0, 15.5, "node1:10:1.0"), Usage("recipe", 0, 1.0, 0.25, "node2:10:1.0")
    (logs / "selfcal.stderr.log").write_text(f"2026-01-01 00:00:00 INFO    x: {usage_line(a)}\n")
    (logs / "steps" / "selfcal" / "selfcal.stderr.log").write_text(f"noise\n... {usage_line(a)}\n")  # the copy
    (logs / "recipe.log").write_text(f"{usage_line(b)}\n")
    assert steps_cpu_s(logs) == 15.75
    assert steps_cpu_s(tmp_path / "logs" / "nothing") is None
