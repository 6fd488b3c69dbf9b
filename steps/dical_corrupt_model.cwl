#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Corrupt the model with Faraday rotation and the beam
doc: |
  Runs `lofar-hires dical corrupt-model`: DP3 applies the fitted differential
  Faraday rotation and then the station beam (innermost effect first) to
  MODEL_DATA and writes the result to MODEL_CORRUPTED, the model against which
  the bandpass and the clock are solved. The task updates the measurement set
  it is given; here it works on a writable copy staged in the output
  directory, so the input stays untouched and the copy is the output.

baseCommand: [lofar-hires, dical, corrupt-model]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  EnvVarRequirement:
    envDef:
      # DP3 and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"
  InitialWorkDirRequirement:
    # An in-place step: work on a copy of the MS so that the input is not modified.
    listing:
      - entry: $(inputs.ms)
        writable: true

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --threads
    valueFrom: $(runtime.cores)
  - prefix: --logdir
    valueFrom: $(runtime.outdir)/dp3_logs

inputs:
  ms:
    label: Measurement set
    doc: An MS with MODEL_DATA (from dical_predict.cwl); a writable copy is updated.
    type: Directory
    inputBinding:
      position: 10
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

stdout: dical_corrupt_model.log
stderr: dical_corrupt_model.stderr.log

outputs:
  ms_out:
    label: Measurement set with MODEL_CORRUPTED
    doc: The copy of the input MS with the corrupted model in MODEL_CORRUPTED.
    type: Directory
    outputBinding:
      glob: $(inputs.ms.basename)
  dp3_logs:
    label: DP3 parset and log
    doc: The parset and the complete output of the DP3 run.
    type: File[]
    outputBinding:
      glob: dp3_logs/*
  log:
    label: Standard output
    doc: The path of the measurement set updated.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (the DP3 command, timing).
    type: stderr
