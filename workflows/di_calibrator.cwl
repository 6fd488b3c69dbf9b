#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: di_calibrator
label: Direction-independent calibrator pipeline, step by step
doc: |
  The calibrator pipeline of `lofar-hires di-calibrator` as separate
  `lofar-hires dical` steps (docs/workflows/di_calibrator.md). It separates
  LOFAR's systematic effects on a calibrator observation by their physics,
  in the Jones chain J = P.B.C.E.F (polarisation alignment, bandpass, clock,
  beam, Faraday rotation; outermost first):

   1. prepare: flag, average and join the subbands into a working MS;
   2. predict: the calibrator model into MODEL_DATA;
   3. solve1 (rotation+diagonal) -> fit polalign (XX-YY delay);
   4. solve2 (rotation+diagonal, polalign and beam removed) -> fit faraday;
   5. corrupt-model: MODEL_DATA with Faraday rotation and the beam -> MODEL_CORRUPTED;
   6. solve3 (diagonal vs MODEL_CORRUPTED, polalign removed) -> refine
      (refine-polalign) -> solve3b (refined polalign removed) -> fit bandpass;
   7. solve4 (diagonal vs MODEL_CORRUPTED, polalign and bandpass removed) -> fit clocktec;
   8. collect: cal_solutions.h5 (polalign, bandpass, faraday, clock, tec);
   9. make_plots: inspection PNGs of every solve and fitted effect.

  The steps that add columns to the working MS (predict, the solves,
  corrupt-model) each write a new copy of it (no step modifies its inputs),
  and the copy is handed from step to step in the order above, as the
  whole-pipeline CLI updates its one working MS. With the same settings the
  products equal those of `lofar-hires di-calibrator`. Two settings change the
  chain of steps and are inputs here instead of settings: apply_beam (setting
  apply_beam) and refine_polalign (setting fits.polalign_refine); the settings
  file and overrides are handed to every step, where those two keys are not
  read.

