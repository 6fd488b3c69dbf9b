#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Run report
doc: |
  Runs `lofar-hires report`: reads the run manifest run.json and the run tree of a
  lofar-hires run directory and writes one self-contained HTML page (every picture
  inline as a PNG data URI, no external reference) with the configuration and data
  dimensions, per module its status, wall and CPU time and bytes written, the
  calibratability verdicts, the direction-independent calibration plots, the
  calibrator table and facet layout, per self-calibration run its montage, stopping
  reason and per-cycle metrics with classifier scores, every FITS image (mosaics
  first) and every warning of the modules. Parts of the run that are absent are
  shown as not run. Writes <name>.provenance.json next to the page. The run
  directory is not modified.
  Command module: lofar_hires.cli.report.

baseCommand: [lofar-hires, report]

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

inputs:
  run_dir:
    label: Run directory
    doc: The output directory of lofar-hires run, with run.json (read only).
    type: Directory
    inputBinding:
      position: 10
  output_name:
    label: Report file name
    doc: Name of the HTML page; its provenance record is named after it (<name without .html>.provenance.json).
    type: string
    default: index.html
    inputBinding:
      prefix: --output
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (images are read in blocks of rows; one picture at a time is held).
    type: int
    default: 2000

stdout: report.log
stderr: report.stderr.log

outputs:
  report:
    label: Run report
    doc: The self-contained HTML page of the run.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  provenance:
    label: Provenance
    doc: How the page was made, the files of the run it inlines and the parts it could not show (JSON).
    type: File
    outputBinding:
      glob: $(inputs.output_name.replace(/\.[^.]*$/, '') + '.provenance.json')
  log:
    label: Standard output
    doc: Standard output of the task (the report's path).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
