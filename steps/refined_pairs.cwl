#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: Each facet dataset paired with its refined solutions
doc: |
  Pairs every facet dataset <obs>.<facet>.ms with the refined solutions of its facet and
  observation, <facet>.<obs>.refined.h5 of workflows/dd_refine.cwl (as
  lofar_hires.chain.modules.refined_solution does). A dataset whose facet's refinement failed
  has no refined solutions: it is left out of the pairs and keeps its DD solutions (the
  facet's refinement summary says why).

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  facets:
    label: Facet names
    doc: The facet names (steps/facet_datasets.cwl), in the order of grouped.
    type: string[]
  grouped:
    label: Datasets per facet
    doc: Per facet, its datasets <obs>.<facet>.ms (steps/facet_datasets.cwl).
    type:
      type: array
      items:
        type: array
        items: Directory
  solutions:
    label: Refined solutions
    doc: >-
      The refined solutions of workflows/dd_refine.cwl, per facet (<facet>.<obs>.refined.h5); none when
      no refinement ran (then there are no pairs).
    type:
      - "null"
      - type: array
        items:
          type: array
          items: File

outputs:
  facet_ms:
    label: Datasets with refined solutions
    doc: The datasets whose refined solutions exist, in facet order.
    type: Directory[]
  pair_solutions:
    label: Their refined solutions
    doc: The refined solutions of each of those datasets, in the same order.
    type: File[]

expression: |
  ${
    var byName = {};  // every refined solutions file by its name
    [].concat.apply([], inputs.solutions || []).forEach(function (f) { byName[f.basename] = f; });
    var msin = [], h5 = [];
    inputs.facets.forEach(function (facet, i) {
      inputs.grouped[i].forEach(function (d) {
        var obs = d.basename.slice(0, -(facet.length + 4));  // <obs>.<facet>.ms -> <obs>
        var wanted = byName[facet + "." + obs + ".refined.h5"];
        if (wanted !== undefined) { msin.push(d); h5.push(wanted); }
      });
    });
    return {"facet_ms": msin, "pair_solutions": h5};
  }
