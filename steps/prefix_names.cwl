#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: Products named after their observation or module
doc: |
  Products of different observations or modules can have the same name (every observation's
  cal_solutions.h5, the selfcal folder and recipe.log of several modules); this names each
  <prefix>.<name>, with the prefix of its group (the observation's or the module's name), so
  that all of them can lie in one output folder.

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  prefixes:
    label: Prefixes
    doc: >-
      The prefix of every group (an observation's or a module's name), in the order of files (prefixes
      beyond the groups of files are not used).
    type: string[]
  files:
    label: Files per group
    doc: Per group (same order as prefixes), its files.
    type:
      type: array
      items:
        type: array
        items: File
  directories:
    label: Folder per group
    doc: Per group (same order as prefixes), one folder.
    type: Directory[]?

outputs:
  named_files:
    label: Named files
    doc: Every file, named <prefix>.<name>, in group order.
    type: File[]
  named_directories:
    label: Named folders
    doc: Every folder, named <prefix>.<name>, in group order.
    type: Directory[]

expression: |
  ${
    var named = function (obj, i) {  // the same File or Directory, its name prefixed with its group
      return {"class": obj["class"], "location": obj.location, "basename": inputs.prefixes[i] + "." + obj.basename};
    };
    var files = [];
    inputs.files.forEach(function (group, i) { group.forEach(function (f) { files.push(named(f, i)); }); });
    return {"named_files": files, "named_directories": (inputs.directories || []).map(named)};
  }
