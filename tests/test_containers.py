"""The container definitions: containers/Containerfile (Docker/Podman) and containers/lofar-hires.def
(Apptainer/Singularity) install the same things as the Makefile and as each other, and the CWL steps
name the image they build.

* both install the Makefile's ``APT_RUNTIME`` Debian packages and nothing else but ``IMAGE_ONLY``
  (what a full Debian system has but a minimal base lacks), the package with ``-c constraints.txt``,
  the same pip/setuptools floors as the Makefile, and set ``OPENBLAS_NUM_THREADS=1`` (DP3 refuses
  to run without it);
* both start from the same Debian release, label the image with the version of ``pyproject.toml``,
  and check ``lofar-hires``, ``wsclean`` and DP3's entry point (the one the pinned dp3 wheel installs);
* every ``steps/*.cwl`` hints ``lofar-hires:<version>``;
* ``tools/build_container.sh`` parses, refuses bad arguments and a missing runtime with one line
  and exit status 2; the Makefile's ``container`` target calls it and ``make test`` does not;
* ``slow``: where podman runs and the image exists, ``lofar-hires --version`` runs inside it.

No test here builds an image (``make container`` does, in minutes).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CONTAINERFILE = REPO / "containers" / "Containerfile"
DEFFILE = REPO / "containers" / "lofar-hires.def"
MAKEFILE = REPO / "Makefile"
BUILD_SCRIPT = REPO / "tools" / "build_container.sh"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"lofar-hires:{VERSION}"

#: yaml.safe_load's loader, in C where PyYAML has it (46 step files parse in 0.1 s instead of 1 s).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Debian packages the images install beyond the Makefile's APT_RUNTIME: a full Debian system has
#: python3 and CA certificates.
IMAGE_ONLY = {"python3", "ca-certificates"}
#: The Debian release of each base image the Containerfile may start from.
DEBIAN_RELEASES = {"debian:bookworm-slim": "bookworm", "debian:bookworm": "bookworm"}


def makefile_variables(text: str) -> dict[str, str]:
    """``NAME := value`` assignments of the Makefile (values as written)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", text, re.MULTILINE)}


def shell_lines(text: str) -> list[str]:
    """Lines with comments dropped, continuation lines joined and blanks squeezed."""
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [" ".join(line.split()) for line in kept.replace("\\\n", " ").splitlines() if line.strip()]


def commands(lines: list[str]) -> list[list[str]]:
    """The simple commands of shell lines, split at ``&&`` and ``;`` and as argument lists."""
    found = []
    for line in lines:
        for part in re.split(r"&&|;", line):
            words = shlex.split(part)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if words:
                found.append(words)
    return found


def apt_packages(cmds: list[list[str]]) -> set[str]:
    packages: set[str] = set()
    for words in cmds:
        if words[:1] == ["apt-get"] and "install" in words:
            packages |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return packages


def pip_commands(cmds: list[list[str]]) -> list[list[str]]:
    return [words for words in cmds if words[:2] == ["pip", "install"]]


def containerfile() -> dict[str, object]:
    """Base image, RUN commands, ENV, labels and COPY sources of the Containerfile."""
    lines = shell_lines(CONTAINERFILE.read_text())
    args = {}
    for line in lines:
        if line.startswith("ARG ") and "=" in line:
            name, _, value = line[4:].partition("=")
            args[name] = value
    (base,) = [line.split()[1] for line in lines if line.startswith("FROM ")]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    runs = [re.sub(r"^RUN (--mount=\S+ )*", "", line) for line in lines if line.startswith("RUN ")]
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    for line in lines:
        keyword, _, rest = line.partition(" ")
        if keyword in ("ENV", "LABEL"):
            pairs = dict(word.split("=", 1) for word in shlex.split(rest))
            (env if keyword == "ENV" else labels).update(pairs)
    copies = [line.split()[1:] for line in lines if line.startswith("COPY ")]
    return {"base": base, "commands": commands(runs), "env": env, "labels": labels, "copies": copies}


