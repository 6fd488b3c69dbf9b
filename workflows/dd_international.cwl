#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: dd_international
label: International DD self-calibration of every main calibrator, merged with the Dutch DD solutions
doc: |
  Module 6 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.4.2;
  docs/workflows/dd_international.md), after the Dutch DD joint solve
  (workflows/dd_dutch.cwl):
    1. `lofar-hires recipe international --calibrators` writes one strategy per
       main calibrator of the selection table, from its phasediff score sigma_c
       (solution intervals, kernels, resets and uv cuts of section 6.4.2; 32 s and
       390.7 kHz, core phased up). The first cycle starts from a point source of the
       calibrator's flux in the table (total, else peak).
    2. Every calibrator x observation is an independent self-calibration job
       (scattered): the observation's data are phase-shifted to the calibrator,
       the Dutch solutions of the direction nearest to it are applied (the
       international stations, which the Dutch solve did not have, are left
       uncorrected), the data are averaged and the core phased up, and the
       calibrator is self-calibrated with its recipe until the stopping rule ends
       the run. A job that fails records why in its report and the others go on.
    3. Per observation, `lofar-hires h5 merge-dd` combines the Dutch solutions of
       every facet with the international solutions of the facet's calibrator
       into one multi-direction h5parm whose directions are the facets; a facet
       whose calibrator failed takes the solutions of the nearest calibrator that
       succeeded (said in the log and in the merge's directions table).
    4. Unless make_field_image is false, WSClean images all observations together with
       the facet regions, applying each observation's merged solutions facet by
       facet (1.2 arcsec taper by default).
  The input measurement sets are read only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
  StepInputExpressionRequirement: {}

inputs:
  msin:
    label: Calibrated target measurement sets
    doc: >-
      The DI- and delay-calibrated measurement sets, one per observation, with every
      station (read only).
    type: Directory[]
  dutch_solutions:
    label: Dutch DD solutions
    doc: >-
      The multi-direction solutions of the Dutch DD solve (best_<obs>.h5 of
      workflows/dd_dutch.cwl), one per measurement set, in the same order.
    type: File[]
  calibrators:
    label: Calibrator table
    doc: >-
      The selection table of workflows/select_calibrators.cwl: every main
      calibrator is self-calibrated, with the recipe of its score_rad (sigma_c).
    type: File
  facet_regions:
    label: Facet regions
    doc: >-
      The ds9 facet layout the Dutch solve used (lofar-hires facets); the merged
      solutions have one direction per facet, checked against it.
    type: File
  dt_formula:
    label: delta_t formula
    doc: paper (eq. 6.2, the default of configs/recipes.yaml) or squared (the later public variant).
    type:
      - "null"
      - type: enum
        symbols: [paper, squared]
  integration_s:
    label: Integration time (s)
    doc: Integration time the recipes' solution intervals are rounded to (default the recipe's 32 s).
    type: float?
  recipe_overrides:
    label: Recipe overrides
    doc: KEY=VALUE overrides of configs/recipes.yaml (e.g. international.max_cycles=12).
    type: string[]
    default: []
  strategy_overrides:
    label: Strategy overrides
    doc: >-
      Single strategy values as KEY=VALUE applied to every calibrator's strategy
      (e.g. imaging.size_pix=512, stopping.max_cycles=6).
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
  match_deg:
    label: Facet-calibrator match (deg)
    doc: >-
      A facet's own calibrator lies within this distance of the facet point (CLI
      default one arcminute); farther ones are fallbacks.
    type: float?
  merge_international_stations:
    label: Stations whose international solutions are merged
    doc: >-
      Station specification (e.g. international) of the stations whose
      international solutions enter the merge; the others keep their Dutch
      solutions alone. Default every station (the paper's merge, in which the
      international recipes' re-solves of the remote stations refine the Dutch
      solutions).
    type: string?
  make_field_image:
    label: Make the field image
    doc: Image all observations with the facets and the merged solutions (the check of the result).
    type: boolean
    default: true
  image_size_pix:
    label: Field image size (pixels)
    doc: Width and height of the field image.
    type: int
    default: 4096
  image_scale_arcsec:
    label: Field image pixel (arcsec)
    doc: Pixel size of the field image.
    type: float
    default: 0.4
  image_taper_arcsec:
    label: Field image taper (arcsec)
    doc: Gaussian uv taper of the field image (de Jong et al. 2025, section 6.4.3 works at 1.2 arcsec).
    type: float?
    default: 1.2
  image_niter:
    label: Field image clean iterations
    doc: Maximum clean iterations of the field image.
    type: int
    default: 50000
  image_cores:
    label: Field image cores
    doc: WSClean threads of the field image.
    type: int
    default: 4
  image_ram_mb:
    label: Field image memory (MiB)
    doc: Memory to reserve for the field image, in MiB.
    type: int
    default: 16000
  selfcal_cores:
    label: Cores per calibrator
    doc: Cores of each self-calibration job (DP3 and WSClean threads).
    type: int
    default: 4
  selfcal_ram_mb:
    label: Memory per calibrator (MiB)
    doc: Memory to reserve for each self-calibration job, in MiB.
    type: int
    default: 8000

