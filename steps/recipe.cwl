#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Self-calibration strategy from a recipe
doc: |
  Runs `lofar-hires recipe`: writes the self-calibration strategy (YAML, for
  `lofar-hires selfcal --strategy`) of one calibrator from the recipes of
  de Jong et al. 2025. kind international (section 6.4.2) needs sigma_c (the
  phasediff score, from which the solution-interval metric delta_t follows) or
  delta_t itself; kind dutch (section 6.4.1) needs peak_flux, or calibrators (a
  calibrator table whose faintest Dutch DD calibrator gives it); kinds refine-dutch
  and refine-final (section 6.4.4, the DD refinement of a facet) need sigma_c or
  delta_t of the facet's calibrator, refine-dutch also the facet data's
  integration_s and chan_width_hz (it writes no strategy for delta_t above 3 min,
  whose facets skip it; the strategy output is then absent). Every number of
  the recipes is in configs/recipes.yaml and can be changed with overrides.
  Command module: lofar_hires.cli.recipe.

baseCommand: [lofar-hires, recipe]

# Exit status of every lofar-hires task (README, "Exit status"): 2 bad input and 4 a result that
# failed its quality checks are permanent; 3 (an external tool failed) is worth a retry.
successCodes: [0]
permanentFailCodes: [1, 2, 4]
temporaryFailCodes: [3]

requirements:
  InlineJavascriptRequirement: {}
  EnvVarRequirement:
    envDef:
      # numpy links a multi-threaded OpenBLAS; keep it to one thread.
      OPENBLAS_NUM_THREADS: "1"

hints:
  ResourceRequirement:
    coresMin: $(inputs.cores)
    ramMin: $(inputs.ram_mb)
  DockerRequirement:
    dockerPull: lofar-hires:0.1.0

inputs:
  kind:
    label: Recipe
    doc: >-
      international (DD self-calibration of the international stations, de Jong
      et al. 2025, section 6.4.2) or dutch (of the Dutch stations, section 6.4.1).
    type:
      type: enum
      symbols: [international, dutch, refine-dutch, refine-final]
    inputBinding:
      position: 0
  sigma_c:
    label: Phasediff score (rad)
    doc: >-
      international: the calibrator's phasediff score sigma_c (below pi); delta_t
      follows from it. Give this or delta_t.
    type: float?
    inputBinding:
      prefix: --sigma-c
  delta_t:
    label: Solution-interval metric (min)
    doc: >-
      international: the calibrator's delta_t in minutes, instead of sigma_c.
    type: float?
    inputBinding:
      prefix: --delta-t
  dt_formula:
    label: delta_t formula
    doc: >-
      international, with sigma_c: paper (eq. 6.2) or squared (the later public
      variant); default delta_t.formula of configs/recipes.yaml (paper).
    type:
      - "null"
      - type: enum
        symbols: [paper, squared]
    inputBinding:
      prefix: --dt-formula
  peak_flux:
    label: Peak brightness (Jy/beam)
    doc: >-
      dutch: the calibrator's peak brightness at 6 arcsec. Give this or
      calibrators.
    type: float?
    inputBinding:
      prefix: --peak-flux
  calibrators:
    label: Calibrator table
    doc: >-
      international, instead of sigma_c: one strategy per main calibrator of a
      selection table (its score_rad is sigma_c), written into outdir with an
      index calibrators.json (give outdir). dutch, instead of peak_flux: a
      selection table or catalogue (CSV); the peak
      brightness is that of the faintest calibrator of the Dutch DD solve in it
      (its main calibrators, else its sources at or above 85 mJy/beam), as
      select skymodel chooses them.
    type: File?
    inputBinding:
      prefix: --calibrators
  chan_width_hz:
    label: Channel width of the facet data (Hz)
    doc: refine-dutch only, with integration_s; the recipe averages the facet data by 8 in time and frequency.
    type: float?
    inputBinding:
      prefix: --chan-width-hz
  integration_s:
    label: Integration time (s)
    doc: >-
      Integration time the solution intervals are rounded to (default: the
      recipe's averaging, 32 s international and refine-final, 16 s dutch);
      refine-dutch (required) the facet data's, which the recipe averages by 8.
    type: float?
    inputBinding:
      prefix: --integration-s
  overrides:
    label: Recipe overrides
    doc: KEY=VALUE overrides of configs/recipes.yaml, e.g. international.max_cycles=12.
    type:
      - "null"
      - type: array
        items: string
        inputBinding:
          prefix: --set
  explain:
    label: Explain
    doc: Also print a table of the solves to the step's standard output log.
    type: boolean
    default: false
    inputBinding:
      prefix: --explain
  output_name:
    label: Output file name
    doc: Name of the strategy YAML file (not used with outdir).
    type: string
    default: strategy.yaml
    inputBinding:
      prefix: --output
      valueFrom: "$(inputs.outdir ? null : self)"
  outdir:
    label: Strategies directory
    doc: >-
      international with calibrators: the directory of the strategies
      <calibrator>.yaml and their index calibrators.json.
    type: string?
    inputBinding:
      prefix: --outdir
  cores:
    label: Cores
    doc: Number of cores to reserve (the task is single-threaded).
    type: int
    default: 1
  ram_mb:
    label: Memory (MiB)
    doc: Memory to reserve, in MiB.
    type: int
    default: 500

stdout: recipe.log
stderr: recipe.stderr.log

outputs:
  strategy:
    label: Strategy
    doc: The self-calibration strategy (YAML) for lofar-hires selfcal --strategy (absent with outdir).
    type: File?
    outputBinding:
      glob: "$(inputs.outdir ? [] : inputs.output_name)"
  index:
    label: Calibrator index
    doc: >-
      With outdir: calibrators.json, one entry per main calibrator (name, ra_deg,
      dec_deg, sigma_c_rad, delta_t_min, strategy file name).
    type: File?
    outputBinding:
      glob: '$(inputs.outdir ? inputs.outdir + "/calibrators.json" : [])'
  strategies:
    label: Per-calibrator strategies
    doc: With outdir, the strategy of each calibrator, in the order of the index.
    type: File[]
    outputBinding:
      glob: '$(inputs.outdir ? inputs.outdir + "/calibrators.json" : [])'
      loadContents: true
      outputEval: |
        ${
          if (!inputs.outdir) { return []; }
          var dir = self[0].location.replace(/\/[^\/]*$/, "");
          return JSON.parse(self[0].contents).map(function (c) {
            return {"class": "File", "location": dir + "/" + c.strategy};
          });
        }
  log:
    label: Standard output
    doc: The table of the solves (with explain).
    type: stdout
  stderr_log:
    label: Log
    doc: The task's log messages (delta_t, the solves and their intervals).
    type: stderr
