#!/usr/bin/env bash
# The official OpenFeature OFREP server provider (pinned by package-lock.json)
# against a real `edgeflag serve` on loopback (test.mjs). Builds the edgeflag
# binary when needed (cargo builds nothing when it is up to date) unless
# EDGEFLAG_BIN names one, and installs node_modules when missing or older than
# the lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "origin/tests/ofrep-js needs Node >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "==> npm install (origin/tests/ofrep-js, pinned by package-lock.json)"
  (cd "$here" && npm install --no-audit --no-fund)
fi

if [ -z "${EDGEFLAG_BIN:-}" ]; then
  cargo build -p edgeflag-cli --bin edgeflag -j "${CARGO_BUILD_JOBS:-2}" --manifest-path "$root/Cargo.toml"
  export EDGEFLAG_BIN="$CARGO_TARGET_DIR/debug/edgeflag"
fi

cd "$here"
exec node --test --test-reporter=spec test.mjs
