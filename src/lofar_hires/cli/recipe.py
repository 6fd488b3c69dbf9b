"""``lofar-hires recipe``: a self-calibration strategy from the recipes of de Jong et al. (2025).

``lofar-hires recipe international (--sigma-c RAD | --delta-t MIN)`` writes the strategy of the
international DD self-calibration of one calibrator (section 6.4.2), ``lofar-hires recipe dutch
(--peak-flux JY | --calibrators TABLE)`` that of the Dutch DD self-calibration (section 6.4.1); with
``--calibrators`` the peak brightness is that of the faintest calibrator of the Dutch DD solve in a
calibrator table (:func:`lofar_hires.selection.calibrator_model.dd_calibrators` with the threshold
of ``configs/select_calibrators.yaml``): one strategy for the joint solve of all of them, whose
intervals the faintest sets (a project choice; the paper gives each source the intervals of its own
peak brightness). The YAML goes to stdout, or to ``--output`` (written atomically; an existing
file is replaced only with ``--overwrite``), and is read by ``lofar-hires selfcal --strategy
FILE``. ``lofar-hires recipe refine-dutch`` and ``refine-final`` (section 6.4.4) write the two steps of the
DD refinement of a facet from its calibrator's sigma_c or delta_t; refine-dutch writes nothing (and says
so) for a calibrator whose delta_t is above 3 min, whose facet skips that step. ``--explain`` prints a table
of the solves to stdout. Library: :mod:`lofar_hires.selfcal.recipes`
(numbers in ``configs/recipes.yaml``, changed with ``--set key=value``).
"""

from __future__ import annotations

import argparse
import logging
import shlex
from pathlib import Path

log = logging.getLogger(__name__)

HELP = ("self-calibration strategy (YAML) from the international, Dutch or refinement recipes of de Jong et al. "
        "2025")

