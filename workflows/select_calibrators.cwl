#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: Workflow
label: Calibrator selection and facet layout
doc: |
  Module 4 of the 0.3-arcsecond strategy (de Jong et al. 2025, section 6.3.1).
  Candidates come from a sky model, a source table or an image
  (PyBDSF); each candidate is scored in its own step (a scatter) with the
  phasediff score on the DI-calibrated data; the scored tables are gathered and
  classified into main and weak calibrators with neighbour pruning and the
  solution-interval metric; the main calibrators' Voronoi facets are written as
  a ds9 region file with a facet table and a layout plot. Every step is a
  `lofar-hires` command that can be rerun by hand (docs/workflows/select_calibrators.md).

requirements:
  ScatterFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  InlineJavascriptRequirement: {}

inputs:
  msin:
    label: DI-calibrated measurement sets
    doc: Measurement set(s) of one observation after DI and delay calibration (read only).
    type: Directory[]
  skymodel:
    label: Sky model
    doc: makesourcedb sky model of the field (give exactly one of skymodel, catalogue, image).
    type: File?
  catalogue:
    label: Source table
    doc: CSV or FITS source table, e.g. a LoTSS catalogue (give exactly one of skymodel, catalogue, image).
    type: File?
  image:
    label: Image
    doc: FITS image in which PyBDSF finds the candidates (give exactly one of skymodel, catalogue, image).
    type: File?
  min_peak_flux_jy:
    label: Minimum peak flux (Jy/beam)
    doc: Candidates need at least this peak brightness (default 0.025 at 6 arcsec).
    type: float?
  max_candidates:
    label: Maximum number of candidates
    doc: Keep at most this many candidates, brightest first (default all).
    type: int?
  config:
    label: Selection settings file
    doc: YAML overriding configs/select_calibrators.yaml (score and classify sections).
    type: File?
  overrides:
    label: Setting overrides
    doc: Single settings as KEY=VALUE (e.g. classify.main_max_rad=2.3).
    type: string[]?
  added:
    label: Calibrators added by hand
    doc: NAME,RA,DEC[,main|weak] entries.
    type: string[]?
  removed:
    label: Candidates removed by hand
    doc: Names of candidates to drop.
    type: string[]?
  box_deg:
    label: Field box (deg)
    doc: Width of the square field the facets cover (default 2.5 deg); or give circle_deg.
    type: float?
  circle_deg:
    label: Field radius (deg)
    doc: Radius of a circular field the facets cover, instead of a box.
    type: float?
  resolution_arcsec:
    label: Target resolution (arcsec)
    doc: Resolution for the per-facet averaging suggestion (default 0.3).
    type: float?
  score_cores:
    label: Cores per scoring step
    doc: DP3 threads of each scoring step.
    type: int
    default: 2

steps:
  candidates:
    label: Candidates
    run: ../steps/select_candidates.cwl
    in:
      skymodel: skymodel
      catalogue: catalogue
      image: image
      min_peak_flux_jy: min_peak_flux_jy
      max_candidates: max_candidates
    out: [table, candidates, provenance]
  score:
    label: Phasediff score (one step per candidate)
    run: ../steps/select_score.cwl
    scatter: candidates
    in:
      msin: msin
      candidates: candidates/candidates
      config: config
      overrides: overrides
      cores: score_cores
    out: [scores, provenance]
  classify:
    label: Classify, prune, solution intervals
    run: ../steps/select_classify.cwl
    in:
      scores: score/scores
      config: config
      overrides: overrides
      added: added
      removed: removed
    out: [table, provenance]
  facets:
    label: Voronoi facets
    run: ../steps/facets.cwl
    in:
      table: classify/table
      msin:
        source: msin
        valueFrom: $(self[0])
      box_deg: box_deg
      circle_deg: circle_deg
      resolution_arcsec: resolution_arcsec
      sources: skymodel
    out: [facets, regions, facet_table]

outputs:
  candidate_table:
    label: Candidate table
    doc: The candidates before scoring.
    type: File
    outputSource: candidates/table
  scores:
    label: Scored tables
    doc: One scored table per candidate (with the details JSON as a secondary file).
    type: File[]
    outputSource: score/scores
  calibrators:
    label: Selection table
    doc: Every candidate with category (main, weak, rejected, pruned, removed), score and delta_t.
    type: File
    outputSource: classify/table
  facet_layout:
    label: Facet layout
    doc: facets.reg (ds9, for WSClean -facet-regions), facets.csv/json, facets.png, provenance.json.
    type: Directory
    outputSource: facets/facets
  regions:
    label: Facet regions
    doc: The ds9 region file of the facets.
    type: File
    outputSource: facets/regions
