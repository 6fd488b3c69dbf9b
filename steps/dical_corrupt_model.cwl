#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Corrupt the model with Faraday rotation and the beam
doc: |
  Runs `lofar-hires dical corrupt-model`: DP3 applies the fitted differential
  Faraday rotation and then the station beam (innermost effect first) to
  MODEL_DATA and writes the result to MODEL_CORRUPTED, the model against which
  the bandpass and the clock are solved, in a copy of the measurement set
  (the output MS); the input is not modified.
  Command module: lofar_hires.cli.dical.corrupt_model.

baseCommand: [lofar-hires, dical, corrupt-model]

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
  - prefix: --threads
    valueFrom: $(runtime.cores)
  - prefix: --logdir
    valueFrom: $(runtime.outdir)/dp3_logs
  # The output MS keeps the input's name unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"

inputs:
  msin:
    label: Measurement set
    doc: An MS with MODEL_DATA (from dical_predict.cwl); read only.
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_name:
    label: Output MS name
    doc: Name of the output measurement set, a copy of the input with MODEL_CORRUPTED (default the input's name).
    type: string?
  faraday:
    label: Faraday rotation solutions
    doc: h5parm with the soltab faraday (from `dical fit faraday`).
    type: File
    inputBinding:
      prefix: --faraday
  no_beam:
    label: Without the beam
    doc: Corrupt the model with Faraday rotation only (when the pipeline does not correct the beam).
    type: boolean
    default: false
    inputBinding:
      prefix: --no-beam
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
      the runner reports the input sizes (the outputs need two copies of the input measurement sets).
    type: int
    default: 2048

stdout: dical_corrupt_model.log
stderr: dical_corrupt_model.stderr.log

outputs:
  ms_out:
    label: Measurement set with MODEL_CORRUPTED
    doc: The copy of the input MS with the corrupted model in MODEL_CORRUPTED (and a HISTORY row).
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
    doc: The task's log messages (the DP3 command, timing).
    type: stderr
