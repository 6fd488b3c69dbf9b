#!/usr/bin/env bash
# The demo behind `make demo`: simulate the "small" ELAIS-N1-like observation and run every
# workflow that exists so far with cwltool, then print the result paths and a summary.
# Usage: tools/run_demo.sh [OUTPUT_DIR]   (default demo_output; replaced on every run)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_output}"
bin="$PWD/.venv/bin"
export PATH="$bin:$PATH"
rm -rf "$out"
mkdir -p "$out"
echo "== lofar-hires demo: workflows/simulate.cwl (simulate -> image -> compare with truth)"
start=$(date +%s)
"$bin/cwltool" --no-container --outdir "$out" --log-dir "$out/logs" \
    workflows/simulate.cwl workflows/jobs/simulate_small.yml > "$out/outputs.json" 2> "$out/cwltool.log" || {
    echo "error: the workflow failed; see $out/cwltool.log" >&2
    tail -n 30 "$out/cwltool.log" >&2
    exit 1
}
echo "== finished in $(( $(date +%s) - start )) s"
"$bin/python" tools/demo_summary.py "$out/outputs.json"
