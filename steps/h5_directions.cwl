#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: List, select, rename or add directions of an h5parm
doc: |
  Runs `lofar-hires h5 directions`: `list` prints the directions (name, RA, Dec
  in degrees); `select` keeps `names`; `rename` applies `map` (OLD=NEW pairs);
  `add` appends a direction `name` at `ra_deg`/`dec_deg` with the solutions of
  `copy_from` (a direction, nearest or identity). The source table and every
  soltab's dir axis are changed together; name clashes are refused. Every
  action except list writes `output_name`.
  Command module: lofar_hires.cli.h5.directions.

baseCommand: [lofar-hires, h5, directions]

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
    doc: Solutions whose directions to list or change (read only).
    type: File
    inputBinding:
      position: 10
  action:
    label: Action
    doc: list, select, rename or add.
    type:
      type: enum
      symbols: [list, select, rename, add]
    inputBinding:
      position: 11
  names:
    label: Directions to keep
    doc: select - comma-separated direction names.
    type: string?
    inputBinding:
      prefix: --names
  map:
    label: Renames
    doc: rename - OLD=NEW pairs, one per item.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --map
  name:
    label: New direction
    doc: add - name of the new direction.
    type: string?
    inputBinding:
      prefix: --name
  ra_deg:
    label: Right ascension
    doc: add - right ascension in degrees or sexagesimal (16h11m00s, 16:11:00).
    type: string?
    inputBinding:
      prefix: --ra-deg
  dec_deg:
    label: Declination
    doc: add - declination in degrees or sexagesimal (+55d00m00s, 55:00:00).
    type: string?
    inputBinding:
      # --dec-deg=VALUE: a negative sexagesimal value (-30:00:00) would read as an option.
      prefix: --dec-deg=
      separate: false
  copy_from:
    label: Copy solutions from
    doc: add - a direction name, nearest (CLI default) or identity (phase 0, amplitude 1).
    type: string?
    inputBinding:
      prefix: --copy-from
  json:
    label: JSON
    doc: list - print JSON instead of text.
    type: boolean
    default: false
    inputBinding:
      prefix: --json
  solset:
    label: Solset
    doc: Solset to process (CLI default the first); other solsets are copied unchanged.
    type: string?
    inputBinding:
      prefix: --solset
  output_name:
    label: Output file name
    doc: Name of the h5parm written (required for select, rename and add; leave unset for list).
    type: string?
    inputBinding:
      prefix: --output
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

stdout: h5_directions.log
stderr: h5_directions.stderr.log

outputs:
  h5parm_out:
    label: Output h5parm
    doc: The solutions with the changed directions (absent for list).
    type: File?
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: The direction list (for list); empty otherwise.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
