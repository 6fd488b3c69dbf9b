#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Direction-independent calibrator pipeline (one step)
doc: |
  Runs `lofar-hires di-calibrator`: the whole calibrator pipeline in one
  process (flag and average, predict, four DDECal solves with the fits of
  polarisation alignment, Faraday rotation, bandpass and clock/TEC, inspection
  plots). Returns the output directory, cal_solutions.h5, every intermediate
  h5parm, the report and the plots. The inputs are not modified. The same
  pipeline as separate steps is workflows/di_calibrator.cwl.
  Command module: lofar_hires.cli.di_calibrator.

baseCommand: [lofar-hires, di-calibrator]

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
    # Disk from the work: the staged input measurement sets, and two copies of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 2, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # Products go to a fresh directory inside the step's output directory; DP3 threads
  # follow the cores the runner granted.
  - prefix: --outdir
    valueFrom: $(runtime.outdir)/di_calibrator
  - prefix: --set
    valueFrom: threads=$(runtime.cores)

inputs:
  msin:
    label: Calibrator measurement sets
    doc: One MS per subband (same stations and time slots) or one MS; read only.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 10
  skymodel:
    label: Calibrator model
    doc: makesourcedb model of the calibrator (shipped ones are configs/skymodels/3C196.skymodel and 3C295.skymodel).
    type: File
    inputBinding:
      prefix: --skymodel
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml.
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. solve.minuv_lambda=500).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  solset:
    label: Output solset
    doc: Solset of cal_solutions.h5 (CLI default calibrator, LINC's name).
    type: string?
    inputBinding:
      prefix: --solset
  keep_working_ms:
    label: Keep the working MS
    doc: Keep the averaged working measurement set (calibrator_avg.MS) in the output directory.
    type: boolean
    default: false
    inputBinding:
      prefix: --keep-working-ms
  no_plots:
    label: No plots
    doc: Skip the inspection plots.
    type: boolean
    default: false
    inputBinding:
      prefix: --no-plots
  allow_failed_stations:
    label: Allow failed stations
    doc: >-
      Succeed even when stations failed their fits (they are flagged in cal_solutions.h5 and
      listed in the report); by default such a run ends with exit status 4.
    type: boolean
    default: false
    inputBinding:
      prefix: --allow-failed-stations
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
      Disk reserved at least, in MiB, for the staged inputs and for the outputs each; more when
      the runner reports the input sizes (the outputs need two copies of the input measurement sets).
    type: int
    default: 2048

stdout: di_calibrator.log
stderr: di_calibrator.stderr.log

outputs:
  outdir:
    label: Output directory
    doc: Everything the pipeline wrote (h5parms, report, provenance, plots, DP3 logs).
    type: Directory
    outputBinding:
      glob: di_calibrator
  cal_solutions:
    label: Calibrator solutions
    doc: cal_solutions.h5 with the soltabs polalign, bandpass, faraday, clock and tec.
    type: File
    outputBinding:
      glob: di_calibrator/cal_solutions.h5
  h5parms:
    label: Intermediate h5parms
    doc: The DDECal solves and the fitted parts (solve*.h5, polalign*.h5, faraday.h5, bandpass.h5, clocktec.h5).
    type: File[]
    outputBinding:
      glob: [di_calibrator/solve*.h5, di_calibrator/polalign*.h5, di_calibrator/faraday.h5,
             di_calibrator/bandpass.h5, di_calibrator/clocktec.h5]
  report:
    label: Report
    doc: calibrator_report.json (fit summaries, model coherence, stations without solutions).
    type: File
    outputBinding:
      glob: di_calibrator/calibrator_report.json
  plots:
    label: Inspection plots
    doc: PNG plots of the solutions; empty with no_plots.
    type: File[]
    outputBinding:
      glob: di_calibrator/plots/*.png
  log:
    label: Standard output
    doc: The products written.
    type: stdout
  stderr_log:
    label: Log
    doc: The pipeline's log messages.
    type: stderr
