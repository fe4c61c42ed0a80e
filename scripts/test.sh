#!/usr/bin/env bash
# The full test command: formatting, lints, every test, the wasm32 build of the
# evaluator, and a compile-only pass over the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test"
cargo test --workspace --all-features

step "evaluator builds for wasm32-unknown-unknown (default features)"
cargo build --target wasm32-unknown-unknown -p edgeflag-evaluator

step "WASM package: golden vectors, differential, Node client, Chromium, workerd (wasm/test.sh)"
bash wasm/test.sh

step "benchmarks compile"
cargo bench --workspace --no-run

echo
echo "all checks passed"
