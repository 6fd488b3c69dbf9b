"""The CWL layer: validation, conventions, consistency with the CLI, and end-to-end runs.

* every ``*.cwl`` under ``steps/`` and ``workflows/`` passes ``cwltool --validate``
  without a single warning;
* every step tool follows the house conventions (labels and docs, resources,
  container image only as a hint, logs captured, the exit status of ``lofar_hires.errors``
  declared so that only exit 3 is retried, inputs never updated in place:
  no step stages a writable input; the ``dical`` ops that add columns write
  their own output MS);
* every step tool's command-line bindings match the argparse parser of its
  ``lofar-hires`` task (or nested command, ``lofar-hires h5 <command>``,
  ``lofar-hires dical <op>``, ``lofar-hires select <op>`` and
  ``lofar-hires classifier <command>``), and every option of the task is
  exposed (with a short, explicit list of deliberate exceptions);
* ``steps/h5_reset.cwl`` and ``steps/h5_info.cwl`` run with cwltool on a small h5parm;
* ``steps/dical_solve.cwl`` puts its corrections on the command line in the order of the
  Jones chain, names its output MS and leaves its input MS untouched;
* ``workflows/simulate.cwl`` runs on the tiny job with cwltool and with toil, and
  the true fluxes are recovered in the image (``slow``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lofar_hires.cli import build_parser
from lofar_hires.cli.classifier import COMMANDS as CLASSIFIER_COMMANDS
from lofar_hires.cli.dical import COMMANDS as DICAL_COMMANDS
from lofar_hires.cli.select import COMMANDS as SELECT_COMMANDS
from lofar_hires.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_QUALITY, EXIT_TOOL_FAILED

REPO = Path(__file__).resolve().parents[1]
STEPS = REPO / "steps"
WORKFLOWS = REPO / "workflows"
SIMULATE_WORKFLOW = WORKFLOWS / "simulate.cwl"
TINY_JOB = WORKFLOWS / "jobs" / "simulate_tiny.yml"

#: Directory of the running interpreter: holds cwltool, toil-cwl-runner and lofar-hires.
VENV_BIN = Path(sys.executable).parent

CWL_FILES = sorted([*STEPS.rglob("*.cwl"), *WORKFLOWS.rglob("*.cwl")])


def _cwl_class(path: Path) -> str:
    return yaml.safe_load(path.read_text())["class"]


#: The step tools that run a lofar-hires task, and the expression tools (the glue of the whole chain's workflow).
STEP_TOOLS = sorted(p for p in STEPS.glob("*.cwl") if _cwl_class(p) != "ExpressionTool")
EXPRESSION_TOOLS = sorted(p for p in STEPS.glob("*.cwl") if _cwl_class(p) == "ExpressionTool")

#: CLI options a step tool deliberately does not expose, with the reason.
_LOGGING = {
    "--log-level": "the runner captures stderr into the step's log file; INFO is what users read",
    "--log-file": "the step's stderr log already holds the full log",
}

NOT_EXPOSED: dict[str, dict[str, str]] = {
    "simulate": {
        **_LOGGING,
        "--help": "prints help and exits",
        "--overwrite": "a CWL step always writes into a fresh output directory",
        "--list-options": "prints the settings and exits, no products",
        "--dry-run": "prints the resolved settings and exits, no products",
    },
    "image": {
        **_LOGGING,
        "--help": "prints help and exits",
        "--overwrite": "a CWL step always writes into a fresh output directory",
        "--update-model": "a step never writes into its input measurement sets",
    },
    "compare-sky": {
        **_LOGGING,
        "--help": "prints help and exits",
        "--overwrite": "a CWL step always writes into a fresh output directory",
    },
}
_H5_WRITER = {
    **_LOGGING,
    "--help": "prints help and exits",
    "--overwrite": "a CWL step always writes into a fresh output directory",
}
NOT_EXPOSED.update({f"h5 {cmd}": _H5_WRITER for cmd in ("merge", "merge-dd", "reset", "expand-core", "directions",
                                                         "lin2circ", "circ2lin")})
NOT_EXPOSED.update({f"h5 {cmd}": {**_LOGGING, "--help": "prints help and exits"} for cmd in ("nearest", "info")})
for _task in ("di-calibrator", "di-target"):
    NOT_EXPOSED[_task] = {**_H5_WRITER, "--overwrite": "a CWL step always writes into a fresh output directory"}
#: The ``lofar-hires dical`` ops (steps/dical_<op>.cwl).
DICAL_OPS = tuple(DICAL_COMMANDS)
NOT_EXPOSED.update({f"dical {op}": dict(_H5_WRITER) for op in DICAL_OPS})

#: The ``lofar-hires select`` ops (steps/select_<op>.cwl) and ``lofar-hires facets``.
NOT_EXPOSED.update({f"select {op}": dict(_H5_WRITER) for op in SELECT_COMMANDS})
NOT_EXPOSED["facets"] = dict(_H5_WRITER)
#: Self-calibration (steps/selfcal.cwl) and applying its solutions (steps/apply_solutions.cwl).
NOT_EXPOSED["selfcal"] = dict(_H5_WRITER)
NOT_EXPOSED["apply-solutions"] = dict(_H5_WRITER)
NOT_EXPOSED["recipe"] = dict(_H5_WRITER)
#: The facet subtraction (steps/subtract.cwl): a failed facet is rerun as a job of its own, not resumed.
NOT_EXPOSED["subtract"] = {**_H5_WRITER, "--resume": "a CWL step always writes into a fresh output directory"}
#: Peeling (steps/peel.cwl).
NOT_EXPOSED["peel"] = dict(_H5_WRITER)
#: The DD refinement of a facet (steps/refine.cwl).
NOT_EXPOSED["refine"] = dict(_H5_WRITER)
#: Secondary calibrators of a facet (steps/secondary.cwl).
NOT_EXPOSED["secondary"] = dict(_H5_WRITER)
#: Final imaging of a facet (steps/final_image.cwl).
NOT_EXPOSED["final-image"] = dict(_H5_WRITER)
#: The mosaic of facet images (steps/mosaic.cwl).
NOT_EXPOSED["mosaic"] = dict(_H5_WRITER)
#: Dysco compression of a measurement set (steps/compress.cwl).
NOT_EXPOSED["compress"] = dict(_H5_WRITER)
#: The calibratability gate (steps/calibratability.cwl).
NOT_EXPOSED["calibratability"] = dict(_H5_WRITER)
#: Compute accounting of a run (steps/project_cost.cwl).
NOT_EXPOSED["project-cost"] = dict(_H5_WRITER)
#: Sidereal visibility averaging (steps/sva.cwl).
NOT_EXPOSED["sva"] = dict(_H5_WRITER)
#: The run report (steps/report.cwl).
NOT_EXPOSED["report"] = dict(_H5_WRITER)
#: The image classifier: ``lofar-hires classify`` (steps/classify.cwl) and the ``lofar-hires classifier`` commands
#: (steps/classifier_<command>.cwl).
CLASSIFIER_OPS = tuple(CLASSIFIER_COMMANDS)
NOT_EXPOSED["classify"] = {**_LOGGING, "--help": "prints help and exits"}
NOT_EXPOSED.update({f"classifier {op}": {**_LOGGING, "--help": "prints help and exits"} for op in CLASSIFIER_OPS})
for _command in ("classify", "classifier evaluate", "classifier train", "classifier import-backbone"):
    NOT_EXPOSED[_command]["--overwrite"] = "a CWL step always writes into a fresh output directory"

#: Tasks that add columns to a measurement set: each writes a copy of its input ``ms`` to a named output MS
#: (``--output`` or ``--output-ms``), which its step tool returns as ``ms_out``.
IN_PLACE = {"dical predict": "--output", "dical corrupt-model": "--output", "dical solve": "--output-ms",
            "dical phasecal": "--output-ms"}
#: Tasks whose DP3 threads come from the settings key ``threads`` (``--set threads=...``).
THREADS_SETTING = {"di-calibrator", "di-target", "dical prepare", "dical solve", "dical correct", "dical phasecal"}
#: Tasks that write measurement-set data into their output directory: task -> copies of the input MS data
#: the outputs need (their step tools reserve that much disk, from the input MS size).
MS_DATA_WRITERS = {
    "dical predict": 2, "dical corrupt-model": 2, "dical solve": 2,  # a copy with one more column
    "dical phasecal": 1, "dical prepare": 1, "dical correct": 1, "apply-solutions": 1,  # one MS, at most as large
    "di-calibrator": 2, "di-target": 2,  # averaged working copies with model and corrected columns
    "selfcal": 3,  # prepared copies with model and corrected columns
    "image": 1,  # WSClean's reordered visibilities in the working directory
    "select score": 1,  # one averaged work MS per candidate, removed after its score
    "subtract": 2,  # the facet datasets (together at most one copy) and, with keep_empty, the empty data set
    "peel": 1,  # one peeled copy of the input
    "refine": 3,  # the self-calibration copies and the corrected data of both steps
    "secondary": 3,  # the subtracted copies and each weak calibrator's self-calibration copies
    "final-image": 2,  # the corrected copies when solutions are applied, and WSClean's reordered visibilities
    "compress": 1,  # one copy, at most as large (uncompressed when no bit rate meets the bound)
    "calibratability": 1,  # the phasediff score's averaged work MS, one calibrator at a time
    "sva": 1,  # one averaged MS, about one observation (at most as large as all inputs)
}
#: Resource keys of a ResourceRequirement.
RESOURCE_KEYS = {"coresMin", "coresMax", "ramMin", "ramMax", "tmpdirMin", "tmpdirMax", "outdirMin", "outdirMax"}
#: The expression library of the step tools (resources from input sizes).
RESOURCES_JS = STEPS / "resources.js"

#: Text options that also take a file, bound to a File input: (task, option) -> why.
TEXT_OPTION_AS_FILE = {
    ("di-calibrator", "--skymodel"): "a shipped model name or a makesourcedb file; the tool takes the file",
    ("dical predict", "--skymodel"): "a shipped model name or a makesourcedb file; the tool takes the file",
    ("dical solve", "--apply"): "H5[:SOLTAB,...]: the tool appends the soltabs to the staged file's path",
}

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --------------------------------------------------------------------------- helpers


def tool_env(tmpdir: Path | None = None) -> dict[str, str]:
    """The environment for runner subprocesses: the venv's bin directory first on PATH.

    With ``tmpdir``, temporary files go there (toil leaves a message-bus file and an
    empty file in ``$TMPDIR`` after every run).
    """
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    if tmpdir is not None:
        tmpdir.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
    return env


def load_cwl(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return yaml.safe_load(fh)


def as_list(section: Any) -> list[dict[str, Any]]:
    """CWL inputs/outputs/requirements in either map or list form, as a list with ``id``/``class``."""
    if section is None:
        return []
    if isinstance(section, list):
        return section
    items = []
    for key, value in section.items():
        value = dict(value) if isinstance(value, dict) else {"type": value}
        value.setdefault("id", key)
        value.setdefault("class", key)
        items.append(value)
    return items


def cwl_type(spec: Any) -> tuple[str, bool, bool, list[str] | None]:
    """Reduce a CWL type to ``(base, is_array, optional, enum_symbols)``."""
    optional = False
    if isinstance(spec, list):
        optional = "null" in spec
        rest = [t for t in spec if t != "null"]
        if sorted(rest) == ["Directory", "File"]:
            return "path", False, optional, None  # a file or a directory (e.g. an h5parm or an MS)
        assert len(rest) == 1, f"unions other than with null (or File|Directory) are not used here: {spec}"
        spec = rest[0]
    if isinstance(spec, str):
        if spec.endswith("?"):
            optional, spec = True, spec[:-1]
        if spec.endswith("[]"):
            return spec[:-2], True, optional, None
        return spec, False, optional, None
    if spec["type"] == "array":
        base, _, _, symbols = cwl_type(spec["items"])
        return base, True, optional, symbols
    if spec["type"] == "enum":
        return "enum", False, optional, [s.split("/")[-1] for s in spec["symbols"]]
    raise AssertionError(f"unexpected CWL type {spec}")


def prefix_of(inp: dict[str, Any]) -> str | None:
    """The option an input binds to: its own prefix (``--opt=`` counts as ``--opt``), or that of its array items."""
    binding = inp.get("inputBinding") or {}
    if binding.get("prefix"):
        prefix = binding["prefix"]
        return prefix[:-1] if prefix.endswith("=") and binding.get("separate") is False else prefix
    spec = inp["type"]
    for t in spec if isinstance(spec, list) else [spec]:
        if isinstance(t, dict) and t.get("type") == "array":
            item_binding = t.get("inputBinding") or {}
            if item_binding.get("prefix"):
                return item_binding["prefix"]
    return None


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of ``parser`` (argparse has no public API for this)."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def task_parser(task: str) -> argparse.ArgumentParser:
    """The parser of a task (``image``) or of a nested command (``h5 reset``)."""
    parser = build_parser()
    for word in task.split():
        parser = subparsers(parser)[word]
    return parser


def long_option(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def step_task(doc: dict[str, Any]) -> str:
    """The task a step tool runs: ``image``, or ``h5 reset`` / ``dical solve`` for the nested commands."""
    base = doc["baseCommand"]
    nested = len(base) == 3 and base[1] in ("h5", "dical", "select", "classifier")
    assert base[0] == "lofar-hires" and (len(base) == 2 or nested), \
        f"baseCommand must be [lofar-hires, <task>] or [lofar-hires, h5|dical|select|classifier, <command>]: {base}"
    return " ".join(base[1:])


def requirement(doc: dict[str, Any], section: str, cls: str) -> dict[str, Any] | None:
    for item in as_list(doc.get(section)):
        if item["class"] == cls:
            return item
    return None


def run_runner(args: list[str], cwd: Path, env: dict[str, str], log: Path,
               timeout_s: float = 600) -> dict[str, Any]:
    """Run a CWL runner, keep its log, and return the output object it prints."""
    try:
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        log.write_text(stderr)
        pytest.fail(f"{Path(args[0]).name} did not finish within {timeout_s:.0f} s; log in {log}")
    log.write_text(proc.stderr)
    if proc.returncode != 0:
        pytest.fail(f"{Path(args[0]).name} failed with exit status {proc.returncode}; "
                    f"last lines of its log ({log}):\n" + "\n".join(proc.stderr.splitlines()[-40:]))
    return json.loads(proc.stdout)


def check_workflow_outputs(out: dict[str, Any], outdir: Path) -> None:
    """Outputs of workflows/simulate.cwl on the tiny job: present, complete and correct."""

    def path(obj: dict[str, Any]) -> Path:
        p = Path(obj["path"])
        assert p.resolve().is_relative_to(outdir.resolve()), f"{p} is not inside {outdir}"
        return p

    simulation = path(out["simulation"])
    assert simulation.is_dir()
    record = json.loads((simulation / "simulation.json").read_text())
    targets = [o["name"] for o in record["observations"] if o["kind"] == "target"]
    calibrators = [o["name"] for o in record["observations"] if o["kind"] == "calibrator"]
    assert targets and calibrators, "the tiny job simulates a target and a calibrator"

    # Measurement sets, sorted by name, each a complete casacore table.
    assert [Path(d["path"]).name for d in out["target_ms"]] == [f"{n}.MS" for n in targets]
    assert [Path(d["path"]).name for d in out["calibrator_ms"]] == [f"{n}.MS" for n in calibrators]
    for ms in out["target_ms"] + out["calibrator_ms"]:
        assert (path(ms) / "table.dat").is_file() and (path(ms) / "ANTENNA").is_dir()

    names = sorted(targets + calibrators)
    assert sorted(Path(f["path"]).name for f in out["truth_h5parm"]) == [f"{n}.truth.h5" for n in names]
    assert sorted(Path(f["path"]).name for f in out["truth_json"]) == [f"{n}.truth.json" for n in names]
    assert Path(out["sky_model"]["path"]).name == "sky_truth.skymodel"

    for key in ("truth_h5parm", "truth_json", "logs"):
        for f in out[key]:
            assert path(f).is_file(), f
    for key in ("sky_model", "image", "model", "residual", "psf", "dirty", "image_provenance",
                "wsclean_log", "comparison"):
        assert path(out[key]).is_file() and path(out[key]).stat().st_size > 0, key
    assert Path(out["image"]["path"]).name == "target-image.fits"
    assert sorted(Path(f["path"]).name for f in out["logs"]) == sorted(
        f"{step}{suffix}" for step in ("simulate", "image", "compare_sky")
        for suffix in (".log", ".stderr.log"))

    # Closed loop: the bright true sources are found with the right flux.
    comparison = json.loads(path(out["comparison"]).read_text())
    sources = comparison["sources"]
    assert sources, "no sky-model source was measured in the image"
    bad = {s["name"]: s["integrated_ratio"] for s in sources
           if s["integrated_ratio"] is None or not 0.9 <= s["integrated_ratio"] <= 1.1}
    assert not bad, f"integrated flux ratios outside 0.9..1.1: {bad}"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("cwl", CWL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_cwltool_validate_without_warnings(cwl: Path) -> None:
    proc = subprocess.run([str(VENV_BIN / "cwltool"), "--validate", str(cwl)], env=tool_env(),
                          capture_output=True, text=True, timeout=300)
    output = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output
    assert "is valid CWL" in output, output
    noisy = [line for line in output.splitlines() if re.search(r"warn|error", line, re.IGNORECASE)]
    assert not noisy, "cwltool --validate reported:\n" + "\n".join(noisy)


def test_every_cwl_file_is_covered() -> None:
    names = {p.relative_to(REPO).as_posix() for p in CWL_FILES}
    assert {"steps/simulate.cwl", "steps/image.cwl", "steps/compare_sky.cwl",
            "workflows/simulate.cwl"} <= names
    h5_steps = {f"steps/h5_{cmd}.cwl" for cmd in ("reset", "expand_core", "directions", "nearest", "lin2circ",
                                                  "circ2lin", "info")}
    assert h5_steps <= names
    dical_steps = {f"steps/dical_{op.replace('-', '_')}.cwl" for op in DICAL_OPS}
    assert dical_steps | {"steps/di_calibrator.cwl", "steps/di_target.cwl", "workflows/di_calibrator.cwl",
                          "workflows/di_target.cwl"} <= names
    classifier_steps = {f"steps/classifier_{op.replace('-', '_')}.cwl" for op in CLASSIFIER_OPS}
    assert classifier_steps | {"steps/classify.cwl"} <= names


@pytest.mark.parametrize("cwl", CWL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_inputs_have_label_and_doc(cwl: Path) -> None:
    doc = load_cwl(cwl)
    assert doc["cwlVersion"] == "v1.2"
    missing = [inp["id"] for inp in as_list(doc["inputs"]) if not inp.get("label") or not inp.get("doc")]
    assert not missing, f"inputs without label or doc: {missing}"


# --------------------------------------------------------------------------- conventions


#: Log stems of the steps whose logs are named after an input (scattered steps).
LOG_STEMS = {"selfcal.cwl": "$(inputs.outdir_name)", "subtract.cwl": "$(inputs.job_name)",
             "peel.cwl": "$(inputs.job_name)", "final_image.cwl": "$(inputs.job_name)",
             "sva.cwl": "$(inputs.job_name)",
             "mosaic.cwl": "$(inputs.output_name.replace(/\\.fits$/i, ''))",
             "refine.cwl": "$(inputs.facet).refine",
             "secondary.cwl": "$(inputs.facet).secondary",
             "h5_merge_dd.cwl": "$(inputs.output_name.replace(/\\.h5$/, ''))"}


@pytest.mark.parametrize("cwl", STEP_TOOLS, ids=lambda p: p.name)
def test_step_tool_conventions(cwl: Path) -> None:
    doc = load_cwl(cwl)
    text = cwl.read_text()
    assert doc["class"] == "CommandLineTool"
    task = step_task(doc)

    env = requirement(doc, "requirements", "EnvVarRequirement")
    assert env is not None, "EnvVarRequirement missing"
    assert env["envDef"]["OPENBLAS_NUM_THREADS"] == "1"

    # Resources and the container image are hints; the image is pinned.
    resources = requirement(doc, "hints", "ResourceRequirement") or requirement(
        doc, "requirements", "ResourceRequirement")
    assert resources is not None, "ResourceRequirement missing"
    assert resources["coresMin"] == "$(inputs.cores)" and resources["ramMin"] == "$(inputs.ram_mb)"
    inputs = {inp["id"]: inp for inp in as_list(doc["inputs"])}
    for name in ("cores", "ram_mb"):
        assert cwl_type(inputs[name]["type"])[0] == "int" and inputs[name]["default"] > 0
    assert requirement(doc, "requirements", "DockerRequirement") is None
    docker = requirement(doc, "hints", "DockerRequirement")
    assert docker is not None and docker["dockerPull"] == "lofar-hires:0.1.0"

    # None of the steps updates its inputs in place or stages a writable input: the tasks that add
    # columns to a measurement set write a copy of it to the output MS they are told to, an output.
    assert "writable:" not in text
    if task in IN_PLACE:
        option = IN_PLACE[task]
        assert option in {long_option(a) for a in task_parser(task)._actions if a.option_strings}
        named = {a.get("prefix"): a.get("valueFrom") for a in doc.get("arguments", []) if isinstance(a, dict)}
        assert option in named, f"{cwl.name} must name the output MS with {option}"
        ms_outputs = [o for o in as_list(doc["outputs"]) if o["type"] == "Directory"
                      and o.get("outputBinding", {}).get("glob") == named[option]]
        assert ms_outputs, "the output MS must be an output of the step"

    # Exit status: the workflow engine retries only an external tool's failure (exit 3).
    assert doc["successCodes"] == [EXIT_OK]
    assert doc["temporaryFailCodes"] == [EXIT_TOOL_FAILED]
    assert sorted(doc["permanentFailCodes"]) == sorted([EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_QUALITY])

    # Logs: stdout and stderr go to named files that are outputs. Steps that workflows scatter name
    # them after the run's own output (a calibrator's directory, a merged file), so they stay apart.
    stem = LOG_STEMS.get(cwl.name, cwl.stem)
    assert doc["stdout"] == f"{stem}.log" and doc["stderr"] == f"{stem}.stderr.log"
    out_types = {str(o["type"]) for o in as_list(doc["outputs"])}
    assert {"stdout", "stderr"} <= out_types

    # Threads follow the granted cores where the task has a threads option or setting.
    options = {long_option(a) for a in task_parser(task)._actions if a.option_strings}
    arguments = {a.get("prefix"): a.get("valueFrom") for a in doc.get("arguments", []) if isinstance(a, dict)}
    if "--threads" in options:
        assert arguments.get("--threads") == "$(runtime.cores)"
    if task in THREADS_SETTING:
        assert "--set" in options and arguments.get("--set") == "threads=$(runtime.cores)"


@pytest.mark.parametrize("cwl", EXPRESSION_TOOLS, ids=lambda p: p.name)
def test_expression_tool_conventions(cwl: Path) -> None:
    """An expression tool of steps/ hints the image as every step does, declares its JavaScript, documents its
    inputs and outputs, and runs no program."""
    doc = load_cwl(cwl)
    assert doc["class"] == "ExpressionTool" and doc.get("label") and doc.get("doc")
    assert "baseCommand" not in doc and doc["expression"].strip().startswith("${")
    assert requirement(doc, "requirements", "InlineJavascriptRequirement") is not None
    assert requirement(doc, "requirements", "DockerRequirement") is None
    docker = requirement(doc, "hints", "DockerRequirement")
    assert docker is not None and docker["dockerPull"] == "lofar-hires:0.1.0"
    undocumented = [o["id"] for o in as_list(doc["outputs"]) if not o.get("label") or not o.get("doc")]
    assert not undocumented, f"outputs without label or doc: {undocumented}"


def test_expression_tools_exist() -> None:
    assert {p.name for p in EXPRESSION_TOOLS} >= {"gate_filter.cwl", "facet_datasets.cwl", "refined_pairs.cwl",
                                                  "corrected_datasets.cwl", "sva_facets.cwl", "prefix_names.cwl"}


@pytest.mark.parametrize("cwl", STEP_TOOLS, ids=lambda p: p.name)
def test_step_resources_follow_from_inputs(cwl: Path) -> None:
    """Every resource a step asks for is an expression of its inputs, never a constant; a step that writes
    measurement-set data reserves disk from the size of its input MS (listed deeply, so that runners that
    report file sizes give them), with the step's ``disk_mb`` as the least."""
    doc = load_cwl(cwl)
    task = step_task(doc)
    resources = requirement(doc, "hints", "ResourceRequirement") or requirement(
        doc, "requirements", "ResourceRequirement")
    assert resources is not None, "ResourceRequirement missing"
    inputs = {inp["id"]: inp for inp in as_list(doc["inputs"])}
    values = {k: v for k, v in resources.items() if k in RESOURCE_KEYS}
    assert set(resources) - {"class", "id"} == set(values), f"unknown keys in {sorted(resources)}"
    for key, value in values.items():
        assert isinstance(value, str) and re.fullmatch(r"\$\(.*\)|\$\{.*\}", value, re.S), \
            f"{key}: {value!r} is a constant, not an expression of the inputs"
        used = set(re.findall(r"inputs\.(\w+)", value))
        assert used and used <= set(inputs), f"{key}: {value!r} must refer to inputs of the step ({sorted(used)})"

    msin = inputs.get("msin")
    if task not in MS_DATA_WRITERS:
        assert not {"tmpdirMin", "outdirMin"} & set(values), f"{task} writes no measurement-set data"
        assert msin is None or "loadListing" not in msin, "a deep listing costs time; only the MS writers need it"
        return
    copies = MS_DATA_WRITERS[task]
    assert msin is not None and msin.get("loadListing") == "deep_listing", "msin needs its sizes: deep_listing"
    assert values["tmpdirMin"] == "$(diskMiB(inputs.msin, 1, inputs.disk_mb))"
    assert values["outdirMin"] == f"$(diskMiB(inputs.msin, {copies}, inputs.disk_mb))"
    assert cwl_type(inputs["disk_mb"]["type"])[0] == "int" and inputs["disk_mb"]["default"] > 0
    js = requirement(doc, "requirements", "InlineJavascriptRequirement")
    assert js is not None and {"$include": RESOURCES_JS.name} in js.get("expressionLib", [])


