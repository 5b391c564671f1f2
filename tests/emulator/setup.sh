#!/usr/bin/env bash
# Create (or reuse) the emulator's virtual environment.
# Idempotent: installs only when the venv is missing or requirements.txt changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${LZEMU_VENV:-$repo/.venv-emulator}"
req="$here/requirements.txt"
stamp="$venv/.lzemu-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

echo "lzemu: preparing virtual environment in $venv" >&2
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" >&2
echo "$want" > "$stamp"
