"""Dysco options shared by every command that writes a measurement set.

``--dysco-data-bits {0,4,6,8,10,12,16,auto}`` (0: no compression, the default; auto: the fewest
bits that keep the image-rms increase below 1 %, measured on the command's input by
:func:`lofar_hires.storage.measure.measure_bit_rates`) and ``--dysco-weight-bits``. With
``switch=True`` also ``--dysco`` (compress at the archive default of 10 bits unless
``--dysco-data-bits`` says otherwise), which ``lofar-hires subtract`` had before these options.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def add_dysco_arguments(parser: argparse.ArgumentParser, *, switch: bool = False, what: str = "the output") -> None:
    """Add ``--dysco-data-bits`` and ``--dysco-weight-bits`` (and ``--dysco`` with ``switch``) to ``parser``."""
    from lofar_hires.storage.dysco import (
        ARCHIVE_DATA_BITS,
        CANDIDATE_DATA_BITS,
        DEFAULT_MAX_RMS_INCREASE,
        DEFAULT_WEIGHT_BITS,
    )

    if switch:
        parser.add_argument("--dysco", action="store_true",
                            help=f"write {what} with Dysco compression ({ARCHIVE_DATA_BITS} data bits unless "
                                 "--dysco-data-bits says otherwise)")
    parser.add_argument("--dysco-data-bits", default=None,
                        choices=["0", *(str(b) for b in sorted(CANDIDATE_DATA_BITS, reverse=True)), "auto"],
                        help=f"Dysco bits per visibility of {what}: 0 no compression (default"
                             f"{f', {ARCHIVE_DATA_BITS} with --dysco' if switch else ''}); auto the fewest that keep "
                             f"the image-rms increase below {100 * DEFAULT_MAX_RMS_INCREASE:g} %% (measured on the "
                             "input; none when no rate does, see `lofar-hires compress`)")
    parser.add_argument("--dysco-weight-bits", type=int, default=DEFAULT_WEIGHT_BITS,
                        help=f"Dysco bits per weight (default {DEFAULT_WEIGHT_BITS})")


def check_dysco_arguments(args: argparse.Namespace) -> int | str:
    """Check the options before any work; return the data bits asked for (0 = off, or ``auto``)."""
    from lofar_hires.errors import InputError
    from lofar_hires.storage.dysco import ARCHIVE_DATA_BITS, parse_data_bits

    switch = getattr(args, "dysco", False)
    text = args.dysco_data_bits
    bits = parse_data_bits(text if text is not None else (ARCHIVE_DATA_BITS if switch else 0), allow_off=True)
    if switch and bits == 0:
        raise InputError("--dysco asks for compression, --dysco-data-bits 0 for none: give one",
                         setting="dysco_data_bits")
    if not 1 <= args.dysco_weight_bits <= 32:
        raise InputError(f"--dysco-weight-bits must be 1..32, got {args.dysco_weight_bits}",
                         setting="dysco_weight_bits")
    return bits


def dysco_settings(args: argparse.Namespace, ms: Path, *, data_column: str = "DATA", threads: int = 1):
    """The :class:`~lofar_hires.runners.dp3_steps.DyscoSettings` the options ask for (``None``: no compression).

    ``auto`` compresses a sample of ``ms`` at every candidate rate (one DP3 run in a temporary
    directory) and takes the fewest bits below the default bound; when none is, the output is
    written uncompressed (with a warning).
    """
    from lofar_hires.runners.dp3_steps import DyscoSettings
    from lofar_hires.storage.measure import measure_bit_rates

    bits = check_dysco_arguments(args)
    if bits == 0:
        return None
    if bits == "auto":
        with tempfile.TemporaryDirectory(prefix="lofar-hires-dysco-") as work:
            chosen = measure_bit_rates(Path(ms), Path(work), data_column=data_column,
                                       weight_bits=args.dysco_weight_bits, threads=threads).chosen_bits
        if chosen is None:
            log.warning("%s: every Dysco bit rate raises the image rms beyond the bound; writing uncompressed", ms)
            return None
        log.info("%s: Dysco %d data bits (measured on the input)", ms, chosen)
        bits = chosen
    return DyscoSettings(int(bits), args.dysco_weight_bits)
