#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: The facet names of the averaged datasets
doc: |
  The facet of each dataset of workflows/sva.cwl, <facet>.ms, for final imaging (as
  lofar_hires.chain.modules.job_final_imaging takes them).

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  averaged_ms:
    label: Averaged datasets
    doc: The datasets of workflows/sva.cwl, one per facet (<facet>.ms).
    type: Directory[]

outputs:
  facets:
    label: Facet names
    doc: The facet of each dataset, in the same order.
    type: string[]

expression: |
  ${
    return {"facets": inputs.averaged_ms.map(function (d) { return d.basename.slice(0, -3); })};  // <facet>.ms
  }
