"""Environment handling for external tools: one place, clear errors."""

from __future__ import annotations

import pytest

from lofar_hires import environment as env
from lofar_hires.errors import MissingToolError


def test_tool_environment_sets_single_threaded_blas_and_measures():
    e = env.tool_environment()
    assert e["OPENBLAS_NUM_THREADS"] == "1"
    casarc = e["CASARCFILES"]
    text = open(casarc).read()
    measures = env.casacore_measures_dir()
    lines = text.splitlines()
    assert lines[0] == f"measures.directory: {measures}"
    assert all(line.startswith("measures.tai_utc.directory: ") for line in lines[1:])
    assert (measures / "geodetic" / "TAI_UTC").is_dir()
    assert (env.everybeam_data_dir() / "HamakerHBACoeff.h5").is_file()


def test_missing_tool_names_it_and_how_to_install(monkeypatch):
    monkeypatch.setitem(env.INSTALL_HINTS, "no-such-imager", "install the Debian package 'no-such-imager'")
    with pytest.raises(MissingToolError, match="'no-such-imager' not found: install the Debian package"):
        env.find_tool("no-such-imager")
    with pytest.raises(MissingToolError, match="'definitely-not-a-lofar-tool' not found: install it"):
        env.find_tool("definitely-not-a-lofar-tool")


def test_versions_of_the_real_tools():
    assert env.tool_version("DP3.py").startswith("DP3 6.")
    assert env.tool_version("wsclean").startswith("WSClean version 3.")
