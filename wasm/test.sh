#!/usr/bin/env bash
# Builds the npm package and runs every WASM test in real runtimes (plus a
# TypeScript check of the declarations and the packed file list):
#   Node (node:test): golden vectors, native-vs-WASM differential, client
#   rulesets (client vs server ruleset, SERVER_RULESET refusals), the client
#   against a real `edgeflag serve`; the OpenFeature providers through the real
#   SDKs (server: Node; web, and the official OFREP web provider: Chromium);
#   headless Chromium (Debian chromium + playwright-core); Cloudflare's workerd
#   running examples/edge-worker; then the OpenFeature conformance scenarios
#   (tests/openfeature/features, shared with the Rust provider) against the
#   server provider through @openfeature/server-sdk (cucumber-js, --strict).
# Installs only what is missing (Chromium via apt, node_modules via npm ci,
# wasm-bindgen-cli and the wasm32 target via build.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
jobs="${CARGO_BUILD_JOBS:-2}"
step() { printf '\n==> %s\n' "$*"; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 18 ]; then
  echo "wasm/test.sh needs Node >= 18 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM_PATH" ]; then
  step "installing Chromium (apt)"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -q && $sudo_ apt-get install -y -q chromium
fi

if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  step "npm install (wasm/, pinned by package-lock.json)"
  (cd "$here" && npm install --no-audit --no-fund)
fi

step "build the npm package (wasm/build.sh)"
bash "$here/build.sh"

step "native CLI and origin (edgeflag compile/eval/serve)"
cargo build -p edgeflag-cli -j "$jobs" --manifest-path "$root/Cargo.toml"
export EDGEFLAG_BIN="$CARGO_TARGET_DIR/debug/edgeflag"

step "signed test fixtures (wasm/examples/sign_fixture.rs)"
cargo build -p edgeflag-wasm --example sign_fixture -j "$jobs" --manifest-path "$root/Cargo.toml"
export EDGEFLAG_SIGN_FIXTURE="$CARGO_TARGET_DIR/debug/examples/sign_fixture"

step "edgeflag-wasm unit tests (native)"
cargo test -p edgeflag-wasm -j "$jobs" --manifest-path "$root/Cargo.toml"

cd "$here"
step "TypeScript declarations (tsc --strict on test/types.ts, test/openfeature-types.ts)"
node_modules/.bin/tsc -p test/tsconfig.json
node_modules/.bin/tsc -p test/tsconfig.openfeature.json

step "WASM tests: Node, Chromium, workerd"
node --test --test-concurrency=1 \
  test/package.test.mjs \
  test/vectors.test.mjs \
  test/differential.test.mjs \
  test/client.test.mjs \
  test/client-rulesets.test.mjs \
  test/trust.test.mjs \
  test/sse.test.mjs \
  test/sse-fuzz.test.mjs \
  test/versions.test.mjs \
  test/chromium.test.mjs \
  test/openfeature-server.test.mjs \
  test/openfeature-web.test.mjs \
  test/openfeature-workerd.test.mjs \
  test/openfeature-readme.test.mjs \
  test/workerd.test.mjs

step "OpenFeature conformance scenarios: server provider (cucumber-js, tests/openfeature/features)"
node_modules/.bin/cucumber-js --strict --format summary \
  --import 'test/cucumber/*.mjs' "$root/tests/openfeature/features"