def _node() -> str:
    import shutil

    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("no node.js, which cwltool needs for JavaScript expressions")
    return node


@pytest.mark.parametrize("listing, copies, floor, expected", [
    ([{"class": "Directory", "listing": [
        {"class": "File", "size": 3 << 20},
        {"class": "Directory", "listing": [{"class": "File", "size": 1 << 20}, {"class": "Directory"}]}]}],
     2, 1, 8),
    ([{"class": "Directory", "listing": [{"class": "File", "size": 3 << 20}]}] * 3, 1, 1, 9),
    ({"class": "Directory", "listing": [{"class": "File", "size": (1 << 20) + 1}]}, 3, 1, 4),
    ([{"class": "Directory", "listing": [{"class": "File", "size": 5 << 20}]}], 2, 100, 100),
    ([{"class": "Directory", "listing": [{"class": "File"}]}], 2, 7, 7),  # sizes not reported (cwltool)
    ([{"class": "Directory"}, None], 2, 7, 7),  # no listing
], ids=["nested", "array", "round-up", "floor", "no-sizes", "no-listing"])
def test_disk_expression_sums_listed_sizes(listing, copies: int, floor: int, expected: int) -> None:
    """``diskMiB`` of steps/resources.js: copies x the listed sizes in MiB, rounded up, at least the floor."""
    script = (RESOURCES_JS.read_text() + f"\nprocess.stdout.write(String(diskMiB({json.dumps(listing)}, "
              f"{copies}, {floor})));\n")
    proc = subprocess.run([_node()], input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == expected


@pytest.mark.parametrize("cwl", STEP_TOOLS, ids=lambda p: p.name)
def test_step_doc_names_its_command_module(cwl: Path) -> None:
    """A step's doc names the module of its command (``lofar-hires dical solve`` -> lofar_hires.cli.dical.solve)."""
    import importlib

    from lofar_hires.cli import TASKS

    doc = load_cwl(cwl)
    words = step_task(doc).split()
    module = TASKS[words[0]]
    if len(words) == 2:
        module = importlib.import_module(module).COMMANDS[words[1]]
    assert f"Command module: {module}." in doc["doc"]
    assert importlib.import_module(module).HELP


# --------------------------------------------------------------------------- CLI consistency


@pytest.mark.parametrize("cwl", STEP_TOOLS, ids=lambda p: p.name)
def test_step_tool_matches_cli(cwl: Path) -> None:
    doc = load_cwl(cwl)
    task = step_task(doc)
    parser = task_parser(task)
    actions = {long_option(a): a for a in parser._actions if a.option_strings}
    positionals = [a for a in parser._actions if not a.option_strings]

    inputs = as_list(doc["inputs"])
    bound = {prefix_of(inp): inp for inp in inputs if prefix_of(inp)}
    # Several inputs may bind one option (e.g. --time-grid as a keyword or as a file): check them all.
    bindings = [(prefix_of(inp), inp) for inp in inputs if prefix_of(inp)]
    from_arguments = {a["prefix"] for a in doc.get("arguments", []) if isinstance(a, dict) and "prefix" in a}

    # 1. Every binding names a real option of the task.
    unknown = sorted((set(bound) | from_arguments) - set(actions))
    assert not unknown, f"{cwl.name} binds options that `lofar-hires {task}` does not have: {unknown}"

    # 2. Every option of the task is exposed, or listed as a deliberate exception.
    exceptions = NOT_EXPOSED[task]
    stale = sorted(set(exceptions) - set(actions))
    assert not stale, f"NOT_EXPOSED lists options that `lofar-hires {task}` no longer has: {stale}"
    hidden = sorted(set(actions) - set(bound) - from_arguments - set(exceptions))
    assert not hidden, f"options of `lofar-hires {task}` missing from {cwl.name}: {hidden}"

    # 3. Positional arguments are bound by position, in order, under the same names.
    positional_names = {a.dest for a in positionals}
    by_position = sorted(
        (inp for inp in inputs
         if inp.get("inputBinding") is not None and not prefix_of(inp)
         and ("valueFrom" not in inp["inputBinding"] or inp["id"] in positional_names)),
        key=lambda inp: inp["inputBinding"].get("position", 0))
    assert [inp["id"] for inp in by_position] == [a.dest for a in positionals]
    for inp, action in zip(by_position, positionals):
        base, is_array, optional, _ = cwl_type(inp["type"])
        assert not optional, f"positional {inp['id']} must be required"
        assert is_array == (action.nargs in ("+", "*")), inp["id"]

    # 4. Types agree with argparse: flags, enumerations, numbers, repeatable options.
    for option, inp in bindings:
        action = actions[option]
        base, is_array, optional, symbols = cwl_type(inp["type"])
        where = f"{cwl.name} input {inp['id']} ({option})"
        if isinstance(action, argparse._StoreTrueAction) or action.nargs == 0:  # a flag
            assert base == "boolean" and not is_array, where
            continue
        choices = action.choices
        if choices is not None:
            assert base == "enum" and sorted(symbols) == sorted(choices), where
        elif action.type is int:
            assert base == "int", where
        elif action.type is float:
            assert base == "float", where
        elif action.type is Path:
            assert base in ("File", "Directory", "path", "string"), where
        elif (task, option) in TEXT_OPTION_AS_FILE:
            assert base == "File", where
        else:
            # A text option may also accept a path (e.g. --time-grid finest|FILE): a File/Directory input.
            assert base in ("string", "path"), where
        repeatable = isinstance(action, argparse._AppendAction) or action.nargs not in (None, "?")
        assert is_array == repeatable, f"{where}: array type must match a repeatable option"
        # Options with a CLI default are optional in CWL or carry a default.
        if action.default is not None and not action.required:
            assert optional or "default" in inp, f"{where} should be optional (the CLI has a default)"


# --------------------------------------------------------------------------- end to end


def test_h5_reset_and_info_step_tools(tmp_path: Path) -> None:
    """``h5_reset.cwl`` resets the core stations; ``h5_info.cwl`` describes its output as JSON."""
    import numpy as np

    from conftest import example_solset
    from lofar_hires.io.h5parm import read_h5parm, write_solset

    solset = example_solset()
    src = write_solset(tmp_path / "in.h5", solset)
    tmp = tmp_path / "tmp"
    env = tool_env(tmp)
    common = [str(VENV_BIN / "cwltool"), "--no-container", "--tmpdir-prefix", f"{tmp}/",
              "--tmp-outdir-prefix", f"{tmp}/"]
    reset_dir = tmp_path / "reset"
    out = run_runner([*common, "--outdir", str(reset_dir), str(STEPS / "h5_reset.cwl"), "--h5parm", str(src),
                      "--stations", "core,RS106*", "--output_name", "core_reset.h5"],
                     cwd=tmp_path, env=env, log=tmp_path / "reset.cwltool.log")
    reset = Path(out["h5parm_out"]["path"])
    assert reset.parent == reset_dir and reset.name == "core_reset.h5"
    log_text = Path(out["stderr_log"]["path"]).read_text()
    assert "reset 4 station(s) in amplitude000, phase000: CS001HBA0, CS002HBA0, CS002HBA1, RS106HBA" in log_text
    got = read_h5parm(reset)
    np.testing.assert_array_equal(got.soltabs["phase000"].val[:, :, :4], 0.0)
    np.testing.assert_array_equal(got.soltabs["amplitude000"].val[:, :, :4], 1.0)
    np.testing.assert_array_equal(got.soltabs["phase000"].val[:, :, 4:], solset.soltabs["phase000"].val[:, :, 4:])

    out = run_runner([*common, "--outdir", str(tmp_path / "info"), str(STEPS / "h5_info.cwl"), "--h5parm", str(reset),
                      "--json"], cwd=tmp_path, env=env, log=tmp_path / "info.cwltool.log")
    info = json.loads(Path(out["log"]["path"]).read_text())
    (ss,) = info["solsets"]
    tabs = {t["name"]: t for t in ss["soltabs"]}
    assert ss["antennas"] == solset.antenna_names and sorted(tabs) == ["amplitude000", "phase000"]
    assert tabs["phase000"]["axes"]["time"]["span_s"] == 40.0 and tabs["phase000"]["basis"] == "linear"
    weight = solset.soltabs["phase000"].weight
    assert tabs["phase000"]["flagged_fraction"] == float((weight == 0).mean())


def test_h5_merge_step_tool(tmp_path: Path) -> None:
    """``h5_merge.cwl`` merges two h5parms (one with a soltab selection) like the library does."""
    import numpy as np

    from conftest import example_solset
    from lofar_hires.io.h5parm import read_h5parm, write_solset
    from lofar_hires.solutions.merge import MergeInput, merge_h5parms

    a = write_solset(tmp_path / "a.h5", example_solset(seed=1))
    b = write_solset(tmp_path / "b.h5", example_solset(seed=2, soltypes=("phase", "amplitude", "tec")))
    tmp = tmp_path / "tmp"
    out = run_runner([str(VENV_BIN / "cwltool"), "--no-container", "--tmpdir-prefix", f"{tmp}/",
                      "--tmp-outdir-prefix", f"{tmp}/", "--outdir", str(tmp_path / "out"),
                      str(STEPS / "h5_merge.cwl"), "--h5parms", str(a), "--h5parms", str(b),
                      "--selections", "", "--selections", "sol000/phase000,tec000"],
                     cwd=tmp_path, env=tool_env(tmp), log=tmp_path / "merge.cwltool.log")
    merged = read_h5parm(Path(out["merged"]["path"]))
    expected = tmp_path / "expected.h5"
    merge_h5parms([MergeInput(a), MergeInput.parse(f"{b}:sol000/phase000,tec000")], expected)
    want = read_h5parm(expected)
    for name in ("amplitude000", "phase000"):
        np.testing.assert_array_equal(merged.soltabs[name].val, want.soltabs[name].val)
        np.testing.assert_array_equal(merged.soltabs[name].weight, want.soltabs[name].weight)
    assert "diagonal solutions" in Path(out["log"]["path"]).read_text()


@pytest.mark.slow
def test_simulate_workflow_cwltool(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    tmp = tmp_path / "tmp"
    env = tool_env(tmp)
    out = run_runner(
        [str(VENV_BIN / "cwltool"), "--no-container", "--outdir", str(outdir),
         "--tmpdir-prefix", f"{tmp}/", "--tmp-outdir-prefix", f"{tmp}/",
         str(SIMULATE_WORKFLOW), str(TINY_JOB)],
        cwd=tmp_path, env=env, log=tmp_path / "cwltool.log")
    check_workflow_outputs(out, outdir)


@pytest.mark.slow
def test_simulate_workflow_toil(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    # --no-container: otherwise toil first tries to pull the hinted Docker image.
    out = run_runner(
        [str(VENV_BIN / "toil-cwl-runner"), "--no-container", "--batchSystem", "single_machine",
         "--jobStore", str(tmp_path / "js"), "--workDir", str(tmp_path / "w"), "--outdir", str(outdir),
         str(SIMULATE_WORKFLOW), str(TINY_JOB)],
        cwd=tmp_path, env=tool_env(tmp_path / "tmp"), log=tmp_path / "toil.log")
    check_workflow_outputs(out, outdir)


def test_dical_solve_step_tool_orders_corrections(tmp_path: Path) -> None:
    """``dical_solve.cwl`` passes the corrections in Jones-chain order, and parses back to that order.

    A stand-in ``lofar-hires`` (first on PATH) records its arguments and makes the outputs, so
    that the tool's command line is checked in a second; the output MS is the one named by
    ``--output-ms`` (the input's name, in the step's output directory) and the input MS is not touched.
    """
    from lofar_hires.cli.dical.solve import corrections_from
    from lofar_hires.provenance import sha256_file

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "lofar-hires"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\nprev=""\nfor a in "$@"; do\n'
                    '  [ "$prev" = "--output-ms" ] && out="$a"\n  prev="$a"\ndone\n'
                    'mkdir -p dp3_logs "$out" && touch dp3_logs/solve.log solutions.h5 "$out/CHANGED"\n')
    fake.chmod(0o755)
    ms = tmp_path / "cal.MS"
    ms.mkdir()
    (ms / "table.dat").write_text("not a real table\n")
    for name in ("polalign.h5", "bandpass.h5", "faraday.h5"):
        (tmp_path / name).write_text(name)
    tmp = tmp_path / "tmp"
    env = tool_env(tmp)
    env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    out = run_runner([str(VENV_BIN / "cwltool"), "--no-container", "--tmpdir-prefix", f"{tmp}/",
                      "--tmp-outdir-prefix", f"{tmp}/", "--outdir", str(tmp_path / "out"),
                      str(STEPS / "dical_solve.cwl"), "--msin", str(ms), "--mode", "diagonal",
                      "--apply", str(tmp_path / "polalign.h5"), "--apply", str(tmp_path / "bandpass.h5"),
                      "--apply_soltabs", "polalign", "--apply_soltabs", "",
                      "--apply_beam", "--apply_after_beam", str(tmp_path / "faraday.h5"),
                      "--apply_after_beam_soltabs", "faraday", "--model_column", "MODEL_CORRUPTED",
                      "--overrides", "solve.solint_s=2", "--cores", "3"],
                     cwd=tmp_path, env=env, log=tmp_path / "solve.cwltool.log")
    argv = Path(out["log"]["path"]).read_text().split("\n")[:-1]
    assert argv[:2] == ["dical", "solve"]
    applied = [Path(b).name for a, b in zip(argv, argv[1:]) if a == "--apply"]
    assert applied == ["polalign.h5:polalign", "bandpass.h5", "faraday.h5:faraday"]
    order = [a for a in argv if a in ("--apply", "--apply-beam")]
    assert order == ["--apply", "--apply", "--apply-beam", "--apply"]
    sets = [b for a, b in zip(argv, argv[1:]) if a == "--set"]
    assert sets == ["threads=3", "solve.solint_s=2"]  # the user's overrides come last and win
    assert "MODEL_CORRUPTED" in argv and argv[-1].endswith("/cal.MS")
    assert argv[argv.index("--output-ms") + 1] == "cal.MS"
    ms_out = Path(out["ms_out"]["path"])
    assert ms_out.name == "cal.MS" and ms_out.resolve() != ms.resolve()
    assert (ms_out / "CHANGED").is_file() and not (ms / "CHANGED").exists()
    assert sha256_file(ms / "table.dat") == hashlib.sha256(b"not a real table\n").hexdigest()

    # The CLI turns that command line into corrections in the same order.
    args = build_parser().parse_args(argv + ["-o", str(tmp_path / "x.h5")])
    assert [kind for kind, _ in args.corrections] == ["h5parm", "h5parm", "beam", "h5parm"]
    from conftest import example_solset
    from lofar_hires.io.h5parm import Soltab, write_h5parm

    sol = example_solset()
    tab = sol.soltabs["phase000"]
    for name in ("polalign", "bandpass", "faraday"):
        path = tmp_path / f"{name}.h5"
        path.unlink()
        write_h5parm(path, [Soltab(name, "phase", tab.axes, tab.val, tab.weight)], sol.antenna_names,
                     sol.antenna_positions_m, sol.directions)
    def here(value: str) -> str:  # the staged path -> the same file in tmp_path
        path, sep, tabs = value.partition(":")
        return str(tmp_path / Path(path).name) + sep + tabs

    local = [(kind, here(value) if value else value) for kind, value in args.corrections]
    corrections = corrections_from(local)
    assert [(c.h5parm.name if c.h5parm else None, c.soltabs, c.beam) for c in corrections] == [
        ("polalign.h5", ("polalign",), False), ("bandpass.h5", ("bandpass",), False), (None, (), True),
        ("faraday.h5", ("faraday",), False)]
