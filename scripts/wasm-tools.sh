# Sourced by wasm/build.sh and dashboard/build-wasm.sh: installs what a wasm32
# build needs when it is missing — the wasm32-unknown-unknown target and
# wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock.
# Expects $root (the checkout); honours CARGO_BUILD_JOBS.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
  # No --locked: a pinned dependency of the CLI is missing from some registry mirrors.
  cargo install wasm-bindgen-cli --version "$want" -j "${CARGO_BUILD_JOBS:-2}"
fi
