#!/usr/bin/env bash
# Create (or reuse) the emulator's virtual environment.
# Idempotent: installs only when the venv is missing or requirements.txt changed
# (sha256 stamp in the venv). Safe when many test processes start at once: the
# install runs under a lock and the others wait for it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${LZEMU_VENV:-$repo/.venv-emulator}"
req="$here/requirements.txt"
stamp="$venv/.lzemu-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

ready() { [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }

ready && exit 0

mkdir -p "$venv"
exec 9>"$venv/.lzemu-setup.lock"
flock 9
ready && exit 0

echo "lzemu: preparing virtual environment in $venv" >&2
rm -f "$stamp"
if [[ ! -x "$venv/bin/python" ]]; then
  python="${LZEMU_PYTHON:-python3}"
  if ! "$python" -m venv "$venv" >&2; then
    echo "lzemu: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
    exit 1
  fi
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" >&2
echo "$want" > "$stamp"