def deffile() -> dict[str, object]:
    """Header, sections and the parsed %post, %environment, %labels, %files, %test of the def file."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in DEFFILE.read_text().splitlines():
        if match := re.match(r"^%(\w+)\s*$", line):
            current = sections.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
        elif (match := re.match(r"^(\w+):\s*(.*)$", line)):
            header[match.group(1)] = match.group(2).strip()
    env = {}
    for line in shell_lines("\n".join(sections["environment"])):
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    labels = dict(line.split(None, 1) for line in shell_lines("\n".join(sections["labels"])))
    files = [line.split() for line in shell_lines("\n".join(sections["files"]))]
    return {"header": header, "commands": commands(shell_lines("\n".join(sections["post"]))), "env": env,
            "labels": labels, "files": files, "test": commands(shell_lines("\n".join(sections["test"])))}


@pytest.fixture(scope="module")
def both() -> dict[str, dict[str, object]]:
    return {"Containerfile": containerfile(), "lofar-hires.def": deffile()}


def test_parsers_see_continued_commands() -> None:
    lines = shell_lines("RUN a \\\n    && apt-get install -y --no-install-recommends \\\n   x y \\\n  && b\n# c \\\n")
    assert commands(lines) == [["RUN", "a"], ["apt-get", "install", "-y", "--no-install-recommends", "x", "y"],
                               ["b"]]
    assert apt_packages(commands(lines)) == {"x", "y"}


def test_both_install_the_makefile_packages(both: dict[str, dict[str, object]]) -> None:
    runtime = set(makefile_variables(MAKEFILE.read_text())["APT_RUNTIME"].split())
    assert {"wsclean", "casacore-data", "python3-venv"} <= runtime
    for name, definition in both.items():
        apt = apt_packages(definition["commands"])
        assert runtime <= apt, f"{name} lacks the Makefile's {sorted(runtime - apt)}"
        assert apt - runtime <= IMAGE_ONLY, f"{name} installs {sorted(apt - runtime - IMAGE_ONLY)} beyond APT_RUNTIME"
        assert "libglib2.0-0" in apt, f"{name}: the dp3 wheel needs libglib-2.0.so.0"
    assert apt_packages(both["Containerfile"]["commands"]) == apt_packages(both["lofar-hires.def"]["commands"])


def test_both_install_the_package_with_the_constraints(both: dict[str, dict[str, object]]) -> None:
    make = MAKEFILE.read_text()
    (upgrade,) = [shlex.split(line.strip()) for line in make.splitlines() if "install --quiet --upgrade" in line]
    floors = upgrade[upgrade.index("--upgrade") + 1:]
    expected = [["pip", "install", "--no-cache-dir", "--upgrade", *floors],
                ["pip", "install", "--no-cache-dir", "-c", "/constraints.txt", "/src/lofar-hires"]]
    for name, definition in both.items():
        assert pip_commands(definition["commands"]) == expected, name
        assert ["python3", "-m", "venv", "${VIRTUAL_ENV}"] in definition["commands"], name
    assert ["constraints.txt", "/constraints.txt"] in both["Containerfile"]["copies"]
    assert ["constraints.txt", "/constraints.txt"] in both["lofar-hires.def"]["files"]
    # The package's build inputs are copied by both.
    for source in ("pyproject.toml", "README.md", "configs", "src"):
        assert any(source in copy[:-1] for copy in both["Containerfile"]["copies"]), source
        assert any(copy[0] == source for copy in both["lofar-hires.def"]["files"]), source


def test_both_set_the_same_environment(both: dict[str, dict[str, object]]) -> None:
    docker_env, def_env = both["Containerfile"]["env"], both["lofar-hires.def"]["env"]
    for env in (docker_env, def_env):
        assert env["OPENBLAS_NUM_THREADS"] == "1"
        assert env["VIRTUAL_ENV"] == "/opt/lofar-hires"
        assert env["PATH"].split(":")[0] in ("${VIRTUAL_ENV}/bin", "/opt/lofar-hires/bin")
    assert set(docker_env) == set(def_env)
    post_exports = {w[1].split("=")[0] for w in both["lofar-hires.def"]["commands"] if w[0] == "export"}
    assert "OPENBLAS_NUM_THREADS" in post_exports, "%post must set it too: it checks DP3.py"


def test_both_build_the_pyproject_version_on_the_same_release(both: dict[str, dict[str, object]]) -> None:
    docker, apptainer = both["Containerfile"], both["lofar-hires.def"]
    assert docker["base"] in DEBIAN_RELEASES, f"{CONTAINERFILE}: unknown default base {docker['base']}"
    assert apptainer["header"]["Bootstrap"] == "debootstrap"
    assert apptainer["header"]["OSVersion"] == DEBIAN_RELEASES[docker["base"]]
    assert apptainer["header"]["MirrorURL"].startswith("http")
    assert docker["labels"]["org.opencontainers.image.version"] == VERSION
    assert apptainer["labels"]["org.opencontainers.image.version"] == VERSION


def test_both_check_the_tools_with_the_entry_point_dp3_installs(both: dict[str, dict[str, object]]) -> None:
    try:
        scripts = {ep.name for ep in importlib.metadata.distribution("dp3").entry_points
                   if ep.group == "console_scripts"}
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("dp3 is not installed here")
    assert "DP3.py" in scripts, scripts
    checks = [["lofar-hires", "--version"], ["wsclean", "--version"], ["DP3.py", "--version"]]
    for check in checks:
        assert check in both["Containerfile"]["commands"], check
        assert check in both["lofar-hires.def"]["test"], check


def test_every_step_hints_the_image() -> None:
    steps = sorted((REPO / "steps").glob("*.cwl"))
    assert len(steps) > 20
    wrong = {}
    for cwl in steps:
        hints = yaml.load(cwl.read_text(), Loader=SAFE_LOADER).get("hints", {})
        if isinstance(hints, list):
            hints = {hint["class"]: hint for hint in hints}
        pulled = hints.get("DockerRequirement", {}).get("dockerPull")
        if pulled != IMAGE:
            wrong[cwl.name] = pulled
    assert not wrong, f"steps whose DockerRequirement hint is not {IMAGE}: {wrong}"


def test_makefile_container_target_calls_the_script() -> None:
    make = MAKEFILE.read_text()
    phony = re.search(r"^\.PHONY:(.*)$", make, re.MULTILINE).group(1).split()
    assert "container" in phony
    recipe = re.search(r"^container:.*\n((?:\t.*\n)+)", make, re.MULTILINE)
    assert recipe and "tools/build_container.sh" in recipe.group(1)
    test_line = re.search(r"^test:(.*)$", make, re.MULTILINE).group(1)
    assert "container" not in test_line


def restricted_path(tmp_path: Path) -> str:
    """A PATH with only what the build script needs before it looks for the runtime."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "sed", "head", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return str(bin_dir)


