#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Sidereal visibility averaging of many observations of one field (or facet)
doc: |
  Runs `lofar-hires sva` on the measurement sets of one field or facet, one per
  observation: every visibility is mapped onto the template observation's grid at the
  same local sidereal time, matched per baseline to the template slot with the nearest
  (u,v) (a match of the negated point is a conjugated visibility), and averaged with its
  WEIGHT_SPECTRUM (flagged data left out). The output time resolution is the coarsest
  that keeps the smearing loss at image_radius_deg within max_smearing_loss, with the
  measured offsets between the observations' baseline coordinates accounted for. Writes
  <name>.ms (the template's subtables and UVW, about the volume of one observation) with
  its provenance, and <name>.sva.json (template, offsets, time resolution, rows and
  weights). Observations of another field, without sidereal overlap, with other
  channels or without a common baseline are refused (exit 2). The inputs are not modified.
  Command module: lofar_hires.cli.sva.

baseCommand: [lofar-hires, sva]

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
      # numpy links a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
    # Disk from the work: the staged inputs, and an output at most as large as all of them.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --outdir
    valueFrom: $(runtime.outdir)

inputs:
  msin:
    label: Measurement sets
    doc: The measurement sets of one field or facet, one per observation (read only).
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  name:
    label: Output name
    doc: The output is <name>.ms (default sva).
    type: string?
    inputBinding:
      prefix: --name
  data_column:
    label: Data column
    doc: Column of the measurement sets to average (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  image_radius_deg:
    label: Image radius (deg)
    doc: >-
      Radius of the image (facet) at which the smearing budget holds (default the half-power radius of
      the widest station beam at the lowest frequency).
    type: float?
    inputBinding:
      prefix: --image-radius-deg
  max_smearing_loss:
    label: Largest smearing loss
    doc: Largest peak loss of a source at the image radius from the averaging (default 0.05).
    type: float?
    inputBinding:
      prefix: --max-smearing-loss
  time_res_s:
    label: Time resolution (s)
    doc: Output time resolution instead of the one the smearing budget gives.
    type: float?
    inputBinding:
      prefix: --time-res-s
  max_centre_offset_arcsec:
    label: Largest phase-centre offset (arcsec)
    doc: Observations whose phase centres differ by more are refused (default 1).
    type: float?
    inputBinding:
      prefix: --max-centre-offset-arcsec
  chunk_mb:
    label: Chunk memory (MiB)
    doc: Memory for one block of the output and one chunk of an input (default 256).
    type: float?
    inputBinding:
      prefix: --chunk-mb
  job_name:
    label: Job name
    doc: Name of this job's log files (scattered jobs need their own).
    type: string
    default: sva
  cores:
    label: Cores
    doc: Number of cores to reserve.
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB (chunk_mb and the metadata of the inputs).
    type: int
    default: 2000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged inputs and for the output; more when the runner
      reports the input sizes.
    type: int
    default: 2048

stdout: $(inputs.job_name).log
stderr: $(inputs.job_name).stderr.log

outputs:
  averaged_ms:
    label: Averaged measurement set
    doc: Every observation averaged onto the template grid, <name>.ms.
    type: Directory
    outputBinding:
      glob: "*.ms"
  provenance:
    label: Provenance
    doc: How the averaged measurement set was made.
    type: File
    outputBinding:
      glob: "*.ms.provenance.json"
  summary:
    label: Summary
    doc: Template, measured baseline offsets, time resolution and why, rows and weights in and out.
    type: File
    outputBinding:
      glob: "*.sva.json"
  log:
    label: Standard output
    doc: The path of the averaged measurement set.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (offsets, time resolution, rows written).
    type: stderr
