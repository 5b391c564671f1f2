#!/usr/bin/env bash
# Benchmark: API calls and wall time of `lzctl plan` on an organization of
# 1,000 accounts, 60 OUs and 25 policies, built in the local emulator.
# Prints figures; asserts nothing (machines are shared and noisy).
#   bash benches/plan-calls.sh [ACCOUNTS] [RUNS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
accounts="${1:-1000}"
runs="${2:-3}"

cargo build --quiet --release --bin lzctl
lzctl="$repo/target/release/lzctl"
bash tests/emulator/setup.sh
work="$(mktemp -d)"
# Building the organization is not what is measured: no rate limits while building.
echo '{"controltower_landing_zone": false, "rate_limits": {"default": null, "organizations:CreatePolicy": null, "organizations:UpdatePolicy": null, "organizations:AttachPolicy": null, "organizations:DetachPolicy": null, "organizations:DeletePolicy": null, "organizations:ListPoliciesForTarget": null, "organizations:ListTargetsForPolicy": null}}' > "$work/settings.json"
bash tests/emulator/start.sh --port 0 --port-file "$work/port" --settings "$work/settings.json" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=ap-northeast-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
unset AWS_PROFILE

"$repo/.venv-emulator/bin/python" - "$work" "$accounts" <<'PY'
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
build_end=$(date +%s.%N)
printf 'built in %.1fs\n' "$(echo "$build_end - $build_start" | bc)"

# Restore AWS's published rate limits for the measurement.
curl -s -X POST "http://127.0.0.1:$port/_lzemu/settings" -H 'content-type: application/json' \
  -d '{"rate_limits": {"organizations:ListTargetsForPolicy": {"rate": 5, "burst": 8}, "organizations:ListPoliciesForTarget": {"rate": 5, "burst": 8}}}' >/dev/null

for run in $(seq 1 "$runs"); do
  out="$("$lzctl" plan -c "$work/landing-zone.yaml" --stats --detailed-exitcode 2>&1 >/dev/null)" && rc=0 || rc=$?
  echo "run $run: exit $rc (0 = no changes); $(echo "$out" | grep '^API calls')"
done
echo "calls by operation (last run):"
echo "$out" | grep '^  '
