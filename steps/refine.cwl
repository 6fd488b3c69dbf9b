#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: DD refinement of one facet (6 arcsec Dutch, then final joint self-calibration)
doc: |
  Runs `lofar-hires refine` on one facet's datasets of every observation (the
  <ms>.<facet>.ms of the facet subtraction): the 6 arcsec self-calibration of the
  Dutch stations on the whole facet (skipped when the facet calibrator's delta_t is
  above 3 min), its solutions applied, then the final self-calibration of all
  observations jointly after phase-shifting to the facet calibrator. Writes
  <facet>.<obs>.refined.h5 per observation (the two steps merged), the facet image
  <facet>-image.fits, <facet>.refine.json (both steps, stop reasons, image peak and
  rms) and the two self-calibration directories. The inputs are not modified.
  Command module: lofar_hires.cli.refine.

baseCommand: [lofar-hires, refine]

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
    # Disk from the work: the staged facet datasets; the self-calibration copies and the corrected data.
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
  calibrators:
    label: Calibrator table
    doc: The calibrator selection table; the facet's main calibrator gives the phase centre and delta_t.
    type: File
    inputBinding:
      prefix: --calibrators
  facet:
    label: Facet
    doc: The facet's name (its main calibrator's).
    type: string
    inputBinding:
      prefix: --facet
  dutch_overrides:
    label: Dutch strategy overrides
    doc: KEY=VALUE overrides of the 6 arcsec Dutch strategy.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-dutch
  final_overrides:
    label: Final strategy overrides
    doc: KEY=VALUE overrides of the final strategy.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-final
  recipe_overrides:
    label: Recipe overrides
    doc: KEY=VALUE overrides of configs/recipes.yaml (refine_dutch.*, refine_final.*).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set-recipe
  image_size_pix:
    label: Image size (pixels)
    doc: Size of the facet image (default 1024).
    type: int?
    inputBinding:
      prefix: --image-size-pix
  image_scale_arcsec:
    label: Pixel size (arcsec)
    doc: Pixel size of the facet image (default 0.1).
    type: float?
    inputBinding:
      prefix: --image-scale-arcsec
  image_taper_arcsec:
    label: Taper (arcsec)
    doc: Gaussian taper of the facet image (default 0.3; 0 none).
    type: float?
    inputBinding:
      prefix: --image-taper-arcsec
  image_niter:
    label: Clean iterations
    doc: Clean iterations of the facet image (default 20000).
    type: int?
    inputBinding:
      prefix: --image-niter
  image_on_calibrator:
    label: Image centred on the calibrator
    doc: Centre the facet image on the facet calibrator instead of the facet centre.
    type: boolean
    default: false
    inputBinding:
      prefix: --image-on-calibrator
  compare:
    label: Compare with the data as given
    doc: Also image the facet data as given and report the peak and rms of both.
    type: boolean
    default: false
    inputBinding:
      prefix: --compare
  failure_ok:
    label: A failed facet is reported, not fatal
    doc: >-
      When a self-calibration or imaging step fails, write the summary with status failed and the
      reason and exit 0, so that the other facets of a workflow go on (bad input still fails).
    type: boolean
    default: false
    inputBinding:
      prefix: --failure-ok
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

stdout: $(inputs.facet).refine.log
stderr: $(inputs.facet).refine.stderr.log

outputs:
  solutions:
    label: Refined solutions
    doc: Per observation, the two steps' solutions merged, <facet>.<obs>.refined.h5.
    type: File[]
    outputBinding:
      glob: "*.refined.h5"
  image:
    label: Facet image
    doc: The facet image of the refined data (absent when the refinement failed with failure_ok).
    type: File?
    outputBinding:
      glob: "$(inputs.facet)-image.fits"
  summary:
    label: Summary
    doc: The calibrator, both steps (or why the first was skipped), the solutions and the image's peak and rms.
    type: File
    outputBinding:
      glob: "*.refine.json"
  selfcal_runs:
    label: Self-calibration runs
    doc: The self-calibration directories of the two steps (dutch, absent when skipped, and final; as far as they got).
    type: Directory[]
    outputBinding:
      glob: "{dutch,final}"
  strategies:
    label: Strategies
    doc: The strategies the two steps ran.
    type: File[]
    outputBinding:
      glob: "*.refine_*.yaml"
  log:
    label: Standard output
    doc: The paths of the refined solutions.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (both steps' cycles, the DP3 and WSClean commands).
    type: stderr
