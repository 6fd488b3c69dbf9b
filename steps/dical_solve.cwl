#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Apply corrections and solve with DDECal
doc: |
  Runs `lofar-hires dical solve`: one DP3 run removes the given corrections
  from DATA, outermost effect first (the h5parms in `apply`, then the station
  beam when `apply_beam` is set, then the h5parms in `apply_after_beam`),
  writes the result to CORRECTED_DATA and solves for `mode` against the model
  column, writing an h5parm. CORRECTED_DATA (and the flags DP3 sets where a
  correction has no solution) are written into a copy of the measurement set,
  the output MS handed to the next step; the input is not modified.
  Command module: lofar_hires.cli.dical.solve.

baseCommand: [lofar-hires, dical, solve]

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
  # DP3 threads follow the cores the runner granted; DP3's parset and log go to dp3_logs/.
  - prefix: --set
    valueFrom: threads=$(runtime.cores)
  - prefix: --logdir
    valueFrom: $(runtime.outdir)/dp3_logs
  # The output MS keeps the input's name unless output_ms_name is given.
  - prefix: --output-ms
    valueFrom: "$(inputs.output_ms_name ? inputs.output_ms_name : inputs.msin.basename)"

inputs:
  msin:
    label: Measurement set
    doc: An MS with the model column (read only; the output MS is a copy).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_ms_name:
    label: Output MS name
    doc: Name of the output measurement set, a copy of the input with CORRECTED_DATA (default the input's name).
    type: string?
  mode:
    label: Solution type
    doc: DDECal mode.
    type:
      type: enum
      symbols: [rotation+diagonal, diagonal, fulljones, scalarphase]
    inputBinding:
      prefix: --mode
  apply:
    label: Corrections outside the beam
    doc: >-
      h5parms whose solutions are removed from DATA before solving, in this
      order (outermost effect first) and before the beam; each applies the
      soltabs named in apply_soltabs, or all soltabs of its first solset.
    type:
      - "null"
      - type: array
        items: File
        inputBinding:
          prefix: --apply
          valueFrom: |
            ${
              var i = inputs.apply.map(function (f) { return f.path; }).indexOf(self.path);
              var tabs = inputs.apply_soltabs ? inputs.apply_soltabs[i] : "";
              return tabs ? self.path + ":" + tabs : self.path;
            }
    inputBinding:
      position: 1
  apply_soltabs:
    label: Soltabs of the corrections outside the beam
    doc: >-
      One entry per apply h5parm, SOLTAB or SOLTAB,SOLTAB (e.g. polalign); an
      empty string applies every soltab. Give each file once (entries are
      matched to files by path).
    type: string[]?
  apply_beam:
    label: Remove the station beam
    doc: Remove the station beam (DP3 applybeam) after the apply corrections and before apply_after_beam.
    type: boolean
    default: false
    inputBinding:
      position: 2
      prefix: --apply-beam
  apply_after_beam:
    label: Corrections inside the beam
    doc: >-
      h5parms removed after the beam (effects that act on the sky signal
      before the beam, e.g. Faraday rotation), in this order; soltabs as in
      apply_after_beam_soltabs.
    type:
      - "null"
      - type: array
        items: File
        inputBinding:
          prefix: --apply
          valueFrom: |
            ${
              var i = inputs.apply_after_beam.map(function (f) { return f.path; }).indexOf(self.path);
              var tabs = inputs.apply_after_beam_soltabs ? inputs.apply_after_beam_soltabs[i] : "";
              return tabs ? self.path + ":" + tabs : self.path;
            }
    inputBinding:
      position: 3
  apply_after_beam_soltabs:
    label: Soltabs of the corrections inside the beam
    doc: >-
      One entry per apply_after_beam h5parm, SOLTAB or SOLTAB,SOLTAB; an empty
      string applies every soltab. Give each file once.
    type: string[]?
  model_column:
    label: Model column
    doc: Column to solve against (CLI default MODEL_DATA; MODEL_CORRUPTED after dical_corrupt_model.cwl).
    type: string?
    inputBinding:
      prefix: --model-column
  output_name:
    label: Output h5parm name
    doc: Name of the solutions h5parm.
    type: string
    default: solutions.h5
    inputBinding:
      prefix: --output
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml (solve.* are the DDECal settings).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. solve.minuv_lambda=500).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 4
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

stdout: dical_solve.log
stderr: dical_solve.stderr.log

outputs:
  solutions:
    label: Solutions
    doc: The DDECal h5parm (with a provenance record in the solset attributes).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  ms_out:
    label: Measurement set after the solve
    doc: The copy of the input MS with CORRECTED_DATA (DATA with the corrections removed) and a HISTORY row.
    type: Directory
    outputBinding:
      glob: "$(inputs.output_ms_name ? inputs.output_ms_name : inputs.msin.basename)"
  dp3_logs:
    label: DP3 parset and log
    doc: The parset and the complete output of the DP3 run.
    type: File[]
    outputBinding:
      glob: dp3_logs/*
  log:
    label: Standard output
    doc: The paths of the h5parm and the measurement set written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, the DP3 command, timing).
    type: stderr
