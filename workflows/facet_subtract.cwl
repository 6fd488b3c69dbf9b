#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: facet_subtract
label: 1.2 arcsec facet subtraction, one dataset per facet, observation and subband
doc: |
  Module 7 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.4.3;
  docs/workflows/facet_subtract.md), after the international DD calibration
  (workflows/dd_international.cwl), by the paper's fast method:
    1. Per measurement set (every observation and subband, scattered), one job
       predicts every model component with the direction-dependent solutions of
       its facet and subtracts the whole field: the "empty" data set.
    2. Per measurement set and facet (scattered), one job reads the empty data
       set, adds the facet's own components back, shifts the phase centre to the
       facet centre, corrects the station beam towards it and the facet's
       solutions, and averages as far as the facet's size allows at the target
       resolution (smearing budget at the facet's farthest vertex).
  Outputs one measurement set per facet per input measurement set,
  <ms>.<facet>.ms, with its provenance (facet, centre, averaging, DP3 runs).
  A failed facet job is rerun alone by the runner (exit status 3) or by hand
  with steps/subtract.cwl (empty_ms and facet). The empty data sets are the only
  full-size intermediates; the runner removes them with its temporary files.
  Running `lofar-hires subtract` on a measurement set without empty_ms makes all
  its facets in one DP3 pass, writing no intermediate at all.
  The input measurement sets are read only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  SubworkflowFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  msin:
    label: Calibrated measurement sets
    doc: >-
      The direction-independently and delay-calibrated measurement sets, one per observation
      and subband (read only).
    type: Directory[]
  h5parm:
    label: Direction-dependent solutions
    doc: >-
      The merged multi-direction solutions of each measurement set's observation (h5 merge-dd of
      workflows/dd_international.cwl), one per measurement set, in the same order.
    type: File[]
  skymodel:
    label: Sky model
    doc: makesourcedb sky model of the field. Give this or model_images.
    type: File?
  model_images:
    label: Model images
    doc: >-
      WSClean model images of the field, one per channel (the 1.2 arcsec image's
      <name>-<channel>-model.fits). Give this or skymodel.
    type: File[]?
  facet_regions:
    label: Facet regions
    doc: ds9 facet layout (lofar-hires facets) whose facet names are the solutions' directions.
    type: File
  resolution_arcsec:
    label: Target resolution (arcsec)
    doc: Resolution the facet datasets are imaged at; sets their averaging (tool default 0.3).
    type: float?
  max_smearing_loss:
    label: Largest smearing loss
    doc: Largest fractional peak loss by smearing at a facet's farthest vertex (tool default 0.05).
    type: float?
  no_beam:
    label: No station beam in the data
    doc: The data carry no station beam (already corrected, or simulated without).
    type: boolean
    default: false
  dysco:
    label: Dysco compression
    doc: Write the facet datasets with Dysco compression.
    type: boolean
    default: false
  one_pass:
    label: All facets of a measurement set in one job
    doc: >-
      Make every facet of a measurement set in one job and one DP3 pass (each facet's model
      predicted once, no empty data set written): the least computing and disk, on one node per
      measurement set. Default false, one job per facet from the empty data set.
    type: boolean
    default: false
  data_column:
    label: Data column
    doc: Column of the input measurement sets to use.
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
  facet_ms:
    label: Facet datasets
    doc: Every facet's measurement set of every input measurement set, <ms>.<facet>.ms.
    type: Directory[]
    outputSource: flatten/facet_ms
  facet_provenance:
    label: Facet provenance
    doc: How each facet dataset was made.
    type: File[]
    outputSource: flatten/facet_provenance
  summaries:
    label: Subtraction summaries
    doc: Per input measurement set, its facets with their averaging and the cost of the subtraction.
    type: File[]
    outputSource: per_ms/summary
  logs:
    label: Logs
    doc: The log of every job and every DP3 parset and log.
    type: File[]
    outputSource: flatten/logs

