#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
id: final_imaging
label: Final facet images at every resolution and their mosaics
doc: |
  Module 10 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.4.5;
  docs/workflows/final_imaging.md). Every facet is imaged at every resolution
  (scattered over facets x resolutions, steps/final_image.cwl) with the final
  settings of configs/final_imaging.yaml and corrected for the primary beam; the
  facet images of each resolution are then stitched into one wide-field mosaic with
  a noise map (steps/mosaic.cwl): each pixel's residual from its own facet plus every
  facet's restored sources, so that sources on facet boundaries stay whole (each
  facet dataset holds only its own sources). The facet datasets are read only.

requirements:
  InlineJavascriptRequirement: {}
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  MultipleInputFeatureRequirement: {}

inputs:
  facet_ms:
    label: Facet datasets
    doc: >-
      Every facet dataset of every observation, <name>.<facet>.ms (facet_ms of
      workflows/facet_subtract.cwl), or one <facet>.ms per facet (the sidereally averaged
      sets of workflows/sva.cwl); each facet's are found by their names.
    type: Directory[]
  facets:
    label: Facets
    doc: The facets to image (their labels in the region file).
    type: string[]
  facet_regions:
    label: Facet layout
    doc: ds9 region file of the facet layout (lofar-hires facets).
    type: File
  resolutions:
    label: Resolutions
    doc: Resolutions of the configuration to image and mosaic (the names in configs/final_imaging.yaml).
    type: string[]
    default: ["0.3", "0.6", "1.2"]
  solutions:
    label: Solutions
    doc: >-
      Solutions to apply before imaging (optional), <facet>.<obs>.refined.h5 as
      workflows/dd_refine.cwl writes them; each facet's are found by their names and
      matched to its datasets by observation (both sorted by name).
    type: File[]?
  config:
    label: Configuration
    doc: YAML file overriding configs/final_imaging.yaml (e.g. other resolutions).
    type: File?
  overrides:
    label: Overrides
    doc: KEY=VALUE overrides of the configuration for every image.
    type: string[]?
  no_beam:
    label: No primary-beam correction
    doc: Mosaic the uncorrected images (no beam images are made).
    type: boolean
    default: false
  cores:
    label: Cores per image
    doc: Cores of each facet image's job.
    type: int
    default: 2
  ram_mb:
    label: Memory per image (MiB)
    doc: Memory to reserve for each facet image's job, in MiB.
    type: int
    default: 8000

outputs:
  mosaics:
    label: Mosaics
    doc: One per resolution, in the order of resolutions.
    type: File[]
    outputSource: mosaic/mosaic
  noise_maps:
    label: Noise maps
    doc: The local rms of each mosaic.
    type: File[]
    outputSource: mosaic/noise_map
  images:
    label: Facet images
    doc: >-
      Per facet and resolution (facet-major), the primary-beam corrected image (the uncorrected one
      with no_beam).
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: image/images
  uncorrected:
    label: Uncorrected facet images
    doc: Per facet and resolution, the image before primary-beam correction.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: image/uncorrected
  beams:
    label: Primary beams
    doc: Per facet and resolution, the primary beam on the image grid (empty with no_beam).
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: image/beams
  summaries:
    label: Image summaries
    doc: Per facet and resolution, the image grid, the averaging, the beam and the image statistics.
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: image/summaries
  mosaic_summaries:
    label: Mosaic summaries
    doc: Per resolution, the mosaic's grid, facets and noise.
    type: File[]
    outputSource: mosaic/summary
  tool_logs:
    label: WSClean logs
    doc: Per facet and resolution, WSClean's own output (every major cycle and why the clean stopped).
    type:
      type: array
      items:
        type: array
        items: File
    outputSource: image/tool_logs
  logs:
    label: Logs
    doc: The standard output and the log of every job.
    type: File[]
    outputSource: [image/log, image/stderr_log, mosaic/log, mosaic/stderr_log]
    linkMerge: merge_flattened

steps:
  image:
    label: Image one facet at one resolution
    doc: The facet's datasets of every observation, imaged together and beam-corrected (steps/final_image.cwl).
    run: ../steps/final_image.cwl
    scatter: [facet, resolutions]
    scatterMethod: flat_crossproduct
    in:
      facet: facets
      resolutions:
        source: resolutions
        valueFrom: $([self])
      msin:
        source: facet_ms
        valueFrom: |
          ${
            var suffix = "." + inputs.facet + ".ms";
            return self.filter(function (d) {
              return d.basename == inputs.facet + ".ms" || d.basename.slice(-suffix.length) == suffix;
            }).sort(function (a, b) {
              return a.basename < b.basename ? -1 : (a.basename > b.basename ? 1 : 0);
            });
          }
      solutions:
        source: solutions
        valueFrom: |
          ${
            if (self === null) {
              return null;
            }
            var prefix = inputs.facet + ".";
            var mine = self.filter(function (f) {
              return f.basename.slice(0, prefix.length) == prefix;
            }).sort(function (a, b) {
              return a.basename < b.basename ? -1 : (a.basename > b.basename ? 1 : 0);
            });
            return mine.length ? mine : null;
          }
      facet_regions: facet_regions
      config: config
      overrides: overrides
      no_beam: no_beam
      job_name:
        valueFrom: $(inputs.facet + "." + inputs.resolutions + "asec")
      cores: cores
      ram_mb: ram_mb
    out: [images, residuals, restored_models, uncorrected, beams, summaries, tool_logs, log, stderr_log]

  group:
    label: Group the facet images by resolution
    doc: >-
      The images (uncorrected with no_beam; otherwise the corrected residuals and restored models) of
      every facet at each resolution, in the order of resolutions.
    in:
      images: image/uncorrected
      residuals: image/residuals
      restored_models: image/restored_models
      no_beam: no_beam
      resolutions: resolutions
    out: [image_groups, model_groups]
    run:
      class: ExpressionTool
      requirements:
        InlineJavascriptRequirement: {}
      inputs:
        images:
          type:
            type: array
            items:
              type: array
              items: File
        residuals:
          type:
            type: array
            items:
              type: array
              items: File
        restored_models:
          type:
            type: array
            items:
              type: array
              items: File
        no_beam: boolean
        resolutions: string[]
      outputs:
        image_groups:
          type:
            type: array
            items:
              type: array
              items: File
        model_groups:
          type:
            type: array
            items:
              - "null"
              - type: array
                items: File
      expression: |
        ${
          var flat = function (nested) { return [].concat.apply([], nested); };
          var of = function (files, res) {
            var tag = "." + res + "asec-";
            return files.filter(function (f) { return f.basename.indexOf(tag) >= 0; });
          };
          var images = inputs.no_beam ? flat(inputs.images) : flat(inputs.residuals);
          var models = flat(inputs.restored_models);
          return {
            "image_groups": inputs.resolutions.map(function (res) { return of(images, res); }),
            "model_groups": inputs.resolutions.map(function (res) {
              return inputs.no_beam ? null : of(models, res);
            })
          };
        }

  mosaic:
    label: Mosaic one resolution
    doc: The facet images of one resolution on one grid, each pixel from its own facet (steps/mosaic.cwl).
    run: ../steps/mosaic.cwl
    scatter: [images, restored_models, output_name, noise_map_name]
    scatterMethod: dotproduct
    in:
      images: group/image_groups
      restored_models: group/model_groups
      facet_regions: facet_regions
      output_name:
        source: resolutions
        valueFrom: $("mosaic." + self + "asec.fits")
      noise_map_name:
        source: resolutions
        valueFrom: $("mosaic." + self + "asec-rms.fits")
    out: [mosaic, noise_map, summary, log, stderr_log]
