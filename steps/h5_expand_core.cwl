#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Expand superstation solutions to the core stations (or collapse them)
doc: |
  Runs `lofar-hires h5 expand-core`: replaces the superstation's (ST001)
  solutions by identical copies for every core station of a measurement set
  (names and positions from its ANTENNA table). With `collapse` it does the
  reverse: the core stations become one superstation at their mean position
  with the first core station's solutions.
  Command module: lofar_hires.cli.h5.expand_core.

baseCommand: [lofar-hires, h5, expand-core]

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
    doc: Solutions with the superstation (or with the core stations, for collapse); read only.
    type: File
    inputBinding:
      position: 10
  msin:
    label: Measurement set
    doc: Measurement set whose ANTENNA table gives the core stations (required unless collapse; read only).
    type: Directory?
    inputBinding:
      prefix: --msin
  superstation:
    label: Superstation
    doc: Name of the superstation (CLI default ST001).
    type: string?
    inputBinding:
      prefix: --superstation
  core_stations:
    label: Core stations
    doc: Station groups or patterns that are the core stations (CLI default core_stations, i.e. CS*).
    type: string?
    inputBinding:
      prefix: --core-stations
  collapse:
    label: Collapse
    doc: Replace the core stations by one superstation instead of expanding it.
    type: boolean
    default: false
    inputBinding:
      prefix: --collapse
  station_groups:
    label: Station groups file
    doc: YAML file with station group definitions (CLI default the shipped station_groups.yaml).
    type: File?
    inputBinding:
      prefix: --station-groups
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
    default: expanded.h5
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

stdout: h5_expand_core.log
stderr: h5_expand_core.stderr.log

outputs:
  h5parm_out:
    label: Output h5parm
    doc: The expanded (or collapsed) solutions, with a provenance record in the solset attributes.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: Standard output of the task (empty).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr), including any difference between collapsed core stations.
    type: stderr
