#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Final images of one facet, primary-beam corrected
doc: |
  Runs `lofar-hires final-image` on one facet's datasets (one per observation, or
  one sidereally averaged set): the facet's solutions applied when given (DP3), the
  facet imaged at each requested resolution with the final settings of
  configs/final_imaging.yaml (WSClean wgridder, Briggs -1.5, 80 lambda, auto-masking,
  multi-scale, a 50-beam rms box, baseline-dependent averaging; de Jong et al. 2025,
  section 6.4.5) and corrected for the primary beam averaged over the data
  (EveryBeam). Writes per resolution R <facet>.<R>asec-image.fits, -image-pb.fits,
  -beam.fits, -residual-pb.fits, -restored-model-pb.fits, WSClean's residual,
  model, psf and dirty images and
  <facet>.<R>asec.final.json. The inputs are not modified.
  Command module: lofar_hires.cli.final_image.

baseCommand: [lofar-hires, final-image]

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
    # Disk from the work: the staged datasets, and a corrected copy of them when solutions are applied.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 2, inputs.disk_mb))
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
    doc: The facet's datasets (read only), imaged together.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  facet:
    label: Facet
    doc: The facet's name, its label in the region file.
    type: string
    inputBinding:
      prefix: --facet
  facet_regions:
    label: Facet layout
    doc: ds9 region file of the facet layout (lofar-hires facets).
    type: File
    inputBinding:
      prefix: --facet-regions
  resolutions:
    label: Resolutions
    doc: Resolutions of the configuration to image (default all, 0.3, 0.6 and 1.2 arcsec).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --resolution
  solutions:
    label: Solutions
    doc: >-
      Solutions to apply before imaging, one h5parm for every dataset or one per dataset in the order of
      msin (default none, the data are imaged as given).
    type: File[]?
    inputBinding:
      # after the datasets: the option takes every value up to the next option
      position: 20
      prefix: --solutions
  direction:
    label: Direction
    doc: The h5parm direction to apply (default the facet's, when the h5parm has several).
    type: string?
    inputBinding:
      prefix: --direction
  config:
    label: Configuration
    doc: YAML file overriding configs/final_imaging.yaml.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Overrides
    doc: KEY=VALUE overrides of the configuration.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
  no_beam:
    label: No primary-beam correction
    doc: Skip the primary-beam correction (no -beam.fits and -image-pb.fits).
    type: boolean
    default: false
    inputBinding:
      prefix: --no-beam
  job_name:
    label: Job name
    doc: Name of this job's log files (scattered jobs need their own).
    type: string
    default: final_image
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

stdout: $(inputs.job_name).log
stderr: $(inputs.job_name).stderr.log

outputs:
  images:
    label: Corrected images
    doc: Per resolution, the primary-beam corrected image (the uncorrected one without beam correction).
    type: File[]
    outputBinding:
      glob: '$(inputs.no_beam ? "*-image.fits" : "*-image-pb.fits")'
  uncorrected:
    label: Images
    doc: Per resolution, the image before primary-beam correction.
    type: File[]
    outputBinding:
      glob: "*-image.fits"
  residuals:
    label: Corrected residual images
    doc: Per resolution, the residual image corrected for the primary beam (absent without beam correction).
    type: File[]
    outputBinding:
      glob: "*-residual-pb.fits"
  restored_models:
    label: Corrected restored models
    doc: >-
      Per resolution, the restored clean components alone (image - residual) corrected for the primary
      beam; with the residuals they let a mosaic keep sources on facet boundaries whole.
    type: File[]
    outputBinding:
      glob: "*-restored-model-pb.fits"
  beams:
    label: Primary beams
    doc: Per resolution, the primary beam on the image grid, averaged over the data.
    type: File[]
    outputBinding:
      glob: "*-beam.fits"
  other_images:
    label: Other WSClean images
    doc: Per resolution, the residual, model, psf and dirty images.
    type: File[]
    outputBinding:
      glob: ["*-residual.fits", "*-model.fits", "*-psf.fits", "*-dirty.fits"]
  summaries:
    label: Summaries
    doc: Per resolution, the image grid, the averaging, the solutions applied and the image statistics.
    type: File[]
    outputBinding:
      glob: "*.final.json"
  provenance:
    label: Provenance
    doc: How the images were made (inputs, settings, every DP3 and WSClean command).
    type: File[]
    outputBinding:
      glob: "*.provenance.json"
  tool_logs:
    label: WSClean logs
    doc: Per resolution, WSClean's own output (every major cycle and why the clean stopped).
    type: File[]
    outputBinding:
      glob: "*.wsclean.log"
  log:
    label: Standard output
    doc: The paths of the corrected images.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (every DP3 and WSClean command).
    type: stderr
