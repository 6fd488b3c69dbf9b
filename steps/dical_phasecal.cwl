#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Self-calibrate a corrected target observation against a sky model
doc: |
  Runs `lofar-hires dical phasecal`: DP3 solves direction-independent phases
  (setting phase_mode, default scalarphase) against the sky model and applies
  them to DATA of a copy of the measurement set (the output MS); the input
  is not modified.
  Command module: lofar_hires.cli.dical.phasecal.

baseCommand: [lofar-hires, dical, phasecal]

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
    # Disk from the work: the staged input measurement sets, and one copy of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # DP3 threads follow the cores the runner granted; DP3's parsets and logs go to dp3_logs/.
  - prefix: --set
    valueFrom: threads=$(runtime.cores)
  - prefix: --logdir
    valueFrom: $(runtime.outdir)/dp3_logs
  # The solutions are named after the MS unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename.replace(/\\.ms$/i, '') + '.phase.h5')"
  # The output MS keeps the input's name unless output_ms_name is given.
  - prefix: --output-ms
    valueFrom: "$(inputs.output_ms_name ? inputs.output_ms_name : inputs.msin.basename)"

inputs:
  msin:
    label: Corrected target measurement set
    doc: A DI-corrected target MS (from dical_correct.cwl); read only.
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_ms_name:
    label: Output MS name
    doc: >-
      Name of the output measurement set, a copy of the input with the phase
      solutions applied to DATA (default the input's name).
    type: string?
  skymodel:
    label: Sky model
    doc: makesourcedb model of the target field.
    type: File
    inputBinding:
      prefix: --skymodel
  output_name:
    label: Output h5parm name
    doc: Name of the phase solutions (default <MS name without .MS>.phase.h5).
    type: string?
  solset:
    label: Output solset
    doc: Solset of the phase solutions (CLI default target, LINC's name).
    type: string?
    inputBinding:
      prefix: --solset
  config:
    label: Target settings file
    doc: YAML file overriding configs/di_target.yaml (phase_* and minuv_lambda are used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. phase_mode=diagonalphase).
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
    default: 2000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the outputs each; more when
      the runner reports the input sizes (the outputs need one copy of the input measurement sets).
    type: int
    default: 2048

stdout: dical_phasecal.log
stderr: dical_phasecal.stderr.log

outputs:
  solutions:
    label: Phase solutions
    doc: The DDECal h5parm (provenance in the solset attributes).
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename.replace(/\\.ms$/i, '') + '.phase.h5')"
  ms_out:
    label: Self-calibrated measurement set
    doc: The copy of the input MS with the phase solutions applied to DATA (and a HISTORY row).
    type: Directory
    outputBinding:
      glob: "$(inputs.output_ms_name ? inputs.output_ms_name : inputs.msin.basename)"
  dp3_logs:
    label: DP3 parsets and logs
    doc: The parsets and complete output of the solve and apply DP3 runs.
    type: File[]
    outputBinding:
      glob: dp3_logs/*
  log:
    label: Standard output
    doc: The paths of the h5parm and the measurement set written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, the DP3 commands, timing).
    type: stderr
