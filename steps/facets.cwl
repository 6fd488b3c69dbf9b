#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Voronoi facet layout of the main calibrators
doc: |
  Runs `lofar-hires facets`: cuts the field into the Voronoi cells of the main
  calibrators of a calibrator table (exact on the sphere, clipped to a square
  WSClean image or a circle about the field centre), one facet per calibrator.
  Writes a directory with facets.reg (ds9 polygons with each calibrator as the
  facet's point, for WSClean -facet-regions and DP3), facets.csv and facets.json
  (centre, size, area, source count, weak calibrators and an averaging
  suggestion per facet), facets.png and provenance.json. The field centre comes
  from `msin` or from `centre_deg`: give exactly one of them. Give at most one of
  `box_deg` and `circle_deg`. The inputs are not modified.
  Command module: lofar_hires.cli.facets.

baseCommand: [lofar-hires, facets]

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
      # matplotlib writes its cache under HOME; a step's HOME is its output directory.
      MPLBACKEND: Agg

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  table:
    label: Calibrator table
    doc: >-
      CSV table of lofar-hires select (read only); rows of category main define
      the facets, rows of category weak are drawn and assigned to facets.
    type: File
    inputBinding:
      position: 10
  outdir_name:
    label: Output directory name
    doc: Name of the directory of products.
    type: string
    default: facets
    inputBinding:
      prefix: --outdir
  msin:
    label: Measurement set
    doc: >-
      Its phase centre is the field centre; its integration time, channel width,
      lowest frequency and channel count set the averaging suggestion (read only).
      Give this or centre_deg.
    type: Directory?
    inputBinding:
      prefix: --msin
  centre_deg:
    label: Field centre (deg)
    doc: RA and Dec of the field centre in degrees (two numbers). Give this or msin.
    type: float[]?
    inputBinding:
      prefix: --centre-deg
  box_deg:
    label: Clip box width (deg)
    doc: Clip to a square image of this width about the centre, as WSClean's -size x -scale (CLI default 2.5).
    type: float?
    inputBinding:
      prefix: --box-deg
  circle_deg:
    label: Clip circle radius (deg)
    doc: Clip to a circle of this radius about the centre instead of a box.
    type: float?
    inputBinding:
      prefix: --circle-deg
  max_edge_deg:
    label: Largest edge (deg)
    doc: Largest distance between neighbouring polygon vertices along the great-circle edges (CLI default 0.05).
    type: float?
    inputBinding:
      prefix: --max-edge-deg
  resolution_arcsec:
    label: Target resolution (arcsec)
    doc: Resolution the averaging suggestion is made for (CLI default 0.3).
    type: float?
    inputBinding:
      prefix: --resolution-arcsec
  max_smearing_loss:
    label: Largest smearing loss
    doc: >-
      Largest fractional peak loss by bandwidth and time smearing at a facet's
      farthest vertex from its centre (CLI default 0.05).
    type: float?
    inputBinding:
      prefix: --max-smearing-loss
  integration_s:
    label: Integration time (s)
    doc: Integration time of the data; overrides the MS's (without msin, give all three of the data resolution inputs).
    type: float?
    inputBinding:
      prefix: --integration-s
  chan_width_hz:
    label: Channel width (Hz)
    doc: Channel width of the data; overrides the MS's.
    type: float?
    inputBinding:
      prefix: --chan-width-hz
  freq_hz:
    label: Lowest frequency (Hz)
    doc: Lowest frequency of the data; overrides the MS's.
    type: float?
    inputBinding:
      prefix: --freq-hz
  sources:
    label: Sky model
    doc: makesourcedb sky model whose sources are counted per facet; sources in no facet are reported.
    type: File?
    inputBinding:
      prefix: --sources
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

stdout: facets.log
stderr: facets.stderr.log

outputs:
  facets:
    label: Facet layout
    doc: Directory with facets.reg, facets.csv, facets.json, facets.png and provenance.json.
    type: Directory
    outputBinding:
      glob: $(inputs.outdir_name)
  regions:
    label: Facet regions
    doc: The ds9 region file of the facets (polygon, text label and point per facet).
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/facets.reg
  facet_table:
    label: Facet table
    doc: One row per facet (facets.csv).
    type: File
    outputBinding:
      glob: $(inputs.outdir_name)/facets.csv
  log:
    label: Standard output
    doc: The path of the output directory.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, one line per facet).
    type: stderr
