#!/usr/bin/env bash
# Builds edgeflag-validate (the server's project validation) for wasm32 in
# release, optimised for size, and its ESM glue (wasm-bindgen --target web)
# into src/gen/, which Vite bundles; the dashboard imports it lazily.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
. "$root/scripts/wasm-tools.sh"
# Size settings for this build only (the workspace's release profile is untouched).
CARGO_PROFILE_RELEASE_LTO=true \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
CARGO_PROFILE_RELEASE_PANIC=abort \
CARGO_PROFILE_RELEASE_DEBUG=false \
  cargo build --release --target wasm32-unknown-unknown -p edgeflag-validate \
  --manifest-path "$root/Cargo.toml"
gen="$here/src/gen"
rm -rf "$gen"
wasm-bindgen --target web --out-dir "$gen" --out-name validate \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edgeflag_validate.wasm"
raw=$(wc -c < "$gen/validate_bg.wasm")
gz=$(gzip -9c "$gen/validate_bg.wasm" | wc -c)
echo "built $gen/validate_bg.wasm: $raw bytes raw, $gz bytes gzip -9"
