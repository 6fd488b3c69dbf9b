#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Sky model of the Dutch DD calibrators
doc: |
  Runs `lofar-hires select skymodel`: the calibrators of the Dutch
  direction-dependent solve (de Jong et al. 2025, section 6.4.1) as a starting
  sky model, one point source per calibrator in its own patch (makesourcedb
  text). From a selection table (select classify) its main calibrators; from a
  plain catalogue its sources with a peak brightness at or above
  skymodel.min_peak_flux_jy (85 mJy/beam). The input is not modified.
  Command module: lofar_hires.cli.select.skymodel.

baseCommand: [lofar-hires, select, skymodel]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
  EnvVarRequirement:
    envDef:
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

inputs:
  table:
    label: Calibrator table
    doc: >-
      A selection table (select classify; its main calibrators) or a catalogue CSV
      with name, ra_deg, dec_deg and peak_flux_jy (its sources at or above
      skymodel.min_peak_flux_jy).
    type: File
    inputBinding:
      position: 20
  output_name:
    label: Output sky model name
    doc: Name of the makesourcedb sky model.
    type: string
    default: calibrators.skymodel
  config:
    label: Selection settings file
    doc: YAML overriding configs/select_calibrators.yaml (the skymodel section is used).
    type: File?
    inputBinding:
      prefix: --config
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE, each passed as `--set KEY=VALUE` (e.g. skymodel.min_peak_flux_jy=0.1).
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
    inputBinding:
      position: 1
  cores:
    label: Cores
    doc: Number of cores to reserve (single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 500

stdout: select_skymodel.log
stderr: select_skymodel.stderr.log

outputs:
  skymodel:
    label: Calibrator sky model
    doc: One point source per calibrator, each in its own patch named after it (makesourcedb text).
    type: File
    outputBinding:
      glob: $(inputs.output_name)
  provenance:
    label: Provenance
    doc: How the sky model was made (input table, rule, threshold, reference frequency, spectral index).
    type: File
    outputBinding:
      glob: "$(inputs.output_name.replace(/\\.[^.\\/]*$/, '') + '.provenance.json')"
  log:
    label: Sky model path
    doc: The path of the sky model (stdout of the task).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, one line per calibrator, the faintest).
    type: stderr