steps:
  recipes:
    label: One strategy per main calibrator
    run: ../steps/recipe.cwl
    in:
      kind:
        default: international
      calibrators: calibrators
      dt_formula: dt_formula
      integration_s: integration_s
      overrides: recipe_overrides
      outdir:
        default: strategies
    out: [index, strategies, log, stderr_log]

  jobs:
    label: Calibrator x observation jobs
    in:
      index: recipes/index
      strategies: recipes/strategies
      msin: msin
      dutch_solutions: dutch_solutions
    out: [ms, pre_apply, strategy, centre, flux, name, outdir_name, observation]
    run:
      class: ExpressionTool
      label: Pair every calibrator with every observation
      doc: >-
        Flat lists, one entry per calibrator and observation: the measurement set, its
        Dutch solutions, the calibrator's strategy, position, flux (null when the table has
        none), name, the job's output
        directory name (<calibrator>_<obs>, safe characters only) and the observation's index.
      inputs:
        index:
          type: File?
          loadContents: true
          label: Calibrator index
          doc: calibrators.json of the recipe step.
        strategies:
          type: File[]
          label: Strategies
          doc: The strategy of each calibrator, in the order of the index.
        msin:
          type: Directory[]
          label: Measurement sets
          doc: One per observation.
        dutch_solutions:
          type: File[]
          label: Dutch solutions
          doc: One per measurement set, in the same order.
      outputs:
        ms: Directory[]
        pre_apply:
          type:
            type: array
            items:
              type: array
              items: File
        strategy: File[]
        centre:
          type:
            type: array
            items:
              type: array
              items: float
        flux:
          type:
            type: array
            items: ["null", float]
        name: string[]
        outdir_name: string[]
        observation: int[]
      expression: |
        ${
          if (inputs.msin.length != inputs.dutch_solutions.length) {
            throw "give one Dutch solutions file per measurement set: " + inputs.msin.length +
              " measurement sets, " + inputs.dutch_solutions.length + " solution files";
          }
          var safe = function (s) {
            return s.replace(/[^A-Za-z0-9_+\-.]+/g, "_").replace(/^[._]+/, "").replace(/\.+$/, "") || "x";
          };
          if (!inputs.index) { throw "the recipe step wrote no calibrator index"; }
          var cals = JSON.parse(inputs.index.contents);
          var out = {ms: [], pre_apply: [], strategy: [], centre: [], flux: [], name: [], outdir_name: [],
                     observation: []};
          inputs.msin.forEach(function (ms, j) {
            var obs = safe(ms.basename.replace(/\.(ms|MS)$/, ""));
            cals.forEach(function (c, i) {
              out.ms.push(ms);
              out.pre_apply.push([inputs.dutch_solutions[j]]);
              out.strategy.push(inputs.strategies[i]);
              out.centre.push([c.ra_deg, c.dec_deg]);
              out.flux.push(c.flux_jy === undefined ? null : c.flux_jy);
              out.name.push(c.name);
              out.outdir_name.push(safe(c.name) + "_" + obs);
              out.observation.push(j);
            });
          });
          return out;
        }

  selfcal:
    label: Self-calibrate one calibrator in one observation
    run: ../steps/selfcal.cwl
    scatter: [msin, pre_apply, strategy_file, phase_centre_deg, point_model_jy, run_name, outdir_name]
    scatterMethod: dotproduct
    in:
      msin:
        source: jobs/ms
        valueFrom: $([self])
      pre_apply: jobs/pre_apply
      pre_apply_missing:
        default: identity
      strategy:
        default: custom
      strategy_file: jobs/strategy
      overrides: strategy_overrides
      phase_centre_deg: jobs/centre
      point_model_jy: jobs/flux
      run_name: jobs/name
      outdir_name: jobs/outdir_name
      failure_ok:
        default: true
      data_column: data_column
      station_groups: station_groups
      cores: selfcal_cores
      ram_mb: selfcal_ram_mb
    out: [selfcal, report, log, stderr_log]

  per_observation:
    label: Group the calibrator runs by observation
    in:
      msin: msin
      selfcal: selfcal/selfcal
      observation: jobs/observation
    out: [international, output_name]
    run:
      class: ExpressionTool
      label: Calibrator runs of each observation
      doc: The self-calibration directories of each observation, and the merged file's name merged_<obs>.h5.
      inputs:
        msin:
          type: Directory[]
          label: Measurement sets
          doc: One per observation.
        selfcal:
          type: Directory[]
          label: Self-calibration directories
          doc: One per calibrator and observation.
        observation:
          type: int[]
          label: Observation of each run
          doc: Index into msin.
      outputs:
        international:
          type:
            type: array
            items:
              type: array
              items: Directory
        output_name: string[]
      expression: |
        ${
          var groups = inputs.msin.map(function () { return []; });
          inputs.selfcal.forEach(function (d, k) { groups[inputs.observation[k]].push(d); });
          var names = inputs.msin.map(function (ms) {
            var obs = ms.basename.replace(/\.(ms|MS)$/, "").replace(/[^A-Za-z0-9_+\-.]+/g, "_")
              .replace(/^[._]+/, "").replace(/\.+$/, "") || "x";
            return "merged_" + obs + ".h5";
          });
          return {"international": groups, "output_name": names};
        }

  merge:
    label: Merge the Dutch and international solutions of each observation
    run: ../steps/h5_merge_dd.cwl
    scatter: [dutch_solutions, international, output_name]
    scatterMethod: dotproduct
    in:
      dutch_solutions: dutch_solutions
      international: per_observation/international
      output_name: per_observation/output_name
      facet_regions: facet_regions
      match_deg: match_deg
      international_stations: merge_international_stations
    out: [merged, table, log, stderr_log]

  image:
    label: Field image with the merged solutions
    run: ../steps/image.cwl
    when: $(inputs.make_image)
    in:
      make_image: make_field_image
      msin: msin
      name:
        default: field
      size_pix:
        source: image_size_pix
        valueFrom: $([self, self])
      scale_arcsec: image_scale_arcsec
      taper_arcsec: image_taper_arcsec
      niter: image_niter
      auto_mask_sigma:
        default: 4.0
      threshold_sigma:
        default: 1.5
      data_column: data_column
      facet_regions: facet_regions
      facet_solutions: merge/merged
      cores: image_cores
      ram_mb: image_ram_mb
    out: [image, model, residual, provenance, wsclean_log, log, stderr_log]