requirements:
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  msin:
    label: Calibrator measurement sets
    doc: One MS per subband (same stations and time slots) or one MS; read only.
    type: Directory[]
  skymodel:
    label: Calibrator model
    doc: makesourcedb model of the calibrator (shipped ones are configs/skymodels/3C196.skymodel and 3C295.skymodel).
    type: File
  config:
    label: Calibrator settings file
    doc: YAML file overriding configs/di_calibrator.yaml, handed to every step.
    type: File?
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE (e.g. solve.minuv_lambda=500), handed to every step.
    type: string[]?
  apply_beam:
    label: Take the station beam into account
    doc: >-
      Remove the beam before the Faraday solve and corrupt the model with it
      (the setting apply_beam of the whole-pipeline CLI); default true.
    type: boolean
    default: true
  refine_polalign:
    label: Refine the polarisation alignment
    doc: >-
      Refine the alignment on the solve against the corrupted model and solve
      that again (the setting fits.polalign_refine of the whole-pipeline CLI);
      default true.
    type: boolean
    default: true
  working_ms_name:
    label: Working MS name
    doc: Name of the averaged working measurement set.
    type: string
    default: calibrator_avg.MS
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
  prepare:
    label: Flag, average and join the subbands
    run: ../steps/dical_prepare.cwl
    in:
      msin: msin
      output_name: working_ms_name
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [ms_out, dp3_logs, log, stderr_log]

  predict:
    label: Predict the calibrator model
    run: ../steps/dical_predict.cwl
    in:
      msin: prepare/ms_out
      skymodel: skymodel
      cores: cores
      ram_mb: ram_mb
    out: [ms_out, dp3_logs, log, stderr_log]

  solve1:
    label: Solve rotation + diagonal
    run: ../steps/dical_solve.cwl
    in:
      msin: predict/ms_out
      mode: {default: rotation+diagonal}
      output_name: {default: solve1_rotation_diagonal.h5}
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [solutions, ms_out, dp3_logs, log, stderr_log]

  fit_polalign:
    label: Fit the polarisation delay
    run: ../steps/dical_fit.cwl
    in:
      effect: {default: polalign}
      solve_h5: solve1/solutions
      output_name:
        source: refine_polalign
        valueFrom: "$(self ? 'polalign_initial.h5' : 'polalign.h5')"
      config: config
      overrides: overrides
    out: [solutions, log, stderr_log]

  solve2:
    label: Solve rotation + diagonal without alignment and beam
    run: ../steps/dical_solve.cwl
    in:
      msin: solve1/ms_out
      mode: {default: rotation+diagonal}
      apply:
        source: [fit_polalign/solutions]
        linkMerge: merge_flattened
      apply_soltabs: {default: [polalign]}
      apply_beam: apply_beam
      output_name: {default: solve2_rotation_diagonal.h5}
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [solutions, ms_out, dp3_logs, log, stderr_log]

  fit_faraday:
    label: Fit the rotation measure
    run: ../steps/dical_fit.cwl
    in:
      effect: {default: faraday}
      solve_h5: solve2/solutions
      output_name: {default: faraday.h5}
      config: config
      overrides: overrides
    out: [solutions, log, stderr_log]

  corrupt_model:
    label: Corrupt the model with Faraday rotation and the beam
    run: ../steps/dical_corrupt_model.cwl
    in:
      msin: solve2/ms_out
      faraday: fit_faraday/solutions
      no_beam:
        source: apply_beam
        valueFrom: $(!self)
      cores: cores
      ram_mb: ram_mb
    out: [ms_out, dp3_logs, log, stderr_log]

  solve3:
    label: Solve diagonal against the corrupted model
    run: ../steps/dical_solve.cwl
    in:
      msin: corrupt_model/ms_out
      mode: {default: diagonal}
      apply:
        source: [fit_polalign/solutions]
        linkMerge: merge_flattened
      apply_soltabs: {default: [polalign]}
      model_column: {default: MODEL_CORRUPTED}
      output_name: {default: solve3_diagonal.h5}
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [solutions, ms_out, dp3_logs, log, stderr_log]

  refine:
    label: Refine the polarisation alignment
    run: ../steps/dical_refine_polalign.cwl
    when: $(inputs.refine)
    in:
      refine: refine_polalign
      initial_h5: fit_polalign/solutions
      solve_h5: solve3/solutions
      output_name: {default: polalign.h5}
      config: config
      overrides: overrides
    out: [solutions, log, stderr_log]

  solve3b:
    label: Solve diagonal again with the refined alignment
    run: ../steps/dical_solve.cwl
    when: $(inputs.refine)
    in:
      refine: refine_polalign
      msin: solve3/ms_out
      mode: {default: diagonal}
      apply:
        source: [refine/solutions]
        linkMerge: merge_flattened
      apply_soltabs: {default: [polalign]}
      model_column: {default: MODEL_CORRUPTED}
      output_name: {default: solve3b_diagonal.h5}
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [solutions, ms_out, dp3_logs, log, stderr_log]

  fit_bandpass:
    label: Fit the bandpass
    run: ../steps/dical_fit.cwl
    in:
      effect: {default: bandpass}
      solve_h5:
        source: [solve3b/solutions, solve3/solutions]
        pickValue: first_non_null
      output_name: {default: bandpass.h5}
      config: config
      overrides: overrides
    out: [solutions, log, stderr_log]

  solve4:
    label: Solve diagonal without alignment and bandpass
    run: ../steps/dical_solve.cwl
    in:
      msin:
        source: [solve3b/ms_out, solve3/ms_out]
        pickValue: first_non_null
      mode: {default: diagonal}
      apply:
        # [refined alignment (or null), initial alignment, bandpass] -> [alignment, bandpass]
        source: [refine/solutions, fit_polalign/solutions, fit_bandpass/solutions]
        linkMerge: merge_nested
        valueFrom: "$([self[0] ? self[0] : self[1], self[2]])"
      apply_soltabs: {default: [polalign, bandpass]}
      model_column: {default: MODEL_CORRUPTED}
      output_name: {default: solve4_diagonal.h5}
      config: config
      overrides: overrides
      cores: cores
      ram_mb: ram_mb
    out: [solutions, ms_out, dp3_logs, log, stderr_log]

  fit_clocktec:
    label: Separate clock and TEC
    run: ../steps/dical_fit.cwl
    in:
      effect: {default: clocktec}
      solve_h5: solve4/solutions
      output_name: {default: clocktec.h5}
      config: config
      overrides: overrides
    out: [solutions, log, stderr_log]

  collect:
    label: Collect cal_solutions.h5
    run: ../steps/dical_collect.cwl
    in:
      polalign:
        source: [refine/solutions, fit_polalign/solutions]
        pickValue: first_non_null
      bandpass: fit_bandpass/solutions
      faraday: fit_faraday/solutions
      clocktec: fit_clocktec/solutions
    out: [cal_solutions, log, stderr_log]

  make_plots:
    run: ../steps/dical_plots.cwl
    in:
      solves:
        source: [solve1/solutions, solve2/solutions, solve3/solutions, solve3b/solutions, solve4/solutions]
        linkMerge: merge_flattened
        pickValue: all_non_null
      polalign_solve: solve1/solutions
      polalign:
        source: [refine/solutions, fit_polalign/solutions]
        pickValue: first_non_null
      faraday: fit_faraday/solutions
      bandpass: fit_bandpass/solutions
      clocktec: fit_clocktec/solutions
      config: config
      overrides: overrides
    out: [plots, log, stderr_log]

  name_logs:
    label: Name the logs after their steps
    doc: Every step's stdout, log and DP3 files, renamed <step>.<file> so that they do not collide.
    in:
      prepare:
        source: [prepare/log, prepare/stderr_log, prepare/dp3_logs]
        linkMerge: merge_flattened
      predict:
        source: [predict/log, predict/stderr_log, predict/dp3_logs]
        linkMerge: merge_flattened
      solve1:
        source: [solve1/log, solve1/stderr_log, solve1/dp3_logs]
        linkMerge: merge_flattened
      fit_polalign:
        source: [fit_polalign/log, fit_polalign/stderr_log]
        linkMerge: merge_flattened
      solve2:
        source: [solve2/log, solve2/stderr_log, solve2/dp3_logs]
        linkMerge: merge_flattened
      fit_faraday:
        source: [fit_faraday/log, fit_faraday/stderr_log]
        linkMerge: merge_flattened
      corrupt_model:
        source: [corrupt_model/log, corrupt_model/stderr_log, corrupt_model/dp3_logs]
        linkMerge: merge_flattened
      solve3:
        source: [solve3/log, solve3/stderr_log, solve3/dp3_logs]
        linkMerge: merge_flattened
      refine:
        source: [refine/log, refine/stderr_log]
        linkMerge: merge_flattened
        pickValue: all_non_null
      solve3b:
        source: [solve3b/log, solve3b/stderr_log, solve3b/dp3_logs]
        linkMerge: merge_flattened
        pickValue: all_non_null
      fit_bandpass:
        source: [fit_bandpass/log, fit_bandpass/stderr_log]
        linkMerge: merge_flattened
      solve4:
        source: [solve4/log, solve4/stderr_log, solve4/dp3_logs]
        linkMerge: merge_flattened
      fit_clocktec:
        source: [fit_clocktec/log, fit_clocktec/stderr_log]
        linkMerge: merge_flattened
      collect:
        source: [collect/log, collect/stderr_log]
        linkMerge: merge_flattened
      make_plots:
        source: [make_plots/log, make_plots/stderr_log]
        linkMerge: merge_flattened
    out: [logs]
    run:
      class: ExpressionTool
      label: Prefix file names with the step name
      doc: Returns the files of every input with the input's name (the step) prefixed to their names.
      inputs:
        prepare:
          type: File[]
          label: prepare logs
          doc: Logs of the prepare step.
        predict:
          type: File[]
          label: predict logs
          doc: Logs of the predict step.
        solve1:
          type: File[]
          label: solve1 logs
          doc: Logs of the first solve.
        fit_polalign:
          type: File[]
          label: fit_polalign logs
          doc: Logs of the alignment fit.
        solve2:
          type: File[]
          label: solve2 logs
          doc: Logs of the second solve.
        fit_faraday:
          type: File[]
          label: fit_faraday logs
          doc: Logs of the Faraday fit.
        corrupt_model:
          type: File[]
          label: corrupt_model logs
          doc: Logs of the model corruption.
        solve3:
          type: File[]
          label: solve3 logs
          doc: Logs of the third solve.
        refine:
          type: File[]
          label: refine logs
          doc: Logs of the refinement (empty if skipped).
        solve3b:
          type: File[]
          label: solve3b logs
          doc: Logs of the repeated third solve (empty if skipped).
        fit_bandpass:
          type: File[]
          label: fit_bandpass logs
          doc: Logs of the bandpass fit.
        solve4:
          type: File[]
          label: solve4 logs
          doc: Logs of the fourth solve.
        fit_clocktec:
          type: File[]
          label: fit_clocktec logs
          doc: Logs of the clock/TEC fit.
        collect:
          type: File[]
          label: collect logs
          doc: Logs of the collection.
        make_plots:
          type: File[]
          label: make_plots logs
          doc: Logs of the inspection plots.
      outputs:
        logs: File[]
      expression: |
        ${
          var out = [];
          Object.keys(inputs).sort().forEach(function (step) {
            (inputs[step] || []).forEach(function (f) {
              out.push({"class": "File", "location": f.location, "basename": step + "." + f.basename});
            });
          });
          return {"logs": out};
        }

