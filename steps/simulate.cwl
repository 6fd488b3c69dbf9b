#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Simulate LOFAR observations
doc: |
  Runs `lofar-hires simulate`: simulates a target field (and optionally a flux
  calibrator) as casacore measurement sets with known corruptions, and writes
  the ground truth (sky model, per-observation h5parm and JSON) next to them.
  All products land in one output directory; the measurement sets, truth files
  and sky model are also returned individually so that workflows can wire them.
  Command module: lofar_hires.cli.simulate.

baseCommand: [lofar-hires, simulate]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
  EnvVarRequirement:
    envDef:
      # DP3 and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  preset:
    label: Preset
    doc: Starting configuration (tiny, small, medium, dical for the DI calibration tests, dical_hard for a hard DI field (international stations, large clocks, delays, RM and TEC), select for calibrator selection, selfcal for self-calibration, dd for direction-dependent calibration of a field, or dd_hard for a field with a disturbed ionosphere, more than 1 rad between directions on the international stations); the CLI default is small.
    type:
      - "null"
      - type: enum
        symbols: [tiny, small, medium, dical, dical_hard, select, selfcal, dd, dd_hard]
    inputBinding:
      prefix: --preset
  config:
    label: Settings file
    doc: YAML file with settings that override the preset.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: |
      Single settings as KEY=VALUE (values parsed as YAML), each passed as
      `--set KEY=VALUE` after the preset and settings file, e.g.
      `observation.n_chan=32` or `corruptions.tec.enabled=false`.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  calibrator:
    label: Simulate the calibrator
    doc: |
      Whether to simulate the flux-calibrator observation (adds
      `--set calibrator.enabled=true|false` after the other overrides);
      leave unset to keep the preset's choice.
    type: boolean?
    inputBinding:
      position: 2
      valueFrom: "$(self === null ? null : ['--set', 'calibrator.enabled=' + self])"
  seed:
    label: Random seed
    doc: Random seed; overrides the seed of the configuration.
    type: int?
    inputBinding:
      prefix: --seed
  outdir_name:
    label: Output directory name
    doc: Name of the directory (inside the step's working directory) that receives all products.
    type: string
    default: simulation
    inputBinding:
      prefix: --outdir
  cores:
    label: Cores
    doc: Number of cores to reserve for the simulation.
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve for the simulation, in MiB.
    type: int
    default: 4000

stdout: simulate.log
stderr: simulate.stderr.log

outputs:
  simulation:
    label: Simulation directory
    doc: The whole output directory (measurement sets, truth, simulation.json, provenance.json).
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  target_ms:
    label: Target measurement sets
    doc: One measurement set per target observation (target_obs01.MS, target_obs02.MS, ...), sorted by name.
    type: Directory[]
    outputBinding:
      glob: $(inputs.outdir_name)/target_obs*.MS
  calibrator_ms:
    label: Calibrator measurement sets
    doc: Calibrator observations (calibrator_obs01.MS, ...); empty when the calibrator is disabled.
    type: Directory[]
    outputBinding:
      glob: $(inputs.outdir_name)/calibrator_obs*.MS
  truth_h5parm:
    label: Truth h5parms
    doc: The applied corruptions of every observation as h5parm (<name>.truth.h5).
    type: File[]
    outputBinding:
      glob: $(inputs.outdir_name)/*.truth.h5
  truth_json:
    label: Truth summaries
    doc: Per-observation truth summaries (<name>.truth.json).
    type: File[]
    outputBinding:
      glob: $(inputs.outdir_name)/*.truth.json
  sky_model:
    label: True sky model
    doc: The simulated target sky (makesourcedb format, sky_truth.skymodel).
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/sky_truth.skymodel
  calibrator_model:
    label: Calibrator sky model
    doc: The calibrator's sky model (calibrator.skymodel); absent when the calibrator is disabled.
    type: File?
    outputBinding:
      glob: $(inputs.outdir_name)/calibrator.skymodel
  metadata:
    label: Simulation record
    doc: The resolved configuration and the list of observations (simulation.json).
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/simulation.json
  log:
    label: Standard output
    doc: Summary of the products written (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
