#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Classify scored calibrators
doc: |
  Runs `lofar-hires select classify`: gathers scored tables, applies manual
  removals and additions, rejects scores that are not below their noise level
  (the noise_threshold_rad column of select score), classifies by phasediff
  score (main below 2.0 rad, weak below 2.6 rad, rejected above), keeps only the lower score of
  neighbours closer than 0.15 deg (main) or 0.2 deg (weak), and computes the
  solution-interval metric (de Jong et al. 2025, section 6.3.1, eq. 6.2). The
  inputs are not modified.
  Command module: lofar_hires.cli.select.classify.

baseCommand: [lofar-hires, select, classify]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
  EnvVarRequirement:
    envDef:
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --output
    valueFrom: $(inputs.output_name)

inputs:
  scores:
    label: Scored tables
    doc: Tables from select score (their <stem>.json details give the score solution interval).
    type: File[]
    secondaryFiles:
      - pattern: "^.json"
        required: false
    inputBinding:
      position: 20
  output_name:
    label: Output table name
    doc: Name of the selection table.
    type: string
    default: calibrators.csv
  added:
    label: Calibrators added by hand
    doc: NAME,RA,DEC[,main|weak] (degrees or sexagesimal); never pruned.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --add
  removed:
    label: Candidates removed by hand
    doc: Names of candidates to drop.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --remove
  config:
    label: Selection settings file
    doc: YAML overriding configs/select_calibrators.yaml (the classify section is used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. classify.main_max_rad=2.3).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  cores:
    label: Cores
    doc: Number of cores to reserve (single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 1000

stdout: select_classify.log
stderr: select_classify.stderr.log

outputs:
  table:
    label: Selection table
    doc: Every candidate with its category (main, weak, rejected, pruned, removed), reason and delta_t.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  provenance:
    label: Provenance
    doc: How the selection was made (inputs, thresholds, formula).
    type: File
    outputBinding:
      glob: "$(inputs.output_name.replace(/\\.[^.\\/]*$/, '') + '.provenance.json')"
  log:
    label: Table path
    doc: The path of the selection table (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, one line per candidate).
    type: stderr
