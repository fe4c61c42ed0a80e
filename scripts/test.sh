#!/usr/bin/env bash
# The full test command: formatting, lints, offline infra checks, every test (with
# the local S3 stack running: Garage, nginx as a CDN, moto), the wasm32 build of the
# evaluator and the compiler, the WASM package's tests, a short run of every fuzz
# target. (The benchmarks are type-checked by clippy --all-targets; building
# them in release is left to `cargo bench`.)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "dashboard: type check and Vite build (embedded in edgeflag-server)"
(cd dashboard && npm run build)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "infra checks (shell, terraform via python-hcl2)"
bash infra/check.sh

step "local stack (garage, nginx, moto) and PostgreSQL"
bash infra/local/stack.sh start
bash infra/local/postgres.sh start
[ "${EDGEFLAG_KEEP_STACK:-0}" = 1 ] || trap 'bash infra/local/stack.sh stop; bash infra/local/postgres.sh stop' EXIT
eval "$(bash infra/local/stack.sh env)"
eval "$(bash infra/local/postgres.sh env)"
bash infra/local/stack.sh check

step "cargo test (including publish to Garage/moto, reads through nginx, the control plane on PostgreSQL)"
cargo test --workspace --all-features

step "dashboard end to end in headless Chromium (dashboard/test/e2e.mjs)"
cargo build -p edgeflag-cli
EDGEFLAG_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/edgeflag" node dashboard/test/e2e.mjs

step "evaluator and compiler build for wasm32-unknown-unknown (the browser validates rules)"
cargo build --target wasm32-unknown-unknown -p edgeflag-evaluator -p edgeflag-compiler

step "OFREP: the official OpenFeature provider against edgeflag serve (origin/tests/ofrep-js/test.sh)"
bash origin/tests/ofrep-js/test.sh

step "WASM package: golden vectors, differential, Node client, Chromium, workerd (wasm/test.sh)"
bash wasm/test.sh

step "fuzz targets: build, then ${FUZZ_SMOKE_SECONDS:-15} s each on the seed corpus (scripts/fuzz-smoke.sh)"
bash scripts/fuzz-smoke.sh

echo
echo "all checks passed"
