#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Flag, average and join calibrator subbands into a working MS
doc: |
  Runs `lofar-hires dical prepare`: the first step of the calibrator pipeline.
  One DP3 run flags (station flags, optional AOFlagger) and averages the
  calibrator measurement set(s) to the resolution of the settings
  (`averaging.*` of configs/di_calibrator.yaml), joining several subbands in
  frequency, into a new measurement set. The inputs are not modified.
  Command module: lofar_hires.cli.dical.prepare.

baseCommand: [lofar-hires, dical, prepare]

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

inputs:
  msin:
    label: Calibrator measurement sets
    doc: One MS per subband (same stations and time slots) or one MS; read only.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_name:
    label: Output MS name
    doc: Name of the working measurement set.
    type: string
    default: calibrator_avg.MS
    inputBinding:
      prefix: --output
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. averaging.time_resolution_s=8).
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

stdout: dical_prepare.log
stderr: dical_prepare.stderr.log

outputs:
  ms_out:
    label: Working measurement set
    doc: The flagged and averaged calibrator data (DATA), with a HISTORY row of this step.
    type: Directory
    outputBinding:
      glob: $(inputs.output_name)
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
