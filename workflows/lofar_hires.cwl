#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: lofar_hires
label: The whole chain, from the calibrator and target scans of N observations to the final mosaics
doc: |
  Every module of the chain in one workflow (docs/chain.md, "The whole chain as one workflow"),
  each module being its own workflow of workflows/ (or steps/calibratability.cwl) run as a
  subworkflow, wired as `lofar-hires run` wires the modules' jobs
  (lofar_hires.chain.modules):
    di_calibrator      per observation, its calibrator scan;
    di_target          per observation, its target with that observation's cal_solutions.h5;
    delay_calibration  every DI-corrected target, the in-field delay calibrator;
    calibratability    the delay-calibrated data and DI solutions of every observation; the
                       observations the gate stops are left out of every later module
                       (steps/gate_filter.cwl);
    select_calibrators the first delay-calibrated observation that passed;
    dd_dutch, dd_international, facet_subtract  the observations that passed;
    dd_refine, apply_refined  only when refine is true: every facet refined, and each facet
                       dataset corrected by its refined solutions (a facet whose refinement
                       failed keeps its datasets uncorrected);
    sva                the datasets of every observation, per facet;
    final_imaging      the averaged datasets, one per facet.
  The module settings are inputs named <module>__<input> (the module workflow's input, with its
  type and default); `lofar-hires run` writes the job of this workflow from a run
  configuration with lofar_hires.chain.whole.whole_chain_job. The input measurement sets are
  read only.

requirements:
  SubworkflowFeatureRequirement: {}
  ScatterFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  InlineJavascriptRequirement: {}

