#!/usr/bin/env bash
# Cross-checks lzctl's SCP evaluator against an independent IAM policy simulator,
# @cloud-copilot/iam-simulate, on randomly generated hierarchies and requests
# (tests/crosscheck.rs generates and decides them; scripts/crosscheck/compare.mjs asks the
# simulator). Fails if any verdict differs. See scripts/crosscheck/README.md.
#
#   scripts/crosscheck-simulator.sh                 # 2000 cases, seed 1
#   scripts/crosscheck-simulator.sh 10000 7         # CASES SEED
#
# Also read from the environment: LZCTL_CROSSCHECK_CASES, LZCTL_CROSSCHECK_SEED,
# LZCTL_CROSSCHECK_OUT (the JSON-lines file of cases and verdicts, kept for inspection),
# LZCTL_CROSSCHECK_SHOW (how many disagreements to print in full, default 20).
#
# Installs the pinned package (scripts/crosscheck/package-lock.json) into
# scripts/crosscheck/node_modules/ (git-ignored). Needs node (>= 18), npm and cargo.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/scripts/crosscheck"

cases="${1:-${LZCTL_CROSSCHECK_CASES:-2000}}"
seed="${2:-${LZCTL_CROSSCHECK_SEED:-1}}"
out="${LZCTL_CROSSCHECK_OUT:-${CARGO_TARGET_DIR:-$repo/target}/crosscheck/cases-seed$seed.jsonl}"

for tool in node npm cargo; do
  command -v "$tool" >/dev/null || { echo "crosscheck: $tool not found" >&2; exit 2; }
done

pinned="$(node -p "require('$dir/package.json').dependencies['@cloud-copilot/iam-simulate']")"
installed="$(node -p "try { require('$dir/node_modules/@cloud-copilot/iam-simulate/package.json').version } catch { '' }")"
if [ "$installed" != "$pinned" ]; then
  echo "== installing @cloud-copilot/iam-simulate@$pinned into scripts/crosscheck/node_modules"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
fi

echo "== crosscheck: $cases cases, seed $seed"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
status=0
(
  cd "$repo"
  LZCTL_CROSSCHECK_CASES="$cases" LZCTL_CROSSCHECK_SEED="$seed" LZCTL_CROSSCHECK_OUT="$out" \
    cargo test --test integration crosscheck:: -- --ignored --nocapture
) 2>&1 | tee "$log" || status=$?
end=$(date +%s.%N)

echo "== crosscheck figures"
echo "simulator:  @cloud-copilot/iam-simulate@$pinned (node $(node --version))"
echo "cases:      $cases (seed $seed), file $out"
grep -E '^agree [0-9]+ of [0-9]+' "$log" | sed 's/^/result:     /' || echo "result:     no summary (see the output above)"
awk -v s="$start" -v e="$end" 'BEGIN { printf "wall time:  %.1fs (build included)\n", e - s }'
if [ "$status" -eq 0 ]; then echo "verdict:    PASS (every case agrees)"; else echo "verdict:    FAIL"; fi
exit "$status"
