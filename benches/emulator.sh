# Sourced by the benchmark scripts: starts the emulator on a free loopback
# port with the settings in "$work/settings.json" and points every AWS client
# at it. Needs `repo` and `work`; sets `emulator` (its pid), `port`, `base`
# and `python`, the `control` function, and a trap that stops the emulator
# and removes "$work" on exit.
bash "$repo/tests/emulator/setup.sh"
python="$repo/.venv-emulator/bin/python"
bash "$repo/tests/emulator/start.sh" --port 0 --port-file "$work/port" --settings "$work/settings.json" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"
base="http://127.0.0.1:$port"
export AWS_ENDPOINT_URL="$base" AWS_REGION=ap-northeast-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
unset AWS_PROFILE

# POST to one of the emulator's control endpoints (`control log/clear`).
control() { curl -s -X POST "$base/_lzemu/$1" -H 'content-type: application/json' -d "${2:-{\}}" >/dev/null; }
