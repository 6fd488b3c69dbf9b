"""Bad-input battery: every ``lofar-hires`` command against every class of bad input that applies to it.

The commands are enumerated from the argument parser (every task of
:data:`lofar_hires.cli.TASKS` and every sub-command of a group), and
:func:`test_every_command_and_argument_has_battery_rows` fails when a command, an
input or output argument or a numeric option has no row in the table below, so a
new command or option cannot be forgotten.

Classes of bad input (the columns of the matrix printed at the end of the run):

``missing``           a path that does not exist
``empty``             an empty file, or an empty directory where a measurement set is expected
``wrong-type``        a directory where a file is expected, a file where a measurement set is expected
``corrupt``           garbage bytes, a truncated h5parm, image or weights file, a directory that looks like a
                      measurement set but is no casacore table, valid HDF5 that is no h5parm or a structurally
                      wrong h5parm, a sky model or table in another format, YAML that does not parse or is a list
``bad-value``         NaN, negative or out-of-range numbers (thresholds, intervals, sizes, RA/Dec), unknown
                      choices and names, ``--set`` with an unknown key, a wrong type or no ``=``, a
                      configuration file with an unknown key, an image of NaNs, an h5parm of NaNs
``hostile-name``      names from data or options that would leave the output directory as file names
                      (``../x``, an absolute path, ``a/b``, empty, 300 characters, NUL, two names that collide
                      after conversion): candidate tables, sky models, strategy solve names, image names
``zero-rows``         a measurement set without rows
``all-flagged``       a measurement set whose every sample is flagged
``read-only-output``  an output path below a regular file (ENOTDIR, even for root)
``existing-output``   an existing product and no ``--overwrite``

For each case: exit status 2 (bad input; 2 or 4 for solutions of NaN; hostile names
that a command turns into safe file names may also succeed, see below), exactly one
ERROR line on stderr that names the bad argument, file or value, no traceback and no
internal error, no external tool started, every input byte for byte unchanged (sha256
of every file) and no new or partial file anywhere in the case's directory. A
hostile-name case that succeeds passes only when everything it wrote lies inside the
command's declared outputs, no name became a sub-directory and two colliding names
gave two products. Commands run in-process through :func:`lofar_hires.cli.main` in a
directory of their own, five levels below the watched directory (relative defaults and
names that climb out with ``..`` land where the test looks).

Inputs come from one ``tiny`` simulation (session cached), a real DP3 predict and
solve on its calibrator, a WSClean image of its target and small synthetic h5parms
and tables; every case gets its own copies. :func:`test_good_call_succeeds` (slow)
checks that each command's good call succeeds, so that a refusal comes from the one
bad input. The matrix (commands x classes) and every failing case are printed at the
end of the run and written to ``bad_input_battery.txt`` (every case's exit status and
error line to ``bad_input_battery.tsv``) in pytest's base temporary directory.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import bad_inputs as bi
from conftest import example_solset
from lofar_hires.cli import build_parser, main

# --------------------------------------------------------------------------- the table

#: Columns of the matrix, in order.
CLASSES = ("missing", "empty", "wrong-type", "corrupt", "bad-value", "hostile-name", "zero-rows", "all-flagged",
           "read-only-output", "existing-output")

#: Kinds of good input and the file-name extension of their bad variants.
MS_KINDS = ("ms", "cal_ms", "model_ms")
H5_KINDS = ("h5", "circ_h5", "st_h5", "solve_h5", "cal_h5", "transfer_h5", "dd_h5")
SKY_KINDS = ("skymodel", "cal_skymodel")
CSV_KINDS = ("candidates", "scores", "selection", "catalogue", "delay_cals", "facet_table")
FITS_KINDS = ("fits",)
YAML_KINDS = ("strategy", "groups", "dimensions", "run_config")
#: JSON files: the run manifest of ``lofar-hires run`` (run.json).
JSON_KINDS = ("run_manifest",)
REGION_KINDS = ("regions", "facet_regions")
WEIGHTS_KINDS = ("backbone", "head", "public_weights")  # safetensors files of the image classifier
#: Directories that are the products of a task, and the file in them that a command reads first (the garbage
#: variant): a selfcal run, a classifier model, a classifier dataset and a run directory of ``lofar-hires run``.
DIR_KINDS = ("selfcal_dir", "model_dir", "dataset", "run_dir")
DIR_INDEX = {"selfcal_dir": ("report", "selfcal_report.json"), "model_dir": ("weights", "backbone.safetensors"),
             "dataset": ("index", "dataset.json"), "run_dir": ("manifest", "run.json")}
EXTENSION = {**{k: "" for k in DIR_KINDS},
             **{k: ".MS" for k in MS_KINDS}, **{k: ".h5" for k in H5_KINDS}, **{k: ".skymodel" for k in SKY_KINDS},
             **{k: ".csv" for k in CSV_KINDS}, **{k: ".fits" for k in FITS_KINDS}, **{k: ".yaml" for k in YAML_KINDS},
             **{k: ".reg" for k in REGION_KINDS}, **{k: ".json" for k in JSON_KINDS},
             **{k: ".safetensors" for k in WEIGHTS_KINDS}}


@dataclass(frozen=True)
class Optional_:
    """An input or output that the command's base call does not use, added for its cases."""

    option: str
    kind: str  # an input kind, or "file"/"dir" for an output
    rel: str = ""  # outputs: path below the case's output directory
    extra: tuple[str, ...] = ()  # more arguments the option needs (e.g. a setting that enables it)
    drop: tuple[str, ...] = ()  # tokens of the base call it replaces (mutually exclusive options)


@dataclass(frozen=True)
class Spec:
    """How a command is called with good inputs, and what it writes.

    ``argv`` holds ``{dest}`` placeholders (``dest`` as in the argument parser): an input
    of ``inputs`` becomes a copy of a good input of that kind, an output of ``outputs``
    a path below the case's output directory.
    """

    argv: tuple[str, ...]
    inputs: dict[str, str] = field(default_factory=dict)  # dest -> kind
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # dest -> (relative path, "file"/"dir")
    optional: dict[str, Optional_] = field(default_factory=dict)  # dest -> input/output not in argv
    side_products: tuple[str, ...] = ()  # other files a successful run writes (relative to the output directory)
    existing: tuple[tuple[str, str], ...] = ()  # earlier products for the existing-output case (default: outputs)
    config: tuple[bool, str] | None = None  # (takes --config, a numeric setting for --set)
    option_names: dict[str, str] = field(default_factory=dict)  # dest -> how messages name it (positionals)


#: The smallest timm backbone of the classifier's family (the tiny model scales it down; imported weights cannot).
CLASSIFIER_BACKBONE = "vit_small_patch14_reg4_dinov2"
#: Score settings that give the tiny field enough phase values (two stations, 20 s solution intervals).
SCORE_TINY = ("--set", "score.stations=international", "--set", "score.time_resolution_s=20", "--set",
              "score.solint_s=20.4")
#: The same score settings for ``calibratability`` (its --set holds the gate's limits), and a position near bright02
#: of the tiny field as the in-field calibrator.
SCORE_TINY_GATE = tuple(x if x != "--set" else "--set-selection" for x in SCORE_TINY)
GATE_CALIBRATOR = ("--calibrator-ra-deg", "242.99", "--calibrator-dec-deg", "54.86")
#: Every leaf command of ``lofar-hires`` with a good call.
#: The refinement at the tiny field's size: two cycles per step, the tiny strategy's images, no uv cut; the check of
#: the refined facet allows a factor 2 (the battery's data are not DD-calibrated: self-calibration raises the
#: calibrator's peak by about half).
_REFINE_STRATEGY = ("imaging.size_pix=256", "imaging.scale_arcsec=15.0", "imaging.niter=200",
                    "stopping.stability_stations=remote")
REFINE_TOY = (*(x for key in ("refine_dutch", "refine_final") for item in (
    "max_cycles=2", "min_cycles=1", "gain.start_cycle=0") for x in ("--set-recipe", f"{key}.{item}")),
    "--set-recipe", "refine_final.classifier_model=none", "--set-recipe", "refine_final.minuv_lambda=0",
    "--set-recipe", "refine_check.max_peak_change_fraction=1.0",
    *(x for item in _REFINE_STRATEGY for x in ("--set-dutch", item)),
    *(x for item in _REFINE_STRATEGY for x in ("--set-final", item)), "--set-dutch", "imaging.taper_gaussian_arcsec=0")


#: The secondary calibrators at the tiny field's size: the final refinement step of ``REFINE_TOY``.
SECONDARY_TOY = (*(x for item in ("max_cycles=2", "min_cycles=1", "gain.start_cycle=0", "classifier_model=none",
                                  "minuv_lambda=0") for x in ("--set-recipe", f"refine_final.{item}")),
                 *(x for item in _REFINE_STRATEGY for x in ("--set-final", item)))
