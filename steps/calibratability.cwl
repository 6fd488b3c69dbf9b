#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Calibratability gate of the observations
doc: |
  Runs `lofar-hires calibratability` after the delay calibration (de Jong et al. 2025,
  section 6.7.2.1): per observation (one measurement set each, with its
  direction-independent solutions in the same order) it measures the phasediff score of
  the in-field calibrator on the longest baselines (DP3, as select score does, with its
  noise level), the fraction of flagged visibilities, and the rms rate of change of the
  differential TEC of the remote stations in the solutions (TECU per minute). Each metric
  is judged against its limit (configs/calibratability.yaml); an observation passes when
  every metric is within its limit. Writes one JSON with every observation's metrics,
  sub-scores, verdict and reasons, and its provenance. An observation that fails the gate
  is a result (exit status 0); the workflow decides what to do with it. The inputs are
  read only; the score's averaged work MS is removed after each calibrator.
  Command module: lofar_hires.cli.calibratability.

baseCommand: [lofar-hires, calibratability]

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
    # Disk from the work: the staged input measurement sets, and one averaged copy at a time.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # DP3 threads of the phasediff score follow the cores reserved for the step.
  - prefix: --set-selection
    valueFrom: score.threads=$(runtime.cores)
    position: 2

inputs:
  msin:
    label: Measurement sets
    doc: One measurement set per observation, after the delay calibration; read only.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      prefix: --msin
      position: 10
  di_solutions:
    label: Direction-independent solutions
    doc: |
      The direction-independent solutions of each observation, in the order of msin, such as
      the phase solutions of the target (phase_solutions of workflows/di_target.cwl) or an
      h5parm with a tec soltab (cal_solutions.h5).
    type: File[]
    inputBinding:
      prefix: --di-solutions
      position: 11
  observation_names:
    label: Observation names
    doc: The observations' names, in the order of msin (CLI default, the measurement sets' names without .ms); they key the result.
    type: string[]?
    inputBinding:
      prefix: --observation-names
  di_solset:
    label: Solset
    doc: Solset of the solutions (CLI default, target, then calibrator, then sol000, then any).
    type: string?
    inputBinding:
      prefix: --di-solset
  di_soltab:
    label: Soltab
    doc: Soltab of the solutions, of type tec or phase (CLI default, the first direction-independent tec soltab, else the first phase soltab).
    type: string?
    inputBinding:
      prefix: --di-soltab
  calibrators:
    label: Calibrator table
    doc: Calibrator table (lofar-hires select); every row is scored and the lowest score counts. Or give the calibrator's position.
    type: File?
    inputBinding:
      prefix: --calibrators
  calibrator_ra_deg:
    label: Calibrator RA (deg)
    doc: Right ascension (J2000) of the in-field calibrator.
    type: float?
    inputBinding:
      prefix: --calibrator-ra-deg
  calibrator_dec_deg:
    label: Calibrator Dec (deg)
    doc: Declination (J2000) of the in-field calibrator.
    type: float?
    inputBinding:
      prefix: --calibrator-dec-deg
  calibrator_name:
    label: Calibrator name
    doc: Name of the calibrator given by its position (CLI default delay_calibrator).
    type: string?
    inputBinding:
      prefix: --calibrator-name
  output_name:
    label: Result file name
    doc: Name of the result (JSON); the provenance is named after it (<name without .json>.provenance.json).
    type: string
    default: calibratability.json
    inputBinding:
      prefix: --output
  config:
    label: Limits file
    doc: YAML overriding configs/calibratability.yaml (the limits of the metrics).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Limit overrides
    doc: Single limits as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. flags.max_flagged_fraction=0.6).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
  selection_config:
    label: Selection settings file
    doc: YAML overriding configs/select_calibrators.yaml (its score section measures the phasediff score).
    type: File?
    inputBinding:
      prefix: --selection-config
  selection_overrides:
    label: Score setting overrides
    doc: Single score settings as KEY=VALUE, each passed as `--set-selection KEY=VALUE` (e.g. score.solint_s=300).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-selection
    inputBinding:
      position: 1
  cores:
    label: Cores
    doc: Number of cores to reserve (DP3 threads of the phasediff score).
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 4000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the work each; more when
      the runner reports the input sizes (the score's averaged copy is at most one input).
    type: int
    default: 2048

stdout: calibratability.log
stderr: calibratability.stderr.log

outputs:
  result:
    label: Result
    doc: Per observation its metrics, sub-scores, verdict (passed) and the reasons of a failure (JSON).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  provenance:
    label: Provenance
    doc: How the result was made (inputs, limits, every DP3 command line, version and duration).
    type: File
    outputBinding:
      glob: $(inputs.output_name.replace(/\.json$/i, '') + '.provenance.json')
  log:
    label: Verdicts
    doc: One line per observation, passed or failed with its reasons (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, metrics, DP3 runs).
    type: stderr
