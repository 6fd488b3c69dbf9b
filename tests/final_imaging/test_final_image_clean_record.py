"""How the final image's clean ended, recorded in its summary and logged: from the keywords WSClean writes into the
image header (minor iterations, major cycles, the limit ``niter``), with a warning when the limit, not the
threshold, stopped the clean, and WSClean's own log kept with the products."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from final_field import make_final_field
from lofar_hires.cli import main
from lofar_hires.final_imaging.run import clean_statistics

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("minor", "niter", "stopped"), [(10071, 100000, False), (3, 3, True), (0, 0, False)])
def test_clean_statistics_from_the_header(minor, niter, stopped):
    header = {"WSCMINOR": float(minor), "WSCMAJOR": 8.0, "WSCNITER": float(niter)}
    assert clean_statistics(header) == {"minor_iterations": minor, "major_iterations": 8, "niter": niter,
                                        "stopped_at_niter": stopped}


def test_an_image_of_another_imager_has_no_clean_record():
    assert clean_statistics({"BMAJ": 1e-3}) is None


@pytest.fixture(scope="module")
def final_field(simulated, tmp_path_factory):
    return make_final_field(simulated, tmp_path_factory.mktemp("final_clean"))


def image_one_facet(final_field, out: Path, *extra: str) -> dict:
    facet = final_field.facets[0]
    code = main(["final-image", str(final_field.ms_of(facet)), "--facet", facet, "--facet-regions",
                 str(final_field.regions), "-o", str(out), "--config", str(final_field.config), "--no-beam",
                 "--resolution", "10", *extra])
    assert code == 0
    (summary,) = out.glob("*.final.json")
    (wsclean_log,) = out.glob("*.wsclean.log")
    assert "major iterations were performed" in wsclean_log.read_text()
    return json.loads(summary.read_text())["clean"]


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if " WARNING " in line and "under-cleaned" in line]


def test_a_clean_stopped_by_its_threshold_is_recorded(final_field, tmp_path, capfd):
    clean = image_one_facet(final_field, tmp_path / "out")
    err = capfd.readouterr().err
    assert 0 < clean["minor_iterations"] < clean["niter"] and clean["major_iterations"] >= 1
    assert not clean["stopped_at_niter"]
    assert f"clean of {clean['minor_iterations']} iterations" in err and not warnings_of(err)


def test_a_clean_stopped_by_its_iteration_limit_is_a_warning(final_field, tmp_path, capfd):
    clean = image_one_facet(final_field, tmp_path / "out", "--set", "niter=3")
    assert clean["minor_iterations"] == 3 and clean["niter"] == 3 and clean["stopped_at_niter"]
    (warning,) = warnings_of(capfd.readouterr().err)
    assert "limit of 3 iterations" in warning and "niter" in warning