SPECS: dict[str, Spec] = {
    "simulate": Spec(("simulate", "--preset", "tiny", "--outdir", "{outdir}"),
                     outputs={"outdir": ("sim", "dir")}, config=(True, "observation.duration_s")),
    "image": Spec(("image", "{msin}", "--outdir", "{outdir}", "--size-pix", "64", "64", "--scale-arcsec", "20",
                   "--niter", "0"),
                  inputs={"msin": "ms"}, outputs={"outdir": ("img", "dir")},
                  existing=(("img/image-image.fits", "file"), ("img/image-dirty.fits", "file"))),
    "compare-sky": Spec(("compare-sky", "{image}", "{skymodel}", "--output", "{output}"),
                        inputs={"image": "fits", "skymodel": "skymodel"}, outputs={"output": ("compare.json", "file")}),
    "h5 merge": Spec(("h5", "merge", "{h5parms}", "-o", "{output}"), inputs={"h5parms": "h5"},
                     outputs={"output": ("merged.h5", "file")},
                     optional={"time_grid": Optional_("--time-grid", "h5"),
                               "freq_grid": Optional_("--freq-grid", "h5")}),
    "h5 merge-dd": Spec(("h5", "merge-dd", "{dutch_solutions}", "--international", "{international}", "-o",
                         "{output}"),
                        inputs={"dutch_solutions": "h5", "international": "selfcal_dir"},
                        outputs={"output": ("merged.h5", "file")}, side_products=("merged.directions.csv",),
                        optional={"facet_regions": Optional_("--facet-regions", "regions")}),
    "h5 reset": Spec(("h5", "reset", "{h5parm}", "--stations", "core", "-o", "{output}"), inputs={"h5parm": "h5"},
                     outputs={"output": ("reset.h5", "file")},
                     optional={"station_groups": Optional_("--station-groups", "groups")}),
    "h5 expand-core": Spec(("h5", "expand-core", "{h5parm}", "--msin", "{msin}", "-o", "{output}"),
                           inputs={"h5parm": "st_h5", "msin": "ms"}, outputs={"output": ("expanded.h5", "file")},
                           optional={"station_groups": Optional_("--station-groups", "groups")}),
    "h5 directions": Spec(("h5", "directions", "{h5parm}", "select", "--names", "dir0", "-o", "{output}"),
                          inputs={"h5parm": "h5"}, outputs={"output": ("directions.h5", "file")}),
    "h5 nearest": Spec(("h5", "nearest", "{h5parm}", "--ra-deg", "243.3", "--dec-deg", "55.25"),
                       inputs={"h5parm": "h5"}),
    "h5 lin2circ": Spec(("h5", "lin2circ", "{h5parm}", "-o", "{output}"), inputs={"h5parm": "h5"},
                        outputs={"output": ("circ.h5", "file")}),
    "h5 circ2lin": Spec(("h5", "circ2lin", "{h5parm}", "-o", "{output}"), inputs={"h5parm": "circ_h5"},
                        outputs={"output": ("lin.h5", "file")}),
    "h5 info": Spec(("h5", "info", "{h5parm}"), inputs={"h5parm": "h5"}),
    # One facet (the region file's "field") whose direction holds the tiny field's solutions.
    "subtract": Spec(("subtract", "{msin}", "--skymodel", "{skymodel}", "--h5parm", "{h5parm}", "--facet-regions",
                      "{facet_regions}", "-o", "{outdir}", "--no-beam", "--resolution-arcsec", "20"),
                     inputs={"msin": "ms", "skymodel": "skymodel", "h5parm": "dd_h5", "facet_regions": "regions"},
                     outputs={"outdir": ("facets", "dir")},
                     side_products=("facets/msin.field.ms.provenance.json",
                                    "facets/msin.subtract.json"),
                     existing=(("facets/msin.field.ms", "dir"),),
                     optional={"empty_ms": Optional_("--empty-ms", "ms"),
                               "model_images": Optional_("--model-images", "fits", drop=("--skymodel", "{skymodel}")),
                               "keep_empty": Optional_("--keep-empty", "dir", rel="empty.MS",
                                                       extra=("--empty-only",))}),
    # The tiny field's brightest source (0.9 Jy), peeled with its own gains.
    "peel": Spec(("peel", "{msin}", "--skymodel", "{skymodel}", "-o", "{outdir}", "--no-beam", "--source", "bright02"),
                 inputs={"msin": "ms", "skymodel": "skymodel"}, outputs={"outdir": ("peeled", "dir")},
                 side_products=("peeled/msin.peeled.ms.provenance.json", "peeled/msin.peel.json",
                                "peeled/msin.peel.bright02.h5"),
                 existing=(("peeled/msin.peeled.ms", "dir"),)),
    # The tiny field's first main calibrator (sigma_c 1.0 rad, delta_t 2.9 min: both steps), at toy size.
    "refine": Spec(("refine", "{msin}", "--calibrators", "{calibrators}", "--facet", "bright01", "-o", "{outdir}",
                    "--image-size-pix", "64", "--image-scale-arcsec", "15", "--image-niter", "100",
                    "--image-taper-arcsec", "0", *REFINE_TOY),
                   inputs={"msin": "ms", "calibrators": "selection"}, outputs={"outdir": ("refined", "dir")},
                   side_products=("refined/bright01.refine.json", "refined/bright01.msin.refined.h5",
                                  "refined/bright01-image.fits"),
                   existing=(("refined/bright01.refine.json", "file"),)),
    # bright02 as the weak calibrator of bright01's facet, at toy size.
    "secondary": Spec(("secondary", "{msin}", "--refined", "{refined}", "--calibrators", "{calibrators}", "--facet",
                       "bright01", "--facet-regions", "{facet_regions}", "--skymodel", "{skymodel}", "-o", "{outdir}",
                       *SECONDARY_TOY),
                      inputs={"msin": "ms", "refined": "dd_h5", "calibrators": "facet_table",
                              "facet_regions": "facet_regions", "skymodel": "skymodel"},
                      outputs={"outdir": ("secondary", "dir")},
                      side_products=("secondary/bright01.secondary.json", "secondary/bright01.subfacets.reg",
                                     "secondary/bright02.msin.secondary.h5"),
                      existing=(("secondary/bright01.secondary.json", "file"),)),
    # The tiny field as one facet, at one coarse resolution (the battery's region file: the facet "field").
    "final-image": Spec(("final-image", "{msin}", "--facet", "field", "--facet-regions", "{facet_regions}", "-o",
                         "{outdir}", "--set", "resolutions.60.taper_arcsec=60", "--set",
                         "resolutions.60.pixel_arcsec=30", "--no-beam"),
                        inputs={"msin": "ms", "facet_regions": "regions"}, outputs={"outdir": ("images", "dir")},
                        optional={"solutions": Optional_("--solutions", "dd_h5")},
                        side_products=("images/field.60asec-image.fits", "images/field.60asec.final.json",
                                       "images/field.60asec.final.provenance.json"),
                        existing=(("images/field.60asec-image.fits", "file"),), config=(True, "minuv_lambda")),
    # The tiny field's image as the one facet image of the battery's region file (the facet "field").
    "mosaic": Spec(("mosaic", "{images}", "--facet-regions", "{facet_regions}", "-o", "{output}"),
                   inputs={"images": "fits", "facet_regions": "regions"}, outputs={"output": ("mosaic.fits", "file")},
                   optional={"beam_images": Optional_("--beam-images", "fits", extra=("--mode", "beam-weighted")),
                             "restored_models": Optional_("--restored-models", "fits"),
                             "noise_map": Optional_("--noise-map", "file", rel="noise.fits")},
                   side_products=("mosaic-rms.fits", "mosaic.json", "mosaic.fits.provenance.json")),
    # The tiny field's observation alone (averaged in time) at the radius where 10 s slots stay within the budget.
    "sva": Spec(("sva", "{msin}", "-o", "{outdir}", "--image-radius-deg", "0.04"), inputs={"msin": "ms"},
                outputs={"outdir": ("averaged", "dir")},
                side_products=("averaged/sva.ms.provenance.json", "averaged/sva.sva.json"),
                existing=(("averaged/sva.ms", "dir"),)),
    "di-calibrator": Spec(("di-calibrator", "{msin}", "--skymodel", "{skymodel}", "--outdir", "{outdir}", "--no-plots",
                           "--set", "fits.clocktec_mode=combined", "--set", "allow_failed_stations=true"),
                          inputs={"msin": "cal_ms", "skymodel": "cal_skymodel"}, outputs={"outdir": ("dical", "dir")},
                          config=(True, "averaging.time_resolution_s")),
    "di-target": Spec(("di-target", "{msin}", "--cal-solutions", "{cal_solutions}", "--outdir", "{outdir}"),
                      inputs={"msin": "ms", "cal_solutions": "cal_h5"}, outputs={"outdir": ("ditarget", "dir")},
                      optional={"skymodel": Optional_("--skymodel", "skymodel",
                                                      extra=("--set", "phase_calibration=true"))},
                      config=(True, "averaging.time_resolution_s")),
    "dical prepare": Spec(("dical", "prepare", "{msin}", "-o", "{output}"), inputs={"msin": "cal_ms"},
                          outputs={"output": ("prepared.MS", "dir")},
                          optional={"logdir": Optional_("--logdir", "dir", rel="dp3logs")},
                          config=(True, "averaging.time_resolution_s")),
    "dical predict": Spec(("dical", "predict", "{msin}", "-o", "{output}", "--skymodel", "{skymodel}"),
                          inputs={"msin": "cal_ms", "skymodel": "cal_skymodel"},
                          outputs={"output": ("predicted.MS", "dir")},
                          optional={"logdir": Optional_("--logdir", "dir", rel="dp3logs")}),
    "dical corrupt-model": Spec(("dical", "corrupt-model", "{msin}", "-o", "{output}", "--faraday", "{faraday}"),
                                inputs={"msin": "model_ms", "faraday": "cal_h5"},
                                outputs={"output": ("corrupted.MS", "dir")},
                                optional={"logdir": Optional_("--logdir", "dir", rel="dp3logs")}),
    "dical solve": Spec(("dical", "solve", "{msin}", "-o", "{output}", "--output-ms", "{output_ms}", "--mode",
                         "diagonal"),
                        inputs={"msin": "model_ms"},
                        outputs={"output": ("solve.h5", "file"), "output_ms": ("solved.MS", "dir")},
                        optional={"corrections": Optional_("--apply", "transfer_h5"),
                                  "logdir": Optional_("--logdir", "dir", rel="dp3logs")},
                        config=(True, "averaging.time_resolution_s")),
    "dical fit": Spec(("dical", "fit", "polalign", "{solve_h5}", "-o", "{output}"), inputs={"solve_h5": "solve_h5"},
                      outputs={"output": ("fit.h5", "file")}, config=(True, "averaging.time_resolution_s"),
                      option_names={"solve_h5": "the solve"}),
    "dical refine-polalign": Spec(("dical", "refine-polalign", "{initial_h5}", "{solve_h5}", "-o", "{output}"),
                                  inputs={"initial_h5": "cal_h5", "solve_h5": "solve_h5"},
                                  outputs={"output": ("polalign.h5", "file")},
                                  config=(True, "averaging.time_resolution_s"),
                                  option_names={"initial_h5": "initial alignment", "solve_h5": "the solve"}),
    "dical collect": Spec(("dical", "collect", "--polalign", "{polalign}", "--bandpass", "{bandpass}", "--faraday",
                           "{faraday}", "--clocktec", "{clocktec}", "-o", "{output}"),
                          inputs={"polalign": "cal_h5", "bandpass": "cal_h5", "faraday": "cal_h5",
                                  "clocktec": "cal_h5"},
                          outputs={"output": ("cal_solutions.h5", "file")}),
    "dical transfer": Spec(("dical", "transfer", "{cal_h5}", "-o", "{output}"), inputs={"cal_h5": "cal_h5"},
                           outputs={"output": ("transfer.h5", "file")},
                           option_names={"cal_h5": "calibrator solutions"}),
    "dical correct": Spec(("dical", "correct", "{msin}", "--transfer", "{transfer}", "-o", "{output}"),
                          inputs={"msin": "ms", "transfer": "transfer_h5"}, outputs={"output": ("corrected.MS", "dir")},
                          optional={"logdir": Optional_("--logdir", "dir", rel="dp3logs")},
                          config=(True, "averaging.time_resolution_s")),
    "dical phasecal": Spec(("dical", "phasecal", "{msin}", "--skymodel", "{skymodel}", "-o", "{output}",
                            "--output-ms", "{output_ms}"),
                           inputs={"msin": "ms", "skymodel": "skymodel"},
                           outputs={"output": ("phase.h5", "file"), "output_ms": ("phasecal.MS", "dir")},
                           optional={"logdir": Optional_("--logdir", "dir", rel="dp3logs")},
                           config=(True, "averaging.time_resolution_s")),
    "dical plots": Spec(("dical", "plots", "--solves", "{solves}", "--polalign-solve", "{polalign_solve}",
                         "--polalign", "{polalign}", "--faraday", "{faraday}", "--bandpass", "{bandpass}",
                         "--clocktec", "{clocktec}", "-o", "{outdir}"),
                        inputs={"solves": "solve_h5", "polalign_solve": "solve_h5", "polalign": "cal_h5",
                                "faraday": "cal_h5", "bandpass": "cal_h5", "clocktec": "cal_h5"},
                        outputs={"outdir": ("plots", "dir")}, config=(True, "averaging.time_resolution_s")),
    "select candidates": Spec(("select", "candidates", "--skymodel", "{skymodel}", "-o", "{output}", "--split-dir",
                               "{split_dir}"),
                              inputs={"skymodel": "skymodel"},
                              outputs={"output": ("candidates.csv", "file"), "split_dir": ("split", "dir")},
                              optional={"catalogue": Optional_("--catalogue", "catalogue",
                                                               drop=("--skymodel", "{skymodel}")),
                                        "image": Optional_("--image", "fits", drop=("--skymodel", "{skymodel}")),
                                        "delay_calibrators": Optional_("--delay-calibrators", "delay_cals",
                                                                       drop=("--skymodel", "{skymodel}"))},
                              side_products=("candidates.provenance.json", "candidates_pybdsf")),
    "select score": Spec(("select", "score", "{msin}", "--candidates", "{candidates}", "-o", "{output}", *SCORE_TINY),
                         inputs={"msin": "ms", "candidates": "candidates"}, outputs={"output": ("scores.csv", "file")},
                         optional={"solutions_dir": Optional_("--solutions-dir", "dir", rel="solutions")},
                         side_products=("scores.json", "scores.provenance.json"),
                         config=(True, "score.solint_s")),
    "select classify": Spec(("select", "classify", "{scores}", "-o", "{output}"), inputs={"scores": "scores"},
                            outputs={"output": ("selection.csv", "file")},
                            side_products=("selection.provenance.json",), config=(True, "classify.main_max_rad")),
    "select skymodel": Spec(("select", "skymodel", "{table}", "-o", "{output}"), inputs={"table": "catalogue"},
                            outputs={"output": ("calibrators.skymodel", "file")},
                            side_products=("calibrators.provenance.json",),
                            config=(True, "skymodel.min_peak_flux_jy")),
    "facets": Spec(("facets", "{table}", "-o", "{outdir}", "--msin", "{msin}"),
                   inputs={"table": "selection", "msin": "ms"},
                   outputs={"outdir": ("facets", "dir")},
                   optional={"sources": Optional_("--sources", "skymodel")}),
    "selfcal": Spec(("selfcal", "{msin}", "--strategy", "{strategy}", "--outdir", "{outdir}", "--skymodel",
                     "{skymodel}"),
                    inputs={"msin": "ms", "strategy": "strategy", "skymodel": "skymodel"},
                    outputs={"outdir": ("selfcal", "dir")},
                    optional={"model_image": Optional_("--model-image", "fits", drop=("--skymodel", "{skymodel}")),
                              "pre_apply": Optional_("--pre-apply", "transfer_h5"),
                              "station_groups": Optional_("--station-groups", "groups"),
                              "facet_regions": Optional_("--facet-regions", "regions"),
                              "delay_calibrators": Optional_("--delay-calibrators", "delay_cals",
                                                             drop=("--skymodel", "{skymodel}"))},
                    config=(False, "solves.0.solint_s")),
    "recipe": Spec(("recipe", "international", "--sigma-c", "0.8", "--output", "{output}"),
                   outputs={"output": ("strategy.yaml", "file")},
                   optional={"calibrators": Optional_("--calibrators", "catalogue", extra=("dutch",),
                                                      drop=("international", "--sigma-c", "0.8"))},
                   config=(False, "international.max_cycles")),
    # Compute accounting of a synthetic run manifest, projected with a dimensions file that changes nothing.
    "project-cost": Spec(("project-cost", "{manifests}", "-o", "{outdir}"), inputs={"manifests": "run_manifest"},
                         outputs={"outdir": ("cost", "dir")},
                         optional={"dimensions": Optional_("--dimensions", "dimensions")},
                         side_products=("cost/project_cost.json", "cost/project_cost.csv", "cost/project_cost.png"),
                         existing=(("cost/project_cost.json", "file"),)),
    # The chain's first module (the simulation of the tiny field) with a run configuration; an existing run folder
    # is continued, so the existing-output case is a folder holding a damaged manifest.
    "run": Spec(("run", "{config}", "-o", "{outdir}", "--to", "simulate"), inputs={"config": "run_config"},
                outputs={"outdir": ("run", "dir")}, side_products=("run/run.json",),
                existing=(("run/run.json", "file"),)),
    # The run report of a run directory holding the synthetic run manifest and the tiny field's image.
    "report": Spec(("report", "{run_dir}", "-o", "{output}"), inputs={"run_dir": "run_dir"},
                   outputs={"output": ("report/index.html", "file")}, side_products=("report/index.provenance.json",)),
    # A Dysco-compressed copy of the tiny target, at the bit rate measured on it.
    "compress": Spec(("compress", "{msin}", "-o", "{output}"), inputs={"msin": "ms"},
                     outputs={"output": ("compressed.MS", "dir")},
                     side_products=("compressed.MS.provenance.json", "compressed.MS.compress.json")),
    # The calibratability gate on the tiny target, with the calibrator's truth (its tec soltab) as the solutions.
    "calibratability": Spec(("calibratability", "--msin", "{msin}", "--di-solutions", "{di_solutions}",
                             *GATE_CALIBRATOR, "-o", "{output}", *SCORE_TINY_GATE),
                            inputs={"msin": "ms", "di_solutions": "cal_h5"},
                            outputs={"output": ("calibratability.json", "file")},
                            optional={"calibrators": Optional_("--calibrators", "candidates", drop=GATE_CALIBRATOR),
                                      "selection_config": Optional_("--selection-config", "strategy")},
                            side_products=("calibratability.provenance.json",),
                            config=(True, "flags.max_flagged_fraction")),
    "apply-solutions": Spec(("apply-solutions", "{msin}", "--solutions", "{solutions}", "-o", "{output}"),
                            inputs={"msin": "ms", "solutions": "transfer_h5"},
                            outputs={"output": ("applied.MS", "dir")}, side_products=("applied.MS.provenance.json",)),
    # The image classifier, with a tiny model (see classifier_inputs). --output of classify and evaluate is optional.
    "classify": Spec(("classify", "{images}", "--model-dir", "{model_dir}"),
                     inputs={"images": "fits", "model_dir": "model_dir"},
                     optional={"backbone_weights": Optional_("--backbone-weights", "backbone"),
                               "head_weights": Optional_("--head-weights", "head"),
                               "output": Optional_("--output", "file", rel="scores.json")}),
    "classifier evaluate": Spec(("classifier", "evaluate", "{dataset}", "--model-dir", "{model_dir}"),
                                inputs={"dataset": "dataset", "model_dir": "model_dir"},
                                optional={"backbone_weights": Optional_("--backbone-weights", "backbone"),
                                          "head_weights": Optional_("--head-weights", "head"),
                                          "output": Optional_("--output", "file", rel="metrics.json")}),
    # One epoch from the tiny model's frozen backbone. An output directory with a run continues it: the earlier
    # product is a training record that is not one.
    "classifier train": Spec(("classifier", "train", "{dataset}", "--outdir", "{outdir}", "--backbone-weights",
                              "{backbone_weights}", "--epochs", "1", "--batch-size", "2"),
                             inputs={"dataset": "dataset", "backbone_weights": "backbone"},
                             outputs={"outdir": ("model", "dir")}, existing=(("model/training.json", "file"),)),
    # A partly made dataset continues: the earlier product is a field record that is not one (no field is made).
    "classifier dataset": Spec(("classifier", "dataset", "--outdir", "{outdir}", "--fields", "1", "--first-seed", "0"),
                               outputs={"outdir": ("dataset", "dir")},
                               existing=(("dataset/fields/field_0000.json", "file"),),
                               config=(True, "labels.phase_error_rad")),
    "classifier import-backbone": Spec(("classifier", "import-backbone", "{source}", "--backbone",
                                        CLASSIFIER_BACKBONE, "--img-size", "28", "--output", "{output}"),
                                       inputs={"source": "public_weights"},
                                       outputs={"output": ("backbone.safetensors", "file")}),
}
#: Commands of the image classifier: they need torch, timm and safetensors (pip install 'lofar-hires[classifier]').
CLASSIFIER_COMMANDS = {"classify", "classifier evaluate", "classifier train", "classifier dataset",
                       "classifier import-backbone"}

