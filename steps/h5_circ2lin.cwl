#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Convert amplitude/phase solutions to the linear basis
doc: |
  Runs `lofar-hires h5 circ2lin`: combines the amplitude and phase soltabs of the
  circular (RR, LL or RR, RL, LR, LL) basis into full-Jones gains, transforms them to the
  linear (XX, XY, YX, YY) basis (J_circ = T J_lin T^-1, T = [[1, i], [1, -i]] / sqrt(2))
  and writes them as a full-Jones amplitude000/phase000 pair. Soltabs without a
  polarisation axis are copied unchanged. Inputs already in the target basis are refused.
  Command module: lofar_hires.cli.h5.circ2lin.

baseCommand: [lofar-hires, h5, circ2lin]

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
    doc: Amplitude/phase solutions in the circular (RR, LL or RR, RL, LR, LL) basis (read only).
    type: File
    inputBinding:
      position: 10
  solset:
    label: Solset
    doc: Solset to process (CLI default the first); other solsets are copied unchanged.
    type: string?
    inputBinding:
      prefix: --solset
  output_name:
    label: Output file name
    doc: Name of the h5parm written.
    type: string
    default: linear.h5
    inputBinding:
      prefix: --output
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the solutions and their complex gains are held in memory).
    type: int
    default: 2000

stdout: h5_circ2lin.log
stderr: h5_circ2lin.stderr.log

outputs:
  h5parm_out:
    label: Converted h5parm
    doc: Full-Jones amplitude/phase solutions in the linear basis, with a provenance record.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: Standard output of the task (empty).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
