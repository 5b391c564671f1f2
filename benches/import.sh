#!/usr/bin/env bash
# Benchmark: `lzctl import` of the 1,000-account organization of
# benches/plan-calls.sh (1,000 accounts, 60 OUs, 25 SCPs), then
# `lzctl plan --detailed-exitcode` of the written configuration, next to a
# normal plan of the file the organization was built from. Two builds:
#   lzctl    built by `lzctl apply` (policies carry lzctl's marks)
#   by-hand  the same shape made with boto3: no lzctl description prefix, no
#            OU tags (the organization a new user brings)
# Every call is delayed by the emulator (default 40 ms). Prints exit codes,
# wall times and calls by operation; asserts nothing but prints the exit
# codes the check looks for (0 = no changes) and the UpdatePolicy/TagResource
# count of the plans (0 = no description rewrite, nothing tagged).
#   bash benches/import.sh [ACCOUNTS] [LATENCY_MS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
accounts="${1:-1000}"
latency="${2:-40}"

cargo build --quiet --release --bin lzctl
lzctl="$repo/target/release/lzctl"
work="$(mktemp -d)"
echo '{"controltower_landing_zone": false, "rate_limits": null, "in_progress_limits": null}' > "$work/settings.json"
source "$repo/benches/emulator.sh"

# The configuration of benches/plan-calls.sh; with `by-hand` the same
# organization is also made directly with boto3.
build() {
  "$python" - "$work" "$accounts" "$1" <<'PY'
import json, sys, boto3, os
work, n_accounts, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
org = boto3.client("organizations", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="ap-northeast-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
org.create_organization(FeatureSet="ALL")
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
docs = {}
for p in range(25):
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": f"Deny{p}", "Effect": "Deny", "Action": [f"service{p}:Delete*"], "Resource": "*"}]}
    json.dump(doc, open(f"{work}/policies/p{p:02d}.json", "w"))
    docs[p] = doc
    target = ["Root", "Companies", "Companies/*/prod", "Companies/*/dev", "Sandbox"][p % 5]
    lines += [f"  deny-{p:02d}:", "    type: scp", f"    template: policies/p{p:02d}.json", f'    targets: ["{target}"]']
open(f"{work}/landing-zone.yaml", "w").write("\n".join(lines) + "\n")
if how != "by-hand":
    sys.exit(0)
root = org.list_roots()["Roots"][0]["Id"]
ids = {}
def ou(path, parent):
    ids[path] = org.create_organizational_unit(ParentId=parent, Name=path.split("/")[-1])["OrganizationalUnit"]["Id"]
for top in ("Security", "Sandbox", "Companies"):
    ou(top, root)
for c in companies:
    ou(f"Companies/{c}", ids["Companies"])
    org.tag_resource(ResourceId=ids[f"Companies/{c}"], Tags=[{"Key": "company", "Value": c.lower()}])
    for e in ("prod", "dev"):
        ou(f"Companies/{c}/{e}", ids[f"Companies/{c}"])
for i in range(n_accounts):
    req = org.create_account(AccountName=f"acct-{i:04d}", Email=f"aws+acct-{i:04d}@example.com")["CreateAccountStatus"]["Id"]
    acct = org.describe_create_account_status(CreateAccountRequestId=req)["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ids[envs[i % len(envs)]])
try:
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
except org.exceptions.PolicyTypeAlreadyEnabledException:
    pass
for p, doc in docs.items():
    pid = org.create_policy(Name=f"deny-{p:02d}", Type="SERVICE_CONTROL_POLICY", Description=f"Made by hand, rule {p}",
                            Content=json.dumps(doc))["Policy"]["PolicySummary"]["Id"]
    target = ["Root", "Companies", "Companies/*/prod", "Companies/*/dev", "Sandbox"][p % 5]
    if target == "Root":
        targets = [root]
    elif "*" in target:
        env = target.split("/")[-1]
        targets = [ids[f"Companies/{c}/{env}"] for c in companies]
    else:
        targets = [ids[target]]
    for t in targets:
        org.attach_policy(PolicyId=pid, TargetId=t)
PY
}

# Calls by operation of the last command, from the emulator's log.
calls() {
  curl -s "$base/_lzemu/log" > "$work/log.json"
  "$python" - "$work/log.json" "$1" <<'PY'
import collections, json, sys
log = json.load(open(sys.argv[1]))
by_op = collections.Counter(e["service"] + ":" + e["operation"] for e in log)
json.dump(by_op, open(sys.argv[2], "w"))
writes = sum(n for op, n in by_op.items() if op.split(":")[1] in ("UpdatePolicy", "TagResource"))
print(f"{len(log)} calls, UpdatePolicy+TagResource: {writes}")
PY
}

run() {  # label, command...
  local label="$1"; shift
  control log/clear
  local start rc
  start=$(date +%s.%N)
  "$@" >"$work/out.txt" 2>"$work/err.txt" && rc=0 || rc=$?
  printf '  %-22s exit %d, %6.2fs wall, ' "$label" "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
  calls "$work/calls-${label// /-}.json"
  [[ $rc -le 2 ]] || { tail -5 "$work/err.txt"; }
}

compare() {  # two call files
  "$python" - "$1" "$2" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(f"    {'operation':<52} {'normal plan':>11} {'after import':>12}")
for op in sorted(set(a) | set(b)):
    mark = "" if a.get(op, 0) == b.get(op, 0) else "   <- differs"
    print(f"    {op:<52} {a.get(op, 0):>11} {b.get(op, 0):>12}{mark}")
PY
}

for how in lzctl by-hand; do
  control reset
  control settings '{"latency_ms": {"default": 0}, "rate_limits": null, "in_progress_limits": null}'
  echo
  echo "== organization built $( [[ $how == lzctl ]] && echo 'by lzctl apply' || echo 'by hand (boto3, no lzctl marks)' ): $accounts accounts, 60 OUs, 25 SCPs"
  build "$how"
  if [[ $how == lzctl ]]; then
    "$lzctl" apply -c "$work/landing-zone.yaml" --auto-approve --audit-log "$work/audit.jsonl" --apply-concurrency 8 >/dev/null 2>&1
  fi
  control settings "{\"latency_ms\": {\"default\": $latency}}"
  rm -rf "$work/imported"
  if [[ $how == lzctl ]]; then
    run "normal plan" "$lzctl" plan -c "$work/landing-zone.yaml" --detailed-exitcode
  else
    run "plan of the file" "$lzctl" plan -c "$work/landing-zone.yaml" --detailed-exitcode
    grep -c "update policy\|update .*scp:" "$work/out.txt" | sed 's/^/    policy updates the hand-written file asks for: /' || true
  fi
  run "import" "$lzctl" import --out "$work/imported"
  run "plan after import" "$lzctl" plan -c "$work/imported/landing-zone.yaml" --detailed-exitcode
  grep -c "adopted" "$work/out.txt" | sed 's/^/    policies the plan lists as adopted: /' || true
  first="$work/calls-normal-plan.json"; [[ $how == lzctl ]] || first="$work/calls-plan-of-the-file.json"
  compare "$first" "$work/calls-plan-after-import.json"
done