#: Commands that only describe their input: solutions of NaN are a finding to show, not bad input. Every other
#: command that reads solutions must refuse them (2) or fail its quality check (4): success means finite outputs.
INSPECTION_COMMANDS = {"h5 info", "h5 nearest", "dical plots"}
#: Path arguments that are not inputs or outputs of one command (global options).
NOT_ARGUMENTS = {"log_file", "log_level"}
#: Destinations of string arguments that name input files (the parser cannot tell).
STRING_FILE_ARGUMENTS = {"h5 merge": {"h5parms", "time_grid", "freq_grid"}, "di-calibrator": {"skymodel"},
                         "dical predict": {"skymodel"}, "dical solve": {"corrections"}, "selfcal": {"strategy"}}


# --------------------------------------------------------------------------- good inputs


@dataclass(frozen=True)
class Sources:
    """Good inputs of every kind (made once per session; cases copy them)."""

    files: dict[str, Path]
    bright_deg: tuple[tuple[float, float], ...]  # positions of the bright sources of the field


TINY_STRATEGY = """\
name: battery
prepare: {time_resolution_s: 60.0, freq_resolution_hz: 3125000.0, phaseup_core: false}
solves:
%(solves)s
imaging: {size_pix: 256, scale_arcsec: 15.0, niter: 200, minuv_lambda: 0.0}
stopping: {min_cycles: 2, max_cycles: 2, stability_stations: remote}
reference_station: CS002HBA0
"""


def strategy_text(names: list[str] | None = None) -> str:
    """A two-cycle strategy for the tiny field: one phase solve per name (YAML-quoted)."""
    names = ["phase"] if names is None else names
    solves = "\n".join(f"  - {{name: {bi.yaml_string(n)}, soltype: scalarphase, solint_s: 60.0, solint_hz: 1.0e9, "
                       f"minuv_lambda: 0.0}}" for n in names)
    return TINY_STRATEGY % {"solves": solves}


