#!/usr/bin/env bash
# The main job on the local emulator: a fresh demo organization, then
# validate, plan, apply the group example, and plan again (no changes).
# Installs what it needs (the emulator's Python venv, the Rust build) first.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
config="${1:-examples/group/landing-zone.yaml}"

cargo build --quiet --bin lzctl
lzctl="$repo/target/debug/lzctl"
bash tests/emulator/setup.sh

work="$(mktemp -d)"
settings="$work/settings.json"
# A fresh organization has no Control Tower landing zone: lzctl vends accounts itself.
echo '{"controltower_landing_zone": false}' > "$settings"
bash tests/emulator/start.sh --port 0 --port-file "$work/port" --settings "$settings" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { cat "$work/emulator.log"; echo "emulator did not start" >&2; exit 1; }
port="$(cat "$work/port")"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=ap-northeast-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
unset AWS_PROFILE

echo "== creating an empty organization in the emulator on 127.0.0.1:$port"
"$repo/.venv-emulator/bin/python" - <<PY
import boto3
boto3.client("organizations", endpoint_url="$AWS_ENDPOINT_URL", region_name="ap-northeast-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").create_organization(FeatureSet="ALL")
PY

echo "== lzctl validate"
"$lzctl" validate -c "$config"
echo "== lzctl plan"
"$lzctl" plan -c "$config" --stats
echo "== lzctl apply"
"$lzctl" apply -c "$config" --auto-approve --audit-log "$work/audit.jsonl" --stats
echo "== lzctl plan again (expect no changes, exit code 0)"
"$lzctl" plan -c "$config" --detailed-exitcode
echo "== demo complete: $(wc -l < "$work/audit.jsonl") mutating calls audited"
