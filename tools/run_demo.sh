#!/usr/bin/env bash
# The demo behind `make demo`: `lofar-hires run` on its embedded default (configs/run/medium.yaml), the whole
# chain from two simulated observations (calibrator and target scans, all six international stations) to the
# 0.3 arcsec mosaic with cwltool, or on the run configuration CONFIG (the test suite runs `tiny`), in two commands:
#   1. lofar-hires run --to simulate   the observations with known corruptions, and their truth;
#   2. lofar-hires run                 the same command again: the simulation is complete and skipped, every
#                                      calibration module runs, into the run tree of docs/chain.md.
# The simulated observations are checksummed between the two ($out/simulation.sha256) and checked again at the
# end: no module may modify its inputs. It ends with tools/demo_summary.py: the DI solutions' errors per effect
# against the injected values, the bright sources before calibration and in the mosaic, the selected calibrators.
# Usage: tools/run_demo.sh [OUTPUT_DIR [CONFIG]]   (default demo_output, replaced on every run; CONFIG: a shipped
# run's name or a YAML file, default the embedded default)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_output}"
config=("${@:2:1}")   # the run configuration, or none: lofar-hires run's embedded default
bin="$PWD/.venv/bin"
export PATH="$bin:$PATH"
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)

# checksums FOLDER: sha256 of every file below FOLDER, by relative path (sha256sum's format)
checksums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

echo "== 1/2 lofar-hires run ${config[*]} --to simulate: the simulated observations and their truth"
"$bin/lofar-hires" run "${config[@]}" -o "$out" --to simulate
simulated="$out/products/simulate/simulation"
checksums "$simulated" > "$out/simulation.sha256"

echo "== 2/2 lofar-hires run ${config[*]}: DI calibration to the mosaic (the simulation is skipped: its products are complete)"
"$bin/lofar-hires" run "${config[@]}" -o "$out"

if ! checksums "$simulated" | cmp -s - "$out/simulation.sha256"; then
    echo "error: a module modified the simulated observations in $simulated" \
         "(checksums after the simulation: $out/simulation.sha256)" >&2
    exit 1
fi
echo "== finished in $(( $(date +%s) - start )) s; the simulated observations are unchanged"
"$bin/python" tools/demo_summary.py "$out"
