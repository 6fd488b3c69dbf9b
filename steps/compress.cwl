#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Dysco-compressed copy of a measurement set
doc: |
  Runs `lofar-hires compress`: measures on a sample of the data (a block of time
  slots of every baseline) what each Dysco bit rate adds to the image noise, chooses
  the fewest data bits that keep the increase below max_rms_increase (or takes the
  bit rate given), and writes the copy with one DP3 run (the data column becomes
  DATA). When no bit rate meets the bound the copy is written uncompressed. Writes
  <name>.compress.json (choice, every candidate's predicted increase, bytes before
  and after) and <name>.provenance.json. The input is not modified.
  Command module: lofar_hires.cli.compress.

baseCommand: [lofar-hires, compress]

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
    # Disk from the work: the staged input measurement set, and at most one uncompressed copy written.
    tmpdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
    outdirMin: $(diskMiB(inputs.msin, 1, inputs.disk_mb))
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

arguments:
  # The compressed MS keeps the input's name unless output_name is given.
  - prefix: --output
    valueFrom: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"
  # DP3 threads follow the cores the runner granted.
  - prefix: --threads
    valueFrom: $(runtime.cores)

inputs:
  msin:
    label: Measurement set
    doc: The measurement set to compress (read only).
    type: Directory
    loadListing: deep_listing
    inputBinding:
      position: 10
  output_name:
    label: Output MS name
    doc: Name of the compressed measurement set (default the input's name).
    type: string?
  data_bits:
    label: Data bits
    doc: >-
      Bits per visibility (4 to 16), or auto (default) for the fewest that keep the predicted
      image-rms increase below max_rms_increase.
    type:
      - "null"
      - type: enum
        symbols: ["16", "12", "10", "8", "6", "4", auto]
    inputBinding:
      prefix: --data-bits
  weight_bits:
    label: Weight bits
    doc: Bits per weight (default 12).
    type: int?
    inputBinding:
      prefix: --weight-bits
  max_rms_increase:
    label: Largest image-rms increase
    doc: Largest fractional image-rms increase the compression may cause (default 0.01).
    type: float?
    inputBinding:
      prefix: --max-rms-increase
  data_column:
    label: Data column
    doc: Column of the input to compress; written as DATA (default DATA).
    type: string?
    inputBinding:
      prefix: --data-column
  sample_times:
    label: Sample time slots
    doc: Time slots (all baselines) of the sample the bit rates are measured on (default 30).
    type: int?
    inputBinding:
      prefix: --sample-times
  cores:
    label: Cores
    doc: Number of cores to reserve; DP3 runs with as many threads as granted.
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 2000
  disk_mb:
    label: Least disk (MiB)
    doc: >-
      Disk reserved at least, in MiB, for the staged input and for the output each; more when
      the runner reports the input size (the output needs at most one copy of the input).
    type: int
    default: 2048

stdout: compress.log
stderr: compress.stderr.log

outputs:
  ms_out:
    label: Compressed measurement set
    doc: The data (DATA), Dysco-compressed at the chosen bit rate, with a HISTORY row of this step.
    type: Directory
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename)"
  report:
    label: Compression report
    doc: The bit rate used, every candidate's predicted image-rms increase, bytes before and after.
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename).compress.json"
  provenance:
    label: Provenance
    doc: How the measurement set was made (inputs, settings, the DP3 commands, versions and durations).
    type: File
    outputBinding:
      glob: "$(inputs.output_name ? inputs.output_name : inputs.msin.basename).provenance.json"
  dp3_logs:
    label: DP3 parsets and logs
    doc: The parsets and the complete output of the DP3 runs.
    type: File[]
    outputBinding:
      glob: logs/*
  log:
    label: Standard output
    doc: The path of the measurement set written.
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (settings, measured bit rates, the DP3 commands, timing).
    type: stderr
