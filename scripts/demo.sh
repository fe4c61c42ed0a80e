#!/usr/bin/env bash
# The main job on embedded defaults: compile the example flags, then evaluate a
# few contexts against the production ruleset and print the results.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/demo}

cargo build -q --release -p edgeflag-compiler
EDGEFLAG=target/release/edgeflag

echo "==> edgeflag validate examples/"
$EDGEFLAG validate examples

echo
echo "==> edgeflag compile examples/ --out $OUT"
$EDGEFLAG compile examples --out "$OUT"

echo
echo "==> edgeflag inspect $OUT/production.efr"
$EDGEFLAG inspect "$OUT/production.efr"

echo
echo "==> edgeflag eval: new-checkout for each context in examples/contexts.jsonl (production)"
$EDGEFLAG eval --ruleset "$OUT/production.efr" --contexts examples/contexts.jsonl --flag new-checkout \
  | paste -d '\n' <(grep -v '^\s*$' examples/contexts.jsonl) - \
  | sed 's/^/  /'

echo
echo "==> edgeflag eval: every flag for one context (production)"
$EDGEFLAG eval --ruleset "$OUT/production.efr" \
  --context '{"key":"user-42","email":"ann@edgeflag.dev","country":"DE","plan":"pro"}'

echo
echo "==> edgeflag diff: staging vs production"
$EDGEFLAG diff "$OUT/staging.efr" "$OUT/production.efr"
