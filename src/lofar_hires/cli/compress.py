"""``lofar-hires compress``: a Dysco-compressed copy of a measurement set, at a bit rate measured on the data.

Library: :mod:`lofar_hires.storage` (:func:`~lofar_hires.storage.compress.compress_ms`).
Writes ``OUTPUT`` (one DP3 run; the chosen data column becomes DATA), ``OUTPUT.provenance.json``
and ``OUTPUT.compress.json`` (the bit rate used, every candidate's predicted image-rms increase,
the bytes before and after); DP3's parsets and logs go to ``logs/`` beside ``OUTPUT``. Prints
the measurement set written.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

HELP = "a Dysco-compressed copy of a measurement set, with the bit rate chosen from the data's own noise"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lofar_hires.storage.compress import CompressSettings
    from lofar_hires.storage.dysco import CANDIDATE_DATA_BITS

    d = CompressSettings()
    parser.add_argument("msin", type=Path, metavar="MSIN", help="measurement set to compress (read only)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the compressed measurement set")
    parser.add_argument("--data-bits", default=str(d.data_bits),
                        choices=[*(str(b) for b in sorted(CANDIDATE_DATA_BITS, reverse=True)), "auto"],
                        help="bits per visibility; auto (default): the fewest that keep the predicted image-rms "
                             "increase below --max-rms-increase, measured on a sample of MSIN (no compression "
                             "when none does)")
    parser.add_argument("--weight-bits", type=int, default=d.weight_bits,
                        help=f"bits per weight (default {d.weight_bits})")
    parser.add_argument("--max-rms-increase", type=float, default=d.max_rms_increase,
                        help="largest fractional image-rms increase allowed (default "
                             f"{d.max_rms_increase:g}, i.e. {100 * d.max_rms_increase:g} %%)")
    parser.add_argument("--data-column", default=d.data_column,
                        help=f"column of MSIN to compress; written as DATA (default {d.data_column})")
    parser.add_argument("--sample-times", type=int, default=d.sample_times,
                        help=f"time slots (all baselines) of the sample the bit rates are measured on "
                             f"(default {d.sample_times})")
    parser.add_argument("--threads", type=int, default=d.threads, help=f"DP3 threads (default {d.threads})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    from lofar_hires.calibration.step_products import check_new_output, new_provenance
    from lofar_hires.cli import command_parameters
    from lofar_hires.io.ms import require_ms
    from lofar_hires.storage.compress import CompressSettings, compress_ms, report, write_report

    bits = args.data_bits if args.data_bits == "auto" else int(args.data_bits)
    settings = CompressSettings(data_bits=bits, weight_bits=args.weight_bits, max_rms_increase=args.max_rms_increase,
                                data_column=args.data_column, sample_times=args.sample_times, threads=args.threads)
    require_ms(args.msin, (args.data_column,))
    check_new_output(args.output, args.overwrite, [args.msin], setting="output")
    record = args.output.with_name(args.output.name + ".provenance.json")
    summary = args.output.with_name(args.output.name + ".compress.json")
    prov = new_provenance("compress", command_parameters(args), [args.msin], settings)
    result = compress_ms(args.msin, args.output, settings, prov, logdir=args.output.resolve().parent / "logs",
                         overwrite=args.overwrite)
    content = report(result, settings, args.msin)
    prov.parameters["dysco"] = {"data_bits": result.data_bits, "weight_bits": content["weight_bits"]}
    write_report(summary, content)
    prov.write(record)
    print(args.output)
    return 0