@pytest.fixture(scope="session")
def sources(simulated, tmp_path_factory) -> Sources:
    from lofar_hires.calibration.di_calibrator import CAL_SOLTABS
    from lofar_hires.io.h5parm import read_h5parm, write_solset
    from lofar_hires.io.ms import read_ms_info
    from lofar_hires.io.skymodel import read_makesourcedb
    from lofar_hires.selection.table import CalibratorRow, write_table

    sim = simulated("tiny-battery", preset="tiny")
    root = tmp_path_factory.mktemp("battery_sources")
    target, calibrator = sim.targets()[0].ms, sim.calibrators()[0].ms
    stations = list(read_ms_info(target).station_names)
    files: dict[str, Path] = {"ms": target, "cal_ms": calibrator, "skymodel": sim.sky_model,
                              "cal_skymodel": sim.calibrator_model}
    # cal_solutions.h5 as di-calibrator writes it: the simulated truth of the calibrator's five effects
    files["cal_h5"] = write_solset(root / "cal_solutions.h5", read_h5parm(sim.calibrators()[0].truth_h5, None,
                                                                          list(CAL_SOLTABS)))
    # A real predict and DDECal solve on the calibrator: MODEL_DATA and solutions on the data's own grid.
    logs = root / "logs"
    for argv in (["dical", "predict", str(calibrator), "-o", str(root / "model.MS"), "--skymodel",
                  str(sim.calibrator_model), "--logdir", str(logs)],
                 ["dical", "solve", str(root / "model.MS"), "-o", str(root / "solve.h5"), "--output-ms",
                  str(root / "solved.MS"), "--mode", "rotation+diagonal", "--logdir", str(logs)]):
        assert main(["--log-level", "WARNING", *argv]) == 0, f"battery inputs: {' '.join(argv[:2])} failed"
    files["model_ms"], files["solve_h5"] = root / "model.MS", root / "solve.h5"
    files["h5"] = write_solset(root / "good.h5", example_solset())
    files["circ_h5"] = write_solset(root / "circ.h5", example_solset(pols=("RR", "RL", "LR", "LL")))
    files["st_h5"] = write_solset(root / "superstation.h5", example_solset(
        stations=("ST001", *[s for s in stations if not s.startswith("CS")]), n_dir=1))
    assert main(["--log-level", "WARNING", "dical", "transfer", str(files["cal_h5"]), "-o",
                 str(root / "transfer.h5")]) == 0
    files["transfer_h5"] = root / "transfer.h5"
    assert main(["--log-level", "WARNING", "image", str(target), "--outdir", str(root / "image"), "--size-pix", "128",
                 "128", "--scale-arcsec", "20", "--niter", "100"]) == 0
    files["fits"] = root / "image" / "image-image.fits"

    sky = read_makesourcedb(sim.sky_model)
    bright = [(n, float(np.degrees(ra)), float(np.degrees(dec))) for n, ra, dec in
              zip(sky.names, sky.ra_rad, sky.dec_rad) if n.startswith("bright")]
    faint = next((n, float(np.degrees(ra)), float(np.degrees(dec))) for n, ra, dec in
                 zip(sky.names, sky.ra_rad, sky.dec_rad) if n.startswith("faint"))
    files["candidates"] = write_table(root / "candidates.csv", [  # one: each candidate costs a DP3 solve
        CalibratorRow(n, ra, dec, peak_flux_jy=0.5, total_flux_jy=0.5, origin="skymodel") for n, ra, dec in bright[:1]])
    files["scores"] = write_table(root / "scores.csv", [
        CalibratorRow(n, ra, dec, peak_flux_jy=0.5, total_flux_jy=0.5, origin="skymodel", score_rad=1.0 + 0.5 * k,
                      score_stations=("DE601HBA", "FR606HBA")) for k, (n, ra, dec) in enumerate(bright)])
    files["selection"] = write_table(root / "selection.csv", [
        *[CalibratorRow(n, ra, dec, origin="skymodel", score_rad=1.0 + 0.3 * k, category="main", solint_min=5.0)
          for k, (n, ra, dec) in enumerate(bright)],
        CalibratorRow(faint[0], faint[1], faint[2], origin="skymodel", score_rad=2.3, category="weak")])
    rows = "".join(f"{n},{ra:.6f},{dec:.6f},0.5,0.5\n" for n, ra, dec in bright)
    files["catalogue"] = bi.text_file(root, "catalogue.csv", "name,ra_deg,dec_deg,peak_flux_jy,total_flux_jy\n" + rows)
    # delay_calibrators.csv of the LOFAR-VLBI pipeline: LoTSS columns, fluxes in mJy, numeric Source_id
    rows = "".join(f"{1001 + k},{ra:.6f},{dec:.6f},500.0,500.0,0.5\n" for k, (_, ra, dec) in enumerate(bright))
    files["delay_cals"] = bi.text_file(root, "delay_calibrators.csv",
                                       "Source_id,RA,DEC,Total_flux,Peak_flux,Radius\n" + rows)
    files["strategy"] = bi.text_file(root, "strategy.yaml", strategy_text())
    shipped = Path(str(resources.files("lofar_hires.configs") / "station_groups.yaml"))
    files["groups"] = bi.copy_input(shipped, root, "station_groups.yaml")
    files["dimensions"] = bi.text_file(root, "dimensions.yaml", "observations: [1, 16, 64]\n")
    files["run_config"] = bi.text_file(root, "run.yaml", "simulate:\n  preset: tiny\n  seed: 3\n")
    files["run_manifest"] = bi.text_file(root, "run.json", json.dumps({
        "format": "lofar-hires-run/1", "config": "/x/config.yaml", "runner": "cwltool",
        "started_utc": "2026-12-07T04:00:00.000000Z", "finished_utc": "2026-12-07T05:00:00.000000Z",
        "observations": ["obs01"], "gate": None,
        "data": {"n_observations": 1, "n_stations": 18, "n_international": 2, "n_times": 90, "integration_s": 20.0,
                 "n_channels": 8, "channel_width_hz": 390625.0, "n_directions": 4},
        "modules": [{"name": name, "status": "done", "wall_s": 10.0, "core_s": 12.5} for name in (
            "di_target", "dd_dutch", "dd_international", "facet_subtract", "sva", "final_imaging")]}))
    run_dir = bi.empty_dir(root, "run")  # a run directory of `lofar-hires run`: the manifest and one image
    bi.copy_input(files["run_manifest"], run_dir, "run.json")
    bi.copy_input(files["fits"], run_dir / "images" / "final_imaging", "field-image.fits")
    files["run_dir"] = run_dir
    selfcal_dir = root / "selfcal"  # a successful `selfcal` run on a calibrator at the first direction of good.h5
    write_solset(bi.empty_dir(root, "selfcal") / "best_obs.h5", example_solset(seed=5, n_dir=1))
    bi.text_file(selfcal_dir, "selfcal_report.json", '{"status": "ok", "name": "cal", "phase_centre_deg": '
                 '[242.75, 55.0], "best_solutions": {"obs": "best_obs.h5"}}\n')
    files["selfcal_dir"] = selfcal_dir
    files["dd_h5"] = write_solset(root / "dd.h5", bi.one_direction_solset(target, "field"))
    files["regions"] = bi.text_file(root, "facets.reg", "# Region file format: DS9 version 4.1\nfk5\n"
                                    "polygon(242.0,54.5,243.5,54.5,243.5,55.5,242.0,55.5) # text={field}\n"
                                    "point(-117.25,55.0)\n")
    # The facet of bright01 with bright02 (0.9 Jy) as its weak calibrator (lofar-hires secondary).
    (b1, b1_ra, b1_dec), (b2, b2_ra, b2_dec) = bright[:2]
    files["facet_table"] = write_table(root / "facet_calibrators.csv", [
        CalibratorRow(b1, b1_ra, b1_dec, origin="skymodel", score_rad=1.0, category="main", peak_flux_jy=0.5),
        CalibratorRow(b2, b2_ra, b2_dec, origin="skymodel", score_rad=2.3, category="weak", peak_flux_jy=0.9)])
    lo_ra, hi_ra = min(b1_ra, b2_ra) - 0.3, max(b1_ra, b2_ra) + 0.3
    lo_dec, hi_dec = min(b1_dec, b2_dec) - 0.2, max(b1_dec, b2_dec) + 0.2
    files["facet_regions"] = bi.text_file(root, "facet.reg", "# Region file format: DS9 version 4.1\nfk5\n"
                                          f"polygon({lo_ra:.6f},{lo_dec:.6f},{hi_ra:.6f},{lo_dec:.6f},{hi_ra:.6f},"
                                          f"{hi_dec:.6f},{lo_ra:.6f},{hi_dec:.6f}) # text={{{b1}}}\n"
                                          f"point({b1_ra - 360.0:.6f},{b1_dec:.6f})\n")
    if classifier_available():
        files.update(classifier_inputs(root / "classifier", files["fits"]))
    return Sources(files, tuple((ra, dec) for _, ra, dec in bright))


