cwlVersion: v1.2
class: Workflow
id: apply_facet_solutions
label: The refined solutions applied to every facet dataset
doc: |
  Before sidereal visibility averaging (de Jong et al. 2025, sections 6.4.4 and 6.4.5) every facet dataset of
  every observation is corrected by its own refined solutions (the refinement solves per observation, and the
  averaged dataset mixes the observations): one job per dataset (steps/apply_solutions.cwl, DP3 applycal), each
  writing a corrected copy under the dataset's own name. The input measurement sets are read only.

requirements:
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  InlineJavascriptRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  facet_ms:
    label: Facet measurement sets
    doc: The facet datasets (<obs>.<facet>.ms of workflows/facet_subtract.cwl), read only.
    type: Directory[]
  solutions:
    label: Refined solutions
    doc: One h5parm per dataset, in the same order (<facet>.<obs>.refined.h5 of workflows/dd_refine.cwl).
    type: File[]
  data_column:
    label: Data column
    doc: Column of the facet datasets to correct.
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
  corrected_ms:
    label: Corrected facet datasets
    doc: One corrected copy per dataset, with the dataset's name, in the input order.
    type: Directory[]
    outputSource: apply/ms_out
  provenance:
    label: Provenance
    doc: How each corrected dataset was made.
    type: File[]
    outputSource: apply/provenance
  logs:
    label: Logs
    doc: The standard output and the log of every job.
    type: File[]
    outputSource: [apply/log, apply/stderr_log]
    linkMerge: merge_flattened

steps:
  apply:
    label: Correct one dataset
    doc: DP3 applycal of the dataset's refined solutions (steps/apply_solutions.cwl).
    run: ../steps/apply_solutions.cwl
    scatter: [msin, solutions]
    scatterMethod: dotproduct
    in:
      msin: facet_ms
      solutions: solutions
      data_column: data_column
      cores: cores
      ram_mb: ram_mb
    out: [ms_out, provenance, log, stderr_log]
