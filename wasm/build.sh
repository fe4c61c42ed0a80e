#!/usr/bin/env bash
# Builds the npm package in wasm/npm: the wasm32 cdylib (cargo), the ESM glue
# (wasm-bindgen-cli, the version in Cargo.lock), then wasm-opt (npm binaryen).
# Installs only what is missing: the wasm32 target, wasm-bindgen-cli, node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
jobs="${CARGO_BUILD_JOBS:-2}"
gen="$here/npm/gen"

. "$root/scripts/wasm-tools.sh"

if [ ! -x "$here/node_modules/.bin/wasm-opt" ]; then
  (cd "$here" && npm install --no-audit --no-fund)
fi

# Size profile for this build only (the workspace's release profile is untouched):
# the evaluator and hashing at opt-level 3 (speed), the regex compiler, JSON and
# the decoder, which run at load time, optimised for size.
size_pkgs="${EDGEFLAG_WASM_SIZE_PKGS-regex-syntax regex-automata regex serde_json serde_core serde postcard}"
size_opts=()
for p in $size_pkgs; do
  size_opts+=(--config "profile.release.package.$p.opt-level=\"${EDGEFLAG_WASM_SIZE_OPT_LEVEL:-z}\"")
done
CARGO_PROFILE_RELEASE_LTO=true \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CARGO_PROFILE_RELEASE_OPT_LEVEL="${EDGEFLAG_WASM_OPT_LEVEL:-3}" \
CARGO_PROFILE_RELEASE_PANIC=abort \
CARGO_PROFILE_RELEASE_DEBUG=false \
  cargo build --release --target wasm32-unknown-unknown -p edgeflag-wasm -j "$jobs" "${size_opts[@]}" \
  ${EDGEFLAG_WASM_CARGO_ARGS:-} \
  --manifest-path "$root/Cargo.toml"

rm -rf "$gen"
wasm-bindgen --target web --weak-refs --no-typescript --out-dir "$gen" --out-name edgeflag \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edgeflag_wasm.wasm"

"$here/node_modules/.bin/wasm-opt" "${EDGEFLAG_WASM_OPT:--O3}" \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --strip-debug --strip-producers \
  "$gen/edgeflag_bg.wasm" -o "$gen/edgeflag_bg.wasm"

raw=$(wc -c < "$gen/edgeflag_bg.wasm")
gz=$(gzip -9c "$gen/edgeflag_bg.wasm" | wc -c)
echo "built $gen/edgeflag_bg.wasm: $raw bytes raw, $gz bytes gzip -9"
