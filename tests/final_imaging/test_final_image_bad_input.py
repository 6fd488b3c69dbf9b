"""`lofar-hires final-image` refuses what it cannot image correctly before any tool runs: exit 2, one ERROR line
naming the problem, nothing written, the inputs untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import tree_sha256
from final_field import make_final_field
from lofar_hires.cli import main
from lofar_hires.errors import InputError
from lofar_hires.final_imaging.run import check_frequencies
from lofar_hires.io.ms import read_ms_info

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def final_field(simulated, tmp_path_factory):
    return make_final_field(simulated, tmp_path_factory.mktemp("final_bad"))


def refuse(final_field, tmp_path: Path, capfd, msin: list[Path], facet: str, *extra: str) -> str:
    out = tmp_path / "out"
    watched = [*msin, final_field.regions, final_field.field.h5parm]
    before = [tree_sha256(p) for p in watched]
    code = main(["final-image", *map(str, msin), "--facet", facet, "--facet-regions", str(final_field.regions),
                 "-o", str(out), "--config", str(final_field.config), "--no-beam", *extra])
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert code == 2, err
    assert len(errors) == 1, err
    assert "Traceback" not in err
    assert [tree_sha256(p) for p in watched] == before
    assert not out.exists() or not any(out.iterdir())
    return errors[0]


def test_facet_not_in_the_layout(final_field, tmp_path, capfd):
    f = final_field.facets[0]
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], "nosuchfacet")
    assert "nosuchfacet" in line and f in line


def test_facet_without_solutions(final_field, tmp_path, capfd):
    f, g = final_field.facets[:2]
    other = tmp_path / "other.h5"
    assert main(["h5", "directions", str(final_field.field.h5parm), "select", "--names",
                 ",".join(x for x in final_field.facets if x != f), "-o", str(other)]) == 0
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], f, "--solutions", str(other))
    assert f"facet {f} has no solutions" in line
    # one direction, another facet's
    single = tmp_path / "single.h5"
    assert main(["h5", "directions", str(final_field.field.h5parm), "select", "--names", g, "-o", str(single)]) == 0
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], f, "--solutions", str(single))
    assert f"solutions of facet {g}, not of facet {f}" in line


def test_datasets_of_two_facets(final_field, tmp_path, capfd):
    f, g = final_field.facets[:2]
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f), final_field.ms_of(g)], f)
    assert "need one phase centre" in line


def test_unknown_resolution_and_bad_settings(final_field, tmp_path, capfd):
    f = final_field.facets[0]
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], f, "--resolution", "0.15")
    assert "unknown resolution '0.15'" in line
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], f, "--set", "primary_beam.min_beam=2")
    assert "primary_beam.min_beam" in line


def test_too_many_solution_files(final_field, tmp_path, capfd):
    f = final_field.facets[0]
    h5 = str(final_field.field.h5parm)
    line = refuse(final_field, tmp_path, capfd, [final_field.ms_of(f)], f, "--solutions", h5, h5)
    assert "2 solution files for 1 datasets" in line


def test_mismatched_frequency_grids_are_refused(final_field):
    from dataclasses import replace

    info = read_ms_info(final_field.ms_of(final_field.facets[0]))
    shifted = replace(info, path=Path("other.ms"), freqs_hz=info.freqs_hz + 1e6)
    check_frequencies([info, info])
    with pytest.raises(InputError, match="one frequency setup"):
        check_frequencies([info, shifted])
    with pytest.raises(InputError, match="one frequency setup"):
        check_frequencies([info, replace(info, freqs_hz=np.concatenate([info.freqs_hz, info.freqs_hz[-1:] + 1e5]))])
