#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Merge Dutch DD solutions with each facet's international solutions
doc: |
  Runs `lofar-hires h5 merge-dd`: the solution of each facet direction of the
  Dutch direction-dependent h5parm becomes Dutch(direction) followed by the
  international self-calibration solutions of the direction's calibrator (the
  run whose calibrator is nearest; a direction whose own calibrator failed, or
  with none within match_deg, takes the nearest calibrator that succeeded). The
  output keeps the Dutch directions, names and positions; a table
  <stem>.directions.csv lists each direction's calibrator, separation and any
  fallback. Inputs are not modified.
  Command module: lofar_hires.cli.h5.merge_dd.

baseCommand: [lofar-hires, h5, merge-dd]

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
  dutch_solutions:
    label: Dutch DD solutions
    doc: The Dutch direction-dependent solutions of one observation, one direction per facet (read only).
    type: File
    inputBinding:
      position: 10
  international:
    label: International self-calibration runs
    doc: >-
      Output directories of `lofar-hires selfcal` runs on the calibrators (each
      with its selfcal_report.json and best solutions), failed runs included
      (read only).
    type:
      type: array
      items: Directory
      inputBinding:
        prefix: --international
  observation:
    label: Observation
    doc: Observation whose best solutions to take from runs of several observations (CLI default the only one).
    type: string?
    inputBinding:
      prefix: --observation
  facet_regions:
    label: Facet regions
    doc: ds9 facet regions to check the Dutch directions against (names and points).
    type: File?
    inputBinding:
      prefix: --facet-regions
  match_deg:
    label: Own-calibrator distance (deg)
    doc: >-
      Largest separation in degrees between a direction and its own calibrator
      (CLI default one arcminute); farther directions take the nearest working
      calibrator.
    type: float?
    inputBinding:
      prefix: --match-deg
  international_stations:
    label: Stations taken from the international runs
    doc: >-
      Station specification (groups, names, patterns, e.g. international) of the
      stations whose international solutions are used; the others keep their
      Dutch solutions alone. Default every station, the international runs'
      re-solves of the Dutch stations included.
    type: string?
    inputBinding:
      prefix: --international-stations
  output_name:
    label: Output file name
    doc: Name of the merged h5parm; the direction table takes its stem.
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

# Named after the output (merged_<obs>.log), so that the logs of a scattered merge stay apart.
stdout: $(inputs.output_name.replace(/\.h5$/, '')).log
stderr: $(inputs.output_name.replace(/\.h5$/, '')).stderr.log

outputs:
  merged:
    label: Merged h5parm
    doc: phase000 + amplitude000 solutions per facet direction, with a provenance record in the solset attributes.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  table:
    label: Direction table
    doc: One row per direction (direction, ra_deg, dec_deg, calibrator, separation_deg, fallback, note).
    type: File
    outputBinding:
      glob: $(inputs.output_name.replace(/\.[^.\/]*$/, "") + ".directions.csv")
  log:
    label: Standard output
    doc: The one-line summary of the merge.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (assignments, fallbacks, calibrators not used, progress).
    type: stderr
