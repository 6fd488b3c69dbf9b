#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Evaluate the self-calibration image classifier
doc: |
  Runs `lofar-hires classifier evaluate`: scores every image of a held-out
  dataset of classifier dataset (fields whose seeds the model was not trained
  on; a dataset sharing seeds with the training set is refused) and reports
  the accuracy, precision and recall (continue is positive), the ROC AUC, the
  confusion matrix, the accuracy per kind of field and each image's
  P(continue), as classifier_metrics.json. The dataset is read only.
  Command module: lofar_hires.cli.classifier.evaluate.

baseCommand: [lofar-hires, classifier, evaluate]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  EnvVarRequirement:
    envDef:
      # numpy links a multi-threaded OpenBLAS; keep it to one thread (torch threads are set by --threads).
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --output
    valueFrom: classifier_metrics.json
  # torch threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  dataset:
    label: Held-out dataset
    doc: A dataset directory of classifier dataset with seeds unseen in training (read only).
    type: Directory
    inputBinding:
      position: 20
  model_dir:
    label: Model directory
    doc: >-
      A directory with backbone.safetensors and head.safetensors (from classifier
      train); the shipped model when neither it nor the weights files are given.
    type: Directory?
    inputBinding:
      prefix: --model-dir
  backbone_weights:
    label: Backbone weights
    doc: Backbone weights (safetensors) instead of the model directory's.
    type: File?
    inputBinding:
      prefix: --backbone-weights
  head_weights:
    label: Head weights
    doc: Head weights (safetensors) instead of the model directory's.
    type: File?
    inputBinding:
      prefix: --head-weights
  threshold:
    label: Threshold
    doc: P(continue) at or above which an image is classified continue (CLI default 0.5).
    type: float?
    inputBinding:
      prefix: --threshold
  cores:
    label: Cores
    doc: Number of cores to reserve; torch runs with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the model and every prepared image of the dataset).
    type: int
    default: 8000

stdout: classifier_evaluate.log
stderr: classifier_evaluate.stderr.log

outputs:
  metrics:
    label: Metrics
    doc: >-
      classifier_metrics.json, the accuracy, precision, recall, ROC AUC,
      confusion matrix, accuracy per kind of field and each image's P(continue).
    type: File
    outputBinding:
      glob: classifier_metrics.json
  log:
    label: Summary
    doc: The accuracy, precision, recall, ROC AUC and confusion matrix in two lines (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
