#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Train the self-calibration image classifier
doc: |
  Runs `lofar-hires classifier train`: trains the classifier (a timm DINOv2
  vision transformer with register tokens and a small head giving
  P(continue)) on datasets of classifier dataset. The fields, not the images,
  are split into training and validation; targets are label-smoothed, every
  image of a batch gets one of the eight symmetries of the square. The
  backbone stays frozen by default (give pretrained backbone_weights) or is
  fine-tuned or trained entirely (train_blocks). The best epoch's weights
  (lowest validation loss) are written as backbone.safetensors and
  head.safetensors into the directory outdir_name, with training.json (the
  settings, the split and the history), loss_curve.png and the checkpoint.
  The datasets are read only.
  Command module: lofar_hires.cli.classifier.train.

baseCommand: [lofar-hires, classifier, train]

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
  - prefix: --outdir
    valueFrom: $(inputs.outdir_name)
  # torch threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  dataset:
    label: Datasets
    doc: >-
      Dataset directories of classifier dataset, each with its dataset.json (read
      only); several are read together and must not share a field seed.
    type: Directory[]
    inputBinding:
      position: 20
  backbone:
    label: Backbone
    doc: >-
      timm backbone name, a vit_*_patch14_reg4_dinov2 (CLI default the ViT-L/14);
      ignored when backbone_weights are given (their own backbone is used).
    type: string?
    inputBinding:
      prefix: --backbone
  backbone_weights:
    label: Pretrained backbone
    doc: >-
      Backbone weights (safetensors of classifier import-backbone or of an earlier
      training); without them the backbone starts from random weights and must be
      trained (train_blocks -1).
    type: File?
    inputBinding:
      prefix: --backbone-weights
  img_size:
    label: Input size (pixels)
    doc: Side of the network's input image, a multiple of 14 (CLI default 224).
    type: int?
    inputBinding:
      prefix: --img-size
  crop_arcsec:
    label: Cropped field of view (arcsec)
    doc: Side of the central square the network sees, recorded in the model (CLI default 0, the whole image).
    type: float?
    inputBinding:
      prefix: --crop-arcsec
  embed_dim:
    label: Feature width
    doc: Feature width of a backbone trained from scratch (CLI default 0, the named backbone's).
    type: int?
    inputBinding:
      prefix: --embed-dim
  depth:
    label: Number of blocks
    doc: Number of transformer blocks of a backbone trained from scratch (CLI default 0, the named backbone's).
    type: int?
    inputBinding:
      prefix: --depth
  num_heads:
    label: Attention heads
    doc: Attention heads of a backbone trained from scratch (CLI default 0, the named backbone's).
    type: int?
    inputBinding:
      prefix: --num-heads
  train_blocks:
    label: Trained blocks
    doc: 0 keeps the backbone frozen (CLI default), N fine-tunes its last N blocks, -1 trains all of it.
    type: int?
    inputBinding:
      prefix: --train-blocks
  epochs:
    label: Epochs
    doc: Passes over the training images (CLI default 30).
    type: int?
    inputBinding:
      prefix: --epochs
  batch_size:
    label: Batch size
    doc: Images per optimisation step (CLI default 32).
    type: int?
    inputBinding:
      prefix: --batch-size
  learning_rate:
    label: Learning rate
    doc: AdamW learning rate (CLI default 3e-4).
    type: float?
    inputBinding:
      prefix: --learning-rate
  dropout:
    label: Head dropout
    doc: Dropout of the head, in [0, 1) (CLI default 0.2).
    type: float?
    inputBinding:
      prefix: --dropout
  label_smoothing:
    label: Label smoothing
    doc: Targets 1 become 1 - s and 0 become s, s in [0, 0.5) (CLI default 0.1).
    type: float?
    inputBinding:
      prefix: --label-smoothing
  validation_fraction:
    label: Validation fraction
    doc: Fraction of the fields (not images) that validate, in (0, 1) (CLI default 0.2).
    type: float?
    inputBinding:
      prefix: --validation-fraction
  seed:
    label: Seed
    doc: Seed of the split, the initial weights and the batches (CLI default 0).
    type: int?
    inputBinding:
      prefix: --seed
  outdir_name:
    label: Output directory name
    doc: Name of the model directory (a safe file name).
    type: string
    default: classifier_model
  cores:
    label: Cores
    doc: Number of cores to reserve; torch runs with as many threads as granted.
    type: int
    default: 4
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the model, its optimiser state and every prepared image of the dataset).
    type: int
    default: 16000

stdout: classifier_train.log
stderr: classifier_train.stderr.log

outputs:
  model:
    label: Model directory
    doc: >-
      backbone.safetensors and head.safetensors of the best epoch (the model
      directory of classify, classifier evaluate and selfcal), training.json,
      loss_curve.png and checkpoint.safetensors.
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  training:
    label: Training record
    doc: training.json, the settings, the split by field, the history of every epoch and the best epoch.
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/training.json
  log:
    label: Summary
    doc: The best epoch with its validation accuracy and AUC (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (the split, the losses and accuracy of every epoch).
    type: stderr
