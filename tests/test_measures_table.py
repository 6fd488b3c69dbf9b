"""casacore's leap-second table written from the IERS list shipped with astropy-iers-data."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import pytest

from lofar_hires.environment import casacore_measures_dir
from lofar_hires.errors import InputError
from lofar_hires.measures_table import parse_leap_seconds, write_tai_utc_table

LIST = """#  File expires on 28 June 2027
#
#    MJD        Date        TAI-UTC (s)
#           day month year
#    ---    --------------   ------
#
    41317.0    1  1 1972       10
    41499.0    1  7 1972       11
    57754.0    1  1 2017       37
"""


def test_parse_leap_seconds_reads_the_expiry_and_the_steps() -> None:
    leaps = parse_leap_seconds(LIST, "list")
    assert leaps.expires == datetime.date(2027, 6, 28)
    assert leaps.steps == ((41317.0, 10.0), (41499.0, 11.0), (57754.0, 37.0))
    assert leaps.vs_date() == datetime.date(2027, 6, 28) - datetime.timedelta(days=180)


@pytest.mark.parametrize(("text", "message"), [
    (LIST.replace("File expires on 28 June 2027", "no date"), "no 'File expires on"),
    (LIST.replace("    57754.0    1  1 2017       37\n", "    41000.0    1  1 2017       37\n"), "not in time order"),
    (LIST.replace("    41499.0    1  7 1972       11\n", "    41499.0    1  7\n"), "expected 'MJD day month year"),
])
def test_parse_leap_seconds_refuses_bad_lists(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_leap_seconds(text, "list")


def test_the_shipped_list_gives_a_current_table(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("astropy_iers_data")
    source = Path(spec.origin).parent / "data" / "Leap_Second.dat"
    leaps = parse_leap_seconds(source.read_text(), str(source))
    assert leaps.steps[-1] == (57754.0, 37.0)  # the last leap second so far: 2017-01-01
    wheel = casacore_measures_dir() / "geodetic" / "TAI_UTC"
    if write_tai_utc_table(leaps, wheel, tmp_path):
        from casacore import tables

        with tables.table(str(tmp_path / "TAI_UTC"), ack=False) as t:
            assert t.getcol("dUTC")[-1] == 37.0
            assert t.getkeyword("VS_DATE").startswith(leaps.vs_date().strftime("%Y/%m/%d"))


def test_the_shared_table_is_readable_by_every_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table goes into the installation's share folder for all its users (a shared environment on a
    cluster, or a container user other than the installer): its folder may not keep mkdtemp's mode 0700."""
    from lofar_hires import environment

    monkeypatch.setattr(environment, "_measures_root", lambda: tmp_path / "share")
    environment.leap_second_directory.cache_clear()
    try:
        folder = environment.leap_second_directory()
    finally:
        environment.leap_second_directory.cache_clear()
    if folder is None:
        pytest.skip("the python-casacore wheel's leap-second table is already current: nothing is written")
    assert folder.parent == tmp_path / "share"
    for path in (folder, folder / "TAI_UTC", folder / "TAI_UTC" / "table.dat"):
        assert path.stat().st_mode & 0o004, f"{path} is not readable by other users"
    assert folder.stat().st_mode & 0o001 and (folder / "TAI_UTC").stat().st_mode & 0o001
