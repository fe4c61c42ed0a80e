#!/usr/bin/env bash
# The main job on embedded defaults, no cloud needed:
#  1. validate and compile the example flags, inspect and evaluate the result;
#  2. the whole loop: `edgeflag serve --watch` publishes the source and serves it,
#     a client polls it, a kill switch is flipped in the source, and the client
#     sees the new value within a second (it prints the time of each change).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/demo}

# Cargo prints its progress: the first release build takes a few minutes.
echo "==> building edgeflag and the example client (release; the first build takes a few minutes)"
cargo build --release -p edgeflag-cli -p edgeflag-client --example poll
EDGEFLAG="${CARGO_TARGET_DIR:-target}/release/edgeflag"
POLL="${CARGO_TARGET_DIR:-target}/release/examples/poll"

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
echo "==> edgeflag diff: staging vs production"
$EDGEFLAG diff "$OUT/staging.efr" "$OUT/production.efr"

# --- the loop: serve, poll, flip -------------------------------------------
SRC="$OUT/src"
PUBLISHED="$OUT/published"
rm -rf "$SRC" "$PUBLISHED"
cp -r examples "$SRC"
LOG="$OUT/serve.log"
POLL_LOG="$OUT/poll.log"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo
echo "==> edgeflag serve --dir $PUBLISHED --watch $SRC"
$EDGEFLAG serve --dir "$PUBLISHED" --listen 127.0.0.1:0 --watch "$SRC" >"$LOG" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$LOG" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/^listening on //p' "$LOG")
[ -n "$BASE" ] || { cat "$LOG"; echo "serve did not start" >&2; exit 1; }
URL="$BASE/production/current.efr"
echo "  serving $URL"
curl -sS -o /dev/null -D - "$URL" | grep -iE '^(HTTP|etag|cache-control|link)' | sed 's/^/  /'

echo
echo "==> a client follows the kill switch search-v2: it polls $URL every 500 ms (If-None-Match)"
echo "    and subscribes to the push channel the origin announces"
$POLL "$URL" search-v2 '{"key":"user-42","country":"DE"}' >"$POLL_LOG" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$POLL_LOG" ] && break; sleep 0.1; done
sed 's/^/  client: /' "$POLL_LOG"

flip() { # flip <from> <to>: the production default of search-v2 in the source
  # (GNU sed -i writes a new file and renames it over the old one, as editors do)
  sed -i "/tags: \[search, kill-switch\]/{n;s/enabled: $1/enabled: $2/}" "$SRC/flags/ops.yaml"
  grep -A1 'tags: \[search, kill-switch\]' "$SRC/flags/ops.yaml" | grep -q "enabled: $2"
}

wait_for_value() { # wait_for_value <value> <since-lines>
  for _ in $(seq 50); do
    if tail -n +"$(($2 + 1))" "$POLL_LOG" | grep -q "search-v2=$1"; then return 0; fi
    sleep 0.1
  done
  echo "client did not see $1 within 5 s" >&2; return 1
}

for value in true false; do
  from=$([ "$value" = true ] && echo false || echo true)
  lines=$(wc -l <"$POLL_LOG")
  serve_lines=$(wc -l <"$LOG")
  echo
  echo "==> $(date -u +%H:%M:%S.%3NZ) flip search-v2 to enabled: $value in $SRC/flags/ops.yaml"
  start=$(date +%s%N)
  flip "$from" "$value"
  wait_for_value "$value" "$lines"
  took=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 0.2 # let serve finish logging the publish
  tail -n +"$((serve_lines + 1))" "$LOG" | grep -v ' INFO ' | grep -v 'unchanged' | sed 's/^/  serve: /' || true
  tail -n +"$((lines + 1))" "$POLL_LOG" | sed 's/^/  client: /'
  echo "  seen by the client ${took} ms after the edit (watch, compile, publish, push)"
done

echo
echo "==> curl $BASE/healthz"
curl -sS "$BASE/healthz"; echo
