#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Describe an h5parm
doc: |
  Runs `lofar-hires h5 info`: per solset and soltab the type, the axes with
  their lengths and ranges (time span in s, frequency range in MHz, antennas,
  directions with RA/Dec in degrees, polarisations), the range of the unflagged
  values, the flagged fraction and the polarisation basis; as text or JSON.
  Command module: lofar_hires.cli.h5.info.

baseCommand: [lofar-hires, h5, info]

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
  h5parm:
    label: Input h5parm
    doc: The h5parm to describe (read only; values are read in blocks).
    type: File
    inputBinding:
      position: 10
  json:
    label: JSON
    doc: Print the description as JSON instead of text.
    type: boolean
    default: false
    inputBinding:
      prefix: --json
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (values are read in blocks of a few million).
    type: int
    default: 1000

stdout: h5_info.log
stderr: h5_info.stderr.log

outputs:
  log:
    label: Description
    doc: The description of the h5parm (stdout of the task), text or JSON.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
