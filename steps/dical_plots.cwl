#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Inspection plots of the calibrator pipeline
doc: |
  Runs `lofar-hires dical plots`: one PNG per DDECal solve (XX phases against
  time and frequency for a few stations, referenced to the reference station)
  and one per fitted effect (XX-YY phase with the fitted delay, rotation
  measure against time, bandpass against frequency, clock and TEC against
  time), like the figures of de Gasperin et al. (2019). The inputs are not
  modified.
  Command module: lofar_hires.cli.dical.plots.

baseCommand: [lofar-hires, dical, plots]

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
      # matplotlib writes its cache under HOME; a step's HOME is its output directory.
      MPLBACKEND: Agg

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  solves:
    label: Solves
    doc: DDECal h5parms whose phases are plotted (read only).
    type: File[]
    inputBinding:
      prefix: --solves
  polalign_solve:
    label: Alignment solve
    doc: The rotation+diagonal solve the polarisation alignment was fitted on.
    type: File
    inputBinding:
      prefix: --polalign-solve
  polalign:
    label: Polarisation alignment
    doc: h5parm with the soltab polalign.
    type: File
    inputBinding:
      prefix: --polalign
  faraday:
    label: Faraday rotation
    doc: h5parm with the soltab faraday.
    type: File
    inputBinding:
      prefix: --faraday
  bandpass:
    label: Bandpass
    doc: h5parm with the soltab bandpass.
    type: File
    inputBinding:
      prefix: --bandpass
  clocktec:
    label: Clock and TEC
    doc: h5parm with the soltabs clock and tec.
    type: File
    inputBinding:
      prefix: --clocktec
  outdir_name:
    label: Output directory name
    doc: Name of the directory of PNGs.
    type: string
    default: plots
    inputBinding:
      prefix: --outdir
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml (reference_station is used).
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
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 1000

stdout: dical_plots.log
stderr: dical_plots.stderr.log

outputs:
  plots:
    label: Plots
    doc: The PNGs and a provenance.json.
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  log:
    label: Standard output
    doc: The paths of the PNGs written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
