#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Apply calibration solutions to a measurement set
doc: |
  Runs `lofar-hires apply-solutions`: DP3 applycal removes the solutions of an
  h5parm (full-Jones soltabs as one matrix, others one soltab after the other;
  one direction of a multi-direction h5parm) from a column of the measurement
  set and writes the result as the DATA column of a new measurement set, with a
  HISTORY row and <name>.provenance.json. Every station of the measurement set
  must have solutions. The input is not modified.
  Command module: lofar_hires.cli.apply_solutions.

baseCommand: [lofar-hires, apply-solutions]

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
  # The corrected MS keeps the input's name unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"
  # DP3 threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Measurement set
    doc: The measurement set to correct (read only).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  solutions:
    label: Solutions
    doc: h5parm with the solutions (first solset), e.g. best_<obs>.h5 of selfcal.cwl.
    type: File
    inputBinding:
      prefix: --solutions
  output_name:
    label: Output MS name
    doc: Name of the corrected measurement set (default the input's name).
    type: string?
  data_column:
    label: Data column
    doc: Column of the input to correct (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  soltabs:
    label: Soltabs
    doc: Comma-separated soltabs to apply, e.g. amplitude000,phase000 (default all).
    type: string?
    inputBinding:
      prefix: --soltabs
  direction:
    label: Direction
    doc: Direction (source name) to apply from a multi-direction h5parm.
    type: string?
    inputBinding:
      prefix: --direction
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

stdout: apply_solutions.log
stderr: apply_solutions.stderr.log

outputs:
  ms_out:
    label: Corrected measurement set
    doc: The corrected data (DATA), with a HISTORY row of this step.
    type: Directory
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"
  provenance:
    label: Provenance
    doc: How the measurement set was made (inputs, what was applied, the DP3 command, version and duration).
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename).provenance.json"
  dp3_logs:
    label: DP3 parset and log
    doc: The parset and the complete output of the DP3 run.
    type: File[]
    outputBinding:
      glob: logs/*
  log:
    label: Standard output
    doc: The path of the measurement set written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, what is applied, the DP3 command, timing).
    type: stderr
