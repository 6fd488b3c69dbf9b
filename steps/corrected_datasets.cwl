#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: The facet datasets per facet, corrected where refined
doc: |
  Per facet, its datasets with each replaced by its corrected copy of
  workflows/apply_facet_solutions.cwl (same name) where the refined solutions were applied;
  a dataset without a corrected copy (its facet's refinement failed, or no refinement ran)
  stays as the facet subtraction made it (as lofar_hires.chain.modules.corrected_datasets
  does).

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  grouped:
    label: Datasets per facet
    doc: Per facet, its datasets <obs>.<facet>.ms (steps/facet_datasets.cwl).
    type:
      type: array
      items:
        type: array
        items: Directory
  corrected_ms:
    label: Corrected datasets
    doc: The corrected copies (workflows/apply_facet_solutions.cwl); none when no refinement ran.
    type: Directory[]?

outputs:
  grouped_corrected:
    label: Corrected datasets per facet
    doc: Per facet, its datasets, each its corrected copy where there is one.
    type:
      type: array
      items:
        type: array
        items: Directory

expression: |
  ${
    var corrected = {};  // corrected copies by name
    (inputs.corrected_ms || []).forEach(function (d) { corrected[d.basename] = d; });
    return {"grouped_corrected": inputs.grouped.map(function (datasets) {
      return datasets.map(function (d) { return corrected[d.basename] || d; });
    })};
  }
