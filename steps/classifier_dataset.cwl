#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Training images of the self-calibration image classifier
doc: |
  Runs `lofar-hires classifier dataset`: simulates calibrator fields (field i
  has the seed first_seed + i; the calibrator's flux and structure, the
  ionospheric residual, a contaminating source and the starting model are
  drawn per field as configs/classifier.yaml says), self-calibrates each for
  a fixed number of cycles and labels every cycle's image continue or stop
  from the simulation's truth. Writes the dataset directory outdir_name
  (fields/, images/, dataset.json with the label table, and
  dataset.provenance.json). Keep the seed ranges of training and evaluation
  datasets apart.
  Command module: lofar_hires.cli.classifier.dataset.

baseCommand: [lofar-hires, classifier, dataset]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  EnvVarRequirement:
    envDef:
      # DP3 and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --outdir
    valueFrom: $(inputs.outdir_name)
  # DP3 and WSClean threads (per field) follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  fields:
    label: Number of fields
    doc: Number of simulated fields (at least 1).
    type: int
    inputBinding:
      prefix: --fields
  first_seed:
    label: First seed
    doc: >-
      Seed of the first field; field i has the seed first_seed + i. Give training
      and evaluation datasets seed ranges that do not overlap.
    type: int
    inputBinding:
      prefix: --first-seed
  config:
    label: Classifier settings file
    doc: YAML overriding configs/classifier.yaml (the dataset and labels sections are used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. labels.phase_error_rad=0.6).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  workers:
    label: Workers
    doc: >-
      Fields made at the same time (CLI default 1). Each field runs DP3 and WSClean
      with as many threads as cores are granted, so several workers share those cores.
    type: int?
    inputBinding:
      prefix: --workers
  outdir_name:
    label: Output directory name
    doc: Name of the dataset directory (a safe file name).
    type: string
    default: classifier_dataset
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 and WSClean run with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the simulation and self-calibration of the fields made at the same time).
    type: int
    default: 8000

stdout: classifier_dataset.log
stderr: classifier_dataset.stderr.log

outputs:
  dataset:
    label: Dataset
    doc: >-
      The dataset directory, fields/ (one record per field), images/ (every
      cycle's image), dataset.json (the label table) and dataset.provenance.json;
      the input of classifier train and classifier evaluate.
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  log:
    label: Summary
    doc: The number of fields and images, continue and stop (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, progress and time per field, failed fields).
    type: stderr
