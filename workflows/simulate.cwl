#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: simulate_image_compare
label: Simulate, image and check against the truth
doc: |
  End-to-end check of the simulator and the imager: simulate LOFAR observations
  with `lofar-hires simulate`, image the first target measurement set with
  `lofar-hires image`, and measure the true sky model's sources in that image
  with `lofar-hires compare-sky`. Returns the simulation (measurement sets and
  ground truth), the FITS products, the comparison table and every step's logs.

  Flux ratios near 1 are only expected when the corruptions that need
  calibration are disabled (see workflows/jobs/simulate_tiny.yml); with the
  presets' corruptions the image is an uncalibrated view of the data.

requirements:
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
  # the "logs" output gathers several step outputs
  MultipleInputFeatureRequirement: {}

inputs:
  # --- simulation ---------------------------------------------------------
  preset:
    label: Simulation preset
    doc: Starting configuration of the simulator (tiny, small, medium, dical for the DI calibration tests, dical_hard for a hard DI field (international stations, large clocks, delays, RM and TEC), select for calibrator selection, or selfcal for self-calibration); default small.
    type:
      - "null"
      - type: enum
        symbols: [tiny, small, medium, dical, dical_hard, select, selfcal]
  config:
    label: Simulation settings file
    doc: YAML file with settings that override the preset.
    type: File?
  overrides:
    label: Simulation setting overrides
    doc: Single settings as KEY=VALUE (e.g. observation.n_chan=32), applied after the preset and settings file.
    type: string[]?
  calibrator:
    label: Simulate the calibrator
    doc: Whether to simulate the flux-calibrator observation; unset keeps the preset's choice.
    type: boolean?
  seed:
    label: Random seed
    doc: Random seed of the simulation; unset keeps the configuration's seed.
    type: int?
  # --- imaging ------------------------------------------------------------
  image_name:
    label: Image name
    doc: Prefix of the FITS products (<image_name>-image.fits, ...).
    type: string
    default: target
  size_pix:
    label: Image size (pixels)
    doc: Two integers, NX NY (imager default 1024 1024).
    type: int[]?
  scale_arcsec:
    label: Pixel size (arcsec)
    doc: Angular size of one pixel in arcsec (imager default 2).
    type: float?
  niter:
    label: Clean iterations
    doc: Maximum number of minor clean iterations; 0 makes a dirty image (imager default 10000).
    type: int?
  weighting:
    label: Weighting
    doc: Visibility weighting scheme natural, uniform or briggs (imager default briggs).
    type:
      - "null"
      - type: enum
        symbols: [natural, uniform, briggs]
  robust:
    label: Briggs robust
    doc: Robust parameter of Briggs weighting (imager default -0.5).
    type: float?
  mgain:
    label: Major-cycle gain
    doc: Fraction of the peak cleaned per major cycle (imager default 0.6).
    type: float?
  threshold_sigma:
    label: Auto-threshold (sigma)
    doc: Stop cleaning at this many times the residual rms.
    type: float?
  auto_mask_sigma:
    label: Auto-mask (sigma)
    doc: Clean with an automatic mask down to this many times the rms.
    type: float?
  multiscale:
    label: Multi-scale clean
    doc: Use multi-scale clean instead of point-source clean.
    type: boolean
    default: false
  minuv_lambda:
    label: Minimum uv distance (wavelengths)
    doc: Exclude baselines shorter than this, in wavelengths.
    type: float?
  maxuv_lambda:
    label: Maximum uv distance (wavelengths)
    doc: Exclude baselines longer than this, in wavelengths.
    type: float?
  taper_arcsec:
    label: Gaussian taper (arcsec)
    doc: FWHM of a Gaussian uv taper, in arcsec.
    type: float?
  restoring_beam_arcsec:
    label: Restoring beam (arcsec)
    doc: FWHM of a circular restoring beam in arcsec (imager default fits the PSF).
    type: float?
  image_cores:
    label: Imaging cores
    doc: Cores to reserve for WSClean (it runs with as many threads).
    type: int
    default: 2
  image_ram_mb:
    label: Imaging memory (MiB)
    doc: Memory to reserve for WSClean, in MiB.
    type: int
    default: 4000
  # --- comparison ---------------------------------------------------------
  min_flux_jy:
    label: Comparison flux limit (Jy)
    doc: Only sky-model components brighter than this at the image frequency are measured (default 0.1).
    type: float?
  include_extended:
    label: Compare extended sources
    doc: Also measure the Gaussian components of the sky model.
    type: boolean
    default: false

