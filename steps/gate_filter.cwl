#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: ExpressionTool
label: The observations that passed the calibratability gate
doc: |
  Reads the result of the calibratability gate (steps/calibratability.cwl, format
  lofar-hires-calibratability/1: "observations" maps every observation's name to its verdict)
  and keeps the measurement sets and names of the observations whose verdict passed, in
  their order; the observations the gate stopped are left out of every later module. Fails
  when the result has no verdict of an observation, or when the gate stopped every one.

requirements:
  InlineJavascriptRequirement: {}

hints:
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  result:
    label: Gate result
    doc: The JSON the calibratability gate wrote (its output result).
    type: File
    loadContents: true
  observation_names:
    label: Observation names
    doc: The name of every observation the gate judged, in the order of msin.
    type: string[]
  msin:
    label: Measurement sets
    doc: One measurement set per observation, in the order of observation_names.
    type: Directory[]

outputs:
  msin_passed:
    label: Measurement sets that passed
    doc: The measurement sets of the observations that passed, in the input order.
    type: Directory[]
  observations_passed:
    label: Observations that passed
    doc: Their names, in the same order.
    type: string[]

expression: |
  ${
    var verdicts = JSON.parse(inputs.result.contents).observations;  // name -> {passed, reasons, ...}
    var msin = [], names = [], stopped = [];
    inputs.observation_names.forEach(function (name, i) {
      var verdict = verdicts[name];
      if (verdict === undefined) { throw "the gate result has no verdict of observation " + name; }
      if (verdict.passed) { msin.push(inputs.msin[i]); names.push(name); }
      else { stopped.push(name + ": " + (verdict.reasons || ["failed"]).join("; ")); }
    });
    if (msin.length === 0) { throw "the calibratability gate stopped every observation: " + stopped.join(" | "); }
    return {"msin_passed": msin, "observations_passed": names};
  }
