"""The newcomer's path: the README's set-up runs as written, and the files that describe it agree.

* The README section "Using it without make" has two shell blocks: the one-off install (the
  same commands as the Makefile's ``system-deps``/``venv`` targets, checked here line by line)
  and the commands of every new shell, which run here as written, in a temporary directory
  whose ``.venv`` is the environment running the tests (so the install block is the one part
  not executed: ``make setup`` ran the same commands).
* docs/cluster.md: its laptop commands are among those, and its toil command parses with toil's
  own option parser (SLURM itself is exercised by tests/test_slurm.py).
* ``requires-python`` is the oldest Python that every pinned distribution supports.
* containers/Containerfile installs the Makefile's Debian packages, uses the constraints and a
  Python that ``requires-python`` accepts (tests/test_containers.py checks it further and compares
  it with the Apptainer definition).
* casacore's leap-second table is current: no "SEVERE ... TAI_UTC seems out-of-date" message.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CLUSTER_DOC = REPO / "docs" / "cluster.md"
MAKEFILE = REPO / "Makefile"
DOCKERFILE = REPO / "containers" / "Containerfile"
CONTAINERS_README = REPO / "containers" / "README.md"
VENV_BIN = Path(sys.executable).parent

#: A PATH without any virtual environment: what a fresh shell has.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: The Python 3 of each Debian release a Dockerfile may start from.
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
#: Python minor versions considered when finding the oldest one a specifier accepts.
PYTHON_MINORS = [Version(f"3.{minor}") for minor in range(6, 20)]


def section_blocks(markdown: str, heading: str, language: str = "bash") -> list[str]:
    """The fenced ``language`` blocks of the section that starts with the line ``heading``."""
    lines = markdown.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    blocks: list[str] = []
    current: list[str] | None = None
    in_fence = False
    for line in lines[lines.index(heading) + 1:]:
        fence = line.strip().startswith("```")
        if not in_fence and not fence and re.match(rf"#{{1,{level}}} ", line):
            break  # the next section of the same or a higher level
        if fence:
            if not in_fence and line.strip() == f"```{language}":
                current = []
            elif in_fence and current is not None:
                blocks.append("\n".join(current))
                current = None
            in_fence = not in_fence
        elif current is not None:
            current.append(line)
    return blocks


def commands(block: str) -> list[list[str]]:
    """The commands of a shell block as argument lists (continuations joined, comments dropped)."""
    joined = block.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def makefile_variables(text: str) -> dict[str, str]:
    """``NAME := value`` and ``NAME ?= value`` assignments, with ``$(NAME)`` references expanded."""
    values: dict[str, str] = {}
    for match in re.finditer(r"^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", text, flags=re.MULTILINE):
        values[match.group(1)] = expand(match.group(2), values)
    return values


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], text)


def makefile_recipe(text: str, pattern: str) -> list[str]:
    """The one recipe line of the Makefile that matches ``pattern``, expanded and split."""
    values = makefile_variables(text)
    lines = [line.strip().lstrip("@") for line in text.splitlines()
             if line.startswith("\t") and re.search(pattern, line)]
    assert len(lines) == 1, f"{MAKEFILE}: expected one recipe line matching {pattern!r}, got {lines}"
    return shlex.split(expand(lines[0], values))


def oldest_python(spec: SpecifierSet) -> Version:
    return next(version for version in PYTHON_MINORS if version in spec)


def dockerfile_instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(part.split()) for part in "\n".join(lines).replace("\\\n", " ").splitlines() if part.strip()]


def apt_installed(instruction: str) -> set[str]:
    """Packages named by ``apt-get install`` in one RUN instruction (options and later commands dropped)."""
    packages: set[str] = set()
    for command in instruction.split("&&"):
        words = command.split()
        if "apt-get" in words and "install" in words:
            packages |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return packages


@pytest.fixture(scope="module")
def readme_blocks() -> list[str]:
    blocks = section_blocks(README.read_text(), "## Using it without make")
    assert len(blocks) == 2, f"{README}: 'Using it without make' needs an install block and a usage block"
    return blocks


def test_section_blocks_stop_at_the_next_section() -> None:
    text = "# T\n## A\n```bash\n# a comment, not a heading\necho a\n```\n## B\n```bash\necho b\n```\n"
    assert section_blocks(text, "## A") == ["# a comment, not a heading\necho a"]
    assert commands("sudo x \\\n  -y  # note\n\n# only a comment\ny 'a b'") == [["sudo", "x", "-y"], ["y", "a b"]]


def test_readme_install_block_is_what_make_setup_runs(readme_blocks: list[str]) -> None:
    make = MAKEFILE.read_text()
    variables = makefile_variables(make)
    apt, venv, pip = commands(readme_blocks[0])

    assert apt[:4] == ["sudo", "apt-get", "install", "-y"], apt
    assert sorted(apt[4:]) == sorted(variables["APT_RUNTIME"].split()), "README and Makefile APT_RUNTIME differ"
    make_venv = makefile_recipe(make, r"-m venv")  # test -x .venv/bin/python || python3 -m venv .venv
    assert venv == make_venv[make_venv.index("||") + 1:], venv
    make_pip = [word for word in makefile_recipe(make, r"install .*-c constraints\.txt") if word != "--quiet"]
    assert pip == make_pip, f"README: {shlex.join(pip)}; Makefile: {shlex.join(make_pip)}"
    # What the Makefile adds on top: the SLURM packages for the local cluster tests only.
    assert set(variables["APT_PACKAGES"].split()) == set(apt[4:]) | set(variables["APT_SLURM"].split())


@pytest.mark.slow
def test_readme_usage_block_runs_as_written(readme_blocks: list[str], tmp_path: Path) -> None:
    """Runs the usage block in a fresh shell (about 30 s: a tiny simulation and cwltool)."""
    if sys.prefix == sys.base_prefix or not (VENV_BIN / "activate").is_file():
        pytest.skip("the tests do not run in a virtual environment that the recipe could activate")
    if shutil.which("lofar-hires", path=SYSTEM_PATH):
        pytest.skip("lofar-hires is installed system-wide: the recipe's activation cannot be tested")
    block = readme_blocks[1]
    work = tmp_path / "work"
    work.mkdir()
    # The repository root as the recipe needs it, without copying: the environment and the CWL files.
    (work / ".venv").symlink_to(sys.prefix)
    for name in ("workflows", "steps"):
        (work / name).symlink_to(REPO / name)
    (tmp_path / "tmp").mkdir()
    env = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", str(tmp_path)), "LANG": "C.UTF-8",
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.run(["bash", "-e", "-c", block], cwd=work, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"{block}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    version = importlib.metadata.version("lofar-hires")
    assert f"lofar-hires {version}" in proc.stdout
    assert (work / "sim" / "simulation.json").is_file() and (work / "sim" / "target_obs01.MS").is_dir()
    assert (work / "out" / "comparison.json").is_file() and (work / "out" / "target-image.fits").is_file()


def test_cluster_recipes(readme_blocks: list[str]) -> None:
    text = CLUSTER_DOC.read_text()
    (laptop,) = section_blocks(text, "## Laptop")
    tested = commands(readme_blocks[1])
    untested = [shlex.join(command) for command in commands(laptop) if command not in tested]
    assert not untested, f"{CLUSTER_DOC}: laptop commands that the README test does not run: {untested}"

    (slurm,) = section_blocks(text, "## SLURM with toil")
    slurm_commands = commands(slurm)
    assert ["source", ".venv/bin/activate"] in slurm_commands
    assert ["export", "TOIL_SLURM_ARGS=--export=ALL"] in slurm_commands
    (toil,) = [command for command in slurm_commands if command[0] == "toil-cwl-runner"]
    # toil's own parser: an unknown option would end up among the workflow's inputs (cwljob).
    probe = ("import json, sys\nfrom toil.cwl.cwltoil import get_options\n"
             "o = get_options(sys.argv[1:])\n"
             "print(json.dumps({'workflow': o.cwltool, 'job': o.cwljob, 'batch': o.batchSystem}))")
    proc = subprocess.run([sys.executable, "-c", probe, *toil[1:]], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    workflow, job = toil[-2:]
    assert parsed == {"workflow": workflow, "job": [job], "batch": "slurm"}, parsed
    assert (REPO / workflow).is_file() and (REPO / job).is_file()


def test_requires_python_is_the_oldest_python_of_the_pins() -> None:
    requires = SpecifierSet(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"])
    floors: dict[str, Version] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        name, _, pinned = line.partition("==")
        try:
            dist = importlib.metadata.distribution(name.strip())
        except importlib.metadata.PackageNotFoundError:
            continue
        if dist.version == pinned.strip() and dist.metadata.get("Requires-Python"):
            floors[f"{name}=={pinned}"] = oldest_python(SpecifierSet(dist.metadata["Requires-Python"]))
    assert len(floors) > 20, "too few pinned distributions installed to judge"
    floor = max(floors.values())
    culprits = sorted(pin for pin, version in floors.items() if version == floor)
    assert oldest_python(requires) == floor, f"requires-python {requires}; the pins need {floor}: {culprits[:5]}"
    assert Version(f"{sys.version_info.major}.{sys.version_info.minor}") in requires


def test_dockerfile_agrees_with_makefile_and_pyproject() -> None:
    variables = makefile_variables(MAKEFILE.read_text())
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    (base,) = [i.split()[1] for i in instructions if i.startswith("FROM ")]
    # FROM ${BASE_IMAGE}: the default of the build argument (tools/build_container.sh may pass another).
    args = dict(i[4:].split("=", 1) for i in instructions if i.startswith("ARG ") and "=" in i)
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    release = base.split(":")[1].removesuffix("-slim")
    requires = SpecifierSet(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"])
    assert release in DEBIAN_PYTHON, f"{DOCKERFILE}: unknown base image {base}"
    assert Version(DEBIAN_PYTHON[release]) in requires, f"{base} has Python {DEBIAN_PYTHON[release]}"

    apt = set().union(*(apt_installed(i) for i in instructions if i.startswith("RUN ")))
    missing = set(variables["APT_RUNTIME"].split()) - apt
    assert not missing, f"{DOCKERFILE} does not install the Makefile's {sorted(missing)}"

    runs = [i for i in instructions if i.startswith("RUN ")]
    assert "COPY constraints.txt /constraints.txt" in instructions
    assert any(re.search(r"pip install .*-c /constraints\.txt", i) for i in runs)
    upgrade = makefile_recipe(MAKEFILE.read_text(), r"install --quiet --upgrade")
    assert any(shlex.join(upgrade[upgrade.index("--upgrade"):]) in shlex.join(shlex.split(i)) for i in runs)

    doc = CONTAINERS_README.read_text()
    assert f"`{base}`" in doc and f"Python {DEBIAN_PYTHON[release]}" in doc
    assert "docker build -t lofar-hires:0.1.0 -f containers/Containerfile ." in doc


def test_docs_cite_no_internal_specification() -> None:
    files = [README, CONTAINERS_README, *sorted((REPO / "docs").rglob("*.md"))]
    hits = [f"{path.relative_to(REPO)}:{number}" for path in files
            for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\bSPEC\b", line)]
    assert not hits, hits


def test_no_casacore_leap_second_warning(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("CASARCFILES", None)
    proc = subprocess.run([str(VENV_BIN / "lofar-hires"), "simulate", "--preset", "tiny", "--outdir",
                           str(tmp_path / "sim")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert "SEVERE" not in output and "out-of-date" not in output, output[-2000:]
