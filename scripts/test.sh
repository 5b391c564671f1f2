#!/usr/bin/env bash
# The whole test suite: the emulator's own tests (pytest + boto3), then the
# Rust unit, property, snapshot and integration tests (nextest).
# Installs what it needs first (the emulator's Python venv).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash tests/emulator/setup.sh
echo "== emulator tests (pytest)"
bash tests/emulator/run-tests.sh
echo "== Rust tests"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --no-fail-fast
