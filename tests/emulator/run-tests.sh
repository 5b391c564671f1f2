#!/usr/bin/env bash
# Run the emulator's own pytest suite. Exits non-zero on failure or when no test ran.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${LZEMU_VENV:-$repo/.venv-emulator}"
"$here/setup.sh" || exit 1
cd "$here"
PYTHONPATH="$here" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" tests
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "lzemu: pytest collected no tests" >&2
  exit 1
fi
exit $rc
