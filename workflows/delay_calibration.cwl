#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: delay_calibration
label: In-field (delay) calibration of all stations on one compact calibrator
doc: |
  Module 3 of the 0.3-arcsecond strategy (de Jong et al. 2024, section 3.2;
  docs/workflows/delay_calibration.md). The DI-corrected target observations
  are self-calibrated jointly on a compact in-field calibrator with the `delay`
  strategy (configs/selfcal/delay.yaml): the data are phase-shifted to the
  calibrator, averaged and the core is phased up; each cycle images the
  calibrator and solves fast phases for the international stations, phases for
  the remote stations, slow phases for all and, later, slow complex gains, until
  the stopping rule ends the run. The best solutions of each observation
  (expanded back to the core stations) are then applied to that observation's
  full-resolution data (one step per MS, scattered), giving new measurement
  sets; the inputs are never modified.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
  StepInputExpressionRequirement: {}

inputs:
  msin:
    label: DI-corrected target measurement sets
    doc: One MS per observation of the field (read only), on the same frequency grid; calibrated jointly.
    type: Directory[]
  calibrator_ra_deg:
    label: Calibrator RA (deg)
    doc: Right ascension (J2000) of the in-field calibrator; the data are phase-shifted to it.
    type: float
  calibrator_dec_deg:
    label: Calibrator Dec (deg)
    doc: Declination (J2000) of the in-field calibrator.
    type: float
  calibrator_flux_jy:
    label: Calibrator flux (Jy)
    doc: >-
      Starting model of the first cycle: a point source of this flux at the
      calibrator (e.g. from a catalogue). Without it (and without skymodel) the
      first cycle images the uncalibrated data and starts from that clean model.
    type: float?
  skymodel:
    label: Starting sky model
    doc: Starting model of the first cycle (makesourcedb format) instead of the point model.
    type: File?
  strategy:
    label: Strategy name
    doc: Shipped self-calibration strategy (configs/selfcal/<name>.yaml).
    type: string
    default: delay
  strategy_file:
    label: Strategy file
    doc: A strategy YAML file; replaces the strategy name.
    type: File?
  strategy_overrides:
    label: Strategy overrides
    doc: Single strategy values as KEY=VALUE (e.g. stopping.max_cycles=6, imaging.size_pix=2048).
    type: string[]
    default: []
  data_column:
    label: Data column
    doc: Column of the input measurement sets that is calibrated and corrected.
    type: string
    default: DATA
  require_improvement:
    label: Require an improvement on the uncalibrated image
    doc: >-
      Stop (exit 4, the step's message naming the report) when no cycle improves on the uncalibrated image, for
      data known to need the delay calibration (uncalibrated international stations). False (the default) keeps
      the identity as the best solutions, with a warning: data whose international stations the DI target
      calibration already corrected may not improve.
    type: boolean
    default: false
  station_groups:
    label: Station groups
    doc: YAML file with the station groups (default the shipped configs/station_groups.yaml).
    type: File?
  selfcal_cores:
    label: Self-calibration cores
    doc: Cores for the self-calibration step (DP3 and WSClean threads).
    type: int
    default: 4
  selfcal_ram_mb:
    label: Self-calibration memory (MiB)
    doc: Memory to reserve for the self-calibration step, in MiB.
    type: int
    default: 8000
  apply_cores:
    label: Cores per apply step
    doc: DP3 threads of each step that applies the solutions to one MS.
    type: int
    default: 2
  apply_ram_mb:
    label: Memory per apply step (MiB)
    doc: Memory to reserve for each apply step, in MiB.
    type: int
    default: 2000

steps:
  selfcal:
    label: Self-calibrate on the calibrator (all observations jointly)
    run: ../steps/selfcal.cwl
    in:
      msin: msin
      strategy: strategy
      strategy_file: strategy_file
      overrides: strategy_overrides
      phase_centre_deg:
        source: [calibrator_ra_deg, calibrator_dec_deg]
        linkMerge: merge_flattened
      point_model_jy: calibrator_flux_jy
      skymodel: skymodel
      data_column: data_column
      require_improvement: require_improvement
      station_groups: station_groups
      cores: selfcal_cores
      ram_mb: selfcal_ram_mb
    out: [selfcal, best_solutions, best_image, report, metrics, montage, log, stderr_log]

  apply:
    label: Apply the best solutions (one step per MS)
    run: ../steps/apply_solutions.cwl
    scatter: [msin, solutions]
    scatterMethod: dotproduct
    in:
      msin: msin
      solutions: selfcal/best_solutions
      data_column: data_column
      cores: apply_cores
      ram_mb: apply_ram_mb
    out: [ms_out, provenance, dp3_logs, log, stderr_log]

  gather_logs:
    label: Gather the logs
    in:
      msin: msin
      selfcal:
        source: [selfcal/log, selfcal/stderr_log]
        linkMerge: merge_flattened
      apply_log: apply/log
      apply_stderr: apply/stderr_log
      apply_dp3: apply/dp3_logs
    out: [logs]
    run:
      class: ExpressionTool
      label: One list of logs
      doc: The self-calibration logs and the apply logs, named <MS name without .ms/.MS>.<file>.
      inputs:
        msin:
          type: Directory[]
          label: Measurement sets
          doc: The input MSs, whose names prefix the apply logs.
        selfcal:
          type: File[]
          label: Self-calibration logs
          doc: Standard output and log of the selfcal step.
        apply_log:
          type: File[]
          label: Apply standard output
          doc: Standard output of each apply step.
        apply_stderr:
          type: File[]
          label: Apply logs
          doc: Log messages of each apply step.
        apply_dp3:
          type:
            type: array
            items:
              type: array
              items: File
          label: Apply DP3 logs
          doc: DP3 parset and log of each apply step.
      outputs:
        logs: File[]
      expression: |
        ${
          var out = inputs.selfcal.slice();
          inputs.msin.forEach(function (ms, i) {
            var stem = ms.basename.replace(/\.ms$/i, "");
            var files = [inputs.apply_log[i], inputs.apply_stderr[i]].concat(inputs.apply_dp3[i]);
            files.forEach(function (f) {
              out.push({"class": "File", "location": f.location, "basename": stem + "." + f.basename});
            });
          });
          return {"logs": out};
        }

outputs:
  calibrated_ms:
    label: Calibrated measurement sets
    doc: One new MS per input MS, in the input order, whose DATA is the input corrected by its best solutions.
    type: Directory[]
    outputSource: apply/ms_out
  solutions:
    label: Best solutions
    doc: best_<obs>.h5 per input MS (in the input order), for all stations of the MS.
    type: File[]
    outputSource: selfcal/best_solutions
  selfcal_dir:
    label: Self-calibration directory
    doc: Cycles, metrics, montage, final solutions, report and provenance of the self-calibration.
    type: Directory
    outputSource: selfcal/selfcal
  best_image:
    label: Best image
    doc: The calibrator image of the best cycle (FITS).
    type: File?
    outputSource: selfcal/best_image
  report:
    label: Report
    doc: selfcal_report.json, the stopping decision and the best cycle.
    type: File
    outputSource: selfcal/report
  provenance:
    label: Apply provenance
    doc: <MS name>.provenance.json of each calibrated MS.
    type: File[]
    outputSource: apply/provenance
  logs:
    label: Step logs
    doc: The self-calibration step's output and log, and every apply step's logs named after its MS.
    type: File[]
    outputSource: gather_logs/logs
