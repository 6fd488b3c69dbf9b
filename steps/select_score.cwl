#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Phasediff score of candidate calibrators
doc: |
  Runs `lofar-hires select score`: for every candidate of the table, DP3
  phase-shifts the DI-calibrated data to it, averages (about 60 s, 390 kHz),
  phases up the core into one superstation, the visibilities are converted to
  the circular basis, and DP3 DDECal solves RR and LL phases with a 10 min
  solution interval against a point source on baselines longer than 20,000
  lambda. The score sigma_c is the circular standard deviation of the
  frequency-differenced RR-LL phases over the most distant international
  stations (de Jong et al. 2025, section 6.3.1). With each score come its
  noise level for the same samples (n_values, the median noise score and the
  noise score at score.false_alarm); data that give too few values for a main
  calibrator to be told from noise are refused before any DP3 run. Candidate
  names become file names only in a safe form. Writes the scored table, its
  details (settings, per-station scores, noise simulation) and provenance. The
  input measurement sets are read only.
  Command module: lofar_hires.cli.select.score.

baseCommand: [lofar-hires, select, score]

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
    # Disk from the work: the staged input measurement sets, and one copy of them written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.candidates.nameroot + '.scored.csv')"
  # DP3 threads follow the cores reserved for the step.
  - prefix: --set
    valueFrom: score.threads=$(runtime.cores)
    position: 2

inputs:
  msin:
    label: DI-calibrated measurement sets
    doc: Measurement set(s) of one observation (subbands are concatenated in frequency); read only.
    type: Directory[]
    loadListing: deep_listing
    inputBinding:
      position: 20
  candidates:
    label: Candidate table
    doc: Calibrator table (from select candidates); every row is scored unless names are given.
    type: File
    inputBinding:
      prefix: --candidates
  names:
    label: Candidate names
    doc: Score only these candidates.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --name
  output_name:
    label: Output table name
    doc: Name of the scored table (default <candidates stem>.scored.csv).
    type: string?
  config:
    label: Selection settings file
    doc: YAML overriding configs/select_calibrators.yaml (the score section is used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. score.solint_s=300).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  solutions_dir:
    label: Solutions directory
    doc: Keep the RR/LL phase solutions (<name>.phasediff.h5), parsets and DP3 logs in this directory.
    type: string?
    inputBinding:
      prefix: --solutions-dir
  cores:
    label: Cores
    doc: Number of cores to reserve (DP3 threads).
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
      the runner reports the input sizes (the outputs need one copy of the input measurement sets).
    type: int
    default: 2048

stdout: select_score.log
stderr: select_score.stderr.log

outputs:
  scores:
    label: Scored table
    doc: The candidate table with score_rad, score_stations and the noise level (n_values, noise_median_rad, noise_threshold_rad, false_alarm) filled in.
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.candidates.nameroot + '.scored.csv')"
    secondaryFiles:
      - pattern: "^.json"
        required: true
  provenance:
    label: Provenance
    doc: How the scores were made (inputs, settings, every DP3 command line, version and duration).
    type: File
    outputBinding:
      glob: "*.provenance.json"
  solutions:
    label: Phase solutions
    doc: The kept solutions directory, when solutions_dir is given.
    type: Directory?
    outputBinding:
      glob: $(inputs.solutions_dir)
  log:
    label: Table path
    doc: The path of the scored table (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, progress per candidate, scores).
    type: stderr
