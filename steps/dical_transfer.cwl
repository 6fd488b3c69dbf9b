#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Make calibrator solutions time-independent for the target
doc: |
  Runs `lofar-hires dical transfer`: copies the transferable soltabs of
  cal_solutions.h5 (by default polarisation alignment, bandpass and clock)
  without their time axis (the clock as its median over the calibrator
  observation), ready to be applied to target observations made at other
  times. The input is not modified.
  Command module: lofar_hires.cli.dical.transfer.

baseCommand: [lofar-hires, dical, transfer]

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
  cal_h5:
    label: Calibrator solutions
    doc: cal_solutions.h5 of the calibrator pipeline (read only).
    type: File
    inputBinding:
      position: 10
  soltabs:
    label: Soltabs to transfer
    doc: Comma-separated soltab names (CLI default polalign,bandpass,clock,faraday, the target settings' corrections).
    type: string?
    inputBinding:
      prefix: --soltabs
  solset:
    label: Calibrator solset
    doc: >-
      Solset of cal_h5 to read (CLI default calibrator, as LINC writes it, then sol000,
      then the file's only solset).
    type: string?
    inputBinding:
      prefix: --solset
  output_name:
    label: Output h5parm name
    doc: Name of the time-independent solutions.
    type: string
    default: transfer.h5
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

stdout: dical_transfer.log
stderr: dical_transfer.stderr.log

outputs:
  transfer:
    label: Transferable solutions
    doc: h5parm with the transferred soltabs, without a time axis.
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
