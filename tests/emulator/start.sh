#!/usr/bin/env bash
# Start the landing-zone emulator in the foreground on 127.0.0.1.
# Usage: start.sh [--port N] [--port-file FILE] [--settings JSON_FILE]
# Prints LZEMU_PORT=<n> once the server accepts connections.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${LZEMU_VENV:-$repo/.venv-emulator}"
"$here/setup.sh"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m lzemu "$@"
