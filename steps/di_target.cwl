#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Direction-independent target pipeline (one step)
doc: |
  Runs `lofar-hires di-target`: transfers the calibrator solutions to the
  target observations (polarisation alignment, bandpass, clock), removes the
  station beam at the phase centre, flags and averages, and optionally
  self-calibrates phases against a sky model (setting phase_calibration=true
  and a sky model). One corrected MS per input MS; the inputs are not
  modified. The same pipeline as separate steps is workflows/di_target.cwl.
  Command module: lofar_hires.cli.di_target.

baseCommand: [lofar-hires, di-target]

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
    # Disk from the work: the staged input measurement sets, and two copies of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 2, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # Products go to a fresh directory inside the step's output directory; DP3 threads
  # follow the cores the runner granted.
  - prefix: --outdir
    valueFrom: $(runtime.outdir)/di_target
  - prefix: --set
    valueFrom: threads=$(runtime.cores)

inputs:
  msin:
    label: Target measurement sets
    doc: The target observations (read only).
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  cal_solutions:
    label: Calibrator solutions
    doc: cal_solutions.h5 of the calibrator pipeline.
    type: File
    inputBinding:
      prefix: --cal-solutions
  skymodel:
    label: Sky model
    doc: >-
      makesourcedb model of the field for the optional self-calibration; give it
      only together with phase_calibration=true (otherwise the task refuses it).
    type: File?
    inputBinding:
      prefix: --skymodel
  cal_solset:
    label: Calibrator solset
    doc: >-
      Solset of cal_solutions to read (CLI default calibrator, as LINC writes it, then
      sol000, then the file's only solset).
    type: string?
    inputBinding:
      prefix: --cal-solset
  solset:
    label: Phase solution solset
    doc: Solset of the phase solutions of the optional self-calibration (CLI default target, LINC's name).
    type: string?
    inputBinding:
      prefix: --solset
  config:
    label: Target settings file
    doc: YAML file overriding configs/di_target.yaml.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. phase_calibration=true).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 runs with as many threads as granted.
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
      Disk reserved at least, in MiB, for the staged inputs and for the outputs each; more when
      the runner reports the input sizes (the outputs need two copies of the input measurement sets).
    type: int
    default: 2048

stdout: di_target.log
stderr: di_target.stderr.log

outputs:
  outdir:
    label: Output directory
    doc: Everything the pipeline wrote (corrected MSs, transfer.h5, phase solutions, report, provenance, DP3 logs).
    type: Directory
    outputBinding:
      glob: di_target
  corrected_ms:
    label: Corrected measurement sets
    doc: One DI-corrected MS per input MS (self-calibrated when phase calibration ran).
    type: Directory[]
    outputBinding:
      glob: di_target/*.MS
  transfer:
    label: Transferred solutions
    doc: transfer.h5, the time-independent solutions that were applied.
    type: File
    outputBinding:
      glob: di_target/transfer.h5
  plots:
    label: Solution plots
    doc: A grid of every station for each soltab of transfer.h5 and of each phase solution file.
    type: Directory
    outputBinding:
      glob: di_target/plots
  phase_solutions:
    label: Phase solutions
    doc: The self-calibration solutions (<name>.phase.h5), one per MS; empty without phase calibration.
    type: File[]
    outputBinding:
      glob: di_target/*.phase.h5
  report:
    label: Report
    doc: target_report.json.
    type: File
    outputBinding:
      glob: di_target/target_report.json
  log:
    label: Standard output
    doc: The products written.
    type: stdout
  stderr_log:
    label: Log
    doc: The pipeline's log messages.
    type: stderr
