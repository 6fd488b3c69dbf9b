#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Secondary (weak) calibrators of a facet
doc: |
  Runs `lofar-hires secondary` on one facet's datasets of every observation: the
  facet is split by Voronoi between its main calibrator and its weak calibrators
  (2.0 <= sigma_c < 2.6 rad), the data are corrected by the main calibrator's
  refined solutions and the model of its sub-facet subtracted, and each weak
  calibrator is self-calibrated jointly over the observations with the final
  refinement recipe of its own delta_t. Writes <facet>.subfacets.reg (one polygon
  per calibrator), <weak>.<obs>.secondary.h5 per weak calibrator and observation
  (the main solutions followed by its own), <facet>.secondary.json and one
  self-calibration directory per weak calibrator. The inputs are not modified.
  Command module: lofar_hires.cli.secondary.

baseCommand: [lofar-hires, secondary]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement:
    expressionLib:
      - $include: resources.js
  EnvVarRequirement:
    envDef:
      # DP3, WSClean and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
    # Disk from the work: the staged facet datasets; the subtracted copies and the self-calibration copies.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 3, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --outdir
    valueFrom: $(runtime.outdir)
  # DP3 and WSClean threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Facet datasets
    doc: The facet's datasets, one per observation (read only), calibrated jointly.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  refined:
    label: Refined solutions
    doc: The main calibrator's refined solutions, one per facet dataset in the same order (lofar-hires refine).
    type: File[]
    inputBinding:
      prefix: --refined
  calibrators:
    label: Calibrator table
    doc: The calibrator selection table with the facet's main calibrator and the weak ones.
    type: File
    inputBinding:
      prefix: --calibrators
  facet:
    label: Facet
    doc: The facet's name (its main calibrator's).
    type: string
    inputBinding:
      prefix: --facet
  facet_regions:
    label: Facet regions
    doc: ds9 region file of the facets (facets.reg of lofar-hires facets).
    type: File
    inputBinding:
      prefix: --facet-regions
  skymodel:
    label: Facet model
    doc: makesourcedb model of the facet; the components in the main calibrator's sub-facet are subtracted.
    type: File
    inputBinding:
      prefix: --skymodel
  weak:
    label: Weak calibrators
    doc: Weak calibrators of the table to calibrate (default every weak calibrator inside the facet).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --weak
  final_overrides:
    label: Strategy overrides
    doc: KEY=VALUE overrides of the weak calibrators' strategy.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-final
  recipe_overrides:
    label: Recipe overrides
    doc: KEY=VALUE overrides of configs/recipes.yaml (refine_final.*).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-recipe
  image_size_pix:
    label: Image size (pixels)
    doc: Size of the comparison images (default 1024).
    type: int?
    inputBinding:
      prefix: --image-size-pix
  image_scale_arcsec:
    label: Pixel size (arcsec)
    doc: Pixel size of the comparison images (default 0.1).
    type: float?
    inputBinding:
      prefix: --image-scale-arcsec
  image_taper_arcsec:
    label: Taper (arcsec)
    doc: Gaussian taper of the comparison images (default 0.3; 0 none).
    type: float?
    inputBinding:
      prefix: --image-taper-arcsec
  image_niter:
    label: Clean iterations
    doc: Clean iterations of the comparison images (default 20000).
    type: int?
    inputBinding:
      prefix: --image-niter
  compare:
    label: Compare
    doc: Image each weak calibrator with the main solutions only and with its own, and report both peaks.
    type: boolean
    default: false
    inputBinding:
      prefix: --compare
  data_column:
    label: Data column
    doc: Column of the facet datasets to use (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 and WSClean run with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 8000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the outputs; more when the runner
      reports the input sizes.
    type: int
    default: 2048

stdout: $(inputs.facet).secondary.log
stderr: $(inputs.facet).secondary.stderr.log

outputs:
  regions:
    label: Sub-facet regions
    doc: ds9 region file with one polygon per calibrator of the facet (main and weak), named after it.
    type: File
    outputBinding:
      glob: "*.subfacets.reg"
  solutions:
    label: Secondary solutions
    doc: Per weak calibrator and observation, <weak>.<obs>.secondary.h5 (the main solutions followed by its own).
    type: File[]
    outputBinding:
      glob: "*.secondary.h5"
  summary:
    label: Summary
    doc: The sub-facets and each weak calibrator's delta_t, run, solutions and comparison.
    type: File
    outputBinding:
      glob: "*.secondary.json"
  log:
    label: Standard output
    doc: The path of the sub-facet region file.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (each weak calibrator's cycles, the DP3 and WSClean commands).
    type: stderr