def classifier_available() -> bool:
    """Whether torch, timm and safetensors (the classifier's extra) are installed."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "timm", "safetensors"))


#: Field seeds of the battery's classifier dataset, and the seeds the tiny model was trained on.
DATASET_SEEDS = (2000, 2001)
MODEL_TRAIN_SEEDS = (1000, 1001)


def classifier_inputs(root: Path, fits: Path) -> dict[str, Path]:
    """A tiny classifier model (one block, 24 features, 28-pixel input; a model directory and its two files),
    public-style weights of the smallest backbone at that input size, and a dataset of two fields with two
    labelled copies of ``fits`` each."""
    import dataclasses
    import json
    import shutil

    import torch
    from safetensors.torch import save_file

    from lofar_hires.classifier.config import load_classifier_config
    from lofar_hires.classifier.model import (
        BACKBONE_FILE,
        HEAD_FILE,
        BackboneSpec,
        build_backbone,
        make_classifier,
        make_head,
        save_model,
    )

    torch.manual_seed(0)
    cfg = load_classifier_config()
    pre = dataclasses.replace(cfg.preprocess, input_size_pix=28)
    spec = BackboneSpec(CLASSIFIER_BACKBONE, 28, embed_dim=24, depth=1, num_heads=2)
    backbone = build_backbone(spec)
    model = make_classifier(backbone, make_head(backbone.num_features, 0.0))
    model_dir = root / "model"
    save_model(model, spec, pre, model_dir, training={"train_seeds": list(MODEL_TRAIN_SEEDS)})
    public = build_backbone(BackboneSpec(CLASSIFIER_BACKBONE, 28))  # timm key names, no lofar-hires metadata
    save_file({k: v.contiguous() for k, v in public.state_dict().items()}, str(root / "public.safetensors"))

    dataset = root / "dataset"
    (dataset / "images").mkdir(parents=True)
    rows = []
    for f, seed in enumerate(DATASET_SEEDS):
        for cycle in range(2):
            image = f"images/field_{f:04d}_cycle_{cycle:03d}.fits"
            shutil.copyfile(fits, dataset / image)
            rows.append({"image": image, "field": f"field_{f:04d}", "seed": seed, "kind": "point", "cycle": cycle,
                         "label": 1 - cycle, "reason": "battery", "phase_error_rad": 0.5 * (1 - cycle),
                         "later_dynamic_range_gain": 0.0})
    index = {"format": "lofar-hires classifier dataset 1", "label_rule": dataclasses.asdict(cfg.labels),
             "dataset": dataclasses.asdict(cfg.dataset), "n_fields": len(DATASET_SEEDS), "n_images": len(rows),
             "n_continue": sum(r["label"] for r in rows), "n_stop": sum(1 - r["label"] for r in rows),
             "seeds": list(DATASET_SEEDS), "images": rows}
    (dataset / "dataset.json").write_text(json.dumps(index, indent=1) + "\n")
    return {"model_dir": model_dir, "backbone": model_dir / BACKBONE_FILE, "head": model_dir / HEAD_FILE,
            "public_weights": root / "public.safetensors", "dataset": dataset}


# --------------------------------------------------------------------------- one case


#: Where a case's directory lies below the watched directory (deep, so that names climbing out with ``..``
#: still land where the test looks).
CASE_PREFIX = "a/b/c/d/case"


@dataclass
class Env:
    """The directories of one case: ``inputs/`` (copies of good and bad inputs) and ``out/``."""

    base: Path  # the directory the test watches (the case's directory is five levels below it)
    sources: Sources
    spec: Spec

    def __post_init__(self) -> None:
        self.root = self.base / CASE_PREFIX
        self.inputs = self.root / "inputs"
        self.out = self.root / "out"
        self.inputs.mkdir(parents=True)
        self.out.mkdir()

    def kind(self, dest: str) -> str:
        if dest in self.spec.inputs:
            return self.spec.inputs[dest]
        return self.spec.optional[dest].kind

    def good(self, dest: str) -> Path:
        """A copy of the good input for ``dest`` (made once per case)."""
        kind = self.kind(dest)
        path = self.inputs / f"{dest}{EXTENSION[kind]}"
        if not path.exists():
            bi.copy_input(self.sources.files[kind], self.inputs, path.name)
        return path

    def output(self, dest: str) -> Path:
        if dest in self.spec.outputs:
            return self.out / self.spec.outputs[dest][0]
        return self.out / self.spec.optional[dest].rel

    def declared_outputs(self) -> list[Path]:
        rels = [rel for rel, _ in self.spec.outputs.values()] + [o.rel for o in self.spec.optional.values() if o.rel]
        return [self.out / r for r in (*rels, *self.spec.side_products)]


@dataclass
class Call:
    """A prepared command line and what its error message must name."""

    argv: list[str]
    mentions: tuple[str, ...] = ()


def render(env: Env, values: dict[str, str | Path] | None = None, extra: tuple[str, ...] = (),
           drop: tuple[str, ...] = ()) -> list[str]:
    """The command line of ``env.spec`` with some arguments replaced, some added and some dropped."""
    values = {k: str(v) for k, v in (values or {}).items()}
    tokens = [t for t in env.spec.argv if t not in drop] + list(extra)
    out = []
    for token in tokens:
        match = re.fullmatch(r"\{(\w+)\}", token)
        if not match:
            out.append(token)
            continue
        dest = match.group(1)
        if dest in values:
            out.append(values[dest])
        elif dest in env.spec.inputs or (dest in env.spec.optional and env.spec.optional[dest].kind not in
                                         ("file", "dir")):
            out.append(str(env.good(dest)))
        else:
            out.append(str(env.output(dest)))
    return out


@dataclass(frozen=True)
class Case:
    command: str
    klass: str
    label: str
    make: Callable[[Env], Call]
    target: str  # the argument made bad (parser dest), for the coverage test
    expect: frozenset[int] = frozenset({2})
    contained_ok: bool = False  # a successful run is fine when it wrote only inside the declared outputs
    slow: bool = False  # a run of over ~20 s when the command accepts the input (as it may)

    @property
    def id(self) -> str:
        return f"{self.command}|{self.label}"


def option_of(spec: Spec, dest: str) -> str:
    """How a message names the argument ``dest``."""
    if dest in spec.option_names:
        return spec.option_names[dest]
    if dest in spec.optional:
        return spec.optional[dest].option
    for i, token in enumerate(spec.argv):
        if token == f"{{{dest}}}" and i > 0 and spec.argv[i - 1].startswith("-"):
            return spec.argv[i - 1]
    return dest


def mention_tokens(*items: str | Path) -> tuple[str, ...]:
    """Words of which the error line must contain one: file names, option names (with - or _)."""
    out: list[str] = []
    for item in items:
        text = Path(item).name if isinstance(item, Path) else str(item)
        if not text:
            continue
        out.append(text)
        bare = text.lstrip("-")
        out += [bare, bare.replace("-", "_"), bare.replace("_", "-")]
    return tuple(dict.fromkeys(t for t in out if t))


# --------------------------------------------------------------------------- case generators


def bad_path_cases(command: str, spec: Spec, dest: str, kind: str, full: bool = True) -> Iterator[Case]:
    """Missing, empty, wrong-type, corrupt, zero-row and all-flagged variants of one input.

    With ``full`` false (a further input of a kind the command has already been given bad
    variants of, read by the same code) only the missing and one corrupt variant.
    """
    ext = EXTENSION[kind]
    optional = spec.optional.get(dest)
    opt = option_of(spec, dest)

    def case(klass: str, label: str, build: Callable[[Env], Path], expect: frozenset[int] = frozenset({2}),
             mentions: tuple[str, ...] = ()) -> Case:
        def make(env: Env) -> Call:
            bad = build(env)
            if optional is None:
                argv = render(env, {dest: bad})
            else:
                argv = render(env, extra=(optional.option, str(bad), *optional.extra), drop=optional.drop)
            return Call(argv, mention_tokens(bad, opt, *mentions))
        return Case(command, klass, f"{label}-{dest.replace('_', '-')}", make, dest, expect)

    def source(env: Env) -> Path:
        return env.sources.files[kind]

    yield case("missing", "missing", lambda env: bi.missing_path(env.inputs, f"missing-{dest}{ext}"))
    if not full:
        if kind in H5_KINDS:
            yield case("corrupt", "wrong-structure",
                       lambda env: bi.wrong_structure_h5parm(source(env), env.inputs, f"structure-{dest}{ext}"))
        elif kind in MS_KINDS:
            yield case("corrupt", "not-a-table", lambda env: bi.not_a_table(env.inputs, f"fake-{dest}{ext}"))
        else:
            yield case("corrupt", "garbage", lambda env: bi.garbage_file(env.inputs, f"garbage-{dest}{ext}"))
        return
    if kind in DIR_KINDS:
        what, index = DIR_INDEX[kind]
        yield case("empty", "empty-dir", lambda env: bi.empty_dir(env.inputs, f"empty-{dest}"))
        yield case("wrong-type", "file-not-dir", lambda env: bi.text_file(env.inputs, f"file-{dest}"))
        yield case("corrupt", f"garbage-{what}", lambda env: bi.garbage_file(
            bi.empty_dir(env.inputs, f"garbage-{dest}"), index).parent)
        return
    if kind in MS_KINDS:
        yield case("empty", "empty-dir", lambda env: bi.empty_dir(env.inputs, f"empty-{dest}{ext}"))
        yield case("wrong-type", "file-not-ms", lambda env: bi.text_file(env.inputs, f"file-{dest}{ext}"))
        yield case("corrupt", "not-a-table", lambda env: bi.not_a_table(env.inputs, f"fake-{dest}{ext}"))
        yield case("zero-rows", "zero-rows", lambda env: bi.zero_row_ms(source(env), env.inputs, f"norows-{dest}{ext}"))
        yield case("all-flagged", "all-flagged",
                   lambda env: bi.all_flagged_ms(source(env), env.inputs, f"flagged-{dest}{ext}"))
        return
    yield case("empty", "empty", lambda env: bi.empty_file(env.inputs, f"empty-{dest}{ext}"))
    yield case("wrong-type", "dir-not-file", lambda env: bi.dir_with_file(env.inputs, f"dir-{dest}{ext}"))
    yield case("corrupt", "garbage", lambda env: bi.garbage_file(env.inputs, f"garbage-{dest}{ext}"))
    if kind in H5_KINDS:
        yield case("corrupt", "truncated",
                   lambda env: bi.truncated_copy(source(env), env.inputs, f"truncated-{dest}{ext}"))
        yield case("corrupt", "wrong-structure",
                   lambda env: bi.wrong_structure_h5parm(source(env), env.inputs, f"structure-{dest}{ext}"))
        yield case("corrupt", "plain-hdf5", lambda env: bi.hdf5_not_h5parm(env.inputs, f"plain-{dest}{ext}"))
        if command not in INSPECTION_COMMANDS:
            yield case("bad-value", "all-nan",
                       lambda env: bi.all_nan_h5parm(source(env), env.inputs, f"nan-{dest}{ext}"), frozenset({2, 4}))
    elif kind in SKY_KINDS:
        yield case("corrupt", "no-format", lambda env: bi.skymodel_without_format(env.inputs, f"noformat-{dest}{ext}"))
    elif kind in CSV_KINDS:
        yield case("corrupt", "wrong-columns", lambda env: bi.csv_wrong_columns(env.inputs, f"columns-{dest}{ext}"))
    elif kind in FITS_KINDS:
        yield case("corrupt", "truncated",
                   lambda env: bi.truncated_copy(source(env), env.inputs, f"truncated-{dest}{ext}"))
        yield case("bad-value", "all-nan", lambda env: bi.all_nan_fits(source(env), env.inputs, f"nan-{dest}{ext}"))
    elif kind in WEIGHTS_KINDS:
        yield case("corrupt", "truncated",
                   lambda env: bi.truncated_copy(source(env), env.inputs, f"truncated-{dest}{ext}"))
    elif kind in YAML_KINDS:
        yield case("corrupt", "bad-yaml", lambda env: bi.bad_yaml(env.inputs, f"badyaml-{dest}{ext}"))
        yield case("corrupt", "yaml-list", lambda env: bi.yaml_list(env.inputs, f"list-{dest}{ext}"))
        yield case("bad-value", "unknown-key", lambda env: bi.yaml_unknown_key(env.inputs, f"unknown-{dest}{ext}"),
                   mentions=("no_such_setting",))


def output_cases(command: str, spec: Spec, dest: str) -> Iterator[Case]:
    """An output below a regular file, and an existing output without --overwrite."""
    optional = spec.optional.get(dest)
    opt = option_of(spec, dest)

    def unwritable(env: Env) -> Call:
        rel = env.output(dest).relative_to(env.out)
        bad = bi.under_a_file(env.out, str(rel))
        if optional is None:
            return Call(render(env, {dest: bad}), mention_tokens(bad, "afile", opt))
        return Call(render(env, extra=(optional.option, str(bad))), mention_tokens(bad, "afile", opt))

    yield Case(command, "read-only-output", f"under-a-file-{dest.replace('_', '-')}", unwritable, dest)
    if optional is not None:
        return

    def existing(env: Env) -> Call:
        earlier = spec.existing or ((spec.outputs[dest][0], spec.outputs[dest][1]),)
        paths = [bi.earlier_product(env.out / rel, kind) for rel, kind in earlier]
        return Call(render(env), mention_tokens(*paths, opt, "--overwrite", "exists"))

    yield Case(command, "existing-output", f"existing-{dest.replace('_', '-')}", existing, dest)


def config_cases(command: str, spec: Spec) -> Iterator[Case]:
    """--config files that are missing, a directory, bad YAML, a list or hold an unknown key; bad --set values."""
    takes_file, numeric_key = spec.config

    def with_config(build: Callable[[Env], Path]) -> Callable[[Env], Call]:
        def make(env: Env) -> Call:
            bad = build(env)
            return Call(render(env, extra=("--config", str(bad))), mention_tokens(bad, "--config", "no_such_setting"))
        return make

    if takes_file:
        yield Case(command, "missing", "missing-config", with_config(
            lambda env: bi.missing_path(env.inputs, "missing-config.yaml")), "config")
        yield Case(command, "wrong-type", "dir-not-file-config", with_config(
            lambda env: bi.dir_with_file(env.inputs, "dir-config.yaml")), "config")
        yield Case(command, "corrupt", "bad-yaml-config", with_config(
            lambda env: bi.bad_yaml(env.inputs, "badyaml-config.yaml")), "config")
        yield Case(command, "corrupt", "yaml-list-config", with_config(
            lambda env: bi.yaml_list(env.inputs, "list-config.yaml")), "config")
        yield Case(command, "bad-value", "unknown-key-config", with_config(
            lambda env: bi.yaml_unknown_key(env.inputs, "unknown-config.yaml", "no_such_setting")), "config")
    sets = {"unknown-key": ("no_such_setting=1", "no_such_setting"),
            "wrong-type": (f"{numeric_key}=abc", numeric_key),
            "negative": (f"{numeric_key}=-1", numeric_key),
            "nan": (f"{numeric_key}=nan", numeric_key),
            "no-equals": ("no_such_setting", "no_such_setting")}
    for label, (override, key) in sets.items():
        def make(env: Env, override=override, key=key) -> Call:
            return Call(render(env, extra=("--set", override)), (key, key.split(".")[-1], override))
        yield Case(command, "bad-value", f"set-{label}", make, "overrides")


#: Options that need others changed to be reached: (command, dest) -> (extra arguments, dropped tokens).
NUMERIC_CONTEXT: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("select candidates", "centre_deg"): (("--max-distance-deg", "1.0"), ()),
    ("select candidates", "max_distance_deg"): (("--centre-deg", "243.0", "55.0"), ()),
    ("select candidates", "pybdsf_thresh_isl"): (("--image", "{image}"), ("--skymodel", "{skymodel}")),
    ("select candidates", "pybdsf_thresh_pix"): (("--image", "{image}"), ("--skymodel", "{skymodel}")),
    ("facets", "centre_deg"): ((), ("--msin", "{msin}")),
    ("selfcal", "point_flux_jy"): ((), ("--skymodel", "{skymodel}")),
}
#: Valid partners of the first value of two-value options (a NaN or negative goes first).
PAIR_PARTNER = {"centre_deg": "55.0", "phase_centre_deg": "55.0", "size_pix": "64"}
#: Integer options for which -1 is a valid value, and the bad value used instead: (command, dest) -> value.
NEGATIVE_VALUE = {("classifier train", "train_blocks"): "-2"}  # -1 trains every block of the backbone


def numeric_cases(command: str, spec: Spec, parser: argparse.ArgumentParser) -> Iterator[Case]:
    """NaN for every float option, -1 for every integer option."""
    for action in parser._actions:
        if action.type not in (float, int) or not action.option_strings:
            continue
        dest, opt = action.dest, action.option_strings[-1]
        bad = "nan" if action.type is float else NEGATIVE_VALUE.get((command, dest), "-1")
        values = (bad, PAIR_PARTNER.get(dest, "1")) if action.nargs == 2 else (bad,)
        extra, drop = NUMERIC_CONTEXT.get((command, dest), ((), ()))
        label = f"{'nan' if action.type is float else 'negative'}-{opt.lstrip('-')}"

        def make(env: Env, opt=opt, dest=dest, values=values, extra=extra, drop=drop) -> Call:
            # the option given last wins when the base call has it too
            return Call(render(env, extra=(*extra, opt, *values), drop=drop),
                        mention_tokens(opt, dest, *MENTION_ALIASES.get(dest, ())))
        yield Case(command, "bad-value", label, make, dest)


def value_case(command: str, label: str, dest: str, args: tuple[str, ...], mentions: tuple[str, ...] = (),
               drop: tuple[str, ...] = ()) -> Case:
    """A bad value given on the command line (added to the base call, whose tokens ``drop`` are removed).

    The error must name one of ``mentions`` (default: the option of ``dest``, or ``dest`` itself).
    """
    option = "--" + dest.replace("_", "-")
    tokens = mentions or (option, dest, *MENTION_ALIASES.get(dest, ()))

    def make(env: Env) -> Call:
        return Call(render(env, extra=args, drop=drop), mention_tokens(*tokens))
    return Case(command, "bad-value", label, make, dest)


#: Other words by which a message may name an option (dest -> words).
MENTION_ALIASES = {"size_pix": ("image size",), "pybdsf_thresh_isl": ("thresh_isl",),
                   "pybdsf_thresh_pix": ("thresh_pix",), "batch_size": ("batch size",)}


#: Bad values beyond NaN/-1: negatives of positive quantities, out-of-range RA/Dec, unknown names and choices.
VALUE_CASES: list[Case] = [
    *[value_case("image", f"negative-{o.lstrip('-')}", o.lstrip("-").replace("-", "_"), (o, "-1"))
      for o in ("--scale-arcsec", "--mgain", "--threshold-sigma", "--auto-mask-sigma", "--minuv-lambda",
                "--maxuv-lambda", "--taper-arcsec", "--restoring-beam-arcsec", "--super-weight")],
    value_case("image", "zero-size-pix", "size_pix", ("--size-pix", "0", "0")),
    value_case("image", "facet-solutions-without-regions", "facet_solutions", ("--facet-solutions", "no_such.h5"),
               ("--facet-regions",)),
    value_case("image", "missing-facet-regions", "facet_regions", ("--facet-regions", "no_such_facets.reg"),
               ("no_such_facets.reg",)),
    value_case("recipe", "outdir-without-calibrators", "outdir", ("--outdir", "strategies"), ("--outdir",)),
    value_case("project-cost", "zero-observations", "observations", ("--observations", "1", "0")),
    value_case("calibratability", "unknown-soltab", "di_soltab", ("--di-soltab", "nosuchtab"), ("nosuchtab",)),
    value_case("calibratability", "amplitude-soltab", "di_soltab", ("--di-soltab", "bandpass"),
               ("bandpass", "--di-soltab")),
    value_case("calibratability", "unknown-solset", "di_solset", ("--di-solset", "nosuchsolset"), ("nosuchsolset",)),
    value_case("calibratability", "more-solutions-than-ms", "di_solutions",
               ("--di-solutions", "{di_solutions}", "{di_solutions}"), ("--di-solutions",)),
    value_case("calibratability", "unknown-data-column", "selection_overrides",
               ("--set-selection", "score.data_column=NO_SUCH_COLUMN"), ("NO_SUCH_COLUMN",)),
    value_case("calibratability", "unknown-score-setting", "selection_overrides",
               ("--set-selection", "score.no_such_setting=1"), ("no_such_setting",)),
    value_case("calibratability", "ra-above-360", "calibrator_ra_deg", ("--calibrator-ra-deg", "400"),
               ("right ascension", "400", "--calibrator-ra-deg")),
    value_case("calibratability", "dec-above-90", "calibrator_dec_deg", ("--calibrator-dec-deg", "95"),
               ("declination", "95", "--calibrator-dec-deg")),
    value_case("calibratability", "calibrator-too-far", "calibrator_dec_deg", ("--calibrator-dec-deg", "60"),
               ("score.max_distance_deg",)),
    value_case("calibratability", "no-calibrator", "calibrators", (), ("calibrator",), drop=GATE_CALIBRATOR),
    value_case("calibratability", "table-and-position", "calibrators", ("--calibrators", "{calibrators}"),
               ("--calibrators",)),
    value_case("compress", "unknown-data-bits", "data_bits", ("--data-bits", "5"), ("--data-bits", "5")),
    value_case("compress", "zero-bound", "max_rms_increase", ("--max-rms-increase", "0")),
    value_case("compress", "bound-of-1", "max_rms_increase", ("--max-rms-increase", "1")),
    value_case("compress", "unknown-data-column", "data_column", ("--data-column", "NO_SUCH_COLUMN"),
               ("NO_SUCH_COLUMN", "--data-column")),
    value_case("image", "zero-channels-out", "channels_out", ("--channels-out", "0")),
    value_case("image", "mgain-above-1", "mgain", ("--mgain", "1.5")),
    value_case("image", "unknown-data-column", "data_column", ("--data-column", "NO_SUCH_COLUMN"),
               ("NO_SUCH_COLUMN", "--data-column")),
    value_case("image", "unknown-pol", "pol", ("--pol", "abc"), ("abc", "--pol")),
    value_case("h5 reset", "unknown-station-group", "stations", ("--stations", "nosuchgroup"), ("nosuchgroup",)),
    value_case("h5 reset", "unknown-soltab", "soltabs", ("--soltabs", "nosuchtab"), ("nosuchtab",)),
    value_case("h5 reset", "unknown-solset", "solset", ("--solset", "nosuchsolset"), ("nosuchsolset",)),
    value_case("h5 expand-core", "unknown-superstation", "superstation", ("--superstation", "XX999"), ("XX999",)),
    value_case("h5 expand-core", "unknown-core-stations", "core_stations", ("--core-stations", "nosuchgroup"),
               ("nosuchgroup",)),
    value_case("h5 directions", "unknown-direction", "names", ("--names", "nosuchdir"), ("nosuchdir",)),
    value_case("h5 nearest", "ra-above-360", "ra_deg", ("--ra-deg", "400"), ("right ascension", "400", "--ra-deg")),
    value_case("h5 nearest", "dec-above-90", "dec_deg", ("--dec-deg", "95"), ("declination", "95", "--dec-deg")),
    value_case("h5 nearest", "nan-ra", "ra_deg", ("--ra-deg", "nan"), ("right ascension", "nan", "--ra-deg")),
    value_case("h5 nearest", "nan-dec", "dec_deg", ("--dec-deg", "nan"), ("declination", "nan", "--dec-deg")),
    value_case("h5 nearest", "text-ra", "ra_deg", ("--ra-deg", "abc"), ("right ascension", "abc", "--ra-deg")),
    value_case("dical solve", "unknown-model-column", "model_column", ("--model-column", "NO_SUCH_COLUMN"),
               ("NO_SUCH_COLUMN",)),
    value_case("dical transfer", "unknown-soltab", "soltabs", ("--soltabs", "nosuchtab"), ("nosuchtab",)),
    value_case("dical transfer", "no-soltab", "soltabs", ("--soltabs", ","), ("--soltabs", "soltab")),
    value_case("apply-solutions", "unknown-soltab", "soltabs", ("--soltabs", "nosuchtab"), ("nosuchtab",)),
    value_case("apply-solutions", "unknown-direction", "direction", ("--direction", "nosuchdir"), ("nosuchdir",)),
    value_case("apply-solutions", "unknown-data-column", "data_column", ("--data-column", "NO_SUCH_COLUMN"),
               ("NO_SUCH_COLUMN",)),
    value_case("select candidates", "negative-max-distance-deg", "max_distance_deg",
               ("--centre-deg", "243.0", "55.0", "--max-distance-deg", "-1")),
    value_case("select candidates", "dec-above-90", "centre_deg",
               ("--centre-deg", "243.0", "95.0", "--max-distance-deg", "1.0"), ("--centre-deg", "95", "dec")),
    value_case("select candidates", "negative-group-radius-arcsec", "group_radius_arcsec",
               ("--group-radius-arcsec", "-1")),
    value_case("select candidates", "zero-resolution-arcsec", "resolution_arcsec", ("--resolution-arcsec", "0")),
    value_case("select candidates", "negative-freq-hz", "freq_hz", ("--freq-hz", "-1")),
    value_case("select candidates", "zero-max-candidates", "max_candidates", ("--max-candidates", "0")),
    value_case("select score", "unknown-name", "names", ("--name", "nosuchcandidate"), ("nosuchcandidate",)),
    value_case("select classify", "add-ra-above-360", "added", ("--add", "manual1,400,55"),
               ("manual1", "right ascension", "400")),
    value_case("select classify", "add-dec-above-90", "added", ("--add", "manual1,243,95"),
               ("manual1", "declination", "95")),
    value_case("select classify", "add-nan", "added", ("--add", "manual1,nan,55"), ("manual1", "nan")),
    value_case("select classify", "add-unknown-category", "added", ("--add", "manual1,243,55,best"),
               ("manual1", "best", "category")),
    value_case("select classify", "remove-unknown", "removed", ("--remove", "nosuchcandidate"), ("nosuchcandidate",)),
    value_case("select skymodel", "no-source-above-threshold", "overrides",
               ("--set", "skymodel.min_peak_flux_jy=10"), ("peak_flux_jy >= 10",)),
    value_case("recipe", "calibrators-and-peak-flux", "calibrators",
               ("dutch", "--calibrators", "{calibrators}", "--peak-flux", "0.5"), ("--calibrators",),
               drop=("international", "--sigma-c", "0.8")),
    value_case("facets", "dec-above-90", "centre_deg", ("--centre-deg", "243.0", "95.0"), ("--centre-deg", "95"),
               drop=("--msin", "{msin}")),
    value_case("facets", "smearing-loss-above-1", "max_smearing_loss", ("--max-smearing-loss", "1.5")),
    value_case("facets", "negative-smearing-loss", "max_smearing_loss", ("--max-smearing-loss", "-0.1")),
    *[value_case("facets", f"negative-{o.lstrip('-')}", o.lstrip("-").replace("-", "_"), (o, "-1"))
      for o in ("--box-deg", "--circle-deg", "--max-edge-deg", "--resolution-arcsec", "--integration-s",
                "--chan-width-hz", "--freq-hz")],
    value_case("selfcal", "phase-centre-dec-above-90", "phase_centre_deg", ("--phase-centre", "243.0", "95.0"),
               ("--phase-centre", "phase_centre", "95")),
    value_case("selfcal", "negative-point-model-jy", "point_flux_jy", ("--point-model-jy", "-1"),
               ("--point-model-jy",), drop=("--skymodel", "{skymodel}")),
    value_case("selfcal", "unknown-data-column", "data_column", ("--data-column", "NO_SUCH_COLUMN"),
               ("NO_SUCH_COLUMN",)),
    value_case("selfcal", "unknown-strategy-name", "strategy", ("--strategy", "nosuchstrategy"), ("nosuchstrategy",)),
    value_case("dical predict", "unknown-skymodel-name", "skymodel", ("--skymodel", "3C999"), ("3C999",)),
    value_case("dical transfer", "unknown-solset", "solset", ("--solset", "nosuchsolset"), ("nosuchsolset",)),
    value_case("di-target", "unknown-cal-solset", "cal_solset", ("--cal-solset", "nosuchsolset"), ("nosuchsolset",)),
    *[value_case(command, "slash-solset", "solset", ("--solset", "a/b"), ("--solset", "'a/b'"))
      for command in ("di-calibrator", "di-target", "dical collect", "dical phasecal")],
    value_case("selfcal", "delay-calibrators-and-phase-centre", "delay_calibrators",
               ("--delay-calibrators", "{delay_calibrators}", "--phase-centre", "243.0", "55.0"), ("--phase-centre",),
               drop=("--skymodel", "{skymodel}")),
    value_case("selfcal", "delay-calibrators-and-skymodel", "delay_calibrators",
               ("--delay-calibrators", "{delay_calibrators}"), ("--skymodel",)),
    value_case("selfcal", "unknown-delay-calibrator", "delay_calibrator",
               ("--delay-calibrators", "{delay_calibrators}", "--delay-calibrator", "nosuchcal"), ("nosuchcal",),
               drop=("--skymodel", "{skymodel}")),
    *[value_case(command, "zero-threads", "threads", ("--threads", "0"))
      for command in ("classify", "classifier evaluate", "classifier train", "classifier dataset")],
    *[value_case(command, "threshold-above-1", "threshold", ("--threshold", "2"))
      for command in ("classify", "classifier evaluate")],
    *[value_case(command, "negative-threshold", "threshold", ("--threshold", "-0.5"))
      for command in ("classify", "classifier evaluate")],
    *[value_case(command, "backbone-as-head", "head_weights", ("--head-weights", "{backbone_weights}"),
                 ("--head-weights", "head"))
      for command in ("classify", "classifier evaluate")],
    value_case("classifier train", "label-smoothing-above-half", "label_smoothing", ("--label-smoothing", "0.7")),
    value_case("classifier train", "dropout-1", "dropout", ("--dropout", "1")),
    value_case("classifier train", "zero-validation-fraction", "validation_fraction",
               ("--validation-fraction", "0")),
    value_case("classifier train", "zero-learning-rate", "learning_rate", ("--learning-rate", "0")),
    value_case("classifier train", "img-size-not-multiple-of-14", "img_size", ("--img-size", "30")),
    value_case("classifier train", "train-blocks-above-depth", "train_blocks", ("--train-blocks", "5"),
               ("--train-blocks", "blocks")),
    value_case("classifier train", "frozen-random-backbone", "train_blocks", (), ("--backbone-weights",),
               drop=("--backbone-weights", "{backbone_weights}")),
    value_case("classifier dataset", "zero-fields", "fields", ("--fields", "0")),
    value_case("classifier import-backbone", "unknown-backbone", "backbone", ("--backbone", "nosuchbackbone"),
               ("nosuchbackbone",)),
    value_case("classifier import-backbone", "other-backbone", "backbone",
               ("--backbone", "vit_base_patch14_reg4_dinov2"), ("vit_base_patch14_reg4_dinov2",)),
    value_case("classifier import-backbone", "img-size-not-multiple-of-14", "img_size", ("--img-size", "30")),
]


def explicit_case(command: str, label: str, dest: str, argv: Callable[[Env], list[str]],
                  mentions: tuple[str, ...]) -> Case:
    """A bad value in a command line written out in full (``argv`` gets the case's directories)."""
    return Case(command, "bad-value", label, lambda env: Call(argv(env), mention_tokens(*mentions)), dest)


def _directions_add(ra: str, dec: str) -> Callable[[Env], list[str]]:
    return lambda env: ["h5", "directions", str(env.good("h5parm")), "add", "--name", "new", "--ra-deg", ra,
                        "--dec-deg", dec, "-o", str(env.output("output"))]


VALUE_CASES += [
    explicit_case("h5 merge", "unknown-solset", "h5parms",
                  lambda env: render(env, {"h5parms": f"{env.good('h5parms')}:nosuchsolset"}), ("nosuchsolset",)),
    explicit_case("h5 directions", "add-ra-above-360", "ra_deg", _directions_add("400", "55"),
                  ("right ascension", "400")),
    explicit_case("h5 directions", "add-dec-above-90", "dec_deg", _directions_add("243", "95"),
                  ("declination", "95")),
    explicit_case("h5 directions", "add-nan-ra", "ra_deg", _directions_add("nan", "55"), ("right ascension", "nan")),
]


# --------------------------------------------------------------------------- hostile names


def hostile_cases() -> Iterator[Case]:
    """Names from data (sky model patches, candidate tables, strategy solves) and ``image --name``."""
    convertible = ("dotdot", "dotdot-deep", "absolute", "slash", "long", "nul")

    def expect(variant: str) -> tuple[frozenset[int], bool]:
        if variant == "empty":
            return frozenset({2}), False
        # A safe file name made from the name is fine if it stays inside the outputs; names that collide after
        # conversion may be refused or made unique (checked: one product each).
        return frozenset({0, 2}), True

    def variants(env: Env) -> dict[str, list[str]]:
        return bi.hostile_names(env.base)

    def named(names: list[str], path: Path) -> tuple[str, ...]:
        """A refusal must quote the name (its marked part, or '' for the empty name) or the file holding it."""
        marks = [m.group(0)[:10] for n in names if (m := re.search(rf"{bi.ESCAPE}[A-Za-z]*", n))]
        return (*(marks or ("''", "empty", "name")), path.name)

    for variant in ("dotdot", "dotdot-deep", "absolute", "slash", "empty", "long", "nul", "collide"):
        codes, contained = expect(variant)

        def sky(env: Env, variant=variant) -> Call:
            ra, dec = env.sources.bright_deg[0]
            names = variants(env)[variant]
            path = bi.skymodel_with_names(env.inputs, "hostile.skymodel", names, ra, dec)
            return Call(render(env, {"skymodel": path}), named(names, path))
        yield Case("select candidates", "hostile-name", f"{variant}-patch-name", sky, "skymodel", codes, contained)

        def table(env: Env, variant=variant) -> Call:
            from lofar_hires.selection.table import COLUMNS
            ra, dec = env.sources.bright_deg[0]
            names = variants(env)[variant]
            path = bi.calibrator_table_with_names(env.inputs, "hostile.csv", names, ra, dec, COLUMNS)
            return Call(render(env, {"candidates": path}, extra=("--solutions-dir", str(env.output("solutions_dir")))),
                        named(names, path))
        yield Case("select score", "hostile-name", f"{variant}-candidate-name", table, "candidates", codes, contained)

        if variant != "collide":
            def image_name(env: Env, variant=variant) -> Call:
                names = variants(env)[variant]
                return Call(render(env, extra=("--name", names[0])), (*named(names, Path("--name")), "image name"))
            yield Case("image", "hostile-name", f"{variant}-name", image_name, "name",
                       codes if variant != "empty" else frozenset({2}), contained)

    # selfcal: one run with a solve named after each convertible variant (a run takes ~20 s), then the rest.
    # selfcal: one run with a solve named after each convertible variant (a run takes ~20 s), and two names that
    # collide. An empty solve name is not bad: it means the default name solveN.
    def solves(env: Env, names: list[str]) -> Call:
        path = bi.text_file(env.inputs, "hostile_strategy.yaml", strategy_text(names))
        return Call(render(env, {"strategy": path}), named(names, path))

    yield Case("selfcal", "hostile-name", "mixed-solve-names",
               lambda env: solves(env, [variants(env)[v][0] for v in convertible]), "strategy", frozenset({0, 2}), True,
               slow=True)
    yield Case("selfcal", "hostile-name", "collide-solve-names",
               lambda env: solves(env, variants(env)["collide"]), "strategy", frozenset({0, 2}), True, slow=True)


# --------------------------------------------------------------------------- the battery


def leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command of ``lofar-hires``: tasks and the sub-commands of task groups, by name."""
    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(prefix), parser
            return
        for name, sub in subs[0].choices.items():
            yield from walk(sub, (*prefix, name))
    return dict(walk(build_parser(), ()))


def build_cases() -> list[Case]:
    parsers = leaf_parsers()
    cases: list[Case] = []
    for command, spec in SPECS.items():
        if command not in parsers:
            continue  # reported by the coverage test
        seen: set[str] = set()
        for dest, kind in [*spec.inputs.items(), *((d, o.kind) for d, o in spec.optional.items())]:
            if kind in ("file", "dir"):
                cases += output_cases(command, spec, dest)
                continue
            cases += bad_path_cases(command, spec, dest, kind, full=kind not in seen)
            seen.add(kind)
        for dest in spec.outputs:
            cases += output_cases(command, spec, dest)
        if spec.config is not None:
            cases += config_cases(command, spec)
        cases += numeric_cases(command, spec, parsers[command])
    cases += [c for c in VALUE_CASES if c.command in parsers]
    cases += [c for c in hostile_cases() if c.command in parsers]
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate battery ids: {duplicates}"
    return cases


CASES = build_cases()

#: Results of the cases run so far, for the matrix: id -> (case, problems, seconds, exit status, first ERROR line).
RESULTS: dict[str, tuple[Case, list[str], float, object, str]] = {}


def test_every_command_and_argument_has_battery_rows():
    """A command, an input/output argument or a numeric option without a row here fails the battery."""
    parsers = leaf_parsers()
    assert sorted(parsers) == sorted(SPECS), (
        f"commands without a row in the battery: {sorted(set(parsers) - set(SPECS))}; "
        f"rows of commands that do not exist: {sorted(set(SPECS) - set(parsers))}")
    missing = {}
    for command, parser in parsers.items():
        targets = {c.target for c in CASES if c.command == command}
        needed = set(STRING_FILE_ARGUMENTS.get(command, ()))
        for action in parser._actions:
            if action.dest in NOT_ARGUMENTS:
                continue
            if action.type is Path or action.type in (float, int):
                needed.add(action.dest)
            if action.dest == "overrides":
                needed.add("overrides")
        if not needed <= targets:
            missing[command] = sorted(needed - targets)
    assert not missing, f"arguments without a bad-input case: {missing}"
    classes = {c.klass for c in CASES}
    assert classes == set(CLASSES), f"classes without a case: {set(CLASSES) - classes}"


ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|CRITICAL)\s|^lofar-hires[^:]*: error: ")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+\s")
TOOL_RUN = re.compile(r"lofar_hires\.runners\.process: running (\S+)")


def check_run(case: Case, env: Env, code: object, stderr: str, before: dict[str, str], after: dict[str, str],
              mentions: tuple[str, ...]) -> list[str]:
    """What went wrong in one run (an empty list: the case passed)."""
    problems: list[str] = []
    lines = stderr.splitlines()
    errors = [line for line in lines if ERROR_LINE.search(line)]
    if code not in case.expect:
        first = errors[0] if errors else "(no ERROR line)"
        problems.append(f"exit status {code}, expected {'/'.join(map(str, sorted(case.expect)))}: {first[:300]}")
    if any("Traceback (most recent call last)" in line for line in lines):
        problems.append("a Python traceback on stderr")
    stray = [line for line in lines if not LOG_LINE.match(line) and not ERROR_LINE.search(line)
             and re.search(r"error|exception|traceback", line, re.IGNORECASE)]
    if stray:
        problems.append(f"{len(stray)} stray error line(s) on stderr, e.g. {stray[0][:200]!r}")
    if code != 0:
        if len(errors) != 1:
            problems.append(f"{len(errors)} ERROR lines, expected 1: {[e[:160] for e in errors[:3]]}")
        elif mentions and not any(m.lower() in errors[0].lower() for m in mentions):
            problems.append(f"the error does not name the bad input (one of {list(mentions)[:4]}): {errors[0][:300]}")
        tools = sorted(set(m.group(1) for line in lines if (m := TOOL_RUN.search(line))))
        if tools:
            problems.append(f"ran {', '.join(tools)} before refusing")
    inputs_rel = env.inputs.relative_to(env.base).as_posix()
    changed = [rel for rel, digest in before.items() if after.get(rel) != digest]
    changed_inputs = [rel for rel in changed if rel.startswith(inputs_rel + "/")]
    if changed_inputs:
        problems.append(f"modified or removed input(s): {short(changed_inputs, inputs_rel)}")
    changed_other = [rel for rel in changed if rel not in changed_inputs]
    if changed_other:
        problems.append(f"modified or removed existing file(s): {short(changed_other, '')}")
    new = [rel for rel in after if rel not in before]
    partial = [rel for rel in new if ".partial-" in rel or ".partial" in Path(rel).name]
    if partial:
        problems.append(f"partial product(s) left: {short(partial, '')}")
    if code == 0 and case.contained_ok:
        allowed = [p.relative_to(env.base).as_posix() for p in env.declared_outputs()]
        outside = [rel for rel in new if not any(rel == a or rel.startswith(a + "/") for a in allowed)]
        if outside:
            problems.append(f"wrote outside its declared outputs: {short(outside, '')}")
        nested = [rel for rel in new if f"{bi.ESCAPE}sub" in Path(rel).parts]
        if nested:
            problems.append(f"a name became a sub-directory: {short(nested, '')}")
        if case.label.startswith("collide"):
            # the products made from the two names (files whose name starts with the names' common part)
            made = [rel for rel in new if after[rel] != "dir" and Path(rel).name.startswith(f"{bi.ESCAPE}c")]
            kinds = defaultdict(list)  # by directory and suffix: one product of each kind per name
            for rel in made:
                kinds[(str(Path(rel).parent), "".join(Path(rel).suffixes))].append(rel)
            single = [v[0] for v in kinds.values() if len(v) < 2]
            if single:
                problems.append(f"two names that collide gave one product: {short(single, '')}")
    else:
        rest = [rel for rel in new if rel not in partial]
        if rest:
            problems.append(f"new file(s) or directories left: {short(rest, '')}")
    return problems


def short(paths: list[str], strip: str, n: int = 4) -> str:
    """A few of ``paths`` (relative to the watched directory), without ``strip/`` or the case's own prefix."""
    strip = strip or CASE_PREFIX
    shown = [p[len(strip) + 1:] if p.startswith(strip + "/") else p for p in sorted(paths)]
    return ", ".join(shown[:n]) + (f" (+{len(shown) - n} more)" if len(shown) > n else "")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_bad_input(case: Case, sources: Sources, tmp_path: Path, capfd, monkeypatch):
    if case.command in CLASSIFIER_COMMANDS and not classifier_available():
        pytest.skip("the classifier needs torch, timm and safetensors: pip install 'lofar-hires[classifier]'")
    spec = SPECS[case.command]
    env = Env(tmp_path, sources, spec)
    for dest in spec.inputs:
        env.good(dest)
    call = case.make(env)
    debug_log = tmp_path / "debug.log"
    before = bi.tree_snapshot(tmp_path, exclude=("debug.log",))
    monkeypatch.chdir(env.root)
    capfd.readouterr()
    start = time.monotonic()
    try:
        code: object = main(["--log-file", str(debug_log), *call.argv])
    except BaseException as exc:  # noqa: BLE001 - anything escaping main() is a finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        code = f"escaped main(): {type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - start
    _, stderr = capfd.readouterr()
    after = bi.tree_snapshot(tmp_path, exclude=("debug.log",))
    problems = check_run(case, env, code, stderr, before, after, call.mentions)
    if code == 1 and debug_log.is_file():  # where the internal error came from
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', debug_log.read_text(errors="replace"))
        ours = [f for f in frames if "/lofar_hires/" in f[0]]
        if ours:
            where = ours[-1]
            problems.append(f"internal error raised at {where[0].split('/lofar_hires/')[-1]}:{where[1]} ({where[2]})")
    first_error = next((line for line in stderr.splitlines() if ERROR_LINE.search(line)), "")
    RESULTS[case.id] = (case, problems, elapsed, code, first_error)
    assert not problems, "\n".join([f"{case.id} ({elapsed:.1f} s): {' '.join(call.argv)[:300]}", *problems])


# --------------------------------------------------------------------------- the matrix


#: Column headings of the matrix.
COLUMN = {"missing": "missing", "empty": "empty", "wrong-type": "wrongtype", "corrupt": "corrupt",
          "bad-value": "badvalue", "hostile-name": "hostile", "zero-rows": "zerorows", "all-flagged": "flagged",
          "read-only-output": "readonly", "existing-output": "existing"}


def matrix_text() -> str:
    """Commands x classes: passed/run per cell, then every failing case with its first problem."""
    cells: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for case, problems, *_ in RESULTS.values():
        cells[(case.command, case.klass)].append(not problems)
    commands = list(SPECS)
    width = max(len(c) for c in commands)
    header = " " * (width + 1) + " ".join(f"{COLUMN[k]:>9}" for k in CLASSES)
    lines = ["bad-input battery: commands x input classes (cases passed/run, F: some failed; '-': none run)", header]
    for command in commands:
        row = []
        for klass in CLASSES:
            runs = cells.get((command, klass))
            if not runs:
                row.append(f"{'-':>9}")
            else:
                text = f"{sum(runs)}/{len(runs)}"
                row.append(f"{text + ('' if all(runs) else ' F'):>9}")
        lines.append(f"{command:<{width}} " + " ".join(row))
    failed = [(case, problems, t) for case, problems, t, *_ in RESULTS.values() if problems]
    n_cmd = len({r[0].command for r in RESULTS.values()})
    lines.append(f"{len(RESULTS)} case(s) of {n_cmd} command(s) x {len(CLASSES)} classes run, {len(failed)} failed; "
                 f"{sum(r[2] for r in RESULTS.values()):.0f} s in the commands")
    for case, problems, t in failed:
        lines.append(f"  FAIL {case.id} ({t:.1f} s): {problems[0]}")
        lines += [f"       {p}" for p in problems[1:]]
    slowest = sorted(RESULTS.values(), key=lambda r: -r[2])[:8]
    lines.append("slowest: " + ", ".join(f"{r[0].id} {r[2]:.1f} s" for r in slowest))
    return "\n".join(lines)


class _MatrixReport:
    """Prints the matrix at the end of the pytest run and writes it next to the test's temporary files."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self) -> str:
        """Write the matrix and the table of cases; return the matrix."""
        text = matrix_text()
        self.path.write_text(text + "\n")
        rows = ["id\tclass\tpassed\texit\tseconds\terror"] + [
            f"{c.id}\t{c.klass}\t{not p}\t{code}\t{t:.2f}\t{err.partition(': ')[2] if err.startswith('2') else err}"
            for c, p, t, code, err in RESULTS.values()]
        self.path.with_suffix(".tsv").write_text("\n".join(rows) + "\n")
        return text

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not RESULTS:
            return
        text = self.write()
        terminalreporter.section("bad-input battery")
        for line in text.splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also written to {self.path}; every case's exit status and error in "
                                    f"{self.path.with_suffix('.tsv')})")


@pytest.fixture(scope="module", autouse=True)
def _matrix_report(request, tmp_path_factory):
    plugin = _MatrixReport(tmp_path_factory.getbasetemp() / "bad_input_battery.txt")
    if not request.config.pluginmanager.has_plugin("bad-input-matrix"):
        request.config.pluginmanager.register(plugin, "bad-input-matrix")
    yield
    if RESULTS:  # also when the run prints no summary (a pytest-xdist worker)
        plugin.write()


@pytest.mark.slow
@pytest.mark.parametrize("command", list(SPECS))
def test_good_call_succeeds(command: str, sources: Sources, tmp_path: Path, monkeypatch):
    """Each command's good call succeeds, so that a refusal in the battery comes from the one bad input."""
    if command in CLASSIFIER_COMMANDS and not classifier_available():
        pytest.skip("the classifier needs torch, timm and safetensors: pip install 'lofar-hires[classifier]'")
    spec = SPECS[command]
    env = Env(tmp_path, sources, spec)
    for dest in spec.inputs:
        env.good(dest)
    before = {rel: digest for rel, digest in bi.tree_snapshot(env.inputs).items()}
    monkeypatch.chdir(env.root)
    argv = render(env)
    assert main(["--log-level", "WARNING", *argv]) == 0, " ".join(argv)
    for dest in spec.outputs:
        assert env.output(dest).exists(), f"{command} wrote no {env.output(dest).name}"
    assert bi.tree_snapshot(env.inputs) == before, f"{command} modified its inputs"
