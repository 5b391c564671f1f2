#!/usr/bin/env bash
# Benchmark: StackSets at scale in the local emulator. An organization of
# ACCOUNTS accounts (default 350) in 3 governed regions gets 5 independent
# baselines, each on every account. Prints:
#   - the wall time of `lzctl apply` for the 5 stack sets against the sum of
#     their individual operations (what a one-after-another rollout such as
#     Customizations for Control Tower takes);
#   - the API calls of a no-op `lzctl plan` afterwards, by operation.
# Asserts nothing (machines are shared and noisy).
#   bash benches/stacksets-apply.sh [ACCOUNTS] [OPERATION_SECONDS]
# Stacks are not deployed into the member accounts here
# (stackset_deploy_stacks: false): that is the emulator's own CPU work, not
# lzctl's, and tests/stacksets.rs covers it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
accounts="${1:-350}"
op_seconds="${2:-10}"

cargo build --quiet --release --bin lzctl
lzctl="$repo/target/release/lzctl"
work="$(mktemp -d)"
cat > "$work/settings.json" <<JSON
{"controltower_landing_zone": false, "rate_limits": null, "in_progress_limits": null,
 "stackset_operation_seconds": $op_seconds, "stackset_deploy_stacks": false}
JSON
source "$repo/benches/emulator.sh"

"$repo/.venv-emulator/bin/python" - "$work" "$accounts" <<'PY'
import os, sys, boto3
work, n = sys.argv[1], int(sys.argv[2])
boto3.client("organizations", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="ap-northeast-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").create_organization(FeatureSet="ALL")
companies = [f"Company{i:02d}" for i in range(25)]
envs = [f"Companies/{c}/{e}" for c in companies for e in ("prod", "dev")]
head = ["version: 1", "organization:", "  home_region: ap-northeast-1",
        "  governed_regions: [ap-northeast-1, ap-northeast-3, us-east-1]",
        '  management_account: "123456789012"', "  control_tower: absent",
        "environments: [prod, dev]", "organizational_units:", "  Companies:", "    children:"]
head += [f"      {c}: {{}}" for c in companies]
head.append("accounts:")
head += [f"  - {{ name: acct-{i:04d}, email: aws+acct-{i:04d}@example.com, ou: {envs[i % len(envs)]} }}"
         for i in range(n)]
open(f"{work}/org.yaml", "w").write("\n".join(head) + "\n")
template = """Parameters:
  Label: { Type: String, Default: x }
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties: { DisplayName: !Ref Label }
"""
open(f"{work}/baseline.yaml", "w").write(template)
body = ["baselines:"]
for b in range(5):
    body += [f"  baseline-{b}:", "    template: baseline.yaml", f"    parameters: {{ Label: b{b} }}",
             "    targets: [Companies]"]
open(f"{work}/landing-zone.yaml", "w").write("\n".join(head + body) + "\n")
PY

echo "building the organization ($accounts accounts, 76 OUs) ..."
"$lzctl" apply -c "$work/org.yaml" --auto-approve --audit-log "$work/audit.jsonl" --apply-concurrency 8 >/dev/null 2>&1

echo "applying 5 baselines × $accounts accounts × 3 regions (stack set operations of ${op_seconds}s each) ..."
start=$(date +%s.%N)
"$lzctl" apply -c "$work/landing-zone.yaml" --auto-approve --audit-log "$work/audit.jsonl" >/dev/null 2>"$work/apply.err" \
  || { cat "$work/apply.err"; exit 1; }
end=$(date +%s.%N)
"$repo/.venv-emulator/bin/python" - "$start" "$end" <<'PY'
import os, sys, boto3
start, end = float(sys.argv[1]), float(sys.argv[2])
cfn = boto3.client("cloudformation", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="ap-northeast-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
total, instances, first, last = 0.0, 0, None, None
for b in range(5):
    name = f"baseline-{b}"
    for op in cfn.list_stack_set_operations(StackSetName=name)["Summaries"]:
        total += (op["EndTimestamp"] - op["CreationTimestamp"]).total_seconds()
        first = min(first or op["CreationTimestamp"], op["CreationTimestamp"])
        last = max(last or op["EndTimestamp"], op["EndTimestamp"])
    pages = cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
    instances += sum(len(p["Summaries"]) for p in pages)
wall = end - start
span = (last - first).total_seconds()
print(f"apply: {wall:.1f}s wall for 5 stack sets ({instances} stack instances), of which the 5 operations "
      f"ran within {span:.1f}s (first start to last end); one after another they take {total:.1f}s "
      f"(x{total / wall:.1f} against the whole apply)")
PY

out="$("$lzctl" plan -c "$work/landing-zone.yaml" --stats --detailed-exitcode 2>&1 >/dev/null)" && rc=0 || rc=$?
echo "no-op plan: exit $rc (0 = no changes); $(echo "$out" | grep '^API calls')"
echo "StackSets calls of that plan:"
echo "$out" | grep '^  cloudformation:' || true
echo "all calls by operation:"
echo "$out" | grep '^  '
