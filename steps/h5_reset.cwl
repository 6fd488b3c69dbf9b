#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Reset station solutions to the identity
doc: |
  Runs `lofar-hires h5 reset`: writes a copy of an h5parm in which the chosen
  stations have identity solutions (phase, TEC, clock, rotation 0; amplitude 1,
  off-diagonal amplitudes 0). Weights are kept; the input is not modified.
  Stations are given as station groups (core, remote, dutch, international,
  core_inner_remote, core_inner_middle_remote, closest_german,
  dutch_and_closest_german), station names or glob patterns.
  Command module: lofar_hires.cli.h5.reset.

baseCommand: [lofar-hires, h5, reset]

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
    doc: Solutions to reset (read only).
    type: File
    inputBinding:
      position: 10
  stations:
    label: Stations
    doc: Comma-separated station groups, station names or glob patterns; a leading ! excludes (e.g. dutch,!RS509*).
    type: string
    inputBinding:
      prefix: --stations
  soltabs:
    label: Soltabs
    doc: Comma-separated soltabs to reset (CLI default every soltab with an antenna axis).
    type: string?
    inputBinding:
      prefix: --soltabs
  solset:
    label: Solset
    doc: Solset to process (CLI default the first); other solsets are copied unchanged.
    type: string?
    inputBinding:
      prefix: --solset
  station_groups:
    label: Station groups file
    doc: YAML file with station group definitions (CLI default the shipped station_groups.yaml).
    type: File?
    inputBinding:
      prefix: --station-groups
  output_name:
    label: Output file name
    doc: Name of the h5parm written.
    type: string
    default: reset.h5
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

stdout: h5_reset.log
stderr: h5_reset.stderr.log

outputs:
  h5parm_out:
    label: Reset h5parm
    doc: The solutions with the chosen stations reset, with a provenance record in the solset attributes.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Standard output
    doc: Standard output of the task (empty).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages, including the stations that were reset (stderr).
    type: stderr
