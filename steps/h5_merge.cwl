#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Merge h5parms into one phase000 + amplitude000 solution
doc: |
  Runs `lofar-hires h5 merge`: combines any number of h5parms, in the order in
  which they are applied, into one h5parm with phase000 and amplitude000
  (scalar, diagonal or full-Jones as the inputs need) on a common time and
  frequency grid. Phases add, amplitudes multiply, TEC and clock become phases,
  rotations become full-Jones matrices; a flagged input point flags the output;
  directions are matched by name. Inputs are not modified.
  Command module: lofar_hires.cli.h5.merge.

baseCommand: [lofar-hires, h5, merge]

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
  h5parms:
    label: Input h5parms
    doc: The h5parms to merge, in the order in which they are applied (read only).
    type: File[]
    inputBinding:
      position: 10
      valueFrom: |
        ${
          return self.map(function (f, i) {
            var sel = inputs.selections ? inputs.selections[i] : null;
            return sel ? f.path + ":" + sel : f.path;
          });
        }
  selections:
    label: Solset/soltab selections
    doc: >-
      Optional, one per input h5parm: SOLSET or SOLSET/SOLTAB,SOLTAB (e.g.
      sol000/phase000,amplitude000); an empty string takes every soltab of the
      first solset.
    type: string[]?
  interpolation:
    label: Interpolation
    doc: How inputs are put on the common grid (CLI default nearest).
    type:
      - "null"
      - type: enum
        symbols: [nearest, linear]
    inputBinding:
      prefix: --interpolation
  time_grid:
    label: Time grid
    doc: finest (CLI default) or first; or give time_grid_from.
    type: string?
    inputBinding:
      prefix: --time-grid
  time_grid_from:
    label: Time grid from a file
    doc: An h5parm or measurement set whose time axis the output uses (overrides time_grid).
    type:
      - "null"
      - File
      - Directory
    inputBinding:
      prefix: --time-grid
  freq_grid:
    label: Frequency grid
    doc: finest (CLI default) or first; or give freq_grid_from.
    type: string?
    inputBinding:
      prefix: --freq-grid
  freq_grid_from:
    label: Frequency grid from a file
    doc: An h5parm or measurement set whose frequencies the output uses (needed for TEC/clock without a freq axis).
    type:
      - "null"
      - File
      - Directory
    inputBinding:
      prefix: --freq-grid
  output_kind:
    label: Output polarisation structure
    doc: auto (CLI default, what the inputs need), scalar, diagonal or full.
    type:
      - "null"
      - type: enum
        symbols: [auto, scalar, diagonal, full]
    inputBinding:
      prefix: --output-kind
  solset:
    label: Output solset
    doc: Name of the output solset (CLI default sol000).
    type: string?
    inputBinding:
      prefix: --solset
  output_name:
    label: Output file name
    doc: Name of the merged h5parm.
    type: string
    default: merged.h5
    inputBinding:
      prefix: --output
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the merge streams blocks of about 100 MB).
    type: int
    default: 2000

stdout: h5_merge.log
stderr: h5_merge.stderr.log

outputs:
  merged:
    label: Merged h5parm
    doc: phase000 + amplitude000 solutions, with a provenance record in the solset attributes.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: The one-line summary of the merge.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (grids, warnings about missing antennas, progress).
    type: stderr
