#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: The facet datasets grouped by facet
doc: |
  Groups the datasets of the facet subtraction (<obs>.<facet>.ms, one per observation and
  facet) by facet, in the order of the facets in the region file (the text={name} label of
  each polygon, as lofar-hires facets writes it); each facet's datasets sorted by name (as
  lofar_hires.chain.modules.facet_datasets does). Fails when a polygon has no name or a
  facet has no dataset.

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  facet_ms:
    label: Facet datasets
    doc: The datasets of workflows/facet_subtract.cwl (<obs>.<facet>.ms).
    type: Directory[]
  facet_regions:
    label: Facet regions
    doc: The ds9 region file of the facets (facets.reg of workflows/select_calibrators.cwl).
    type: File
    loadContents: true

outputs:
  facets:
    label: Facet names
    doc: The facet names, in the order of the region file.
    type: string[]
  grouped:
    label: Datasets per facet
    doc: Per facet (in the order of facets), its datasets sorted by name.
    type:
      type: array
      items:
        type: array
        items: Directory
  datasets:
    label: Datasets in facet order
    doc: The datasets of grouped, one list.
    type: Directory[]

expression: |
  ${
    // Facet names: the text= label of every polygon line (the patterns of lofar_hires.io.regions).
    var shape = new RegExp("^\\s*([+-]?)(polygon|point)\\s*\\(([^)]*)\\)\\s*(?:#(.*))?$", "i");
    var label = new RegExp("text\\s*=\\s*(?:\\{([^}]*)\\}|\"([^\"]*)\"|\u0027([^\u0027]*)\u0027|(\\S+))");
    var facets = [];
    inputs.facet_regions.contents.split("\n").forEach(function (line) {
      var m = shape.exec(line.trim());
      if (m === null || m[2].toLowerCase() !== "polygon") { return; }
      var t = label.exec(m[4] || "");
      var name = t === null ? null : [t[1], t[2], t[3], t[4]].filter(function (g) { return g !== undefined; })[0];
      if (name === null || name === undefined) { throw "every facet polygon needs a name (text={...})"; }
      facets.push(name);
    });
    // Datasets of each facet: names ending in .<facet>.ms, sorted by name.
    var grouped = facets.map(function (facet) {
      var suffix = "." + facet + ".ms";
      var mine = inputs.facet_ms.filter(function (d) { return d.basename.slice(-suffix.length) === suffix; });
      if (mine.length === 0) { throw "the facet subtraction made no dataset of facet " + facet; }
      return mine.sort(function (a, b) { return a.basename < b.basename ? -1 : (a.basename > b.basename ? 1 : 0); });
    });
    return {"facets": facets, "grouped": grouped, "datasets": [].concat.apply([], grouped)};
  }
