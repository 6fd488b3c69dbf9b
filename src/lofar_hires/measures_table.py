"""casacore's leap-second table (TAI_UTC) from the IERS Bulletin C list shipped with astropy.

casacore calls a TAI_UTC table whose VS_DATE is more than 180 days old
"out-of-date" and logs a SEVERE message on every run (``MeasTable::dUTC``).
The table in the python-casacore wheel is as old as the wheel; the IERS
leap-second list in the ``astropy-iers-data`` package (a dependency of astropy)
is refreshed with each of its releases and states until when it is valid (IERS
Bulletin C announces every leap second at least five months ahead).
:func:`write_tai_utc_table` writes a TAI_UTC table from that list, without
network access, with VS_DATE 180 days before the list expires: casacore then
warns exactly when the list is no longer valid (update astropy-iers-data then).

Run as ``python -m lofar_hires.measures_table LEAP_SECOND_FILE WHEEL_TABLE FOLDER``
(:func:`lofar_hires.environment.leap_second_directory` does so): casacore reads
its resource file once per process, at the first table access, so the table is
written in a child process before the parent's first use of casacore.
"""

from __future__ import annotations

import calendar
import datetime
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lofar_hires.errors import InputError

#: Column names of casacore's TAI_UTC table.
TAI_UTC_COLUMNS = ("MJD", "dUTC", "Offset", "Multiplier")
#: Written into the folder instead of a table when the wheel's table is at least as new.
WHEEL_IS_NEWER = "wheel-is-newer"
#: casacore's MeasTable::dUTC calls TAI_UTC out-of-date this many days after its VS_DATE.
CASACORE_STALE_AFTER_DAYS = 180
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}


@dataclass(frozen=True)
class LeapSeconds:
    """An IERS Bulletin C leap-second list.

    ``expires`` is the day until which the list is valid; ``steps`` holds
    (MJD, TAI-UTC in s) from 1972 on, in time order.
    """

    expires: datetime.date
    steps: tuple[tuple[float, float], ...]

    def vs_date(self) -> datetime.date:
        """The VS_DATE that makes casacore call the table out-of-date when the list expires."""
        return self.expires - datetime.timedelta(days=CASACORE_STALE_AFTER_DAYS)


def parse_leap_seconds(text: str, source: str) -> LeapSeconds:
    """Parse an IERS ``Leap_Second.dat`` ("File expires on <day> <month> <year>", then the steps)."""
    match = re.search(r"expires on\s+(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", text)
    if match is None or match.group(2).lower() not in _MONTHS:
        raise InputError(f"{source}: no 'File expires on <day> <month> <year>' line")
    steps = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 5:
            raise InputError(f"{source}: expected 'MJD day month year TAI-UTC', got {line.strip()!r}")
        steps.append((float(fields[0]), float(fields[4])))
    if not steps or any(later[0] <= earlier[0] for earlier, later in zip(steps, steps[1:])):
        raise InputError(f"{source}: no leap seconds, or not in time order")
    expires = datetime.date(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)))
    return LeapSeconds(expires=expires, steps=tuple(steps))


def write_tai_utc_table(leaps: LeapSeconds, wheel_table: Path, folder: Path) -> bool:
    """Write ``folder/TAI_UTC`` when ``leaps`` is newer than ``wheel_table``; False when it is not.

    Rows before the first leap second (the 1961-1971 rate formula) come from the
    wheel's table, the others from ``leaps``; VS_DATE is :meth:`LeapSeconds.vs_date`.
    """
    from casacore import tables

    with tables.table(str(wheel_table), ack=False) as wheel:
        wheel_date = datetime.datetime.strptime(wheel.getkeyword("VS_DATE")[:10], "%Y/%m/%d").date()
        if leaps.vs_date() <= wheel_date:
            return False
        columns = [list(wheel.getcol(name)) for name in TAI_UTC_COLUMNS]
        description = wheel.getdesc()
        keywords = wheel.getkeywords()
        info = wheel.info()
    first_mjd = leaps.steps[0][0]
    rows = [row for row in zip(*columns) if row[0] < first_mjd]
    rows += [(mjd, tai_utc_s, first_mjd, 0.0) for mjd, tai_utc_s in leaps.steps]
    stamp = leaps.vs_date().strftime("%Y/%m/%d/00:00")
    keywords.update(VS_DATE=stamp, VS_CREATE=stamp, VS_VERSION=f"{len(rows):04d}.0000",
                    VS_TYPE=f"TAI_UTC from IERS Bulletin C (astropy-iers-data), valid until {leaps.expires}")
    with tables.table(str(folder / "TAI_UTC"), description, nrow=len(rows), ack=False) as table:
        for index, name in enumerate(TAI_UTC_COLUMNS):
            table.putcol(name, [row[index] for row in rows])
        table.putinfo({**info, "readme": "TAI-UTC from the IERS Bulletin C list in astropy-iers-data"})
        table.putkeywords(keywords)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``LEAP_SECOND_FILE WHEEL_TABLE FOLDER``: write FOLDER/TAI_UTC or FOLDER/wheel-is-newer."""
    source, wheel_table, folder = (Path(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    leaps = parse_leap_seconds(source.read_text(encoding="utf-8", errors="replace"), str(source))
    if not write_tai_utc_table(leaps, wheel_table, folder):
        (folder / WHEEL_IS_NEWER).touch()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
