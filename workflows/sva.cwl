#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: sva
label: Sidereal visibility averaging of the facet datasets of many observations
doc: |
  Sidereal visibility averaging (de Jong et al. 2025, section 6.4.5; docs/sva.md): the
  calibrated facet datasets of N observations of one field are combined per facet into one
  dataset of about the volume of one observation, on the template grid of sidereal time,
  before the final imaging. Per facet (scattered), one job averages that facet's
  measurement sets of every observation (steps/sva.cwl) into <facet>.ms, with its
  provenance and <facet>.sva.json (template, measured offsets between the observations'
  baseline coordinates, the time resolution chosen from the smearing budget at the facet's
  radius, rows and weights). The input measurement sets are read only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  facet_ms:
    label: Facet measurement sets
    doc: Per facet, its measurement sets of every observation (the same field, phase centre and channels).
    type:
      type: array
      items:
        type: array
        items: Directory
  facet_names:
    label: Facet names
    doc: Per facet (in the order of facet_ms), the output name <name>.ms.
    type: string[]
  image_radius_deg:
    label: Facet radius (deg)
    doc: Radius of the facet images at which the smearing budget holds (tool default the station beam's half-power radius).
    type: float?
  max_smearing_loss:
    label: Largest smearing loss
    doc: Largest peak loss of a source at the facet radius from the averaging (tool default 0.05).
    type: float?
  time_res_s:
    label: Time resolution (s)
    doc: Output time resolution instead of the one the smearing budget gives.
    type: float?
  data_column:
    label: Data column
    doc: Column of the input measurement sets to average.
    type: string
    default: DATA
  cores:
    label: Cores per job
    doc: Cores of each job.
    type: int
    default: 1
  ram_mb:
    label: Memory per job (MiB)
    doc: Memory to reserve for each job, in MiB.
    type: int
    default: 2000

outputs:
  averaged_ms:
    label: Averaged measurement sets
    doc: One averaged measurement set per facet, <facet>.ms, in the order of facet_names.
    type: Directory[]
    outputSource: average/averaged_ms
  summaries:
    label: Summaries
    doc: Per facet, the template, offsets, time resolution, rows and weights.
    type: File[]
    outputSource: average/summary
  provenance:
    label: Provenance
    doc: Per facet, how the averaged measurement set was made.
    type: File[]
    outputSource: average/provenance
  logs:
    label: Logs
    doc: The standard output and the log of every job.
    type: File[]
    outputSource: [average/log, average/stderr_log]
    linkMerge: merge_flattened

steps:
  average:
    label: Average one facet
    doc: Every observation of the facet onto one template grid (steps/sva.cwl).
    run: ../steps/sva.cwl
    scatter: [msin, name, job_name]
    scatterMethod: dotproduct
    in:
      msin: facet_ms
      name: facet_names
      job_name:
        source: facet_names
        valueFrom: $(self + '.sva')
      image_radius_deg: image_radius_deg
      max_smearing_loss: max_smearing_loss
      time_res_s: time_res_s
      data_column: data_column
      cores: cores
      ram_mb: ram_mb
    out: [averaged_ms, provenance, summary, log, stderr_log]
