#!/usr/bin/env bash
# Benchmark: `lzctl plan` on an organization of 1,000 accounts, 60 OUs and 25
# SCPs built in the local emulator, with every call delayed by the emulator
# (default 40 ms, close to a real round trip to Organizations), without and
# with the emulator's throttling; then `lzctl apply` of the group example at
# the same latency. Prints calls by operation, wall time, throttled answers,
# and the critical path: the longest chain of calls that did not overlap in
# time (each started after the one before had answered), i.e. the rounds of
# waiting no concurrency could remove. Asserts nothing (machines are shared
# and noisy).
#   bash benches/plan-calls.sh [ACCOUNTS] [RUNS] [LATENCY_MS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
accounts="${1:-1000}"
runs="${2:-3}"
latency="${3:-40}"

cargo build --quiet --release --bin lzctl
lzctl="$repo/target/release/lzctl"
work="$(mktemp -d)"
# Building the organization is not what is measured: no latency, no throttling.
echo '{"controltower_landing_zone": false, "rate_limits": null, "in_progress_limits": null}' > "$work/settings.json"
source "$repo/benches/emulator.sh"

"$python" - "$work" "$accounts" <<'PY'
import json, sys, boto3, os
work, n_accounts = sys.argv[1], int(sys.argv[2])
boto3.client("organizations", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="ap-northeast-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").create_organization(FeatureSet="ALL")
companies = [f"Company{i:02d}" for i in range(19)]          # 1 + 19*3 + 2 = 60 OUs
envs = [f"Companies/{c}/{e}" for c in companies for e in ("prod", "dev")]
lines = ["version: 1", "organization:", "  home_region: ap-northeast-1",
         "  governed_regions: [ap-northeast-1, ap-northeast-3]",
         '  management_account: "123456789012"', "  control_tower: auto",
         "environments: [prod, dev]", "organizational_units:", "  Security: {}", "  Sandbox: {}",
         "  Companies:", "    children:"]
lines += [f"      {c}: {{ tags: {{ company: {c.lower()} }} }}" for c in companies]
lines.append("accounts:")
for i in range(n_accounts):
    lines.append(f"  - {{ name: acct-{i:04d}, email: aws+acct-{i:04d}@example.com, ou: {envs[i % len(envs)]} }}")
lines.append("policies:")
os.makedirs(f"{work}/policies", exist_ok=True)
for p in range(25):
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": f"Deny{p}", "Effect": "Deny", "Action": [f"service{p}:Delete*"], "Resource": "*"}]}
    json.dump(doc, open(f"{work}/policies/p{p:02d}.json", "w"))
    target = ["Root", "Companies", "Companies/*/prod", "Companies/*/dev", "Sandbox"][p % 5]
    lines += [f"  deny-{p:02d}:", "    type: scp", f"    template: policies/p{p:02d}.json", f'    targets: ["{target}"]']
open(f"{work}/landing-zone.yaml", "w").write("\n".join(lines) + "\n")
PY

echo "building the organization ($accounts accounts, 60 OUs, 25 policies) with lzctl apply ..."
build_start=$(date +%s.%N)
"$lzctl" apply -c "$work/landing-zone.yaml" --auto-approve --audit-log "$work/audit.jsonl" --apply-concurrency 8 2>/dev/null >/dev/null
printf 'built in %.1fs\n' "$(echo "$(date +%s.%N) - $build_start" | bc)"

# Calls by operation, throttled answers and the critical path, from the
# emulator's request log (entries carry their start and end).
analyse() {
  curl -s "$base/_lzemu/log" > "$work/log.json"
  "$python" - "$work/log.json" <<'PY'
import collections, itertools, json, sys
log = json.load(open(sys.argv[1]))
by_op = collections.Counter(e["service"] + ":" + e["operation"] for e in log)
throttled = sum(1 for e in log if e["error_code"] in ("TooManyRequestsException", "ThrottlingException"))
chain, last_end, path = 0, float("-inf"), []
for e in sorted(log, key=lambda e: e["end"]):   # greedy: the most calls that never overlapped
    if e["start"] >= last_end:
        chain, last_end = chain + 1, e["end"]
        path.append(e["operation"])
busy = sorted((e["start"], e["end"]) for e in log)
span = (max(e["end"] for e in log) - min(e["start"] for e in log)) if log else 0
mean = sum(e["end"] - e["start"] for e in log) / max(len(log), 1)
print(f"    calls: {len(log)} (throttled answers: {throttled}); critical path: {chain} sequential calls; "
      f"mean call {mean * 1000:.0f} ms as the emulator served it; first to last call {span:.2f}s")
steps = [f"{op} x{len(list(group))}" for op, group in itertools.groupby(path)]
print("    path: " + " > ".join(s[:-3] if s.endswith(" x1") else s for s in steps))
for op, n in sorted(by_op.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"      {op:<55} {n:>5}")
PY
}

measure_plan() {
  local label="$1"
  for run in $(seq 1 "$runs"); do
    control log/clear
    start=$(date +%s.%N)
    "$lzctl" plan -c "$work/landing-zone.yaml" --detailed-exitcode >/dev/null 2>"$work/plan.err" && rc=0 || rc=$?
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    printf '  %s run %d: exit %d (0 = no changes), %.2fs wall\n' "$label" "$run" "$rc" "$wall"
    echo "$wall" >> "$work/$label.walls"
    [[ $rc -eq 0 ]] || cat "$work/plan.err"
  done
  analyse
}

echo
echo "no-op plan at ${latency} ms per call, throttling off:"
control settings "{\"latency_ms\": {\"default\": $latency}, \"rate_limits\": null, \"in_progress_limits\": null}"
measure_plan "unthrottled"

echo
echo "no-op plan at ${latency} ms per call, with the emulator throttling bursts (its start-up in_progress_limits, tests/emulator/lzemu/settings.py):"
control settings "{\"in_progress_limits\": $("$python" -c 'import json,sys; sys.path.insert(0, "tests/emulator"); from lzemu.settings import DEFAULTS; print(json.dumps(DEFAULTS["in_progress_limits"]))')}"
measure_plan "throttled"
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
printf '  throttled / unthrottled (medians): %.2fx\n' "$(echo "$(median "$work/throttled.walls") / $(median "$work/unthrottled.walls")" | bc -l)"

echo
echo "apply of examples/group at ${latency} ms per call, throttling on (a fresh organization):"
control reset
control settings "{\"controltower_landing_zone\": false, \"latency_ms\": {\"default\": $latency}}"
"$python" -c 'import boto3,os; boto3.client("organizations", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="ap-northeast-1", aws_access_key_id="testing", aws_secret_access_key="testing").create_organization(FeatureSet="ALL")'
control log/clear
start=$(date +%s.%N)
"$lzctl" apply -c examples/group/landing-zone.yaml --auto-approve --audit-log "$work/group-audit.jsonl" >/dev/null 2>"$work/apply.err" && rc=0 || rc=$?
printf '  apply: exit %d, %.2fs wall\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
[[ $rc -eq 0 ]] || tail -5 "$work/apply.err"
analyse
