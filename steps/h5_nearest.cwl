#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Nearest direction of an h5parm
doc: |
  Runs `lofar-hires h5 nearest`: prints the direction of the h5parm nearest to a
  position and its great-circle separation in degrees (text or JSON).
  Command module: lofar_hires.cli.h5.nearest.

baseCommand: [lofar-hires, h5, nearest]

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
    doc: Solutions whose directions are searched (read only).
    type: File
    inputBinding:
      position: 10
  ra_deg:
    label: Right ascension
    doc: Right ascension in degrees or sexagesimal (16h11m00s, 16:11:00).
    type: string
    inputBinding:
      prefix: --ra-deg
  dec_deg:
    label: Declination
    doc: Declination in degrees or sexagesimal (+55d00m00s, 55:00:00).
    type: string
    inputBinding:
      # --dec-deg=VALUE: a negative sexagesimal value (-30:00:00) would read as an option.
      prefix: --dec-deg=
      separate: false
  json:
    label: JSON
    doc: Print {"name", "separation_deg"} as JSON instead of text.
    type: boolean
    default: false
    inputBinding:
      prefix: --json
  solset:
    label: Solset
    doc: Solset whose directions are searched (CLI default the first).
    type: string?
    inputBinding:
      prefix: --solset
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the solutions are held in memory).
    type: int
    default: 2000

stdout: h5_nearest.log
stderr: h5_nearest.stderr.log

outputs:
  log:
    label: Nearest direction
    doc: The nearest direction and its separation in degrees (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
