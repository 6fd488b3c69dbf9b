#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: dd_refine
label: DD refinement of every facet, jointly over the observations
doc: |
  Module 8 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.4.4;
  docs/workflows/dd_refine.md), after the facet subtraction
  (workflows/facet_subtract.cwl): per facet (scattered), its datasets of every
  observation are refined together by `lofar-hires refine`: the 6 arcsec Dutch
  self-calibration of the facet (skipped when its calibrator's delta_t is above
  3 min), then the final joint self-calibration towards the facet calibrator.
  Outputs per facet the refined solutions of every observation, the facet image and
  a summary. A facet whose self-calibration fails is reported in its summary (status
  failed, the reason) and the others go on (failure_ok). The facet datasets are read
  only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  facet_ms:
    label: Facet datasets
    doc: >-
      Every facet dataset of every observation, <ms>.<facet>.ms (facet_ms of
      workflows/facet_subtract.cwl); each facet's are found by their names.
    type: Directory[]
  calibrators:
    label: Calibrator table
    doc: The calibrator selection table; each facet is named after its main calibrator.
    type: File
  facets:
    label: Facets
    doc: The facets to refine (their main calibrators' names).
    type: string[]
  recipe_overrides:
    label: Recipe overrides
    doc: KEY=VALUE overrides of configs/recipes.yaml for every facet.
    type: string[]?
  dutch_overrides:
    label: Dutch strategy overrides
    doc: KEY=VALUE overrides of the 6 arcsec Dutch strategy for every facet.
    type: string[]?
  final_overrides:
    label: Final strategy overrides
    doc: KEY=VALUE overrides of the final strategy for every facet.
    type: string[]?
  image_size_pix:
    label: Image size (pixels)
    doc: Size of each facet image (tool default 1024).
    type: int?
  image_scale_arcsec:
    label: Pixel size (arcsec)
    doc: Pixel size of each facet image (tool default 0.1).
    type: float?
  image_taper_arcsec:
    label: Taper (arcsec)
    doc: Gaussian taper of each facet image (tool default 0.3).
    type: float?
  image_on_calibrator:
    label: Images centred on the calibrators
    doc: Centre each facet image on the facet calibrator instead of the facet centre.
    type: boolean
    default: false
  compare:
    label: Compare with the data as given
    doc: Also image each facet's data as given and report the peak and rms of both.
    type: boolean
    default: false
  failure_ok:
    label: A failed facet does not stop the others
    doc: >-
      A facet whose self-calibration or imaging fails gets a summary with status failed and the
      reason, no solutions and no image, and the other facets go on (default true).
    type: boolean
    default: true
  cores:
    label: Cores per facet
    doc: Cores of each facet's job.
    type: int
    default: 2
  ram_mb:
    label: Memory per facet (MiB)
    doc: Memory to reserve for each facet's job, in MiB.
    type: int
    default: 8000

outputs:
  solutions:
    label: Refined solutions
    doc: Per facet, the refined solutions of every observation.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: refine/solutions
  images:
    label: Facet images
    doc: Per facet, the image of its refined data (null for a facet that failed).
    type:
      type: array
      items: ["null", File]
    outputSource: refine/image
  summaries:
    label: Summaries
    doc: Per facet, both steps, the solutions and the image's peak and rms.
    type: File[]
    outputSource: refine/summary
  logs:
    label: Logs
    doc: The standard output and the log of every facet's job.
    type: File[]
    outputSource: [refine/log, refine/stderr_log]
    linkMerge: merge_flattened

steps:
  refine:
    label: Refine one facet
    doc: The facet's datasets of every observation, refined jointly (steps/refine.cwl).
    run: ../steps/refine.cwl
    scatter: [facet]
    in:
      facet: facets
      msin:
        source: facet_ms
        valueFrom: |
          ${
            var suffix = "." + inputs.facet + ".ms";
            return self.filter(function (d) {
              return d.basename.slice(-suffix.length) == suffix;
            });
          }
      calibrators: calibrators
      recipe_overrides: recipe_overrides
      dutch_overrides: dutch_overrides
      final_overrides: final_overrides
      image_size_pix: image_size_pix
      image_scale_arcsec: image_scale_arcsec
      image_taper_arcsec: image_taper_arcsec
      image_on_calibrator: image_on_calibrator
      compare: compare
      failure_ok: failure_ok
      cores: cores
      ram_mb: ram_mb
    out: [solutions, image, summary, log, stderr_log]
