#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: di_target
label: Direction-independent target pipeline, step by step
doc: |
  The target pipeline of `lofar-hires di-target` as separate `lofar-hires
  dical` steps (docs/workflows/di_target.md):

   1. transfer: the transferable soltabs of the calibrator's cal_solutions.h5
      (polarisation alignment, bandpass, clock) without their time axis, the
      clock as its median over the calibrator observation;
   2. for every target MS (scattered): correct (flag, remove the transferred
      solutions and the station beam at the phase centre, average into a new
      MS), then, when a sky model is given, phasecal (solve phases against the
      sky model and apply them to the corrected data).

  The inputs are never modified. Unlike the whole-pipeline CLI, where the
  self-calibration also needs the setting phase_calibration=true, here giving
  a sky model is what turns it on.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  SubworkflowFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  msin:
    label: Target measurement sets
    doc: The target observations (read only).
    type: Directory[]
  cal_solutions:
    label: Calibrator solutions
    doc: cal_solutions.h5 of workflows/di_calibrator.cwl or `lofar-hires di-calibrator`.
    type: File
  skymodel:
    label: Sky model
    doc: makesourcedb model of the target field; when given, every corrected MS is self-calibrated against it.
    type: File?
  soltabs:
    label: Soltabs to transfer
    doc: >-
      Comma-separated soltabs of cal_solutions.h5 to transfer (default
      polalign,bandpass,clock,faraday); they must include the setting corrections.
    type: string?
  cal_solset:
    label: Calibrator solset
    doc: >-
      Solset of cal_solutions.h5 to read (default calibrator, as LINC writes it, then
      sol000, then the file's only solset).
    type: string?
  config:
    label: Target settings file
    doc: YAML file overriding configs/di_target.yaml, handed to the correct and phasecal steps.
    type: File?
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE (e.g. phase_mode=diagonalphase), handed to the correct and phasecal steps.
    type: string[]?
  cores:
    label: Cores
    doc: Cores to reserve for each DP3 step (DP3 runs with as many threads).
    type: int
    default: 2
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve for each DP3 step, in MiB.
    type: int
    default: 2000

steps:
  transfer_solutions:
    label: Make the calibrator solutions time-independent
    run: ../steps/dical_transfer.cwl
    in:
      cal_h5: cal_solutions
      soltabs: soltabs
      solset: cal_solset
    out: [transfer, log, stderr_log]

  target:
    label: Correct (and self-calibrate) one target observation
    scatter: msin
    run:
      class: Workflow
      label: One target observation
      doc: correct, then phasecal when a sky model is given; the logs are named after the MS and the step.
      requirements:
        InlineJavascriptRequirement: {}
        StepInputExpressionRequirement: {}
        MultipleInputFeatureRequirement: {}
      inputs:
        msin:
          type: Directory
          label: Target measurement set
          doc: One target observation (read only).
        transfer:
          type: File
          label: Transferable solutions
          doc: transfer.h5 of the transfer step.
        skymodel:
          type: File?
          label: Sky model
          doc: Sky model for the self-calibration; none skips it.
        config:
          type: File?
          label: Target settings file
          doc: YAML file overriding configs/di_target.yaml.
        overrides:
          type: string[]?
          label: Setting overrides
          doc: Single settings as KEY=VALUE.
        cores:
          type: int
          label: Cores
          doc: Cores to reserve for each DP3 step.
        ram_mb:
          type: int
          label: Memory (MiB)
          doc: Memory to reserve for each DP3 step, in MiB.
      steps:
        correct:
          run: ../steps/dical_correct.cwl
          in:
            msin: msin
            transfer: transfer
            config: config
            overrides: overrides
            cores: cores
            ram_mb: ram_mb
          out: [ms_out, dp3_logs, log, stderr_log]
        phasecal:
          run: ../steps/dical_phasecal.cwl
          when: $(inputs.skymodel !== null)
          in:
            msin: correct/ms_out
            skymodel:
              # Optional for the workflow, required by the tool: the step only runs with one.
              source: skymodel
              valueFrom: $(self)
            config: config
            overrides: overrides
            cores: cores
            ram_mb: ram_mb
          out: [solutions, ms_out, dp3_logs, log, stderr_log]
        name_logs:
          in:
            msin: msin
            correct:
              source: [correct/log, correct/stderr_log, correct/dp3_logs]
              linkMerge: merge_flattened
            phasecal:
              source: [phasecal/log, phasecal/stderr_log, phasecal/dp3_logs]
              linkMerge: merge_flattened
              pickValue: all_non_null
          out: [logs]
          run:
            class: ExpressionTool
            label: Prefix file names with the MS and the step name
            doc: Returns the step logs named <MS name without .MS>.<step>.<file>.
            inputs:
              msin:
                type: Directory
                label: Target measurement set
                doc: The MS whose name prefixes the logs.
              correct:
                type: File[]
                label: correct logs
                doc: Logs of the correct step.
              phasecal:
                type: File[]
                label: phasecal logs
                doc: Logs of the phasecal step (empty if skipped).
            outputs:
              logs: File[]
            expression: |
              ${
                var out = [];
                var stem = inputs.msin.basename.replace(/\.ms$/i, "");
                ["correct", "phasecal"].forEach(function (step) {
                  (inputs[step] || []).forEach(function (f) {
                    out.push({"class": "File", "location": f.location,
                              "basename": stem + "." + step + "." + f.basename});
                  });
                });
                return {"logs": out};
              }
      outputs:
        ms_out:
          type: Directory
          outputSource: [phasecal/ms_out, correct/ms_out]
          pickValue: first_non_null
        solutions:
          type: File?
          outputSource: phasecal/solutions
        logs:
          type: File[]
          outputSource: name_logs/logs
    in:
      msin: msin
      transfer: transfer_solutions/transfer
      skymodel: skymodel
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [ms_out, solutions, logs]

  gather_logs:
    label: Gather the logs
    in:
      transfer:
        source: [transfer_solutions/log, transfer_solutions/stderr_log]
        linkMerge: merge_flattened
      target: target/logs
    out: [logs]
    run:
      class: ExpressionTool
      label: One list of logs
      doc: The transfer step's logs (named transfer.<file>) and the per-MS logs, in one list.
      inputs:
        transfer:
          type: File[]
          label: transfer logs
          doc: Logs of the transfer step.
        target:
          type:
            type: array
            items:
              type: array
              items: File
          label: Per-MS logs
          doc: The logs of each target MS, already named after the MS.
      outputs:
        logs: File[]
      expression: |
        ${
          var out = inputs.transfer.map(function (f) {
            return {"class": "File", "location": f.location, "basename": "transfer." + f.basename};
          });
          inputs.target.forEach(function (files) { out = out.concat(files); });
          return {"logs": out};
        }

outputs:
  transfer:
    label: Transferred solutions
    doc: transfer.h5, the time-independent solutions applied to every target MS.
    type: File
    outputSource: transfer_solutions/transfer
  corrected_ms:
    label: Corrected measurement sets
    doc: One DI-corrected MS per input MS, in the input order (self-calibrated when a sky model is given).
    type: Directory[]
    outputSource: target/ms_out
  phase_solutions:
    label: Phase solutions
    doc: The self-calibration solutions (<name>.phase.h5), one per MS; empty without a sky model.
    type: File[]
    outputSource: [target/solutions]
    linkMerge: merge_flattened
    pickValue: all_non_null
  logs:
    label: Step logs
    doc: >-
      Standard output, log messages and DP3 parsets and logs of every step,
      named transfer.<file> and <MS name without .MS>.<step>.<file>.
    type: File[]
    outputSource: gather_logs/logs
