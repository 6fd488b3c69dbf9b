#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Predict a sky model into MODEL_DATA
doc: |
  Runs `lofar-hires dical predict`: DP3 predicts the sky model (e.g. the
  calibrator model) into the MODEL_DATA column of a copy of the measurement
  set, the output MS; the input is not modified. The coherence of DATA with
  the model on core baselines is logged.
  Command module: lofar_hires.cli.dical.predict.

baseCommand: [lofar-hires, dical, predict]

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
    doc: The MS to predict for (read only; the output is a copy with MODEL_DATA).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_name:
    label: Output MS name
    doc: Name of the output measurement set, a copy of the input with MODEL_DATA (default the input's name).
    type: string?
  skymodel:
    label: Sky model
    doc: makesourcedb sky model (the shipped calibrator models are configs/skymodels/3C196.skymodel and 3C295.skymodel).
    type: File
    inputBinding:
      prefix: --skymodel
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

stdout: dical_predict.log
stderr: dical_predict.stderr.log

outputs:
  ms_out:
    label: Measurement set with MODEL_DATA
    doc: The copy of the input MS with the predicted MODEL_DATA column (and a HISTORY row of this step).
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
    doc: The task's log messages (the DP3 command, the model coherence).
    type: stderr