outputs:
  field_image:
    label: Field image
    doc: field-image.fits, all observations imaged with the facet regions and the merged solutions.
    type: File?
    outputSource: image/image
  solutions:
    label: Merged multi-direction solutions
    doc: >-
      merged_<obs>.h5 per input MS, in the order of the inputs: one direction per facet,
      every station, the Dutch solutions followed by the international ones.
    type: File[]
    outputSource: merge/merged
  directions:
    label: Directions tables
    doc: >-
      merged_<obs>.directions.csv per input MS: the calibrator each facet's international
      solutions come from, its distance, and whether it is a fallback.
    type: File[]
    outputSource: merge/table
  selfcal_dirs:
    label: Self-calibration directories
    doc: One per calibrator and observation (<calibrator>_<obs>), with cycles, metrics, report and solutions.
    type: Directory[]
    outputSource: selfcal/selfcal
  reports:
    label: Self-calibration reports
    doc: selfcal_report.json of every job (status ok or failed, stopping criterion, best cycle).
    type: File[]
    outputSource: selfcal/report
  strategies:
    label: Strategies
    doc: The recipe of every main calibrator (YAML).
    type: File[]
    outputSource: recipes/strategies
  calibrator_index:
    label: Calibrator index
    doc: calibrators.json of the recipes (name, position, sigma_c, delta_t, strategy file).
    type: File?
    outputSource: recipes/index
  logs:
    label: Logs
    doc: Standard output and error of the recipe step, of every self-calibration job and of every merge.
    type: File[]
    outputSource: [recipes/log, recipes/stderr_log, selfcal/log, selfcal/stderr_log, merge/log, merge/stderr_log,
                   image/log, image/stderr_log, image/wsclean_log]
    linkMerge: merge_flattened
    pickValue: all_non_null