@pytest.mark.parametrize("arguments, message", [
    (["podman"], "podman is not installed"),
    (["docker", "--base", "debootstrap"], "docker is not installed"),
    (["apptainer"], "neither apptainer nor singularity is installed"),
    (["podman", "--base", "nowhere"], "--base must be debootstrap or registry, not 'nowhere'"),
    (["apptainer", "--base", "registry"], "use --base debootstrap"),
    (["kubernetes; rm -rf /"], "unknown argument 'kubernetes; rm -rf /'"),
    (["podman", "--base"], "--base needs a value"),
])
def test_build_script_refuses_in_one_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    env = {"PATH": restricted_path(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([shutil.which("bash"), str(BUILD_SCRIPT), *arguments], env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / ".cache").exists(), "nothing may be written before the checks pass"


def test_build_script_parses_and_documents_itself() -> None:
    proc = subprocess.run(["bash", "-n", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert os.access(BUILD_SCRIPT, os.X_OK)
    proc = subprocess.run(["bash", str(BUILD_SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "--base debootstrap" in proc.stdout and proc.stdout.startswith("Build the")


def podman_runs_image() -> str | None:
    """Why the image cannot be run here, or None where podman has it and can start a container."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    exists = subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True, timeout=60)
    if exists.returncode != 0:
        return f"no image {IMAGE} (make container)"
    probe = subprocess.run(["podman", "run", "--rm", IMAGE, "true"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return f"podman cannot start a container here: {probe.stderr.strip()[-300:]}"
    return None


@pytest.mark.slow
def test_image_runs_lofar_hires() -> None:
    reason = podman_runs_image()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(["podman", "run", "--rm", IMAGE, "lofar-hires", "--version"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"lofar-hires {VERSION}" in proc.stdout
