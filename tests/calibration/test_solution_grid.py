"""Solution grids: a panel for every station, referenced phases, one file per direction, safe names."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from conftest import example_solset
from lofar_hires.calibration.phases import wrap
from lofar_hires.calibration.solution_grid import (
    MAX_PANEL_SAMPLES,
    NO_DATA_LABEL,
    PANEL_LABEL,
    _pipeline_reference,
    calibrator_grids,
    grid_figure,
    line_ranges,
    plot_solution_grid,
    solution_grids,
    target_plots,
)
from lofar_hires.errors import InputError
from lofar_hires.io.h5parm import Soltab, write_h5parm, write_solset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAFE_FILE = re.compile(r"^[A-Za-z0-9_+\-.]+\.png$")


def stations(n: int) -> np.ndarray:
    """Core, remote and international station names, CS002HBA0 among them."""
    kinds = ("CS", "RS", "DE")
    return np.array([f"{kinds[i % 3]}{i:03d}HBA{i % 2}" for i in range(n)])


def write(path, tabs, names, directions=None):
    positions = np.random.default_rng(1).normal(0.0, 1000.0, (len(names), 3))
    return write_h5parm(path, tabs, names, positions, directions)


def phase_tab(names, n_time=6, n_freq=4, pols=("XX", "YY"), directions=None, seed=0, soltype="phase"):
    rng = np.random.default_rng(seed)
    axes = {"time": 4.9e9 + 10.0 * np.arange(n_time), "freq": 120e6 + 1e6 * np.arange(n_freq), "ant": names}
    if directions:
        axes["dir"] = np.array(directions)
    if pols:
        axes["pol"] = np.array(pols)
    shape = tuple(len(v) for v in axes.values())
    return Soltab("phase000", soltype, axes, rng.uniform(-np.pi, np.pi, shape))


def labelled(fig, prefix: str = PANEL_LABEL) -> list[str]:
    """Stations with a label of that kind (name: ``station:``, "no data": ``nodata:``) in a figure."""
    return [t.get_gid()[len(prefix):] for ax in fig.axes for t in ax.texts if (t.get_gid() or "").startswith(prefix)]


def label(fig, station: str):
    return next(t for ax in fig.axes for t in ax.texts if t.get_gid() == f"{PANEL_LABEL}{station}")


def check_panels(grid, fig) -> None:
    """Every station's name sits above its panel and the figure's single image shows exactly that
    station's solutions there (each repeated over a block of pixels); the gutters are blank."""
    assert labelled(fig) == list(grid.stations)
    image = np.ma.filled(fig.axes[0].images[0].get_array().astype(float), np.nan)
    tiling = grid.tiling
    w, h = int(tiling.width), int(tiling.height)
    t_step, f_step = (math.ceil(len(a) / MAX_PANEL_SAMPLES) for a in (grid.time_min, grid.freq_mhz))
    shown = grid.values[::t_step, ::f_step, :, 0]
    rx, ry = w // shown.shape[0], h // shown.shape[1]
    inside = np.zeros(image.shape, bool)
    for k, panel in enumerate(grid.panels):
        x0, y0 = int(panel.x0), int(panel.y0)
        assert label(fig, panel.station).get_position() == pytest.approx((x0, y0 + h), abs=tiling.gap_y)
        tile = image[y0:y0 + h, x0:x0 + w]
        np.testing.assert_allclose(tile[ry // 2::ry, rx // 2::rx].T, shown[:, :, k], rtol=1e-6, atol=1e-6)
        inside[y0:y0 + h, x0:x0 + w] = True
    assert np.isnan(image[~inside]).all()


def test_every_station_gets_a_panel_referenced_to_the_named_station(tmp_path):
    import matplotlib.pyplot as plt

    names = np.array(["CS001HBA0", "CS002HBA0", *stations(12)[2:]])
    tab = phase_tab(names)
    h5 = write(tmp_path / "s.h5", [tab], names)
    open_before = plt.get_fignums()

    grids = solution_grids(h5, reference="CS002HBA0")
    assert [g.file_stem for g in grids] == ["phase000_XX", "phase000_YY"]
    for grid, pol in zip(grids, (0, 1)):
        assert grid.kind == "waterfall" and grid.stations == tuple(names)
        assert "phase000" in grid.title and "solset sol000" in grid.title
        assert "phases referenced to CS002HBA0" in grid.title
        np.testing.assert_allclose(grid.values[..., 1, 0], 0.0, atol=1e-12)  # the reference itself
        np.testing.assert_allclose(np.exp(1j * grid.values[..., 5, 0]),
                                   np.exp(1j * wrap(tab.val[..., 5, pol] - tab.val[..., 1, pol])), atol=1e-12)
    fig = grid_figure(grids[1])
    check_panels(grids[1], fig)
    assert label(fig, "CS002HBA0").get_text() == "CS002HBA0 (ref)" and label(fig, "CS001HBA0").get_text() == "CS001HBA0"
    assert fig.get_suptitle() == grids[1].title and len(fig.axes[0].images) == 1

    paths = plot_solution_grid(h5, tmp_path / "plots", reference="CS002HBA0")
    assert paths == [tmp_path / "plots" / "phase000_XX.png", tmp_path / "plots" / "phase000_YY.png"]
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in paths)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["phase000_XX.png", "phase000_YY.png"]
    assert plt.get_fignums() == open_before  # no figure left open


def test_flagged_and_nan_stations_are_shown_with_no_data(tmp_path):
    names = stations(7)
    tab = phase_tab(names, pols=None)
    tab.weight[:, :, 3] = 0.0  # flagged by weight
    tab.val[:, :, 5] = np.nan  # no solution (as DP3 writes it)
    tab.val[2, 1, 4] = np.nan  # one missing solution only
    grid, = solution_grids(write(tmp_path / "s.h5", [tab], names), reference=str(names[0]))
    fig = grid_figure(grid)
    check_panels(grid, fig)
    assert labelled(fig, NO_DATA_LABEL) == [names[3], names[5]]
    assert [p.station for p in grid.panels if not p.has_data] == [names[3], names[5]]
    assert not grid.has_data(names[3]) and not grid.has_data(names[5]) and grid.has_data(names[4])
    assert np.isnan(grid.values[2, 1, 4, 0]) and np.isfinite(grid.values[..., 6, 0]).all()


def test_default_reference_is_the_first_station_with_data(tmp_path):
    names = stations(5)
    tab = phase_tab(names, pols=None)
    tab.weight[:, :, 0] = 0.0
    grid, = solution_grids(write(tmp_path / "s.h5", [tab], names))
    assert grid.reference == names[1] and f"phases referenced to {names[1]}" in grid.title


def test_lines_against_the_axis_that_exists(tmp_path):
    names = stations(6)
    freqs = 120e6 + 1e6 * np.arange(8)
    rng = np.random.default_rng(3)
    bandpass = Soltab("bandpass", "amplitude", {"freq": freqs, "ant": names, "pol": np.array(["XX", "YY"])},
                      1.0 + 0.1 * rng.standard_normal((8, 6, 2)))
    clock = Soltab("clock", "clock", {"time": 4.9e9 + 60.0 * np.arange(5), "ant": names},
                   1e-8 * rng.standard_normal((5, 6)))
    h5 = write(tmp_path / "cal.h5", [bandpass, clock], names)
    by_name = {g.file_stem: g for g in solution_grids(h5, reference=str(names[0]))}
    assert sorted(by_name) == ["bandpass", "clock"]

    bp = by_name["bandpass"]
    assert bp.kind == "freq" and bp.pols == ("XX", "YY") and "referenced" not in bp.title
    np.testing.assert_allclose(bp.values[0, :, :, :], bandpass.val)  # amplitudes are not referenced
    fig = grid_figure(bp)
    assert labelled(fig) == list(names)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["XX", "YY"]
    (x_lo, x_hi), (y_lo, y_hi) = line_ranges(bp)
    w, h = bp.tiling.width, bp.tiling.height
    for k, panel in enumerate(bp.panels):  # each station's segment, mapped back from its panel
        assert label(fig, panel.station).get_position()[0] == pytest.approx(panel.x0)
        for pol, line in enumerate(lines):
            x = np.asarray(line.get_xdata()).reshape(len(names), -1)[k, :-1]
            y = np.asarray(line.get_ydata()).reshape(len(names), -1)[k, :-1]
            np.testing.assert_allclose(x_lo + (x - panel.x0) / w * (x_hi - x_lo), freqs / 1e6)
            np.testing.assert_allclose(y_lo + (y - panel.y0) / h * (y_hi - y_lo), bandpass.val[:, k, pol])

    ck = by_name["clock"]
    assert ck.kind == "time" and f"phases referenced to {names[0]}" in ck.title and ck.label == "clock (ns)"
    np.testing.assert_allclose(ck.values[:, 0, :, 0], 1e9 * (clock.val - clock.val[:, :1]), atol=1e-9)
    assert labelled(grid_figure(ck)) == list(names)
    assert [p.name for p in plot_solution_grid(h5, tmp_path / "plots", soltabs=["clock"], prefix="cal_")] == \
        ["cal_clock.png"]


def test_soltab_without_stations_is_one_unreferenced_panel(tmp_path):
    names = stations(3)
    tec = Soltab("tec", "tec", {"time": 4.9e9 + 10.0 * np.arange(4)}, np.array([0.1, 0.2, np.nan, 0.3]))
    grid, = solution_grids(write(tmp_path / "s.h5", [tec], names), reference=str(names[0]))
    assert grid.stations == ("all stations",) and grid.reference is None and "referenced" not in grid.title
    np.testing.assert_allclose(grid.values[:, 0, 0, 0], tec.val)
    assert labelled(grid_figure(grid)) == ["all stations"]


def test_several_directions_give_one_safe_file_each(tmp_path):
    names = stations(4)
    directions = ["../../etc", "P 1/x", "Ok"]
    tab = phase_tab(names, pols=("XX",), directions=directions)
    h5 = write(tmp_path / "s.h5", [tab], names, {d: (0.1 * k, 0.9) for k, d in enumerate(directions)})
    outdir = tmp_path / "plots"
    paths = plot_solution_grid(h5, outdir, reference=str(names[0]), prefix="run 1/")
    assert [p.name for p in paths] == ["run_1_phase000_etc.png", "run_1_phase000_P_1_x.png",
                                       "run_1_phase000_Ok.png"]
    assert all(p.parent == outdir and SAFE_FILE.match(p.name) for p in paths)
    assert sorted(p.name for p in outdir.iterdir()) == sorted(p.name for p in paths)
    grids = solution_grids(h5, reference=str(names[0]))
    assert [g.title.split("direction ")[1].split(",")[0] for g in grids] == [f"[{d}]" for d in directions]
    for k, grid in enumerate(grids):  # each figure shows its own direction
        np.testing.assert_allclose(np.exp(1j * grid.values[..., 2, 0]),
                                   np.exp(1j * (tab.val[..., 2, k, 0] - tab.val[..., 0, k, 0])), atol=1e-12)


def test_unknown_reference_is_refused_naming_file_and_station(tmp_path):
    names = stations(3)
    h5 = write(tmp_path / "s.h5", [phase_tab(names)], names)
    with pytest.raises(InputError, match=r"s\.h5.*phase000.*'XX999'"):
        plot_solution_grid(h5, tmp_path / "plots", reference="XX999")
    assert not (tmp_path / "plots").exists()


def test_64_stations_plot_in_under_two_seconds(tmp_path):
    names = stations(64)
    h5 = write(tmp_path / "big.h5", [phase_tab(names, n_time=120, n_freq=32, pols=None, soltype="scalarphase")],
               names)
    small = write(tmp_path / "small.h5", [phase_tab(names[:2], pols=None)], names[:2])
    plot_solution_grid(small, tmp_path / "warm")  # imports and font caches are not what is timed
    start = time.process_time()  # CPU time: other work on the machine does not count
    paths = plot_solution_grid(h5, tmp_path / "plots", reference=str(names[1]))
    cpu_s = time.process_time() - start
    assert len(paths) == 1 and paths[0].read_bytes()[:8] == PNG_SIGNATURE
    assert cpu_s < 2.0, f"64 stations took {cpu_s:.1f} s of CPU time"
    grid, = solution_grids(h5, reference=str(names[1]))
    check_panels(grid, grid_figure(grid))


def test_long_axes_show_every_nth_solution(tmp_path):
    names = stations(2)
    h5 = write(tmp_path / "long.h5", [phase_tab(names, n_time=2 * MAX_PANEL_SAMPLES + 5, n_freq=3, pols=None)],
               names)
    grid, = solution_grids(h5, reference=str(names[0]))
    fig = grid_figure(grid)
    assert fig.axes[0].images[0].get_array().shape[1] < 2 * MAX_PANEL_SAMPLES
    check_panels(grid, fig)  # every third solution in time, all three frequencies


def test_calibrator_grids_and_target_plots(tmp_path):
    products = tmp_path / "products"
    products.mkdir()
    few = ("CS001HBA0", "CS002HBA0", "RS106HBA")
    solve = example_solset(stations=few, n_dir=1, soltypes=("phase", "amplitude", "rotation"))
    write_solset(products / "solve1_rotation_diagonal.h5", solve)
    names = solve.antenna_names
    cal = example_solset(stations=few, n_dir=1, soltypes=("clock",))
    cal.soltabs = {"clock": Soltab("clock", "clock", {k: v for k, v in cal.soltabs["clock000"].axes.items()
                                                       if k in ("time", "ant")},
                                   cal.soltabs["clock000"].val[:, 0, :, 0])}
    write_solset(products / "cal_solutions.h5", cal)

    paths = calibrator_grids(products, tmp_path / "plots", "CS002HBA0")  # the solves: phases only
    assert [p.name for p in paths] == ["solve1_rotation_diagonal_phase000_XX.png",
                                       "solve1_rotation_diagonal_phase000_YY.png", "cal_solutions_clock.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)

    # A reference that is absent falls back as the fits do (a CS002 field); plot_solution_grid would refuse it.
    target = [tmp_path / "a" / "target.phase.h5", tmp_path / "b" / "target.phase.h5"]
    for k, path in enumerate(target):
        path.parent.mkdir()
        write(path, [phase_tab(np.array(names), pols=None, seed=k)], names)
    written = target_plots(target, tmp_path / "target_plots", "CS999HBA0")
    assert [p.name for p in written] == ["target.phase_0_phase000.png", "target.phase_1_phase000.png"]
    assert _pipeline_reference(target[0], "CS999HBA0") == "CS002HBA0"
    assert _pipeline_reference(target[0], "RS106HBA") == "RS106HBA"
