#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Refine the polarisation alignment
doc: |
  Runs `lofar-hires dical refine-polalign`: fits the XX-YY delay left in a
  diagonal solve that applied the initial alignment (made against the model
  corrupted by Faraday rotation and the beam) and adds it to the initial
  alignment. Writes a new h5parm with the soltab polalign; prints the summary
  as JSON. The inputs are not modified.
  Command module: lofar_hires.cli.dical.refine_polalign.

baseCommand: [lofar-hires, dical, refine-polalign]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  EnvVarRequirement:
    envDef:
      # numpy links a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  initial_h5:
    label: Initial alignment
    doc: h5parm with the soltab polalign (from `dical fit polalign`; read only).
    type: File
    inputBinding:
      position: 10
  solve_h5:
    label: Diagonal solve
    doc: Diagonal solutions made with initial_h5 applied, against MODEL_CORRUPTED (read only).
    type: File
    inputBinding:
      position: 11
  output_name:
    label: Output h5parm name
    doc: Name of the refined alignment h5parm.
    type: string
    default: polalign.h5
    inputBinding:
      prefix: --output
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml (fits.polalign_offset and reference_station are used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE`.
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
    doc: Number of cores to reserve (the fit is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 2000

stdout: dical_refine_polalign.log
stderr: dical_refine_polalign.stderr.log

outputs:
  solutions:
    label: Refined alignment
    doc: h5parm with the soltab polalign (provenance in the solset attributes).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Refinement summary
    doc: The output path, the per-station delays and refinements, as JSON (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
