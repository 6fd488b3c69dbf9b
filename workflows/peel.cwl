#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: peel
label: Peeling of bright sources, per observation and subband
doc: |
  Peeling (de Jong et al. 2025, section 6.7; Noordam 2005; docs/peel.md): sources too
  bright to leave in the data, typically far outside the field of interest, are
  subtracted with their own direction-dependent gains before the direction-dependent
  calibration of the field. Per measurement set (every observation and subband,
  scattered), one job peels every source, brightest first: shift to the source,
  average, solve for its gains with the next-brightest sources that would bias the
  solve in the model, subtract it from the full-resolution data with those gains.
  Outputs per measurement set the peeled data <ms>.peeled.ms, each source's
  solutions <ms>.peel.<source>.h5 and <ms>.peel.json (what was peeled, how, and the
  flux left at each source's position). The input measurement sets are read only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  msin:
    label: Measurement sets
    doc: The measurement sets to peel, one per observation and subband (read only).
    type: Directory[]
  skymodel:
    label: Sky model
    doc: makesourcedb sky model with the sources to peel and the other bright sources of the field.
    type: File
  source:
    label: Sources to peel
    doc: Patches or components of the sky model to peel. Give this or min_flux_jy.
    type: string[]?
  min_flux_jy:
    label: Peeling threshold (Jy)
    doc: Peel every source of the sky model brighter than this at the band centre. Give this or source.
    type: float?
  solve_mode:
    label: Solve mode
    doc: DDECal mode of each source's solve (tool default diagonal).
    type: string?
  solint_s:
    label: Solution interval (s)
    doc: Solution interval of each source's solve (tool default 60).
    type: float?
  max_contaminators:
    label: Most contaminators
    doc: At most this many other sources modelled in each solve (tool default 3).
    type: int?
  no_beam:
    label: No station beam in the data
    doc: The data carry no station beam (simulated without).
    type: boolean
    default: false
  data_column:
    label: Data column
    doc: Column of the input measurement sets to peel.
    type: string
    default: DATA
  cores:
    label: Cores per job
    doc: Cores of each job (DP3 threads).
    type: int
    default: 2
  ram_mb:
    label: Memory per job (MiB)
    doc: Memory to reserve for each job, in MiB.
    type: int
    default: 4000

outputs:
  peeled_ms:
    label: Peeled measurement sets
    doc: Every input measurement set with the sources peeled, <ms>.peeled.ms, in the input order.
    type: Directory[]
    outputSource: peel/peeled_ms
  solutions:
    label: Solutions
    doc: Per input measurement set, each peeled source's solutions.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: peel/solutions
  summaries:
    label: Peeling summaries
    doc: Per input measurement set, what was peeled and the flux left at each source's position.
    type: File[]
    outputSource: peel/summary
  logs:
    label: Logs
    doc: The standard output and the log of every job.
    type: File[]
    outputSource: [peel/log, peel/stderr_log]
    linkMerge: merge_flattened
  dp3_logs:
    label: DP3 parsets and logs
    doc: Per input measurement set, the parset and output of every DP3 run.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: peel/dp3_logs

steps:
  peel:
    label: Peel one measurement set
    doc: Every source, brightest first (steps/peel.cwl).
    run: ../steps/peel.cwl
    scatter: [msin, job_name]
    scatterMethod: dotproduct
    in:
      msin: msin
      skymodel: skymodel
      source: source
      min_flux_jy: min_flux_jy
      solve_mode:
        source: solve_mode
        valueFrom: $(self)
      solint_s: solint_s
      max_contaminators: max_contaminators
      no_beam: no_beam
      data_column: data_column
      job_name:
        source: msin
        valueFrom: $(self.basename.replace(/\.(ms|MS)$/, '') + '.peel')
      cores: cores
      ram_mb: ram_mb
    out: [peeled_ms, solutions, summary, log, stderr_log, dp3_logs]
