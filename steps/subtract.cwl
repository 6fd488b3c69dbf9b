#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: One dataset per facet, every other facet's sources subtracted (1.2 arcsec facet subtraction)
doc: |
  Runs `lofar-hires subtract` on one measurement set (one observation or subband):
  every sky-model component is predicted with the direction-dependent solutions of
  the facet it lies in and subtracted; per facet its own components are added back,
  the data are phase-shifted to the facet centre, corrected for the station beam
  towards it and for the facet's solutions, and averaged as far as the facet's size
  allows at the target resolution. Writes <ms>.<facet>.ms per facet with
  <ms>.<facet>.ms.provenance.json (the facet's name, centre and averaging) and
  <ms>.subtract.json (facets, outputs, the cost of every DP3 run). With empty_only
  the step writes only the data with the whole field subtracted (keep_empty), which
  scattered facet jobs then read (empty_ms with one facet each). The input is not
  modified.
  Command module: lofar_hires.cli.subtract.

baseCommand: [lofar-hires, subtract]

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
      # DP3 and numpy link a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
    # Disk from the work: the staged input measurement set; the outputs are the facet datasets (together at
    # most the input's size, averaged) and, with keep_empty, one full-size copy.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 2, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --outdir
    valueFrom: $(runtime.outdir)
  # DP3 threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Measurement set
    doc: The direction-independently (and delay) calibrated measurement set of one observation or subband (read only).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  skymodel:
    label: Sky model
    doc: >-
      makesourcedb sky model of the field; each component is predicted with the solutions of the
      facet it lies in. Give this or model_images.
    type: File?
    inputBinding:
      prefix: --skymodel
  model_images:
    label: Model images
    doc: >-
      WSClean model images of the field, one per channel (the 1.2 arcsec image's
      <name>-<channel>-model.fits); every non-zero pixel is a component. Give this or skymodel.
    type: File[]?
    inputBinding:
      prefix: --model-images
  h5parm:
    label: Direction-dependent solutions
    doc: Multi-direction h5parm of this observation, one direction per facet named like it (h5 merge-dd).
    type: File
    inputBinding:
      prefix: --h5parm
  facet_regions:
    label: Facet regions
    doc: ds9 region file of the facets (facets.reg of lofar-hires facets).
    type: File
    inputBinding:
      prefix: --facet-regions
  method:
    label: Method
    doc: new (subtract the field once, add each facet back; default) or old (per facet, a copy without the others).
    type:
      - "null"
      - type: enum
        symbols: [new, old]
    inputBinding:
      prefix: --method
  facet:
    label: Facets
    doc: Make only these facets' datasets (default all), e.g. one facet per scattered job.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --facet
  soltabs:
    label: Soltabs
    doc: Comma-separated soltabs of the h5parm to use (default amplitude000 and phase000, those present).
    type: string?
    inputBinding:
      prefix: --soltabs
  resolution_arcsec:
    label: Target resolution (arcsec)
    doc: Resolution the facet datasets are imaged at; sets how far they may be averaged (default 0.3).
    type: float?
    inputBinding:
      prefix: --resolution-arcsec
  max_smearing_loss:
    label: Largest smearing loss
    doc: Largest fractional peak loss by smearing at a facet's farthest vertex (default 0.05).
    type: float?
    inputBinding:
      prefix: --max-smearing-loss
  max_distance_deg:
    label: Largest facet distance (deg)
    doc: Facets whose centre is farther than this from the phase centre are refused (default 2.5).
    type: float?
    inputBinding:
      prefix: --max-distance-deg
  no_beam:
    label: No station beam in the data
    doc: The data carry no station beam; predict without it and do not correct it towards the facet centres.
    type: boolean
    default: false
    inputBinding:
      prefix: --no-beam
  dysco:
    label: Dysco compression
    doc: Write the facet datasets with Dysco compression.
    type: boolean
    default: false
    inputBinding:
      prefix: --dysco
  dysco_data_bits:
    label: Dysco data bits
    doc: >-
      Bits per compressed visibility: 0 none, 4 to 16, or auto (the fewest that keep the image-rms
      increase below 1 %, measured on the input); default 10 with dysco, else 0. 6 lost nothing on
      ELAIS-N1 (de Jong et al. 2025, section 6.6.2.1).
    type:
      - "null"
      - type: enum
        symbols: ["0", "16", "12", "10", "8", "6", "4", auto]
    inputBinding:
      prefix: --dysco-data-bits
  dysco_weight_bits:
    label: Dysco weight bits
    doc: Bits per compressed weight (default 12).
    type: int?
    inputBinding:
      prefix: --dysco-weight-bits
  data_column:
    label: Data column
    doc: Column of the measurement set to use (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  keep_empty:
    label: Kept empty data set
    doc: Name of the measurement set with the whole field subtracted, kept in the output directory.
    type: string?
    inputBinding:
      prefix: --keep-empty
  empty_ms:
    label: Empty data set to reuse
    doc: The measurement set with the whole field subtracted (keep_empty of an earlier job); facets are made from it.
    type: Directory?
    inputBinding:
      prefix: --empty-ms
  empty_only:
    label: Only the empty data set
    doc: Only subtract the whole field (into keep_empty) and stop.
    type: boolean
    default: false
    inputBinding:
      prefix: --empty-only
  job_name:
    label: Job name
    doc: Name of this job's log files (scattered jobs need their own).
    type: string
    default: subtract
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 runs with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 4000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged input and for the outputs; more when the runner
      reports the input sizes.
    type: int
    default: 2048

stdout: $(inputs.job_name).log
stderr: $(inputs.job_name).stderr.log

outputs:
  facet_ms:
    label: Facet datasets
    doc: One measurement set per facet, <ms>.<facet>.ms (none with empty_only).
    type: Directory[]
    outputBinding:
      glob: "*.ms"
      outputEval: $(self.filter(function (d) { return d.basename != inputs.keep_empty; }))
  facet_provenance:
    label: Facet provenance
    doc: How each facet dataset was made (its facet, centre and averaging, the DP3 run).
    type: File[]
    outputBinding:
      glob: "*.ms.provenance.json"
  empty_ms_out:
    label: Empty data set
    doc: The measurement set with the whole field subtracted (with keep_empty).
    type: Directory?
    outputBinding:
      glob: "$(inputs.keep_empty ? inputs.keep_empty : [])"
  summary:
    label: Summary
    doc: The facets, their averaging, the outputs and the cost of every DP3 run.
    type: File
    outputBinding:
      glob: "*.subtract.json"
  facet_names:
    label: Facet names
    doc: The names of the region file's facets, in its order.
    type: string[]
    outputBinding:
      glob: "*.subtract.json"
      loadContents: true
      outputEval: $(JSON.parse(self[0].contents).facets.map(function (f) { return f.facet; }))
  dp3_logs:
    label: DP3 parsets and logs
    doc: The parset and the complete output of every DP3 run.
    type: File[]
    outputBinding:
      glob: logs/*
  log:
    label: Standard output
    doc: The paths of the datasets written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (facets, averaging, the DP3 commands, timing).
    type: stderr
