#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: dd_dutch
label: Dutch direction-dependent joint solve towards every facet
doc: |
  Module 5 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.4.1;
  docs/workflows/dd_dutch.md). The DI(+delay)-calibrated observations of a field
  are self-calibrated jointly towards every facet at once, with the Dutch
  stations only:
    1. the calibrators of the table (the main calibrators of
       select_calibrators.cwl, or the sources of a catalogue whose peak
       brightness passes the threshold) become the starting sky model;
    2. `lofar-hires recipe dutch` writes the strategy of section 6.4.1 for the
       faintest of them (16 or 32 s phases of the remote stations with a 20 MHz
       kernel and a core reset, 64 s core phases with 40 MHz, slow complex gains
       after three cycles), removing the international stations and averaging
       to 16 s and 195.3 kHz;
    3. `lofar-hires selfcal --facet-regions` solves towards every facet of the
       region file (one direction per facet, named after its calibrator and
       placed at its point) in every observation, imaging each cycle with
       WSClean facets that apply the previous cycle's solutions, until the
       stopping rule ends the run.
  Per observation it hands on a multi-direction h5parm (best_<obs>.h5, the
  solutions that made the best facet image, directions matching the facets) and
  the facet image of the field. The inputs are never modified.

requirements:
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  msin:
    label: DI(+delay)-calibrated measurement sets
    doc: One MS per observation of the field (read only), on the same frequency grid; calibrated jointly.
    type: Directory[]
  calibrators:
    label: Calibrator table
    doc: >-
      The selection table of select_calibrators.cwl (its main calibrators are used) or any
      catalogue with name, ra_deg, dec_deg and peak_flux_jy columns (its sources at or above
      85 mJy/beam are used, configs/select_calibrators.yaml).
    type: File
  facet_regions:
    label: Facet regions
    doc: ds9 facet regions (lofar-hires facets); one solve direction per facet.
    type: File
  integration_s:
    label: Integration time (s)
    doc: The solution intervals of the recipe are rounded to whole integrations of this (recipe default 16 s).
    type: float?
  strategy_file:
    label: Strategy file
    doc: A strategy YAML file that replaces the generated recipe.
    type: File?
  strategy_overrides:
    label: Strategy overrides
    doc: Single strategy values as KEY=VALUE (e.g. imaging.size_pix=6000, stopping.max_cycles=6).
    type: string[]
    default: []
  data_column:
    label: Data column
    doc: Column of the input measurement sets that is calibrated.
    type: string
    default: DATA
  station_groups:
    label: Station groups
    doc: YAML file with the station groups (default the shipped configs/station_groups.yaml).
    type: File?
  selfcal_cores:
    label: Self-calibration cores
    doc: Cores for the self-calibration step (DP3 and WSClean threads).
    type: int
    default: 4
  selfcal_ram_mb:
    label: Self-calibration memory (MiB)
    doc: Memory to reserve for the self-calibration step, in MiB.
    type: int
    default: 8000

steps:
  skymodel:
    label: Starting sky model of the calibrators
    run: ../steps/select_skymodel.cwl
    in:
      table: calibrators
    out: [skymodel, provenance, log, stderr_log]

  recipe:
    label: Dutch recipe for the faintest calibrator
    run: ../steps/recipe.cwl
    in:
      kind:
        default: dutch
      calibrators: calibrators
      integration_s: integration_s
      explain:
        default: true
      output_name:
        default: dutch.yaml
    out: [strategy, log, stderr_log]

  selfcal:
    label: Joint multi-direction self-calibration of all observations
    run: ../steps/selfcal.cwl
    in:
      msin: msin
      strategy:
        default: custom
      strategy_file:
        source: [strategy_file, recipe/strategy]
        pickValue: first_non_null
      overrides: strategy_overrides
      facet_regions: facet_regions
      skymodel: skymodel/skymodel
      data_column: data_column
      station_groups: station_groups
      cores: selfcal_cores
      ram_mb: selfcal_ram_mb
    out: [selfcal, best_solutions, final_solutions, best_image, report, metrics, montage, log, stderr_log]

outputs:
  solutions:
    label: Multi-direction solutions
    doc: best_<obs>.h5 per input MS (one direction per facet, Dutch stations), in the order of the inputs.
    type: File[]
    outputSource: selfcal/best_solutions
  final_solutions:
    label: Last cycle's solutions
    doc: final_<obs>.h5 per input MS, the solutions of the last cycle.
    type: File[]
    outputSource: selfcal/final_solutions
  image:
    label: Facet image
    doc: The facet image of the field made with the best solutions (FITS).
    type: File?
    outputSource: selfcal/best_image
  selfcal_dir:
    label: Self-calibration directory
    doc: Cycles, metrics, montage, report, provenance and the prepared data.
    type: Directory
    outputSource: selfcal/selfcal
  report:
    label: Report
    doc: selfcal_report.json, the stopping decision and its criteria.
    type: File
    outputSource: selfcal/report
  strategy:
    label: Strategy
    doc: The generated Dutch recipe (YAML), with its explanation in the recipe log.
    type: File?
    outputSource: recipe/strategy
  starting_model:
    label: Starting sky model
    doc: The calibrators as a makesourcedb sky model, one patch each.
    type: File
    outputSource: skymodel/skymodel
  logs:
    label: Logs
    doc: Standard output and error of every step.
    type: File[]
    outputSource: [skymodel/log, skymodel/stderr_log, recipe/log, recipe/stderr_log, selfcal/log, selfcal/stderr_log]
    linkMerge: merge_flattened
