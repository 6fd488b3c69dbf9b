#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Compute accounting of a run, projected to 8-hour LOFAR observations
doc: |
  Runs `lofar-hires project-cost`: reads the core-seconds of every module from the run
  manifests (run.json of lofar-hires run), projects them with the scaling model of
  configs/lofar_dimensions.yaml (visibilities, directions and observations of a real
  8-hour LOFAR observation) to 1, 16 and 64 combined observations, groups them into the
  categories of de Jong et al. 2025 (Figure 6.14) and compares them with the paper's
  core-hours. Writes project_cost.json (inputs, assumptions, per-module projections),
  project_cost.csv (the table) and project_cost.png (stacked bars per number of
  observations), and prints the table. The inputs are not modified.
  Command module: lofar_hires.cli.project_cost.

baseCommand: [lofar-hires, project-cost]

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

arguments:
  - prefix: --outdir
    valueFrom: $(runtime.outdir)

inputs:
  manifests:
    label: Run manifests
    doc: The run.json files of one or more runs (pooled; several runs also give fitted observation exponents).
    type: File[]
    inputBinding:
      position: 10
  observations:
    label: Numbers of observations
    doc: Numbers of observations combined (CLI default, those of the dimensions file, 1 16 64).
    type: int[]?
    inputBinding:
      prefix: --observations
  dimensions:
    label: Dimensions file
    doc: YAML file replacing entries of the shipped lofar_dimensions.yaml (target, module scalings, paper figures).
    type: File?
    inputBinding:
      prefix: --dimensions
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 1000

stdout: project_cost.log
stderr: project_cost.stderr.log

outputs:
  record:
    label: Record
    doc: Inputs, assumptions, measured and projected core-hours per module and the table (JSON).
    type: File
    outputBinding:
      glob: project_cost.json
  table:
    label: Table
    doc: Per number of observations and category, measured, projected and the paper's core-hours (CSV).
    type: File
    outputBinding:
      glob: project_cost.csv
  plot:
    label: Plot
    doc: Stacked bars of the projected core-hours per observation, in the form of Figure 6.14 (PNG).
    type: File
    outputBinding:
      glob: project_cost.png
  log:
    label: Standard output
    doc: Standard output of the task (the table).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
