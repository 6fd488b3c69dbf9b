#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Import public backbone weights for the classifier
doc: |
  Runs `lofar-hires classifier import-backbone`: converts public weights of a
  timm DINOv2 backbone with register tokens (timm key names; safetensors, or a
  PyTorch file read without executing code) into a lofar-hires backbone file,
  its positional embeddings resampled to the input size, with the backbone and
  preprocessing description in its metadata. Nothing is downloaded. The input
  file is read only.
  Command module: lofar_hires.cli.classifier.import_backbone.

baseCommand: [lofar-hires, classifier, import-backbone]

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
  source:
    label: Public weights
    doc: >-
      The backbone's weights, e.g. model.safetensors of timm's
      vit_large_patch14_reg4_dinov2.lvd142m (read only).
    type: File
    inputBinding:
      position: 20
  backbone:
    label: Backbone
    doc: timm backbone name of the weights (CLI default vit_large_patch14_reg4_dinov2).
    type: string?
    inputBinding:
      prefix: --backbone
  img_size:
    label: Input size (pixels)
    doc: Side of the network's input image, a multiple of 14 (CLI default 224).
    type: int?
    inputBinding:
      prefix: --img-size
  output_name:
    label: Output file name
    doc: Name of the backbone file (.safetensors).
    type: string
    default: backbone.safetensors
    inputBinding:
      prefix: --output
  cores:
    label: Cores
    doc: Number of cores to reserve (the conversion is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (the weights are held twice, about 2.5 GB for a ViT-L).
    type: int
    default: 6000

stdout: classifier_import_backbone.log
stderr: classifier_import_backbone.stderr.log

outputs:
  backbone_file:
    label: Backbone file
    doc: The lofar-hires backbone file, for classifier train (backbone_weights) or a model directory.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  log:
    label: Output path
    doc: The path of the backbone file (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages.
    type: stderr
