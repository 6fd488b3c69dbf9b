#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Self-calibration with a strategy
doc: |
  Runs `lofar-hires selfcal`: the measurement sets (several observations of one
  field are calibrated jointly: one sky model, solutions per observation) are
  prepared (phase shift, averaging, phase-up of the core, as the strategy says),
  then each cycle images with WSClean, predicts the model and solves the
  strategy's DDECal solves in order, until the stopping rule ends the run. The
  best cycle's solutions are written per observation as best_<obs>.h5 (<obs> is
  the MS name without .ms/.MS, each run of characters other than letters,
  digits, _ + - . replaced by _), for all stations of the input MS (a phased-up
  superstation is expanded back to the core stations). Everything goes into
  the directory outdir_name, `selfcal` by default (cycles, metrics, montage, report, provenance, the
  prepared data under work/), which the run holds locked while it works. The
  input measurement sets are read only.
  Command module: lofar_hires.cli.selfcal.

baseCommand: [lofar-hires, selfcal]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement:
    expressionLib:
      - $include: resources.js
  EnvVarRequirement:
    envDef:
      # DP3 and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
    # Disk from the work: the staged input measurement sets, and three copies of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 3, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # A shipped strategy name or a strategy YAML file; a staged file wins over the name.
  - prefix: --strategy
    valueFrom: "$(inputs.strategy_file ? inputs.strategy_file.path : inputs.strategy)"
  - prefix: --outdir
    valueFrom: $(inputs.outdir_name)
  # DP3 and WSClean threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Measurement sets
    doc: One or more observations of the field (read only); calibrated jointly.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 20
  strategy:
    label: Strategy name
    doc: A shipped strategy (configs/selfcal/<name>.yaml, e.g. delay); ignored when strategy_file is given.
    type: string
    default: delay
  strategy_file:
    label: Strategy file
    doc: A strategy YAML file (see configs/selfcal/delay.yaml); replaces the strategy name.
    type: File?
  overrides:
    label: Strategy overrides
    doc: Single strategy values as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. stopping.max_cycles=6).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  phase_centre_deg:
    label: Phase centre (deg)
    doc: RA and Dec (J2000, two values) to which the data are phase-shifted first, e.g. the in-field calibrator.
    type: float[]?
    inputBinding:
      prefix: --phase-centre
  point_model_jy:
    label: Starting point model (Jy)
    doc: Starting model of cycle 0, a point source of this flux at the (new) phase centre.
    type: float?
    inputBinding:
      prefix: --point-model-jy
  skymodel:
    label: Starting sky model
    doc: Starting model of cycle 0 (makesourcedb format) instead of a clean model.
    type: File?
    inputBinding:
      prefix: --skymodel
  model_image:
    label: Starting model image
    doc: Starting model of cycle 0 as a WSClean model image (FITS).
    type: File?
    inputBinding:
      prefix: --model-image
  facet_regions:
    label: Facet regions
    doc: >-
      ds9 facet regions (lofar-hires facets): solve towards every facet at once, one
      direction per named polygon placed at its point, and image with WSClean facets
      applying each facet's solutions. Start from skymodel or from the image of the data.
    type: File?
    inputBinding:
      prefix: --facet-regions
  delay_calibrators:
    label: Delay-calibrator table
    doc: >-
      delay_calibrators.csv of the LOFAR-VLBI pipeline (VLBI-cwl's delay_calibrator
      input): the calibrator's position becomes the phase centre and its total flux
      the point starting model. Give it instead of phase_centre_deg, point_model_jy,
      skymodel and model_image.
    type: File?
    inputBinding:
      prefix: --delay-calibrators
  delay_calibrator:
    label: Delay calibrator name
    doc: With delay_calibrators, the Source_id of the calibrator to use (CLI default the table's first row).
    type: string?
    inputBinding:
      prefix: --delay-calibrator
  pre_apply:
    label: Solutions to pre-apply
    doc: >-
      h5parms applied to the data before self-calibration, each passed as `--pre-apply`; of solutions with
      several directions the one nearest to the phase centre is applied.
    type:
      - "null"
      - type: array
        items: File
        inputBinding:
          prefix: --pre-apply
  pre_apply_missing:
    label: Stations the pre-applied solutions lack
    doc: >-
      error (CLI default) refuses data with stations the pre-applied solutions lack; identity leaves them
      uncorrected (Dutch solutions on data with international stations).
    type:
      - "null"
      - type: enum
        symbols: [error, identity]
    inputBinding:
      prefix: --pre-apply-missing
  run_name:
    label: Run name
    doc: What the run calibrates (e.g. the calibrator's name), recorded in the report (default the directory name).
    type: string?
    inputBinding:
      prefix: --name
  require_improvement:
    label: Require an improvement on the uncalibrated image
    doc: >-
      Fail (exit 4) when the uncalibrated image (cycle 0) stays the best, instead of writing identity solutions as
      the best ones (e.g. a delay calibration whose solutions are applied to the whole field).
    type: boolean
    default: false
    inputBinding:
      prefix: --require-improvement
  failure_ok:
    label: Record a failure and go on
    doc: >-
      When the run fails, write selfcal_report.json with status failed and the reason and exit 0, so that a
      workflow calibrating many directions goes on with the others (the solutions and images are then absent).
    type: boolean
    default: false
    inputBinding:
      prefix: --failure-ok
  data_column:
    label: Data column
    doc: Column of the input measurement sets to calibrate (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  station_groups:
    label: Station groups
    doc: YAML file with the station groups (default the shipped configs/station_groups.yaml).
    type: File?
    inputBinding:
      prefix: --station-groups
  outdir_name:
    label: Output directory name
    doc: >-
      Name of the output directory (a safe file name); distinct names keep the runs of a
      scattered step apart among the workflow's outputs.
    type: string
    default: selfcal
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 and WSClean run with as many threads as granted.
    type: int
    default: 4
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 8000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the outputs each; more when
      the runner reports the input sizes (the outputs need three copies of the input measurement sets).
    type: int
    default: 2048

# Named after the output directory, so that the logs of a scattered step stay apart (<calibrator>_<obs>.log).
stdout: $(inputs.outdir_name).log
stderr: $(inputs.outdir_name).stderr.log

outputs:
  selfcal:
    label: Self-calibration directory
    doc: >-
      Cycles (images, solutions, DP3/WSClean logs), metrics.json/csv, montage.png,
      best and final solutions, selfcal_report.json, selfcal.provenance.json and the
      prepared data (work/).
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  best_solutions:
    label: Best solutions
    doc: best_<obs>.h5 per input MS, in the order of the input measurement sets, for all their stations.
    type: File[]
    outputBinding:
      glob: |
        ${
          return inputs.msin.map(function (d) {
            var obs = d.basename.replace(/\.(ms|MS)$/, "").replace(/[^A-Za-z0-9_+\-.]+/g, "_")
              .replace(/^[._]+/, "").replace(/\.+$/, "");
            return inputs.outdir_name + "/best_" + obs + ".h5";
          });
        }
  final_solutions:
    label: Final solutions
    doc: final_<obs>.h5 per input MS, the last cycle's solutions, in the order of the input measurement sets.
    type: File[]
    outputBinding:
      glob: |
        ${
          return inputs.msin.map(function (d) {
            var obs = d.basename.replace(/\.(ms|MS)$/, "").replace(/[^A-Za-z0-9_+\-.]+/g, "_")
              .replace(/^[._]+/, "").replace(/\.+$/, "");
            return inputs.outdir_name + "/final_" + obs + ".h5";
          });
        }
  best_image:
    label: Best image
    doc: The image of the best cycle (FITS).
    type: File?
    outputBinding:
      glob: $(inputs.outdir_name)/best_image.fits
  report:
    label: Report
    doc: selfcal_report.json, the stopping decision, its criteria and the best cycle.
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/selfcal_report.json
  metrics:
    label: Metrics
    doc: metrics.json, the image and solution metrics of every cycle.
    type: File?
    outputBinding:
      glob: $(inputs.outdir_name)/metrics.json
  montage:
    label: Montage
    doc: montage.png, the image of every cycle with its metrics.
    type: File?
    outputBinding:
      glob: $(inputs.outdir_name)/montage.png
  log:
    label: Standard output
    doc: The path of the output directory.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (strategy, every DP3 and WSClean command, metrics and decision per cycle).
    type: stderr
