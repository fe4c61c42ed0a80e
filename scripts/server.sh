#!/usr/bin/env bash
# The main job on embedded defaults: `edgeflag server` with its dashboard,
# SQLite and a publish directory in ./edgeflag-data, nothing else installed.
#  1. builds the dashboard (npm, Vite) and the binary (cargo, release);
#  2. starts the server on http://127.0.0.1:8080 (LISTEN=… to change it);
#  3. on a new data directory, loads examples/ as flags as code (`edgeflag push`);
#  4. prints the one-time link that makes the first admin; open it in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-edgeflag-data}
LISTEN=${LISTEN:-127.0.0.1:8080}

command -v npm >/dev/null 2>&1 || { echo "the dashboard build needs Node >= 18 and npm" >&2; exit 1; }
if [ ! -f dashboard/node_modules/.package-lock.json ] || [ dashboard/package-lock.json -nt dashboard/node_modules/.package-lock.json ]; then
  echo "==> npm install (dashboard/, pinned by package-lock.json)"
  (cd dashboard && npm install --no-audit --no-fund)
fi
echo "==> building the dashboard (TypeScript, Vite)"
(cd dashboard && npm run build --silent)

# Cargo prints its progress: the first release build takes a few minutes.
echo "==> building edgeflag (release; the first build takes a few minutes)"
cargo build --release -p edgeflag-cli
EDGEFLAG="${CARGO_TARGET_DIR:-target}/release/edgeflag"

fresh=0
[ -e "$DATA/edgeflag.db" ] || fresh=1
TOKEN=${EDGEFLAG_BOOTSTRAP_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
echo "==> edgeflag server --data $DATA --listen $LISTEN"
EDGEFLAG_BOOTSTRAP_TOKEN=$TOKEN $EDGEFLAG server --data "$DATA" --listen "$LISTEN" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || exit 1
  sleep 0.1
done
if [ $fresh = 1 ]; then
  echo "==> loading examples/ (edgeflag push examples --server http://$LISTEN)"
  EDGEFLAG_TOKEN=$TOKEN $EDGEFLAG push examples --server "http://$LISTEN" --comment "examples" \
    || echo "(loading the examples failed; the server runs without them)"
fi
echo
echo "==> the dashboard: http://$LISTEN/ (open the setup link above once to make the first admin)"
echo "    the API: http://$LISTEN/api/v1/ · rulesets: http://$LISTEN/production/current.efr · Ctrl-C stops"
wait $server