#: Options of each recipe: kind -> parser dest -> option.
_DELTA_T_OPTIONS = {"sigma_c_rad": "--sigma-c", "delta_t_min": "--delta-t", "dt_formula": "--dt-formula"}
KIND_OPTIONS: dict[str, dict[str, str]] = {
    "international": {**_DELTA_T_OPTIONS, "outdir": "--outdir", "calibrators": "--calibrators"},
    "dutch": {"peak_flux_jy": "--peak-flux", "calibrators": "--calibrators"},
    "refine-dutch": {**_DELTA_T_OPTIONS, "chan_width_hz": "--chan-width-hz"},
    "refine-final": dict(_DELTA_T_OPTIONS),
}
#: The paper's section of each recipe.
SECTIONS = {"international": "6.4.2", "dutch": "6.4.1", "refine-dutch": "6.4.4", "refine-final": "6.4.4"}
#: The index of the per-calibrator strategies that ``recipe international --calibrators`` writes.
INDEX_NAME = "calibrators.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=list(KIND_OPTIONS),
                        help="international: DD self-calibration of the international stations on one calibrator "
                             "(section 6.4.2; give --sigma-c or --delta-t); dutch: DD self-calibration of the Dutch "
                             "stations on one calibrator (section 6.4.1; give --peak-flux or --calibrators); "
                             "refine-dutch: 6 arcsec Dutch self-calibration of a facet dataset (section 6.4.4; "
                             "--sigma-c or --delta-t of its calibrator, --integration-s and --chan-width-hz of the "
                             "facet data; nothing is written for delta_t above 3 min, which skip it); refine-final: "
                             "the final joint self-calibration of a facet calibrator (section 6.4.4; --sigma-c or "
                             "--delta-t)")
    parser.add_argument("--sigma-c", dest="sigma_c_rad", type=float, default=None, metavar="RAD",
                        help="international: the calibrator's phasediff score sigma_c (rad, below pi); delta_t "
                             "follows from it (section 6.3.2)")
    parser.add_argument("--delta-t", dest="delta_t_min", type=float, default=None, metavar="MIN",
                        help="international: the calibrator's solution-interval metric delta_t (minutes) instead "
                             "of --sigma-c")
    parser.add_argument("--dt-formula", dest="dt_formula", choices=["paper", "squared"], default=None,
                        help="international, with --sigma-c: paper (eq. 6.2) or squared (the later public "
                             "variant); default: delta_t.formula of configs/recipes.yaml (paper)")
    parser.add_argument("--peak-flux", dest="peak_flux_jy", type=float, default=None, metavar="JY",
                        help="dutch: the calibrator's peak brightness (Jy/beam, 6 arcsec)")
    parser.add_argument("--calibrators", type=Path, default=None, metavar="TABLE",
                        help="international, instead of --sigma-c: one strategy per main calibrator of a selection "
                             "table (its score_rad is sigma_c), written to --outdir with an index calibrators.json; "
                             "dutch, instead of --peak-flux: a selection table or catalogue (CSV); the peak "
                             "brightness is that of the FAINTEST calibrator of the Dutch DD solve in it (its main "
                             "calibrators, else its sources at or above skymodel.min_peak_flux_jy of "
                             "configs/select_calibrators.yaml, 85 mJy/beam; peak_flux_jy, else total_flux_jy), "
                             "as lofar-hires select skymodel chooses them")
    parser.add_argument("--integration-s", dest="integration_s", type=float, default=None, metavar="S",
                        help="integration time the solution intervals are rounded to (s; default: the recipe's "
                             "averaging, 32 s international and refine-final, 16 s dutch); refine-dutch: the "
                             "integration time of the facet data, which the recipe averages further (required)")
    parser.add_argument("--chan-width-hz", dest="chan_width_hz", type=float, default=None, metavar="HZ",
                        help="refine-dutch: the channel width of the facet data, which the recipe averages further "
                             "(required)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value of configs/recipes.yaml, e.g. international.max_cycles=12 or "
                             "international.delta_t_ranges.moderate.minuv_lambda=30000 (repeatable)")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE.yaml",
                        help="write the strategy here (written atomically); default: print it to stdout")
    parser.add_argument("--outdir", type=Path, default=None, metavar="DIR",
                        help="international with --calibrators: the directory of the strategies <calibrator>.yaml "
                             "and their index calibrators.json (name, ra_deg, dec_deg, sigma_c_rad, delta_t_min, "
                             "flux_jy: the total flux, else the peak brightness, or null; strategy)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output or --outdir files")
    parser.add_argument("--explain", action="store_true",
                        help="also print a table of the solves (interval, kernel, reset, uv cut, first cycle) to "
                             "stdout")


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options of the other recipe and a missing or doubled input."""
    from lofar_hires.errors import InputError

    allowed = KIND_OPTIONS[args.kind]
    for kind, options in KIND_OPTIONS.items():
        given = [(dest, option) for dest, option in options.items()
                 if dest not in allowed and getattr(args, dest) is not None]
        if given:
            owners = [k for k, o in KIND_OPTIONS.items() if given[0][0] in o]
            raise InputError(f"{given[0][1]}: only for the {' and '.join(owners)} recipe(s), not for {args.kind}",
                             setting=given[0][0])
    if args.kind in ("refine-dutch", "refine-final"):
        given = [o for o, v in (("--sigma-c", args.sigma_c_rad), ("--delta-t", args.delta_t_min)) if v is not None]
        if len(given) != 1:
            raise InputError(f"{args.kind}: give exactly one of --sigma-c and --delta-t (of the facet's calibrator)"
                             + (f" (got {' and '.join(given)})" if given else ""), setting="sigma_c_rad")
        if args.dt_formula is not None and args.sigma_c_rad is None:
            raise InputError("--dt-formula computes delta_t from --sigma-c; it has no use with --delta-t",
                             setting="dt_formula")
        if args.kind == "refine-dutch" and (args.integration_s is None or args.chan_width_hz is None):
            raise InputError("refine-dutch: give the facet data's --integration-s and --chan-width-hz (the recipe "
                             "averages them by 8)", setting="integration_s" if args.integration_s is None
                             else "chan_width_hz")
    elif args.kind == "international":
        given = [o for o, v in (("--sigma-c", args.sigma_c_rad), ("--delta-t", args.delta_t_min),
                                ("--calibrators", args.calibrators)) if v is not None]
        if len(given) != 1:
            raise InputError("international: give exactly one of --sigma-c, --delta-t and --calibrators"
                             + (f" (got {' and '.join(given)})" if given else ""), setting="sigma_c_rad")
        if (args.calibrators is None) != (args.outdir is None):
            raise InputError("international: --calibrators writes one strategy per calibrator into --outdir; give "
                             "both or neither", setting="outdir")
        if args.calibrators is not None and (args.output is not None or args.explain):
            raise InputError("international --calibrators writes into --outdir; --output and --explain are for one "
                             "calibrator", setting="output")
        if args.dt_formula is not None and args.sigma_c_rad is None:
            raise InputError("--dt-formula computes delta_t from --sigma-c; it has no use with --delta-t",
                             setting="dt_formula")
    elif args.peak_flux_jy is not None and args.calibrators is not None:
        raise InputError("dutch: give one of --peak-flux and --calibrators, not both", setting="calibrators")
    elif args.peak_flux_jy is None and args.calibrators is None:
        raise InputError("dutch: give the calibrator's peak brightness with --peak-flux, or a calibrator table with "
                         "--calibrators", setting="peak_flux_jy")


def faintest_calibrator_peak(table: Path) -> tuple[float, str]:
    """The peak brightness of the faintest calibrator of the Dutch DD solve in ``table``, and a line saying so."""
    from lofar_hires.selection.calibrator_model import dd_calibrators, faintest_calibrator, selection_rule
    from lofar_hires.selection.config import load_selection_config
    from lofar_hires.selection.table import read_table

    min_peak_flux_jy = load_selection_config().skymodel.min_peak_flux_jy
    rows = read_table(table)
    chosen = dd_calibrators(rows, min_peak_flux_jy, table=table)
    row, flux = faintest_calibrator(chosen)
    return flux, (f"the faintest of the {len(chosen)} calibrator(s) of {Path(table).name} "
                  f"({selection_rule(rows, min_peak_flux_jy)}): {row.name}")


def command_line(args: argparse.Namespace) -> str:
    """The command that makes this strategy again (for the header of the YAML file)."""
    words = ["lofar-hires", "recipe", args.kind]
    options = {**KIND_OPTIONS[args.kind], "calibrators": "--calibrators", "integration_s": "--integration-s"}
    for dest, option in options.items():
        value = getattr(args, dest)
        if value is not None:
            words += [option, str(value)]
    for item in args.overrides:
        words += ["--set", item]
    return shlex.join(words)


def international_calibrators(table: Path) -> list:
    """The main calibrators of a selection table, each with its sigma_c (``score_rad``).

    Raises
    ------
    InputError
        No main calibrator, or a main calibrator without a score.
    """
    from lofar_hires.errors import InputError
    from lofar_hires.selection.table import read_table, rows_in

    rows = read_table(table)
    main = rows_in(rows, "main")
    if not main:
        raise InputError(f"{table}: no main calibrator (category main) among its {len(rows)} row(s); the "
                         "international self-calibration needs at least one", setting="calibrators")
    unscored = [r.name for r in main if r.score_rad is None]
    if unscored:
        raise InputError(f"{table}: main calibrator(s) {', '.join(unscored)} have no score_rad (sigma_c); score them "
                         "with lofar-hires select score first", setting="calibrators")
    return main


def write_international_batch(args: argparse.Namespace, config) -> int:
    """``recipe international --calibrators TABLE --outdir DIR``: one strategy per main calibrator and an index."""
    import json

    from lofar_hires import __version__
    from lofar_hires.errors import InputError
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.io.names import inside, safe_names
    from lofar_hires.selfcal.recipes import delta_t_min, international_strategy, strategy_yaml

    rows = international_calibrators(args.calibrators)
    recipe = config.international
    integration_s = recipe.time_resolution_s if args.integration_s is None else args.integration_s
    formula = args.dt_formula or config.delta_t.formula
    files = safe_names([r.name for r in rows], what="calibrator name")
    texts, index = {}, []
    for row in rows:
        try:
            dt_min = delta_t_min(row.score_rad, formula, config.delta_t)
        except InputError as exc:
            raise InputError(f"{args.calibrators}: calibrator {row.name}: {exc}", setting="calibrators") from None
        mapping = international_strategy(dt_min, integration_s, recipe, sigma_c_rad=row.score_rad,
                                         dt_formula=formula)
        mapping["name"] = f"international_{files[row.name]}"
        mapping["description"] += f", calibrator {row.name}"
        name = f"{files[row.name]}.yaml"
        header = [f"Self-calibration strategy of calibrator {row.name} made by `{command_line(args)}` "
                  f"(lofar-hires {__version__}),", "following de Jong et al. 2025, section 6.4.2.", ""]
        texts[name] = strategy_yaml(mapping, header)
        flux_jy = row.total_flux_jy if row.total_flux_jy is not None else row.peak_flux_jy
        index.append({"name": row.name, "ra_deg": row.ra_deg, "dec_deg": row.dec_deg, "sigma_c_rad": row.score_rad,
                      "delta_t_min": dt_min, "flux_jy": flux_jy, "strategy": name})
        log.info("calibrator %s: sigma_c %.4g rad -> delta_t %.4g min; %s", row.name, row.score_rad, dt_min,
                 ", ".join(f"{s['name']} {s['solint_s']:g} s" for s in mapping["solves"]))
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        with atomic_output(inside(outdir, name), args.overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
    with atomic_output(inside(outdir, INDEX_NAME), args.overwrite) as tmp:
        tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %d strategies and %s into %s", len(texts), INDEX_NAME, outdir)
    print(outdir / INDEX_NAME)
    return 0


def run(args: argparse.Namespace) -> int:
    from lofar_hires import __version__
    from lofar_hires.io.atomic import atomic_output
    from lofar_hires.selfcal.recipes import (
        delta_t_min,
        dutch_strategy,
        explain,
        international_strategy,
        load_recipe_config,
        refine_dutch_needed,
        refine_dutch_strategy,
        refine_final_strategy,
        strategy_yaml,
    )

    _check_options(args)
    config = load_recipe_config(args.overrides)
    if args.kind == "international" and args.calibrators is not None:
        return write_international_batch(args, config)
    origin = ""  # where the peak brightness came from, when it is not given
    if args.kind in ("refine-dutch", "refine-final"):
        formula = args.dt_formula or config.delta_t.formula
        if args.sigma_c_rad is not None:
            dt_min = delta_t_min(args.sigma_c_rad, formula, config.delta_t)
            source = {"sigma_c_rad": args.sigma_c_rad, "dt_formula": formula}
            log.info("recipe %s: sigma_c %.4g rad -> delta_t %.4g min (formula %s)", args.kind, args.sigma_c_rad,
                     dt_min, formula)
        else:
            dt_min, source = args.delta_t_min, {}
            log.info("recipe %s: delta_t %.4g min (given)", args.kind, dt_min)
        if args.kind == "refine-dutch":
            if not refine_dutch_needed(dt_min, config.refine_dutch):
                log.warning("delta_t %.4g min is above %g min: this facet skips the 6 arcsec Dutch refinement (its "
                            "Dutch corrections were left unchanged); no strategy written", dt_min,
                            config.refine_dutch.skip_above_delta_t_min)
                return 0
            integration_s = args.integration_s * config.refine_dutch.time_factor
            mapping = refine_dutch_strategy(dt_min, args.integration_s, args.chan_width_hz, config.refine_dutch,
                                            **source)
        else:
            integration_s = config.refine_final.time_resolution_s if args.integration_s is None else args.integration_s
            mapping = refine_final_strategy(dt_min, integration_s, config.refine_final, **source)
    elif args.kind == "international":
        recipe = config.international
        integration_s = recipe.time_resolution_s if args.integration_s is None else args.integration_s
        if args.sigma_c_rad is not None:
            formula = args.dt_formula or config.delta_t.formula
            dt_min = delta_t_min(args.sigma_c_rad, formula, config.delta_t)
            log.info("recipe international: sigma_c %.4g rad -> delta_t %.4g min (formula %s)", args.sigma_c_rad,
                     dt_min, formula)
            mapping = international_strategy(dt_min, integration_s, recipe, sigma_c_rad=args.sigma_c_rad,
                                             dt_formula=formula)
        else:
            log.info("recipe international: delta_t %.4g min (given)", args.delta_t_min)
            mapping = international_strategy(args.delta_t_min, integration_s, recipe)
    else:
        recipe = config.dutch
        integration_s = recipe.time_resolution_s if args.integration_s is None else args.integration_s
        if args.calibrators is not None:
            peak_flux_jy, origin = faintest_calibrator_peak(args.calibrators)
            log.info("recipe dutch: peak brightness %.4g Jy/beam, %s", peak_flux_jy, origin)
        else:
            peak_flux_jy = args.peak_flux_jy
            log.info("recipe dutch: peak brightness %.4g Jy/beam", peak_flux_jy)
        mapping = dutch_strategy(peak_flux_jy, integration_s, recipe)
        if origin:
            mapping["description"] += f", {origin}"
    log.info("%d solve(s): %s; intervals in whole %g s integrations", len(mapping["solves"]),
             ", ".join(f"{s['name']} {s['solint_s']:g} s" for s in mapping["solves"]), integration_s)
    header = [f"Self-calibration strategy made by `{command_line(args)}` (lofar-hires {__version__}),",
              f"following de Jong et al. 2025, section {SECTIONS[args.kind]}.",
              *([f"Peak brightness: {origin}."] if origin else []),
              "Run it with: lofar-hires selfcal MSIN --strategy THIS_FILE --outdir DIR", ""]
    text = strategy_yaml(mapping, header)
    if args.output is None:
        print(text, end="")
    else:
        with atomic_output(args.output, args.overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
        log.info("wrote %s", args.output)
    if args.explain:
        table = explain(mapping)
        if origin:
            table = "".join(f"{line}, {origin}\n" if line.startswith("peak brightness ") else f"{line}\n"
                            for line in table.splitlines())
        print(("\n" if args.output is None else "") + table, end="")
    return 0
