#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: P(continue) of self-calibration images
doc: |
  Runs `lofar-hires classify`: the self-calibration image classifier on its
  own. Each FITS image (its first plane) is prepared as in training (central
  square, resampled to the backbone's input size, symmetric-log stretch
  relative to the image rms) and scored by the model; P(continue) at or above
  the threshold says continue, below it stop. The weights are a model
  directory (backbone.safetensors and head.safetensors), two weights files,
  or the model shipped with lofar-hires. Writes the scores as JSON
  (classifier_scores.json, also on stdout). The images are read only.
  Command module: lofar_hires.cli.classify.

baseCommand: [lofar-hires, classify]

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
    valueFrom: classifier_scores.json
  # torch threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  images:
    label: FITS images
    doc: Self-calibration images to score (the first plane of each is used; read only).
    type: File[]
    inputBinding:
      position: 20
  model_dir:
    label: Model directory
    doc: >-
      A directory with backbone.safetensors and head.safetensors (from lofar-hires
      classifier train); the shipped model when neither it nor the weights files are given.
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
    doc: P(continue) below which an image says stop, in [0, 1] (CLI default 0.5, the stopping rule's).
    type: float?
    inputBinding:
      prefix: --threshold
  cores:
    label: Cores
    doc: Number of cores to reserve; torch runs with as many threads as granted.
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the model's weights and the prepared images).
    type: int
    default: 4000

stdout: classify.log
stderr: classify.stderr.log

outputs:
  scores:
    label: Scores
    doc: >-
      classifier_scores.json, the model, the threshold and for every image its
      P(continue) and decision (continue or stop).
    type: File
    outputBinding:
      glob: classifier_scores.json
  log:
    label: Standard output
    doc: The scores as JSON (stdout of the task, the same as the scores file).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
