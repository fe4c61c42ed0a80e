#!/usr/bin/env bash
# Compiles the ruleset seeds: the examples and every golden-vector source with the
# CLI; whole rulesets for ruleset_bytes, their bodies (after the 192-byte header)
# for ruleset_body. Run fuzz/scripts/seeds.py first (it writes the sources).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${EDGEFLAG_BIN:-target/debug/edgeflag}"
[ -x "$bin" ] || cargo build -p edgeflag-cli
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p fuzz/corpus/ruleset_bytes fuzz/corpus/ruleset_body
"$bin" compile examples --out "$out/examples" >/dev/null
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
cases = json.load(open("tests/vectors/cases.json"))
for case in cases:
    d = os.path.join(out, "src-" + case["name"])
    os.makedirs(d, exist_ok=True)
    json.dump(case["source"], open(os.path.join(d, "flags.json"), "w"))
PY
for d in "$out"/src-*; do
  "$bin" compile "$d/flags.json" --out "$out/vector-${d##*/src-}" >/dev/null
done
for f in "$out"/*/*.efr; do
  name="$(basename "$(dirname "$f")")-$(basename "$f" .efr)"
  name="$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '-')"
  cp "$f" "fuzz/corpus/ruleset_bytes/$name.efr"
  tail -c +193 "$f" >"fuzz/corpus/ruleset_body/$name.body"
done
ls fuzz/corpus/ruleset_bytes | wc -l