inputs:
  observation_names:
    label: Observation names
    doc: >-
      The name of every observation (the gate's verdicts and the per-observation products are named
      after them), in the order of the measurement sets.
    type: string[]
  calibrator_ms:
    label: Calibrator measurement sets
    doc: The flux-calibrator scan of every observation, in the order of observation_names (read only).
    type: Directory[]
  target_ms:
    label: Target measurement sets
    doc: The target of every observation, in the order of observation_names (read only).
    type: Directory[]
  calibrator_skymodel:
    label: Calibrator sky model
    doc: makesourcedb model of the flux calibrator (e.g. configs/skymodels/3C196.skymodel).
    type: File
  skymodel:
    label: Target sky model
    doc: makesourcedb sky model of the target field (a survey catalogue or the simulated truth).
    type: File?
  delay_calibrator:
    label: In-field delay calibrator
    doc: The compact source the delay calibration and the calibratability gate use.
    type:
      type: record
      name: DelayCalibrator
      fields:
        name:
          type: string
          doc: Its name.
        ra_deg:
          type: float
          doc: Its right ascension (deg).
        dec_deg:
          type: float
          doc: Its declination (deg).
  refine:
    label: Refine the DD solutions per facet
    doc: >-
      Run dd_refine (workflows/dd_refine.cwl) and apply its solutions to the facet datasets
      (workflows/apply_facet_solutions.cwl) before the sidereal averaging; false leaves both out.
    type: boolean
    default: true

  # ---- module settings: every input of a module workflow that is not wired from earlier products
  di_calibrator__config:
    label: 'di_calibrator: Calibrator settings file'
    doc: >-
      YAML file overriding configs/di_calibrator.yaml, handed to every step. (workflows/di_calibrator.cwl, input config)
    type: File?
  di_calibrator__overrides:
    label: 'di_calibrator: Setting overrides'
    doc: >-
      Single settings as KEY=VALUE (e.g. solve.minuv_lambda=500), handed to every step. (workflows/di_calibrator.cwl,
      input overrides)
    type: string[]?
  di_calibrator__apply_beam:
    label: 'di_calibrator: Take the station beam into account'
    doc: >-
      Remove the beam before the Faraday solve and corrupt the model with it (the setting apply_beam of the whole-pipeline
      CLI); default true. (workflows/di_calibrator.cwl, input apply_beam)
    type: boolean
    default: true
  di_calibrator__refine_polalign:
    label: 'di_calibrator: Refine the polarisation alignment'
    doc: >-
      Refine the alignment on the solve against the corrupted model and solve that again (the setting fits.polalign_refine
      of the whole-pipeline CLI); default true. (workflows/di_calibrator.cwl, input refine_polalign)
    type: boolean
    default: true
  di_calibrator__working_ms_name:
    label: 'di_calibrator: Working MS name'
    doc: Name of the averaged working measurement set. (workflows/di_calibrator.cwl, input working_ms_name)
    type: string
    default: calibrator_avg.MS
  di_calibrator__cores:
    label: 'di_calibrator: Cores'
    doc: >-
      Cores to reserve for each DP3 step (DP3 runs with as many threads). (workflows/di_calibrator.cwl, input cores)
    type: int
    default: 2
  di_calibrator__ram_mb:
    label: 'di_calibrator: Memory (MiB)'
    doc: Memory to reserve for each DP3 step, in MiB. (workflows/di_calibrator.cwl, input ram_mb)
    type: int
    default: 2000
  di_target__soltabs:
    label: 'di_target: Soltabs to transfer'
    doc: >-
      Comma-separated soltabs of cal_solutions.h5 to transfer (default polalign,bandpass,clock,faraday); they must include
      the setting corrections. (workflows/di_target.cwl, input soltabs)
    type: string?
  di_target__cal_solset:
    label: 'di_target: Calibrator solset'
    doc: >-
      Solset of cal_solutions.h5 to read (default calibrator, as LINC writes it, then sol000, then the file's only
      solset). (workflows/di_target.cwl, input cal_solset)
    type: string?
  di_target__config:
    label: 'di_target: Target settings file'
    doc: >-
      YAML file overriding configs/di_target.yaml, handed to the correct and phasecal steps. (workflows/di_target.cwl,
      input config)
    type: File?
  di_target__overrides:
    label: 'di_target: Setting overrides'
    doc: >-
      Single settings as KEY=VALUE (e.g. phase_mode=diagonalphase), handed to the correct and phasecal steps. (workflows/di_target.cwl,
      input overrides)
    type: string[]?
  di_target__cores:
    label: 'di_target: Cores'
    doc: >-
      Cores to reserve for each DP3 step (DP3 runs with as many threads). (workflows/di_target.cwl, input cores)
    type: int
    default: 2
  di_target__ram_mb:
    label: 'di_target: Memory (MiB)'
    doc: Memory to reserve for each DP3 step, in MiB. (workflows/di_target.cwl, input ram_mb)
    type: int
    default: 2000
  delay_calibration__calibrator_flux_jy:
    label: 'delay_calibration: Calibrator flux (Jy)'
    doc: >-
      Starting model of the first cycle: a point source of this flux at the calibrator (e.g. from a catalogue). Without
      it (and without skymodel) the first cycle images the uncalibrated data and starts from that clean model. (workflows/delay_calibration.cwl,
      input calibrator_flux_jy)
    type: float?
  delay_calibration__strategy:
    label: 'delay_calibration: Strategy name'
    doc: >-
      Shipped self-calibration strategy (configs/selfcal/<name>.yaml). (workflows/delay_calibration.cwl, input strategy)
    type: string
    default: delay
  delay_calibration__strategy_file:
    label: 'delay_calibration: Strategy file'
    doc: >-
      A strategy YAML file; replaces the strategy name. (workflows/delay_calibration.cwl, input strategy_file)
    type: File?
  delay_calibration__strategy_overrides:
    label: 'delay_calibration: Strategy overrides'
    doc: >-
      Single strategy values as KEY=VALUE (e.g. stopping.max_cycles=6, imaging.size_pix=2048). (workflows/delay_calibration.cwl,
      input strategy_overrides)
    type: string[]
    default: []
  delay_calibration__data_column:
    label: 'delay_calibration: Data column'
    doc: >-
      Column of the input measurement sets that is calibrated and corrected. (workflows/delay_calibration.cwl, input
      data_column)
    type: string
    default: DATA
  delay_calibration__require_improvement:
    label: 'delay_calibration: Require an improvement on the uncalibrated image'
    doc: >-
      Stop (exit 4, the step's message naming the report) when no cycle improves on the uncalibrated image, for
      data known to need the delay calibration (uncalibrated international stations). False (the default) keeps
      the identity as the best solutions, with a warning: data whose international stations the DI target
      calibration already corrected may not improve. (workflows/delay_calibration.cwl, input require_improvement)
    type: boolean
    default: false
  delay_calibration__station_groups:
    label: 'delay_calibration: Station groups'
    doc: >-
      YAML file with the station groups (default the shipped configs/station_groups.yaml). (workflows/delay_calibration.cwl,
      input station_groups)
    type: File?
  delay_calibration__selfcal_cores:
    label: 'delay_calibration: Self-calibration cores'
    doc: >-
      Cores for the self-calibration step (DP3 and WSClean threads). (workflows/delay_calibration.cwl, input selfcal_cores)
    type: int
    default: 4
  delay_calibration__selfcal_ram_mb:
    label: 'delay_calibration: Self-calibration memory (MiB)'
    doc: >-
      Memory to reserve for the self-calibration step, in MiB. (workflows/delay_calibration.cwl, input selfcal_ram_mb)
    type: int
    default: 8000
  delay_calibration__apply_cores:
    label: 'delay_calibration: Cores per apply step'
    doc: >-
      DP3 threads of each step that applies the solutions to one MS. (workflows/delay_calibration.cwl, input apply_cores)
    type: int
    default: 2
  delay_calibration__apply_ram_mb:
    label: 'delay_calibration: Memory per apply step (MiB)'
    doc: Memory to reserve for each apply step, in MiB. (workflows/delay_calibration.cwl, input apply_ram_mb)
    type: int
    default: 2000
  calibratability__di_solset:
    label: 'calibratability: Solset'
    doc: >-
      Solset of the solutions (CLI default, target, then calibrator, then sol000, then any). (steps/calibratability.cwl,
      input di_solset)
    type: string?
  calibratability__di_soltab:
    label: 'calibratability: Soltab'
    doc: >-
      Soltab of the solutions, of type tec or phase (CLI default, the first direction-independent tec soltab, else
      the first phase soltab). (steps/calibratability.cwl, input di_soltab)
    type: string?
  calibratability__calibrators:
    label: 'calibratability: Calibrator table'
    doc: >-
      Calibrator table (lofar-hires select); every row is scored and the lowest score counts. Or give the calibrator's
      position. (steps/calibratability.cwl, input calibrators)
    type: File?
  calibratability__config:
    label: 'calibratability: Limits file'
    doc: >-
      YAML overriding configs/calibratability.yaml (the limits of the metrics). (steps/calibratability.cwl, input
      config)
    type: File?
  calibratability__overrides:
    label: 'calibratability: Limit overrides'
    doc: >-
      Single limits as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. flags.max_flagged_fraction=0.6). (steps/calibratability.cwl,
      input overrides)
    type: string[]?
  calibratability__selection_config:
    label: 'calibratability: Selection settings file'
    doc: >-
      YAML overriding configs/select_calibrators.yaml (its score section measures the phasediff score). (steps/calibratability.cwl,
      input selection_config)
    type: File?
  calibratability__selection_overrides:
    label: 'calibratability: Score setting overrides'
    doc: >-
      Single score settings as KEY=VALUE, each passed as `--set-selection KEY=VALUE` (e.g. score.solint_s=300). (steps/calibratability.cwl,
      input selection_overrides)
    type: string[]?
  calibratability__cores:
    label: 'calibratability: Cores'
    doc: >-
      Number of cores to reserve (DP3 threads of the phasediff score). (steps/calibratability.cwl, input cores)
    type: int
    default: 2
  calibratability__ram_mb:
    label: 'calibratability: Memory (MiB)'
    doc: Memory to reserve, in MiB. (steps/calibratability.cwl, input ram_mb)
    type: int
    default: 4000
  calibratability__disk_mb:
    label: 'calibratability: Least disk (MiB)'
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the work each; more when the runner reports the
      input sizes (the score's averaged copy is at most one input). (steps/calibratability.cwl, input disk_mb)
    type: int
    default: 2048
  select_calibrators__catalogue:
    label: 'select_calibrators: Source table'
    doc: >-
      CSV or FITS source table, e.g. a LoTSS catalogue (give exactly one of skymodel, catalogue, image). (workflows/select_calibrators.cwl,
      input catalogue)
    type: File?
  select_calibrators__image:
    label: 'select_calibrators: Image'
    doc: >-
      FITS image in which PyBDSF finds the candidates (give exactly one of skymodel, catalogue, image). (workflows/select_calibrators.cwl,
      input image)
    type: File?
  select_calibrators__min_peak_flux_jy:
    label: 'select_calibrators: Minimum peak flux (Jy/beam)'
    doc: >-
      Candidates need at least this peak brightness (default 0.025 at 6 arcsec). (workflows/select_calibrators.cwl,
      input min_peak_flux_jy)
    type: float?
  select_calibrators__max_candidates:
    label: 'select_calibrators: Maximum number of candidates'
    doc: >-
      Keep at most this many candidates, brightest first (default all). (workflows/select_calibrators.cwl, input max_candidates)
    type: int?
  select_calibrators__config:
    label: 'select_calibrators: Selection settings file'
    doc: >-
      YAML overriding configs/select_calibrators.yaml (score and classify sections). (workflows/select_calibrators.cwl,
      input config)
    type: File?
  select_calibrators__overrides:
    label: 'select_calibrators: Setting overrides'
    doc: >-
      Single settings as KEY=VALUE (e.g. classify.main_max_rad=2.3). (workflows/select_calibrators.cwl, input overrides)
    type: string[]?
  select_calibrators__added:
    label: 'select_calibrators: Calibrators added by hand'
    doc: NAME,RA,DEC[,main|weak] entries. (workflows/select_calibrators.cwl, input added)
    type: string[]?
  select_calibrators__removed:
    label: 'select_calibrators: Candidates removed by hand'
    doc: Names of candidates to drop. (workflows/select_calibrators.cwl, input removed)
    type: string[]?
  select_calibrators__box_deg:
    label: 'select_calibrators: Field box (deg)'
    doc: >-
      Width of the square field the facets cover (default 2.5 deg); or give circle_deg. (workflows/select_calibrators.cwl,
      input box_deg)
    type: float?
  select_calibrators__circle_deg:
    label: 'select_calibrators: Field radius (deg)'
    doc: >-
      Radius of a circular field the facets cover, instead of a box. (workflows/select_calibrators.cwl, input circle_deg)
    type: float?
  select_calibrators__resolution_arcsec:
    label: 'select_calibrators: Target resolution (arcsec)'
    doc: >-
      Resolution for the per-facet averaging suggestion (default 0.3). (workflows/select_calibrators.cwl, input resolution_arcsec)
    type: float?
  select_calibrators__score_cores:
    label: 'select_calibrators: Cores per scoring step'
    doc: DP3 threads of each scoring step. (workflows/select_calibrators.cwl, input score_cores)
    type: int
    default: 2
  dd_dutch__integration_s:
    label: 'dd_dutch: Integration time (s)'
    doc: >-
      The solution intervals of the recipe are rounded to whole integrations of this (recipe default 16 s). (workflows/dd_dutch.cwl,
      input integration_s)
    type: float?
  dd_dutch__strategy_file:
    label: 'dd_dutch: Strategy file'
    doc: >-
      A strategy YAML file that replaces the generated recipe. (workflows/dd_dutch.cwl, input strategy_file)
    type: File?
  dd_dutch__strategy_overrides:
    label: 'dd_dutch: Strategy overrides'
    doc: >-
      Single strategy values as KEY=VALUE (e.g. imaging.size_pix=6000, stopping.max_cycles=6). (workflows/dd_dutch.cwl,
      input strategy_overrides)
    type: string[]
    default: []
  dd_dutch__data_column:
    label: 'dd_dutch: Data column'
    doc: Column of the input measurement sets that is calibrated. (workflows/dd_dutch.cwl, input data_column)
    type: string
    default: DATA
  dd_dutch__station_groups:
    label: 'dd_dutch: Station groups'
    doc: >-
      YAML file with the station groups (default the shipped configs/station_groups.yaml). (workflows/dd_dutch.cwl,
      input station_groups)
    type: File?
  dd_dutch__selfcal_cores:
    label: 'dd_dutch: Self-calibration cores'
    doc: >-
      Cores for the self-calibration step (DP3 and WSClean threads). (workflows/dd_dutch.cwl, input selfcal_cores)
    type: int
    default: 4
  dd_dutch__selfcal_ram_mb:
    label: 'dd_dutch: Self-calibration memory (MiB)'
    doc: >-
      Memory to reserve for the self-calibration step, in MiB. (workflows/dd_dutch.cwl, input selfcal_ram_mb)
    type: int
    default: 8000
  dd_international__dt_formula:
    label: 'dd_international: delta_t formula'
    doc: >-
      paper (eq. 6.2, the default of configs/recipes.yaml) or squared (the later public variant). (workflows/dd_international.cwl,
      input dt_formula)
    type:
    - 'null'
    - type: enum
      symbols:
      - paper
      - squared
  dd_international__integration_s:
    label: 'dd_international: Integration time (s)'
    doc: >-
      Integration time the recipes' solution intervals are rounded to (default the recipe's 32 s). (workflows/dd_international.cwl,
      input integration_s)
    type: float?
  dd_international__recipe_overrides:
    label: 'dd_international: Recipe overrides'
    doc: >-
      KEY=VALUE overrides of configs/recipes.yaml (e.g. international.max_cycles=12). (workflows/dd_international.cwl,
      input recipe_overrides)
    type: string[]
    default: []
  dd_international__strategy_overrides:
    label: 'dd_international: Strategy overrides'
    doc: >-
      Single strategy values as KEY=VALUE applied to every calibrator's strategy (e.g. imaging.size_pix=512, stopping.max_cycles=6).
      (workflows/dd_international.cwl, input strategy_overrides)
    type: string[]
    default: []
  dd_international__data_column:
    label: 'dd_international: Data column'
    doc: >-
      Column of the input measurement sets that is calibrated. (workflows/dd_international.cwl, input data_column)
    type: string
    default: DATA
  dd_international__station_groups:
    label: 'dd_international: Station groups'
    doc: >-
      YAML file with the station groups (default the shipped configs/station_groups.yaml). (workflows/dd_international.cwl,
      input station_groups)
    type: File?
  dd_international__match_deg:
    label: 'dd_international: Facet-calibrator match (deg)'
    doc: >-
      A facet's own calibrator lies within this distance of the facet point (CLI default one arcminute); farther ones
      are fallbacks. (workflows/dd_international.cwl, input match_deg)
    type: float?
  dd_international__merge_international_stations:
    label: 'dd_international: Stations whose international solutions are merged'
    doc: >-
      Station specification (e.g. international) of the stations whose international solutions enter the merge; the
      others keep their Dutch solutions alone. Default every station (the paper's merge, in which the international
      recipes' re-solves of the remote stations refine the Dutch solutions). (workflows/dd_international.cwl, input
      merge_international_stations)
    type: string?
  dd_international__make_field_image:
    label: 'dd_international: Make the field image'
    doc: >-
      Image all observations with the facets and the merged solutions (the check of the result). (workflows/dd_international.cwl,
      input make_field_image)
    type: boolean
    default: true
  dd_international__image_size_pix:
    label: 'dd_international: Field image size (pixels)'
    doc: Width and height of the field image. (workflows/dd_international.cwl, input image_size_pix)
    type: int
    default: 4096
  dd_international__image_scale_arcsec:
    label: 'dd_international: Field image pixel (arcsec)'
    doc: Pixel size of the field image. (workflows/dd_international.cwl, input image_scale_arcsec)
    type: float
    default: 0.4
  dd_international__image_taper_arcsec:
    label: 'dd_international: Field image taper (arcsec)'
    doc: >-
      Gaussian uv taper of the field image (de Jong et al. 2025, section 6.4.3 works at 1.2 arcsec). (workflows/dd_international.cwl,
      input image_taper_arcsec)
    type: float?
    default: 1.2
  dd_international__image_niter:
    label: 'dd_international: Field image clean iterations'
    doc: Maximum clean iterations of the field image. (workflows/dd_international.cwl, input image_niter)
    type: int
    default: 50000
  dd_international__image_cores:
    label: 'dd_international: Field image cores'
    doc: WSClean threads of the field image. (workflows/dd_international.cwl, input image_cores)
    type: int
    default: 4
  dd_international__image_ram_mb:
    label: 'dd_international: Field image memory (MiB)'
    doc: Memory to reserve for the field image, in MiB. (workflows/dd_international.cwl, input image_ram_mb)
    type: int
    default: 16000
  dd_international__selfcal_cores:
    label: 'dd_international: Cores per calibrator'
    doc: >-
      Cores of each self-calibration job (DP3 and WSClean threads). (workflows/dd_international.cwl, input selfcal_cores)
    type: int
    default: 4
  dd_international__selfcal_ram_mb:
    label: 'dd_international: Memory per calibrator (MiB)'
    doc: >-
      Memory to reserve for each self-calibration job, in MiB. (workflows/dd_international.cwl, input selfcal_ram_mb)
    type: int
    default: 8000
  facet_subtract__model_images:
    label: 'facet_subtract: Model images'
    doc: >-
      WSClean model images of the field, one per channel (the 1.2 arcsec image's <name>-<channel>-model.fits). Give
      this or skymodel. (workflows/facet_subtract.cwl, input model_images)
    type: File[]?
  facet_subtract__resolution_arcsec:
    label: 'facet_subtract: Target resolution (arcsec)'
    doc: >-
      Resolution the facet datasets are imaged at; sets their averaging (tool default 0.3). (workflows/facet_subtract.cwl,
      input resolution_arcsec)
    type: float?
  facet_subtract__max_smearing_loss:
    label: 'facet_subtract: Largest smearing loss'
    doc: >-
      Largest fractional peak loss by smearing at a facet's farthest vertex (tool default 0.05). (workflows/facet_subtract.cwl,
      input max_smearing_loss)
    type: float?
  facet_subtract__no_beam:
    label: 'facet_subtract: No station beam in the data'
    doc: >-
      The data carry no station beam (already corrected, or simulated without). (workflows/facet_subtract.cwl, input
      no_beam)
    type: boolean
    default: false
  facet_subtract__dysco:
    label: 'facet_subtract: Dysco compression'
    doc: Write the facet datasets with Dysco compression. (workflows/facet_subtract.cwl, input dysco)
    type: boolean
    default: false
  facet_subtract__one_pass:
    label: 'facet_subtract: All facets of a measurement set in one job'
    doc: >-
      Make every facet of a measurement set in one job and one DP3 pass (each facet's model predicted once, no empty
      data set written): the least computing and disk, on one node per measurement set. Default false, one job per
      facet from the empty data set. (workflows/facet_subtract.cwl, input one_pass)
    type: boolean
    default: false
  facet_subtract__data_column:
    label: 'facet_subtract: Data column'
    doc: Column of the input measurement sets to use. (workflows/facet_subtract.cwl, input data_column)
    type: string
    default: DATA
  facet_subtract__cores:
    label: 'facet_subtract: Cores per job'
    doc: Cores of each job (DP3 threads). (workflows/facet_subtract.cwl, input cores)
    type: int
    default: 2
  facet_subtract__ram_mb:
    label: 'facet_subtract: Memory per job (MiB)'
    doc: Memory to reserve for each job, in MiB. (workflows/facet_subtract.cwl, input ram_mb)
    type: int
    default: 4000
  dd_refine__recipe_overrides:
    label: 'dd_refine: Recipe overrides'
    doc: >-
      KEY=VALUE overrides of configs/recipes.yaml for every facet. (workflows/dd_refine.cwl, input recipe_overrides)
    type: string[]?
  dd_refine__dutch_overrides:
    label: 'dd_refine: Dutch strategy overrides'
    doc: >-
      KEY=VALUE overrides of the 6 arcsec Dutch strategy for every facet. (workflows/dd_refine.cwl, input dutch_overrides)
    type: string[]?
  dd_refine__final_overrides:
    label: 'dd_refine: Final strategy overrides'
    doc: >-
      KEY=VALUE overrides of the final strategy for every facet. (workflows/dd_refine.cwl, input final_overrides)
    type: string[]?
  dd_refine__image_size_pix:
    label: 'dd_refine: Image size (pixels)'
    doc: Size of each facet image (tool default 1024). (workflows/dd_refine.cwl, input image_size_pix)
    type: int?
  dd_refine__image_scale_arcsec:
    label: 'dd_refine: Pixel size (arcsec)'
    doc: >-
      Pixel size of each facet image (tool default 0.1). (workflows/dd_refine.cwl, input image_scale_arcsec)
    type: float?
  dd_refine__image_taper_arcsec:
    label: 'dd_refine: Taper (arcsec)'
    doc: >-
      Gaussian taper of each facet image (tool default 0.3). (workflows/dd_refine.cwl, input image_taper_arcsec)
    type: float?
  dd_refine__image_on_calibrator:
    label: 'dd_refine: Images centred on the calibrators'
    doc: >-
      Centre each facet image on the facet calibrator instead of the facet centre. (workflows/dd_refine.cwl, input
      image_on_calibrator)
    type: boolean
    default: false
  dd_refine__compare:
    label: 'dd_refine: Compare with the data as given'
    doc: >-
      Also image each facet's data as given and report the peak and rms of both. (workflows/dd_refine.cwl, input compare)
    type: boolean
    default: false
  dd_refine__failure_ok:
    label: 'dd_refine: A failed facet does not stop the others'
    doc: >-
      A facet whose self-calibration or imaging fails gets a summary with status failed and the reason, no solutions
      and no image, and the other facets go on (default true). (workflows/dd_refine.cwl, input failure_ok)
    type: boolean
    default: true
  dd_refine__cores:
    label: 'dd_refine: Cores per facet'
    doc: Cores of each facet's job. (workflows/dd_refine.cwl, input cores)
    type: int
    default: 2
  dd_refine__ram_mb:
    label: 'dd_refine: Memory per facet (MiB)'
    doc: Memory to reserve for each facet's job, in MiB. (workflows/dd_refine.cwl, input ram_mb)
    type: int
    default: 8000
  apply_refined__data_column:
    label: 'apply_refined: Data column'
    doc: Column of the facet datasets to correct. (workflows/apply_facet_solutions.cwl, input data_column)
    type: string
    default: DATA
  apply_refined__cores:
    label: 'apply_refined: Cores per job'
    doc: Cores of each job. (workflows/apply_facet_solutions.cwl, input cores)
    type: int
    default: 1
  apply_refined__ram_mb:
    label: 'apply_refined: Memory per job (MiB)'
    doc: Memory to reserve for each job, in MiB. (workflows/apply_facet_solutions.cwl, input ram_mb)
    type: int
    default: 2000
  sva__image_radius_deg:
    label: 'sva: Facet radius (deg)'
    doc: >-
      Radius of the facet images at which the smearing budget holds (tool default the station beam's half-power radius).
      (workflows/sva.cwl, input image_radius_deg)
    type: float?
  sva__max_smearing_loss:
    label: 'sva: Largest smearing loss'
    doc: >-
      Largest peak loss of a source at the facet radius from the averaging (tool default 0.05). (workflows/sva.cwl,
      input max_smearing_loss)
    type: float?
  sva__time_res_s:
    label: 'sva: Time resolution (s)'
    doc: >-
      Output time resolution instead of the one the smearing budget gives. (workflows/sva.cwl, input time_res_s)
    type: float?
  sva__data_column:
    label: 'sva: Data column'
    doc: Column of the input measurement sets to average. (workflows/sva.cwl, input data_column)
    type: string
    default: DATA
  sva__cores:
    label: 'sva: Cores per job'
    doc: Cores of each job. (workflows/sva.cwl, input cores)
    type: int
    default: 1
  sva__ram_mb:
    label: 'sva: Memory per job (MiB)'
    doc: Memory to reserve for each job, in MiB. (workflows/sva.cwl, input ram_mb)
    type: int
    default: 2000
  final_imaging__resolutions:
    label: 'final_imaging: Resolutions'
    doc: >-
      Resolutions of the configuration to image and mosaic (the names in configs/final_imaging.yaml). (workflows/final_imaging.cwl,
      input resolutions)
    type: string[]
    default:
    - '0.3'
    - '0.6'
    - '1.2'
  final_imaging__config:
    label: 'final_imaging: Configuration'
    doc: >-
      YAML file overriding configs/final_imaging.yaml (e.g. other resolutions). (workflows/final_imaging.cwl, input
      config)
    type: File?
  final_imaging__overrides:
    label: 'final_imaging: Overrides'
    doc: >-
      KEY=VALUE overrides of the configuration for every image. (workflows/final_imaging.cwl, input overrides)
    type: string[]?
  final_imaging__no_beam:
    label: 'final_imaging: No primary-beam correction'
    doc: >-
      Mosaic the uncorrected images (no beam images are made). (workflows/final_imaging.cwl, input no_beam)
    type: boolean
    default: false
  final_imaging__cores:
    label: 'final_imaging: Cores per image'
    doc: Cores of each facet image's job. (workflows/final_imaging.cwl, input cores)
    type: int
    default: 2
  final_imaging__ram_mb:
    label: 'final_imaging: Memory per image (MiB)'
    doc: Memory to reserve for each facet image's job, in MiB. (workflows/final_imaging.cwl, input ram_mb)
    type: int
    default: 8000

steps:
  di_calibrator:
    label: DI calibration of every observation's flux calibrator
    run: di_calibrator.cwl
    scatter: msin
    in:
      msin:
        source: calibrator_ms
        valueFrom: $([self])
      skymodel: calibrator_skymodel
      config: di_calibrator__config
      overrides: di_calibrator__overrides
      apply_beam: di_calibrator__apply_beam
      refine_polalign: di_calibrator__refine_polalign
      working_ms_name: di_calibrator__working_ms_name
      cores: di_calibrator__cores
      ram_mb: di_calibrator__ram_mb
    out: [cal_solutions, polalign, polalign_initial, faraday, bandpass, clocktec, solves, plots, logs]

  di_target:
    label: Calibrator solutions transferred to every target, DI phase calibration
    run: di_target.cwl
    scatter: [msin, cal_solutions]
    scatterMethod: dotproduct
    in:
      msin:
        source: target_ms
        valueFrom: $([self])
      cal_solutions: di_calibrator/cal_solutions
      skymodel: skymodel
      soltabs: di_target__soltabs
      cal_solset: di_target__cal_solset
      config: di_target__config
      overrides: di_target__overrides
      cores: di_target__cores
      ram_mb: di_target__ram_mb
    out: [transfer, corrected_ms, phase_solutions, logs]

  delay_calibration:
    label: In-field delay calibration of all observations
    run: delay_calibration.cwl
    in:
      msin:
        source: di_target/corrected_ms
        valueFrom: $(self.map(function (per_obs) { return per_obs[0]; }))
      calibrator_ra_deg:
        source: delay_calibrator
        valueFrom: $(self.ra_deg)
      calibrator_dec_deg:
        source: delay_calibrator
        valueFrom: $(self.dec_deg)
      skymodel: skymodel
      calibrator_flux_jy: delay_calibration__calibrator_flux_jy
      strategy: delay_calibration__strategy
      strategy_file: delay_calibration__strategy_file
      strategy_overrides: delay_calibration__strategy_overrides
      data_column: delay_calibration__data_column
      require_improvement: delay_calibration__require_improvement
      station_groups: delay_calibration__station_groups
      selfcal_cores: delay_calibration__selfcal_cores
      selfcal_ram_mb: delay_calibration__selfcal_ram_mb
      apply_cores: delay_calibration__apply_cores
      apply_ram_mb: delay_calibration__apply_ram_mb
    out: [calibrated_ms, solutions, selfcal_dir, best_image, report, provenance, logs]

  calibratability:
    label: Calibratability gate of every observation
    run: ../steps/calibratability.cwl
    in:
      msin: delay_calibration/calibrated_ms
      observation_names: observation_names
      di_solutions: di_calibrator/cal_solutions
      output_name:
        default: calibratability.json
      calibrator_name:
        source: delay_calibrator
        valueFrom: $(self.name)
      calibrator_ra_deg:
        source: delay_calibrator
        valueFrom: $(self.ra_deg)
      calibrator_dec_deg:
        source: delay_calibrator
        valueFrom: $(self.dec_deg)
      di_solset: calibratability__di_solset
      di_soltab: calibratability__di_soltab
      calibrators: calibratability__calibrators
      config: calibratability__config
      overrides: calibratability__overrides
      selection_config: calibratability__selection_config
      selection_overrides: calibratability__selection_overrides
      cores: calibratability__cores
      ram_mb: calibratability__ram_mb
      disk_mb: calibratability__disk_mb
    out: [result, provenance, log, stderr_log]

  gate:
    label: The observations that passed the gate
    run: ../steps/gate_filter.cwl
    in:
      result: calibratability/result
      observation_names: observation_names
      msin: delay_calibration/calibrated_ms
    out: [msin_passed, observations_passed]

  select_calibrators:
    label: DD calibrator selection and facets
    run: select_calibrators.cwl
    in:
      msin:
        source: gate/msin_passed
        valueFrom: $([self[0]])
      skymodel: skymodel
      catalogue: select_calibrators__catalogue
      image: select_calibrators__image
      min_peak_flux_jy: select_calibrators__min_peak_flux_jy
      max_candidates: select_calibrators__max_candidates
      config: select_calibrators__config
      overrides: select_calibrators__overrides
      added: select_calibrators__added
      removed: select_calibrators__removed
      box_deg: select_calibrators__box_deg
      circle_deg: select_calibrators__circle_deg
      resolution_arcsec: select_calibrators__resolution_arcsec
      score_cores: select_calibrators__score_cores
    out: [candidate_table, scores, calibrators, facet_layout, regions]

  dd_dutch:
    label: Joint DD solve of the Dutch stations
    run: dd_dutch.cwl
    in:
      msin: gate/msin_passed
      calibrators: select_calibrators/calibrators
      facet_regions: select_calibrators/regions
      integration_s: dd_dutch__integration_s
      strategy_file: dd_dutch__strategy_file
      strategy_overrides: dd_dutch__strategy_overrides
      data_column: dd_dutch__data_column
      station_groups: dd_dutch__station_groups
      selfcal_cores: dd_dutch__selfcal_cores
      selfcal_ram_mb: dd_dutch__selfcal_ram_mb
    out: [solutions, final_solutions, image, selfcal_dir, report, strategy, starting_model, logs]

  dd_international:
    label: DD self-calibration of the international stations
    run: dd_international.cwl
    in:
      msin: gate/msin_passed
      dutch_solutions: dd_dutch/solutions
      calibrators: select_calibrators/calibrators
      facet_regions: select_calibrators/regions
      dt_formula: dd_international__dt_formula
      integration_s: dd_international__integration_s
      recipe_overrides: dd_international__recipe_overrides
      strategy_overrides: dd_international__strategy_overrides
      data_column: dd_international__data_column
      station_groups: dd_international__station_groups
      match_deg: dd_international__match_deg
      merge_international_stations: dd_international__merge_international_stations
      make_field_image: dd_international__make_field_image
      image_size_pix: dd_international__image_size_pix
      image_scale_arcsec: dd_international__image_scale_arcsec
      image_taper_arcsec: dd_international__image_taper_arcsec
      image_niter: dd_international__image_niter
      image_cores: dd_international__image_cores
      image_ram_mb: dd_international__image_ram_mb
      selfcal_cores: dd_international__selfcal_cores
      selfcal_ram_mb: dd_international__selfcal_ram_mb
    out: [field_image, solutions, directions, selfcal_dirs, reports, strategies, calibrator_index, logs]

  facet_subtract:
    label: Facet subtraction, one dataset per observation and facet
    run: facet_subtract.cwl
    in:
      msin: gate/msin_passed
      h5parm: dd_international/solutions
      skymodel: skymodel
      facet_regions: select_calibrators/regions
      model_images: facet_subtract__model_images
      resolution_arcsec: facet_subtract__resolution_arcsec
      max_smearing_loss: facet_subtract__max_smearing_loss
      no_beam: facet_subtract__no_beam
      dysco: facet_subtract__dysco
      one_pass: facet_subtract__one_pass
      data_column: facet_subtract__data_column
      cores: facet_subtract__cores
      ram_mb: facet_subtract__ram_mb
    out: [facet_ms, facet_provenance, summaries, logs]

  group_facets:
    label: The facet datasets grouped by facet
    run: ../steps/facet_datasets.cwl
    in:
      facet_ms: facet_subtract/facet_ms
      facet_regions: select_calibrators/regions
    out: [facets, grouped, datasets]

  dd_refine:
    label: DD refinement of every facet with all observations
    run: dd_refine.cwl
    when: $(inputs.refine)
    in:
      refine: refine
      facet_ms: group_facets/datasets
      calibrators: select_calibrators/calibrators
      facets: group_facets/facets
      recipe_overrides: dd_refine__recipe_overrides
      dutch_overrides: dd_refine__dutch_overrides
      final_overrides: dd_refine__final_overrides
      image_size_pix: dd_refine__image_size_pix
      image_scale_arcsec: dd_refine__image_scale_arcsec
      image_taper_arcsec: dd_refine__image_taper_arcsec
      image_on_calibrator: dd_refine__image_on_calibrator
      compare: dd_refine__compare
      failure_ok: dd_refine__failure_ok
      cores: dd_refine__cores
      ram_mb: dd_refine__ram_mb
    out: [solutions, images, summaries, logs]

  refined_pairs:
    label: Each facet dataset with its refined solutions
    run: ../steps/refined_pairs.cwl
    in:
      facets: group_facets/facets
      grouped: group_facets/grouped
      solutions: dd_refine/solutions
    out: [facet_ms, pair_solutions]

  apply_refined:
    label: The refined solutions applied to every facet dataset
    run: apply_facet_solutions.cwl
    when: $(inputs.refine)
    in:
      refine: refine
      facet_ms: refined_pairs/facet_ms
      solutions: refined_pairs/pair_solutions
      data_column: apply_refined__data_column
      cores: apply_refined__cores
      ram_mb: apply_refined__ram_mb
    out: [corrected_ms, provenance, logs]

  corrected_datasets:
    label: The facet datasets per facet, corrected where refined
    run: ../steps/corrected_datasets.cwl
    in:
      grouped: group_facets/grouped
      corrected_ms: apply_refined/corrected_ms
    out: [grouped_corrected]

  sva:
    label: Sidereal visibility averaging of every facet
    run: sva.cwl
    in:
      facet_ms: corrected_datasets/grouped_corrected
      facet_names: group_facets/facets
      image_radius_deg: sva__image_radius_deg
      max_smearing_loss: sva__max_smearing_loss
      time_res_s: sva__time_res_s
      data_column: sva__data_column
      cores: sva__cores
      ram_mb: sva__ram_mb
    out: [averaged_ms, summaries, provenance, logs]

  sva_facets:
    label: The facet of every averaged dataset
    run: ../steps/sva_facets.cwl
    in:
      averaged_ms: sva/averaged_ms
    out: [facets]

  final_imaging:
    label: Final facet images and mosaics
    run: final_imaging.cwl
    in:
      facet_ms: sva/averaged_ms
      facets: sva_facets/facets
      facet_regions: select_calibrators/regions
      resolutions: final_imaging__resolutions
      config: final_imaging__config
      overrides: final_imaging__overrides
      no_beam: final_imaging__no_beam
      cores: final_imaging__cores
      ram_mb: final_imaging__ram_mb
    out: [mosaics, noise_maps, images, uncorrected, beams, summaries, mosaic_summaries, tool_logs, logs]

  di_products:
    label: The DI products named after their observation
    run: ../steps/prefix_names.cwl
    in:
      prefixes: observation_names
      files:
        source: [di_calibrator/cal_solutions, di_calibrator/polalign, di_calibrator/polalign_initial,
                 di_calibrator/faraday, di_calibrator/bandpass, di_calibrator/clocktec, di_calibrator/solves,
                 di_target/transfer, di_target/phase_solutions]
        # per product, per observation (a file or a list) -> per observation, all its files
        valueFrom: >-
          $(self[0].map(function (x, i) {
            return [].concat.apply([], self.map(function (product) { return product[i]; })); }))
      directories: di_calibrator/plots
    out: [named_files, named_directories]

  di_logs:
    label: The DI logs named after their observation
    run: ../steps/prefix_names.cwl
    in:
      prefixes: observation_names
      files:
        source: [di_calibrator/logs, di_target/logs]
        # per module, per observation -> per observation, the logs of both modules
        valueFrom: $(self[0].map(function (x, i) { return self[0][i].concat(self[1][i]); }))
    out: [named_files]

  module_logs:
    label: The logs of the joint modules named after their module
    run: ../steps/prefix_names.cwl
    in:
      prefixes:
        default: [delay_calibration, calibratability, calibratability, dd_dutch, dd_international, facet_subtract,
                  sva, final_imaging, final_imaging, dd_refine, apply_refined]
      files:
        source: [delay_calibration/logs, calibratability/log, calibratability/stderr_log, dd_dutch/logs,
                 dd_international/logs, facet_subtract/logs, sva/logs, final_imaging/logs, final_imaging/tool_logs,
                 dd_refine/logs, apply_refined/logs]
        linkMerge: merge_nested
        # the refinement's logs come last: without it they are left out, and so are their (unused) prefixes
        pickValue: all_non_null
        # each source flattened to one list of files (a file, a list, or a list per job)
        valueFrom: $(self.map(function (logs) { return [].concat.apply([], [].concat(logs)); }))
    out: [named_files]

  selfcal_folders:
    label: The self-calibration folders named after their module
    run: ../steps/prefix_names.cwl
    in:
      prefixes:
        default: [delay_calibration, dd_dutch]
      files:
        default: [[], []]
      directories:
        source: [delay_calibration/selfcal_dir, dd_dutch/selfcal_dir]
    out: [named_directories]

outputs:
  # ---- direction-independent calibration, per observation (named <obs>.<name>)
  di_solutions:
    label: DI solutions
    doc: >-
      Per observation <obs>.cal_solutions.h5 (polalign, bandpass, faraday, clock, tec of its calibrator), the fitted
      effects and solves of di_calibrator, and <obs>.<name> of the solutions of di_target.
    type: File[]
    outputSource: di_products/named_files
  di_plots:
    label: DI plots
    doc: Per observation, <obs>.plots, the inspection plots of its calibrator's solutions.
    type: Directory[]
    outputSource: di_products/named_directories
  # ---- delay calibration
  delay_solutions:
    label: Delay solutions
    doc: The delay calibration's solutions, one h5parm per observation.
    type: File[]
    outputSource: delay_calibration/solutions
  delay_calibrated_ms:
    label: Delay-calibrated measurement sets
    doc: The DI- and delay-calibrated target of every observation.
    type: Directory[]
    outputSource: delay_calibration/calibrated_ms
  selfcal:
    label: Self-calibration folders
    doc: >-
      delay_calibration.selfcal and dd_dutch.selfcal, the self-calibration folders (cycles, metrics, report) of the
      delay calibration and of the Dutch DD solve.
    type: Directory[]
    outputSource: selfcal_folders/named_directories
  delay_image:
    label: Delay calibrator image
    doc: The best image of the delay calibrator.
    type: File?
    outputSource: delay_calibration/best_image
  # ---- calibratability gate
  gate_report:
    label: Gate report
    doc: calibratability.json, every observation's metrics, verdict and reasons.
    type: File
    outputSource: calibratability/result
  observations_passed:
    label: Observations that passed the gate
    doc: The names of the observations the later modules processed.
    type: string[]
    outputSource: gate/observations_passed
  # ---- calibrator selection and facets
  calibrators:
    label: Calibrator table
    doc: calibrators.csv, the selected DD calibrators.
    type: File
    outputSource: select_calibrators/calibrators
  facet_regions:
    label: Facet regions
    doc: facets.reg, the ds9 facet layout.
    type: File
    outputSource: select_calibrators/regions
  facet_layout:
    label: Facet layout
    doc: The facet layout folder (facets.reg, facets.csv, facets.json, facets.png).
    type: Directory
    outputSource: select_calibrators/facet_layout
  candidate_table:
    label: Candidate table
    doc: Every candidate calibrator with its score.
    type: File
    outputSource: select_calibrators/candidate_table
  # ---- direction-dependent calibration
  dd_dutch_solutions:
    label: Dutch DD solutions
    doc: best_<obs>.h5 of the Dutch joint solve, one per observation that passed.
    type: File[]
    outputSource: dd_dutch/solutions
  dd_solutions:
    label: DD solutions
    doc: The merged Dutch and international DD solutions, one multi-direction h5parm per observation that passed.
    type: File[]
    outputSource: dd_international/solutions
  dd_directions:
    label: DD directions
    doc: The directions table of each merged h5parm.
    type: File[]
    outputSource: dd_international/directions
  dd_international_selfcal:
    label: International DD self-calibration
    doc: The self-calibration folder of every calibrator and observation.
    type: Directory[]
    outputSource: dd_international/selfcal_dirs
  dd_field_image:
    label: DD field image
    doc: The facet image of the field with the merged solutions (when dd_international__make_field_image).
    type: File?
    outputSource: dd_international/field_image
  # ---- facet datasets, refinement, averaging
  facet_datasets:
    label: Facet datasets
    doc: <obs>.<facet>.ms, one per observation that passed and facet.
    type: Directory[]
    outputSource: facet_subtract/facet_ms
  refined_solutions:
    label: Refined solutions
    doc: <facet>.<obs>.refined.h5 per facet (when refine).
    type:
      - "null"
      - type: array
        items:
          type: array
          items: File
    outputSource: dd_refine/solutions
  refine_summaries:
    label: Refinement summaries
    doc: Every facet's refinement summary (when refine); a failed facet's says why.
    type: File[]?
    outputSource: dd_refine/summaries
  sva_datasets:
    label: Averaged facet datasets
    doc: <facet>.ms, the sidereally averaged dataset of every facet.
    type: Directory[]
    outputSource: sva/averaged_ms
  # ---- final images
  mosaics:
    label: Mosaics
    doc: One primary-beam corrected mosaic per resolution.
    type: File[]
    outputSource: final_imaging/mosaics
  noise_maps:
    label: Noise maps
    doc: The noise map of every mosaic.
    type: File[]
    outputSource: final_imaging/noise_maps
  facet_images:
    label: Facet images
    doc: Per facet, its images (one per resolution).
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: final_imaging/images
  image_summaries:
    label: Image summaries
    doc: Per facet, the summary of each of its images.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: final_imaging/summaries
  mosaic_summaries:
    label: Mosaic summaries
    doc: The summary of every mosaic.
    type: File[]
    outputSource: final_imaging/mosaic_summaries
  # ---- logs
  logs:
    label: Logs
    doc: >-
      The log of every step of every module, named <obs>.<name> (the per-observation modules) or <module>.<name>.
    type: File[]
    outputSource: [di_logs/named_files, module_logs/named_files]
    linkMerge: merge_flattened
