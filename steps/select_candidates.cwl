#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Calibrator candidates of a field
doc: |
  Runs `lofar-hires select candidates`: the first stage of calibrator selection
  (de Jong et al. 2025, section 6.3.1). Reads exactly one of a makesourcedb sky
  model, a source table (CSV or FITS, e.g. a LoTSS catalogue), a FITS image
  (sources found with PyBDSF) or the LOFAR-VLBI pipeline's delay_calibrators.csv
  (with its own peak and total fluxes), keeps the sources with a peak brightness above
  min_peak_flux_jy (CLI default 25 mJy/beam at 6 arcsec, the pre-selection of de
  Jong et al. 2024), optionally within a distance of a field centre and at most
  max_candidates of them, and writes the calibrator table (category candidate)
  with its provenance. Each candidate also gets a one-row table in
  `candidates_split/` (named after the candidate in a safe file-name form), returned as `candidates` for a scatter over the phasediff
  scoring step. The inputs are not modified.
  Command module: lofar_hires.cli.select.candidates.

baseCommand: [lofar-hires, select, candidates]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
  EnvVarRequirement:
    envDef:
      # numpy (and PyBDSF) link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --output
    valueFrom: $(inputs.output_name)
  # One single-row table per candidate, always written, for a scatter.
  - prefix: --split-dir
    valueFrom: candidates_split

inputs:
  skymodel:
    label: Sky model
    doc: >-
      makesourcedb sky model: one candidate per patch (per component without
      patches). Give exactly one of skymodel, catalogue, image and
      delay_calibrators.
    type: File?
    inputBinding:
      prefix: --skymodel
  catalogue:
    label: Source table
    doc: >-
      CSV (header row) or FITS binary table with RA/DEC (degrees or
      sexagesimal) and Peak_flux and/or Total_flux columns, e.g. a LoTSS or
      PyBDSF source list. Give exactly one of skymodel, catalogue, image and
      delay_calibrators.
    type: File?
    inputBinding:
      prefix: --catalogue
  image:
    label: Image
    doc: >-
      FITS image with its restoring beam in the header; PyBDSF finds the
      sources. Give exactly one of skymodel, catalogue, image and
      delay_calibrators.
    type: File?
    inputBinding:
      prefix: --image
  delay_calibrators:
    label: Delay-calibrator table
    doc: >-
      delay_calibrators.csv of the LOFAR-VLBI pipeline (VLBI-cwl's delay_calibrator
      input): Source_id, RA, DEC (degrees), Peak_flux and Total_flux (mJy); the
      table's own fluxes are used. Give exactly one of skymodel, catalogue, image and
      delay_calibrators.
    type: File?
    inputBinding:
      prefix: --delay-calibrators
  output_name:
    label: Table name
    doc: Name of the candidate table (CSV); its provenance is <stem>.provenance.json.
    type: string
    default: candidates.csv
  min_peak_flux_jy:
    label: Minimum peak flux (Jy/beam)
    doc: >-
      Keep sources with at least this peak brightness; 0 keeps all (CLI default
      0.025, de Jong et al. 2024 as revisited in de Jong et al. 2025 sect. 6.3.1).
    type: float?
    inputBinding:
      prefix: --min-peak-flux-jy
  centre_deg:
    label: Field centre (deg)
    doc: Two numbers, RA DEC in degrees; needed with max_distance_deg.
    type: float[]?
    inputBinding:
      prefix: --centre-deg
  max_distance_deg:
    label: Maximum distance (deg)
    doc: Keep sources within this great-circle distance of centre_deg.
    type: float?
    inputBinding:
      prefix: --max-distance-deg
  max_candidates:
    label: Maximum number of candidates
    doc: Keep at most this many candidates, brightest peak first (CLI default all).
    type: int?
    inputBinding:
      prefix: --max-candidates
  group_radius_arcsec:
    label: Grouping radius (arcsec)
    doc: Merge sources closer than this into one candidate (CLI default no grouping).
    type: float?
    inputBinding:
      prefix: --group-radius-arcsec
  resolution_arcsec:
    label: Resolution (arcsec)
    doc: Sky model only; FWHM of the circular beam of the peak brightness (CLI default 6).
    type: float?
    inputBinding:
      prefix: --resolution-arcsec
  freq_hz:
    label: Frequency (Hz)
    doc: Sky model only; frequency of the fluxes (CLI default each component's reference frequency).
    type: float?
    inputBinding:
      prefix: --freq-hz
  flux_unit:
    label: Flux unit
    doc: Source table only; unit of CSV flux columns without a _jy suffix (CLI default Jy; LoTSS is in mJy).
    type:
      - "null"
      - type: enum
        symbols: [Jy, mJy]
    inputBinding:
      prefix: --flux-unit
  pybdsf_thresh_isl:
    label: PyBDSF island threshold
    doc: Image only; island boundary threshold in sigma (CLI default 4).
    type: float?
    inputBinding:
      prefix: --pybdsf-thresh-isl
  pybdsf_thresh_pix:
    label: PyBDSF detection threshold
    doc: Image only; source detection threshold in sigma (CLI default 5).
    type: float?
    inputBinding:
      prefix: --pybdsf-thresh-pix
  cores:
    label: Cores
    doc: Number of cores to reserve (PyBDSF uses the cores it is given).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (PyBDSF on a large image needs several GiB).
    type: int
    default: 4000

stdout: select_candidates.log
stderr: select_candidates.stderr.log

outputs:
  table:
    label: Candidate table
    doc: The calibrator table, one row per candidate (category candidate), brightest first.
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  provenance:
    label: Provenance
    doc: How the table was made (inputs with checksums, settings, PyBDSF version for an image).
    type: File
    outputBinding:
      glob: "$(inputs.output_name.replace(/\\.[^.\\/]*$/, '') + '.provenance.json')"
  candidates:
    label: Single-candidate tables
    doc: One calibrator table per candidate, <name>.csv, to scatter the scoring step over.
    type: File[]
    outputBinding:
      glob: candidates_split/*.csv
  log:
    label: Table path
    doc: The path of the written table (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, filters, candidate summary).
    type: stderr
