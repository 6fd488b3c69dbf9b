#!/usr/bin/env bash
# The demo behind `make demo`: simulate a LOFAR observation of the flux calibrator 3C295 and of a
# target field with known corruptions, then run every workflow that exists so far with cwltool:
#   1. workflows/simulate.cwl        simulate (preset dical), image the uncorrected target
#   2. workflows/di_calibrator.cwl   separate polarisation alignment, Faraday rotation, bandpass,
#                                    clock and TEC on the calibrator -> cal_solutions.h5
#   3. workflows/di_target.cwl       transfer alignment, bandpass and clock to the target, apply
#                                    the beam, flag, average, DI phase self-calibration
#   4. steps/image.cwl, steps/compare_sky.cwl   image the corrected target, compare with the truth
#   5. steps/simulate.cwl            simulate a field after DI and delay calibration (preset select)
#   6. workflows/select_calibrators.cwl   phasediff scores, main/weak calibrators, Voronoi facets
# and print the calibrator's errors per effect against the injected values and the image fluxes
# before and after calibration. The simulated observations are checksummed after stage 1
# ($out/simulation.sha256) and checked again at the end: no workflow may modify its inputs.
# Usage: tools/run_demo.sh [OUTPUT_DIR]   (default demo_output; replaced on every run)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_output}"
bin="$PWD/.venv/bin"
export PATH="$bin:$PATH"
rm -rf "$out"
mkdir -p "$out/jobs"
start=$(date +%s)

# run_cwl NAME WORKFLOW JOB: cwltool into $out/NAME, outputs in $out/NAME.json, log in $out/NAME.log
run_cwl() {
    local name=$1 workflow=$2 job=$3 t0
    t0=$(date +%s)
    if ! "$bin/cwltool" --no-container --outdir "$out/$name" --log-dir "$out/logs/$name" \
            "$workflow" "$job" > "$out/$name.json" 2> "$out/$name.log"; then
        echo "error: $workflow failed; see $out/$name.log" >&2
        tail -n 30 "$out/$name.log" >&2
        exit 1
    fi
    echo "   done in $(( $(date +%s) - t0 )) s -> $out/$name"
}

# checksums FOLDER: sha256 of every file below FOLDER, by relative path (sha256sum's format)
checksums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

echo "== 1/6 workflows/simulate.cwl: simulate calibrator + target (preset dical), image the uncorrected target"
run_cwl simulation workflows/simulate.cwl workflows/jobs/simulate_dical.yml
simulated="$out/simulation/simulation"
checksums "$simulated" > "$out/simulation.sha256"

echo "== 2/6 workflows/di_calibrator.cwl: polarisation alignment, Faraday rotation, bandpass, clock/TEC"
"$bin/python" tools/demo_jobs.py calibrator "$out/simulation.json" "$out/jobs/di_calibrator.json"
run_cwl di_calibrator workflows/di_calibrator.cwl "$out/jobs/di_calibrator.json"

echo "== 3/6 workflows/di_target.cwl: transfer to the target, beam, flag, average, DI phase calibration"
"$bin/python" tools/demo_jobs.py target "$out/simulation.json" "$out/di_calibrator.json" "$out/jobs/di_target.json"
run_cwl di_target workflows/di_target.cwl "$out/jobs/di_target.json"

echo "== 4/6 steps/image.cwl + steps/compare_sky.cwl: image the corrected target, compare with the truth"
"$bin/python" tools/demo_jobs.py image "$out/di_target.json" "$out/jobs/image.json"
run_cwl image steps/image.cwl "$out/jobs/image.json"
"$bin/python" tools/demo_jobs.py compare "$out/simulation.json" "$out/image.json" "$out/jobs/compare.json"
run_cwl compare steps/compare_sky.cwl "$out/jobs/compare.json"

echo "== 5/6 steps/simulate.cwl: a field after DI and delay calibration (preset select)"
run_cwl select_simulation steps/simulate.cwl workflows/jobs/simulate_select.yml

echo "== 6/6 workflows/select_calibrators.cwl: phasediff scores, classification, facets"
"$bin/python" tools/demo_jobs.py select "$out/select_simulation.json" "$out/jobs/select.json"
run_cwl select workflows/select_calibrators.cwl "$out/jobs/select.json"

if ! checksums "$simulated" | cmp -s - "$out/simulation.sha256"; then
    echo "error: a workflow modified the simulated observations in $simulated" \
         "(checksums after stage 1: $out/simulation.sha256)" >&2
    exit 1
fi
echo "== finished in $(( $(date +%s) - start )) s; the simulated observations are unchanged"
"$bin/python" tools/demo_summary.py "$out"
