#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Compare an image with a sky model
doc: |
  Runs `lofar-hires compare-sky`: measures every sky-model component brighter
  than a flux limit in a FITS image (peak and integrated flux, position offset)
  and writes the comparison table as JSON (or CSV, chosen by the file suffix).
  Command module: lofar_hires.cli.compare_sky.

baseCommand: [lofar-hires, compare-sky]

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
  image:
    label: Image
    doc: FITS image to measure, e.g. WSClean's <name>-image.fits.
    type: File
    inputBinding:
      position: 10
  skymodel:
    label: Sky model
    doc: Sky model (makesourcedb format) whose components are measured, e.g. the simulation truth.
    type: File
    inputBinding:
      position: 11
  min_flux_jy:
    label: Flux limit (Jy)
    doc: Only components brighter than this at the image frequency are measured (CLI default 0.1).
    type: float?
    inputBinding:
      prefix: --min-flux-jy
  include_extended:
    label: Include extended sources
    doc: Also measure Gaussian components (their peak is below their flux).
    type: boolean
    default: false
    inputBinding:
      prefix: --include-extended
  output_name:
    label: Output file name
    doc: Name of the comparison table; the suffix (.json or .csv) selects the format.
    type: string
    default: comparison.json
    inputBinding:
      prefix: --output
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (enough for the image and a few copies).
    type: int
    default: 2000

stdout: compare_sky.log
stderr: compare_sky.stderr.log

outputs:
  comparison:
    label: Comparison table
    doc: Per-source true flux, peak and integrated flux, their ratios and the position offset, plus the image rms.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: Standard output of the task (empty when the table is written to a file).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages, one line per measured source (stderr).
    type: stderr