steps:
  simulate:
    label: Simulate the observations
    run: ../steps/simulate.cwl
    in:
      preset: preset
      config: config
      overrides: overrides
      calibrator: calibrator
      seed: seed
    out: [simulation, target_ms, calibrator_ms, truth_h5parm, truth_json, sky_model, log, stderr_log]

  imaging:
    label: Image the first target observation
    run: ../steps/image.cwl
    in:
      msin:
        source: simulate/target_ms
        # target_ms is sorted by name: element 0 is target_obs01.MS.
        valueFrom: $([self[0]])
      name: image_name
      size_pix: size_pix
      scale_arcsec: scale_arcsec
      niter: niter
      weighting: weighting
      robust: robust
      mgain: mgain
      threshold_sigma: threshold_sigma
      auto_mask_sigma: auto_mask_sigma
      multiscale: multiscale
      minuv_lambda: minuv_lambda
      maxuv_lambda: maxuv_lambda
      taper_arcsec: taper_arcsec
      restoring_beam_arcsec: restoring_beam_arcsec
      cores: image_cores
      ram_mb: image_ram_mb
    out: [image, model, residual, psf, dirty, provenance, wsclean_log, log, stderr_log]

  compare_sky:
    label: Measure the true sources in the image
    run: ../steps/compare_sky.cwl
    in:
      image: imaging/image
      skymodel: simulate/sky_model
      min_flux_jy: min_flux_jy
      include_extended: include_extended
    out: [comparison, log, stderr_log]

outputs:
  simulation:
    label: Simulation directory
    doc: All simulation products (measurement sets, truth, simulation.json, provenance.json).
    type: Directory
    outputSource: simulate/simulation
  target_ms:
    label: Target measurement sets
    doc: One measurement set per target observation, sorted by name.
    type: Directory[]
    outputSource: simulate/target_ms
  calibrator_ms:
    label: Calibrator measurement sets
    doc: Calibrator observations; empty when the calibrator is disabled.
    type: Directory[]
    outputSource: simulate/calibrator_ms
  truth_h5parm:
    label: Truth h5parms
    doc: The applied corruptions of every observation (<name>.truth.h5).
    type: File[]
    outputSource: simulate/truth_h5parm
  truth_json:
    label: Truth summaries
    doc: Per-observation truth summaries (<name>.truth.json).
    type: File[]
    outputSource: simulate/truth_json
  sky_model:
    label: True sky model
    doc: The simulated target sky (sky_truth.skymodel).
    type: File
    outputSource: simulate/sky_model
  image:
    label: Restored image
    doc: Restored image of the first target observation.
    type: File
    outputSource: imaging/image
  model:
    label: Model image
    doc: Clean-component image; absent for a dirty image.
    type: File?
    outputSource: imaging/model
  residual:
    label: Residual image
    doc: Residual image; absent for a dirty image.
    type: File?
    outputSource: imaging/residual
  psf:
    label: Point-spread function
    doc: PSF image.
    type: File
    outputSource: imaging/psf
  dirty:
    label: Dirty image
    doc: Dirty image.
    type: File
    outputSource: imaging/dirty
  image_provenance:
    label: Imaging provenance
    doc: Inputs, settings and the WSClean command of the imaging run.
    type: File
    outputSource: imaging/provenance
  wsclean_log:
    label: WSClean log
    doc: WSClean's complete output.
    type: File
    outputSource: imaging/wsclean_log
  comparison:
    label: Comparison table
    doc: Per-source flux ratios and position offsets of the true sky model in the image (JSON).
    type: File
    outputSource: compare_sky/comparison
  logs:
    label: Step logs
    doc: Standard output and log messages of every step (simulate, image, compare_sky).
    type: File[]
    outputSource:
      - simulate/log
      - simulate/stderr_log
      - imaging/log
      - imaging/stderr_log
      - compare_sky/log
      - compare_sky/stderr_log
    linkMerge: merge_flattened
