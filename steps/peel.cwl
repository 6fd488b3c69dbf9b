#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Peel bright sources, brightest first, each with its own direction-dependent gains
doc: |
  Runs `lofar-hires peel` on one measurement set: for each source to peel (those named,
  or every source of the sky model above min_flux_jy), brightest first, the data are
  phase-shifted to the source and averaged, the source's gains are solved with the
  next-brightest sources that would bias the solve modelled as directions of their own,
  and the source is predicted with its gains and subtracted from the full-resolution
  data. Writes <ms>.peeled.ms with its provenance, <ms>.peel.<source>.h5 per source
  and <ms>.peel.json (what was peeled, how, and the flux left at each source's
  position). Sources too faint to solve on are refused before any data are touched.
  The input is not modified.
  Command module: lofar_hires.cli.peel.

baseCommand: [lofar-hires, peel]

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
    # Disk from the work: the staged input measurement set, and one full-size peeled copy.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
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
    doc: The measurement set to peel (read only).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  skymodel:
    label: Sky model
    doc: >-
      makesourcedb sky model holding the sources to peel and the other bright sources of the field
      (a patch is one source).
    type: File
    inputBinding:
      prefix: --skymodel
  source:
    label: Sources to peel
    doc: Patches or components of the sky model to peel. Give this or min_flux_jy.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --source
  min_flux_jy:
    label: Peeling threshold (Jy)
    doc: Peel every source of the sky model brighter than this at the band centre. Give this or source.
    type: float?
    inputBinding:
      prefix: --min-flux-jy
  order:
    label: Order
    doc: brightness (brightest first; default) or given (the order of source).
    type:
      - "null"
      - type: enum
        symbols: [brightness, given]
    inputBinding:
      prefix: --order
  solve_mode:
    label: Solve mode
    doc: DDECal mode of each source's solve (default diagonal).
    type:
      - "null"
      - type: enum
        symbols: [diagonal, scalar, diagonalphase, scalarphase]
    inputBinding:
      prefix: --solve-mode
  solint_s:
    label: Solution interval (s)
    doc: Solution interval of each source's solve (default 60).
    type: float?
    inputBinding:
      prefix: --solint-s
  solint_hz:
    label: Solution bandwidth (Hz)
    doc: Solution bandwidth of each source's solve (default 2 MHz).
    type: float?
    inputBinding:
      prefix: --solint-hz
  uvmin_lambda:
    label: Shortest baseline (wavelengths)
    doc: Baselines shorter than this are not used in the solves (default 0).
    type: float?
    inputBinding:
      prefix: --uvmin-lambda
  min_snr:
    label: Least signal to noise
    doc: Sources whose estimated signal to noise per station and solution is lower are refused (default 5).
    type: float?
    inputBinding:
      prefix: --min-snr
  max_contaminators:
    label: Most contaminators
    doc: At most this many other sources modelled in each solve (default 3; 0 the source alone).
    type: int?
    inputBinding:
      prefix: --max-contaminators
  contaminator_fraction:
    label: Contaminator fraction
    doc: Sources left in the data with at least this fraction of the peeled source's flux are modelled (default 0.1).
    type: float?
    inputBinding:
      prefix: --contaminator-fraction
  max_smearing_loss:
    label: Largest smearing loss
    doc: Largest smearing loss of the modelled contaminators in the averaged data of a solve (default 0.05).
    type: float?
    inputBinding:
      prefix: --max-smearing-loss
  no_beam:
    label: No station beam in the data
    doc: The data carry no station beam; predict without it.
    type: boolean
    default: false
    inputBinding:
      prefix: --no-beam
  data_column:
    label: Data column
    doc: Column of the measurement set to peel (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  dysco_data_bits:
    label: Dysco data bits
    doc: >-
      Bits per visibility of the peeled measurement set with Dysco compression: 0 none (default),
      4 to 16, or auto (the fewest that keep the image-rms increase below 1 %, measured on the input).
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
  job_name:
    label: Job name
    doc: Name of this job's log files (scattered jobs need their own).
    type: string
    default: peel
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
      Disk reserved at least, in MiB, for the staged input and for the output; more when the runner
      reports the input sizes.
    type: int
    default: 2048

stdout: $(inputs.job_name).log
stderr: $(inputs.job_name).stderr.log

outputs:
  peeled_ms:
    label: Peeled measurement set
    doc: The data with every peeled source subtracted, <ms>.peeled.ms.
    type: Directory
    outputBinding:
      glob: "*.peeled.ms"
  provenance:
    label: Provenance
    doc: How the peeled measurement set was made.
    type: File
    outputBinding:
      glob: "*.peeled.ms.provenance.json"
  solutions:
    label: Solutions
    doc: Each peeled source's solutions, <ms>.peel.<source>.h5 (direction [<source>]).
    type: File[]
    outputBinding:
      glob: "*.peel.*.h5"
  summary:
    label: Summary
    doc: What was peeled, how (contaminators, averaging, solution cells) and the flux left at each source's position.
    type: File
    outputBinding:
      glob: "*.peel.json"
  dp3_logs:
    label: DP3 parsets and logs
    doc: The parset and the complete output of every DP3 run.
    type: File[]
    outputBinding:
      glob: logs/*
  log:
    label: Standard output
    doc: The path of the peeled measurement set.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (each source's solve and subtraction, the DP3 commands, the residuals).
    type: stderr
