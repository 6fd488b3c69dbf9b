#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Wide-field mosaic of facet images
doc: |
  Runs `lofar-hires mosaic`: reprojects the facet images (one per facet, each on its
  own tangent grid) onto one SIN grid centred on the field (cubic-spline interpolation)
  and takes every pixel from the image of the facet whose polygon holds it (polygon
  mode), or averages the primary-beam corrected images that cover it with weights
  beam^2/noise^2 (beam-weighted mode). With restored_models, the images are the facets'
  residual images and every facet's restored-model image is added across the facet
  boundaries (polygon mode). Writes the mosaic with the restoring beam and full
  WCS in its header, its noise map (local robust rms in boxes of a number of beams), a
  summary <mosaic>.json and the provenance record. The inputs are not modified.
  Command module: lofar_hires.cli.mosaic.

baseCommand: [lofar-hires, mosaic]

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

inputs:
  images:
    label: Facet images
    doc: The facet images (WSClean FITS, one plane, one per facet; primary-beam corrected for the beam-weighted mode).
    type: File[]
    inputBinding:
      position: 10
  facet_regions:
    label: Facet regions
    doc: ds9 region file of the facets (lofar-hires facets); each image belongs to the polygon holding its centre.
    type: File
    inputBinding:
      prefix: --facet-regions
  output_name:
    label: Mosaic file name
    doc: Name of the mosaic (FITS); the summary is named after it (<name without .fits>.json).
    type: string
    default: mosaic.fits
    inputBinding:
      prefix: --output
  noise_map_name:
    label: Noise map file name
    doc: Name of the mosaic's noise map (FITS).
    type: string
    default: mosaic-rms.fits
    inputBinding:
      prefix: --noise-map
  mode:
    label: Combination
    doc: "polygon: each pixel from its facet's image (CLI default); beam-weighted: beam^2/noise^2-weighted average."
    type:
      - "null"
      - type: enum
        symbols: [polygon, beam-weighted]
    inputBinding:
      prefix: --mode
  beam_images:
    label: Primary-beam images
    doc: The primary-beam images of the facet images, in the same order and on the same grids (beam-weighted mode).
    type: File[]?
    inputBinding:
      # after the images: the option takes every value up to the next option
      position: 20
      prefix: --beam-images
  restored_models:
    label: Restored-model images
    doc: |
      Polygon mode only. The facets' restored-model images (image minus residual, the CLEAN
      components convolved with the restoring beam), in the order and on the grids of the
      images, which are then the facets' residual images. Each model is added across the facet
      boundaries (a facet's dataset holds only its own sources), and the noise map is measured
      on the residual mosaic.
    type: File[]?
    inputBinding:
      # after the images: the option takes every value up to the next option
      position: 20
      prefix: --restored-models
  min_beam:
    label: Beam cut
    doc: Beam-weighted mode; pixels where the beam is below this fraction of its peak are left out (CLI default 0.1).
    type: float?
    inputBinding:
      prefix: --min-beam
  pixel_scale_arcsec:
    label: Pixel scale (arcsec)
    doc: Pixel scale of the mosaic (CLI default, the finest of the images).
    type: float?
    inputBinding:
      prefix: --pixel-scale-arcsec
  centre_deg:
    label: Mosaic centre (deg)
    doc: RA and Dec of the centre of the mosaic's projection (CLI default, the mean of the facet centres).
    type: float[]?
    inputBinding:
      prefix: --centre-deg
  noise_box_beams:
    label: Noise box (beams)
    doc: Side of the noise map's boxes in restoring beams (CLI default 50).
    type: float?
    inputBinding:
      prefix: --noise-box-beams
  allow_beam_mismatch:
    label: Allow beam mismatch
    doc: Accept images whose restoring beams differ by more than 5 per cent (the header carries the largest).
    type: boolean
    default: false
    inputBinding:
      prefix: --allow-beam-mismatch
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (about 40 bytes per mosaic pixel plus 30 per pixel of the largest facet image).
    type: int
    default: 8000

stdout: $(inputs.output_name.replace(/\.fits$/i, '')).log
stderr: $(inputs.output_name.replace(/\.fits$/i, '')).stderr.log

outputs:
  mosaic:
    label: Mosaic
    doc: The mosaic (FITS, SIN projection, restoring beam in the header).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  noise_map:
    label: Noise map
    doc: Local robust rms of the mosaic (FITS, same grid).
    type: File
    outputBinding:
      glob: $(inputs.noise_map_name)
  summary:
    label: Summary
    doc: Grid, restoring beam, per facet its image, coverage and median noise, facets without an image (JSON).
    type: File
    outputBinding:
      glob: $(inputs.output_name.replace(/\.fits$/i, '') + '.json')
  provenance:
    label: Provenance
    doc: How the mosaic was made (JSON).
    type: File
    outputBinding:
      glob: $(inputs.output_name + '.provenance.json')
  log:
    label: Standard output
    doc: Standard output of the task (the mosaic's path).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (stderr).
    type: stderr
