#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Fit one systematic effect from a DDECal solve
doc: |
  Runs `lofar-hires dical fit`: separates one effect from the solutions of a
  DDECal solve by its physics: polalign (the XX-YY delay, phase linear in
  frequency, per station), faraday (a rotation measure per time and station,
  rotation angle proportional to lambda squared), bandpass (the per-channel
  time-median amplitude) or clocktec (clock, phase proportional to frequency,
  and TEC, proportional to 1/frequency, per time and station). Writes an h5parm
  with the fitted soltab(s); prints the fit summary as JSON. The input is not
  modified.
  Command module: lofar_hires.cli.dical.fit.

baseCommand: [lofar-hires, dical, fit]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
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

arguments:
  # The output is named after the effect unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.effect + '.h5')"

inputs:
  effect:
    label: Effect
    doc: What to fit (polalign, faraday, bandpass or clocktec).
    type:
      type: enum
      symbols: [polalign, faraday, bandpass, clocktec]
    inputBinding:
      position: 10
  solve_h5:
    label: Solve h5parm
    doc: >-
      DDECal solutions: rotation+diagonal for polalign and faraday, diagonal
      against the corrupted model for bandpass and clocktec (read only).
    type: File
    inputBinding:
      position: 11
  output_name:
    label: Output h5parm name
    doc: Name of the fitted h5parm (default <effect>.h5).
    type: string?
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml (fits.* and reference_station are used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. fits.rm_range_rad_m2=10).
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

stdout: dical_fit.log
stderr: dical_fit.stderr.log

outputs:
  solutions:
    label: Fitted solutions
    doc: h5parm with the soltab polalign, faraday, bandpass, or clock and tec (provenance in the solset attributes).
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.effect + '.h5')"
  log:
    label: Fit summary
    doc: The output path and the per-station fit results, as JSON (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, fit dimensions).
    type: stderr
