#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Collect the calibrator solutions into cal_solutions.h5
doc: |
  Runs `lofar-hires dical collect`: copies the soltabs polalign, bandpass,
  faraday, clock and tec of the fitted h5parms into one solset, the
  calibrator pipeline's product. The inputs are not modified.
  Command module: lofar_hires.cli.dical.collect.

baseCommand: [lofar-hires, dical, collect]

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
  polalign:
    label: Polarisation alignment
    doc: h5parm with the soltab polalign (refined when the pipeline refines it).
    type: File
    inputBinding:
      prefix: --polalign
  bandpass:
    label: Bandpass
    doc: h5parm with the soltab bandpass.
    type: File
    inputBinding:
      prefix: --bandpass
  faraday:
    label: Faraday rotation
    doc: h5parm with the soltab faraday.
    type: File
    inputBinding:
      prefix: --faraday
  clocktec:
    label: Clock and TEC
    doc: h5parm with the soltabs clock and tec.
    type: File
    inputBinding:
      prefix: --clocktec
  solset:
    label: Output solset
    doc: Solset of the collected solutions (CLI default calibrator, LINC's name).
    type: string?
    inputBinding:
      prefix: --solset
  output_name:
    label: Output h5parm name
    doc: Name of the collected solutions.
    type: string
    default: cal_solutions.h5
    inputBinding:
      prefix: --output
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

stdout: dical_collect.log
stderr: dical_collect.stderr.log

outputs:
  cal_solutions:
    label: Calibrator solutions
    doc: h5parm with the soltabs polalign, bandpass, faraday, clock and tec (solset calibrator unless solset names another).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: The path of the h5parm written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
