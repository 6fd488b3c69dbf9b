#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Correct a target observation with the transferred solutions
doc: |
  Runs `lofar-hires dical correct`: one DP3 run flags the target data, removes
  the transferred solutions (the setting corrections, outermost effect first:
  polarisation alignment, bandpass, clock) and the station beam at the phase
  centre, and averages into a new measurement set (averaging.* of
  configs/di_target.yaml). The input is not modified.
  Command module: lofar_hires.cli.dical.correct.

baseCommand: [lofar-hires, dical, correct]

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
  # DP3 threads follow the cores the runner granted; DP3's parset and log go to dp3_logs/.
  - prefix: --set
    valueFrom: threads=$(runtime.cores)
  - prefix: --logdir
    valueFrom: $(runtime.outdir)/dp3_logs
  # The corrected MS keeps the input's name unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"

inputs:
  msin:
    label: Target measurement set
    doc: The target observation (read only).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  transfer:
    label: Transferable solutions
    doc: h5parm from dical_transfer.cwl with the soltabs named by the setting corrections.
    type: File
    inputBinding:
      prefix: --transfer
  output_name:
    label: Output MS name
    doc: Name of the corrected measurement set (default the input's name).
    type: string?
  config:
    label: Target settings file
    doc: YAML file overriding configs/di_target.yaml.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. apply_beam=false).
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

stdout: dical_correct.log
stderr: dical_correct.stderr.log

outputs:
  ms_out:
    label: Corrected measurement set
    doc: The DI-corrected, averaged target data (DATA), with a HISTORY row of this step.
    type: Directory
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"
  dp3_logs:
    label: DP3 parset and log
    doc: The parset and the complete output of the DP3 run.
    type: File[]
    outputBinding:
      glob: dp3_logs/*
  log:
    label: Standard output
    doc: The path of the measurement set written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, the DP3 command, timing).
    type: stderr
