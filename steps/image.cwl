#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Image measurement sets with WSClean
doc: |
  Runs `lofar-hires image`: images one or more measurement sets with WSClean
  and returns the FITS products (image, model, residual, psf, dirty), the
  provenance record and WSClean's own log. Options left unset keep the CLI's
  defaults. With `channels_out` > 1 the main products are the MFS images and the
  per-channel images are returned in `channel_images`.
  Command module: lofar_hires.cli.image.

baseCommand: [lofar-hires, image]

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
      # WSClean and numpy link a multi-threaded OpenBLAS; keep it to one thread
      # (WSClean's own threads are set with --threads).
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
    # Disk from the work: the staged input measurement sets, and one copy of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # Products go to the step's output directory; WSClean threads follow the
  # cores the runner actually granted.
  - prefix: --outdir
    valueFrom: $(runtime.outdir)
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Measurement sets
    doc: Measurement set(s) to image together (read only).
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  name:
    label: Product name
    doc: Prefix of the products (<name>-image.fits, ...); the CLI default is image.
    type: string
    default: image
    inputBinding:
      prefix: --name
  size_pix:
    label: Image size (pixels)
    doc: Two integers, NX NY (CLI default 1024 1024).
    type: int[]?
    inputBinding:
      prefix: --size-pix
  scale_arcsec:
    label: Pixel size (arcsec)
    doc: Angular size of one pixel in arcsec (CLI default 2).
    type: float?
    inputBinding:
      prefix: --scale-arcsec
  niter:
    label: Clean iterations
    doc: Maximum number of minor clean iterations; 0 makes a dirty image (CLI default 10000).
    type: int?
    inputBinding:
      prefix: --niter
  weighting:
    label: Weighting
    doc: Visibility weighting scheme (CLI default briggs).
    type:
      - "null"
      - type: enum
        symbols: [natural, uniform, briggs]
    inputBinding:
      prefix: --weighting
  robust:
    label: Briggs robust
    doc: Robust parameter of Briggs weighting (CLI default -0.5).
    type: float?
    inputBinding:
      prefix: --robust
  data_column:
    label: Data column
    doc: Measurement-set column to image (CLI default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  pol:
    label: Polarisations
    doc: Polarisation(s) to image, as WSClean -pol (CLI default i).
    type: string?
    inputBinding:
      prefix: --pol
  mgain:
    label: Major-cycle gain
    doc: Fraction of the peak cleaned per major cycle (CLI default 0.6).
    type: float?
    inputBinding:
      prefix: --mgain
  threshold_sigma:
    label: Auto-threshold (sigma)
    doc: Stop cleaning at this many times the residual rms (WSClean -auto-threshold).
    type: float?
    inputBinding:
      prefix: --threshold-sigma
  auto_mask_sigma:
    label: Auto-mask (sigma)
    doc: Clean with an automatic mask down to this many times the rms (WSClean -auto-mask).
    type: float?
    inputBinding:
      prefix: --auto-mask-sigma
  multiscale:
    label: Multi-scale clean
    doc: Use multi-scale clean instead of point-source clean.
    type: boolean
    default: false
    inputBinding:
      prefix: --multiscale
  minuv_lambda:
    label: Minimum uv distance (wavelengths)
    doc: Exclude baselines shorter than this, in wavelengths.
    type: float?
    inputBinding:
      prefix: --minuv-lambda
  maxuv_lambda:
    label: Maximum uv distance (wavelengths)
    doc: Exclude baselines longer than this, in wavelengths.
    type: float?
    inputBinding:
      prefix: --maxuv-lambda
  super_weight:
    label: Super weight
    doc: A Briggs or uniform weighting grid this many times coarser than the image's own (WSClean -super-weight).
    type: float?
    inputBinding:
      prefix: --super-weight
  taper_arcsec:
    label: Gaussian taper (arcsec)
    doc: FWHM of a Gaussian uv taper, in arcsec.
    type: float?
    inputBinding:
      prefix: --taper-arcsec
  restoring_beam_arcsec:
    label: Restoring beam (arcsec)
    doc: FWHM of a circular restoring beam in arcsec (CLI default fits the PSF).
    type: float?
    inputBinding:
      prefix: --restoring-beam-arcsec
  facet_regions:
    label: Facet regions
    doc: ds9 facet regions (lofar-hires facets); the field is imaged facet by facet.
    type: File?
    inputBinding:
      prefix: --facet-regions
  facet_solutions:
    label: Facet solutions
    doc: >-
      With facet_regions: multi-direction solutions applied per facet, one h5parm per
      measurement set in the same order; their directions must be the facets.
    type: File[]?
    inputBinding:
      prefix: --facet-solutions
  facet_soltabs:
    label: Facet soltabs
    doc: Soltabs of facet_solutions to apply, comma-separated (CLI default amplitude000,phase000).
    type: string?
    inputBinding:
      prefix: --facet-soltabs
  channels_out:
    label: Output channels
    doc: Number of output channels; more than one also makes joined MFS images (CLI default 1).
    type: int?
    inputBinding:
      prefix: --channels-out
  cores:
    label: Cores
    doc: Number of cores to reserve; WSClean runs with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve for WSClean, in MiB.
    type: int
    default: 4000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the outputs each; more when
      the runner reports the input sizes (the outputs need one copy of the input measurement sets).
    type: int
    default: 2048

stdout: image.log
stderr: image.stderr.log

outputs:
  image:
    label: Restored image
    doc: <name>-image.fits (or <name>-MFS-image.fits with several output channels).
    type: File
    outputBinding:
      glob: ["$(inputs.name)-image.fits", "$(inputs.name)-MFS-image.fits"]
  model:
    label: Model image
    doc: Clean components (<name>-model.fits or the MFS one); absent for a dirty image (niter 0).
    type: File?
    outputBinding:
      glob: ["$(inputs.name)-model.fits", "$(inputs.name)-MFS-model.fits"]
  residual:
    label: Residual image
    doc: Residual after cleaning (<name>-residual.fits or the MFS one); absent for niter 0.
    type: File?
    outputBinding:
      glob: ["$(inputs.name)-residual.fits", "$(inputs.name)-MFS-residual.fits"]
  psf:
    label: Point-spread function
    doc: <name>-psf.fits (or the MFS one).
    type: File
    outputBinding:
      glob: ["$(inputs.name)-psf.fits", "$(inputs.name)-MFS-psf.fits"]
  dirty:
    label: Dirty image
    doc: <name>-dirty.fits (or the MFS one).
    type: File
    outputBinding:
      glob: ["$(inputs.name)-dirty.fits", "$(inputs.name)-MFS-dirty.fits"]
  channel_images:
    label: Per-channel images
    doc: Products of the individual output channels (<name>-0000-image.fits, ...); empty for one channel.
    type: File[]
    outputBinding:
      glob: $(inputs.name)-[0-9][0-9][0-9][0-9]-*.fits
  provenance:
    label: Provenance
    doc: Inputs, settings and the WSClean command of the run (<name>.provenance.json).
    type: File
    outputBinding:
      glob: $(inputs.name).provenance.json
  wsclean_log:
    label: WSClean log
    doc: WSClean's complete output (<name>.wsclean.log).
    type: File
    outputBinding:
      glob: $(inputs.name).wsclean.log
  log:
    label: Standard output
    doc: The products written, as JSON (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