steps:
  per_ms:
    label: One measurement set
    doc: The empty data set of one measurement set, then its facets (scattered).
    scatter: [msin, h5parm]
    scatterMethod: dotproduct
    in:
      msin: msin
      h5parm: h5parm
      skymodel: skymodel
      model_images: model_images
      facet_regions: facet_regions
      resolution_arcsec: resolution_arcsec
      max_smearing_loss: max_smearing_loss
      no_beam: no_beam
      dysco: dysco
      one_pass: one_pass
      data_column: data_column
      cores: cores
      ram_mb: ram_mb
    out: [facet_ms, facet_provenance, summary, logs]
    run:
      class: Workflow
      inputs:
        msin: Directory
        h5parm: File
        skymodel: File?
        model_images: File[]?
        facet_regions: File
        resolution_arcsec: float?
        max_smearing_loss: float?
        no_beam: boolean
        dysco: boolean
        one_pass: boolean
        data_column: string
        cores: int
        ram_mb: int
      outputs:
        facet_ms:
          type: {type: array, items: Any}
          outputSource: [all_facets/facet_ms, facet/facet_ms]
          linkMerge: merge_flattened
          pickValue: all_non_null
        facet_provenance:
          type: {type: array, items: Any}
          outputSource: [all_facets/facet_provenance, facet/facet_provenance]
          linkMerge: merge_flattened
          pickValue: all_non_null
        summary:
          type: File
          outputSource: [all_facets/summary, empty/summary]
          pickValue: first_non_null
        logs:
          type: {type: array, items: Any}
          outputSource: [all_facets/log, all_facets/stderr_log, all_facets/dp3_logs, empty/log, empty/stderr_log,
                         empty/dp3_logs, facet/log, facet/stderr_log, facet/dp3_logs]
          linkMerge: merge_flattened
          pickValue: all_non_null
      steps:
        all_facets:
          run: ../steps/subtract.cwl
          when: $(inputs.one_pass)
          in:
            one_pass: one_pass
            msin: msin
            h5parm: h5parm
            skymodel: skymodel
            model_images: model_images
            facet_regions: facet_regions
            resolution_arcsec: resolution_arcsec
            max_smearing_loss: max_smearing_loss
            no_beam: no_beam
            dysco: dysco
            data_column: data_column
            job_name:
              source: msin
              valueFrom: $(self.basename.replace(/\.(ms|MS)$/, ''))
            cores: cores
            ram_mb: ram_mb
          out: [facet_ms, facet_provenance, summary, log, stderr_log, dp3_logs]
        empty:
          run: ../steps/subtract.cwl
          when: $(!inputs.one_pass)
          in:
            one_pass: one_pass
            msin: msin
            h5parm: h5parm
            skymodel: skymodel
            model_images: model_images
            facet_regions: facet_regions
            resolution_arcsec: resolution_arcsec
            max_smearing_loss: max_smearing_loss
            no_beam: no_beam
            data_column: data_column
            empty_only:
              default: true
            keep_empty:
              source: msin
              valueFrom: $(self.basename.replace(/\.(ms|MS)$/, '') + '.empty.MS')
            job_name:
              source: msin
              valueFrom: $(self.basename.replace(/\.(ms|MS)$/, '') + '.empty')
            cores: cores
            ram_mb: ram_mb
          out: [empty_ms_out, facet_names, summary, log, stderr_log, dp3_logs]
        facet:
          run: ../steps/subtract.cwl
          scatter: [facet, job_name]
          scatterMethod: dotproduct
          in:
            # no facet job when the empty data set was not made (one_pass): scattered over no facet
            msin: msin
            h5parm: h5parm
            skymodel: skymodel
            model_images: model_images
            facet_regions: facet_regions
            resolution_arcsec: resolution_arcsec
            max_smearing_loss: max_smearing_loss
            no_beam: no_beam
            dysco: dysco
            empty_ms: empty/empty_ms_out
            facet:
              source: [empty/facet_names]
              linkMerge: merge_flattened
              pickValue: all_non_null
              valueFrom: $([self])
            job_name:
              source: [empty/facet_names]
              linkMerge: merge_flattened
              pickValue: all_non_null
              valueFrom: $(inputs.msin.basename.replace(/\.(ms|MS)$/, '') + '.' + self)
            cores: cores
            ram_mb: ram_mb
          out: [facet_ms, facet_provenance, log, stderr_log, dp3_logs]

  flatten:
    label: Flatten
    doc: One list of facet datasets, provenance records and logs over all measurement sets.
    in:
      nested_ms: per_ms/facet_ms
      nested_provenance: per_ms/facet_provenance
      nested_logs: per_ms/logs
    out: [facet_ms, facet_provenance, logs]
    run:
      class: ExpressionTool
      requirements:
        InlineJavascriptRequirement: {}
      inputs:
        nested_ms: Any
        nested_provenance: Any
        nested_logs: Any
      outputs:
        facet_ms: Directory[]
        facet_provenance: File[]
        logs: File[]
      expression: |
        ${
          function flat(x) {
            return Array.isArray(x) ? x.reduce(function (a, y) { return a.concat(flat(y)); }, []) : [x];
          }
          return {facet_ms: flat(inputs.nested_ms), facet_provenance: flat(inputs.nested_provenance),
                  logs: flat(inputs.nested_logs)};
        }