outputs:
  cal_solutions:
    label: Calibrator solutions
    doc: cal_solutions.h5 with the soltabs polalign, bandpass, faraday, clock and tec.
    type: File
    outputSource: collect/cal_solutions
  polalign:
    label: Polarisation alignment
    doc: polalign.h5, the alignment applied in the later solves (refined unless refine_polalign is false).
    type: File
    outputSource: [refine/solutions, fit_polalign/solutions]
    pickValue: first_non_null
  polalign_initial:
    label: Initial polarisation alignment
    doc: >-
      polalign_initial.h5, the alignment fitted on solve1 before the
      refinement (without refinement the same file as polalign, polalign.h5).
    type: File
    outputSource: fit_polalign/solutions
  faraday:
    label: Faraday rotation
    doc: faraday.h5, the differential rotation measure per time and station.
    type: File
    outputSource: fit_faraday/solutions
  bandpass:
    label: Bandpass
    doc: bandpass.h5, the bandpass amplitude per channel, station and polarisation.
    type: File
    outputSource: fit_bandpass/solutions
  clocktec:
    label: Clock and TEC
    doc: clocktec.h5, clock and TEC per time and station.
    type: File
    outputSource: fit_clocktec/solutions
  solves:
    label: DDECal solutions
    doc: >-
      The solves solve1_rotation_diagonal.h5, solve2_rotation_diagonal.h5,
      solve3_diagonal.h5, solve3b_diagonal.h5 (with refinement) and
      solve4_diagonal.h5.
    type: File[]
    outputSource: [solve1/solutions, solve2/solutions, solve3/solutions, solve3b/solutions, solve4/solutions]
    linkMerge: merge_flattened
    pickValue: all_non_null
  plots:
    label: Inspection plots
    doc: >-
      One PNG per solve (<solve>_phase.png) and polalign.png, faraday.png,
      bandpass.png and clocktec.png, with a provenance.json.
    type: Directory
    outputSource: make_plots/plots
  logs:
    label: Step logs
    doc: Standard output, log messages and DP3 parsets and logs of every step, named <step>.<file>.
    type: File[]
    outputSource: name_logs/logs
