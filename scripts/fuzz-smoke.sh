#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each for a bounded time on a
# scratch copy of its seed corpus (fuzz/corpus/<target>/ is only read), failing on
# any crash, panic, timeout or leak of memory past the limit. libFuzzer writes a
# failing input to fuzz/artifacts/<target>/; fuzz/README.md says how to replay it.
#   FUZZ_SMOKE_SECONDS (default 15) per target; FUZZ_TARGETS to run only some.
# Needs cargo-fuzz (`cargo install cargo-fuzz`; .ci/run installs it when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SMOKE_SECONDS:-15}"
# The fuzz build has its own flags (coverage instrumentation, --cfg fuzzing): a
# directory of its own, so it never invalidates the workspace's build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
# cargo-fuzz asks for nightly-only options; the stable toolchain accepts them
# with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
flags=(-s none -a) # no sanitizer (no unsafe code); debug assertions and overflow checks

cargo fuzz build "${flags[@]}"
targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
bin="$CARGO_TARGET_DIR/$(rustc -vV | awk '/^host:/ { print $2 }')/release"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t" "fuzz/corpus/$t"
  printf '\n--> %s (%ss)\n' "$t" "$seconds"
  # New inputs go to the scratch directory (first), never into the seed corpus.
  if "$bin/$t" "$scratch/$t" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$scratch/$t.log" 2>&1; then
    grep -E '^#[0-9]+.*DONE|^stat::number_of_executed_units' "$scratch/$t.log" || tail -n 3 "$scratch/$t.log"
  else
    failed+=("$t")
    tail -n 40 "$scratch/$t.log"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: crash in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: $(echo $targets | wc -w) targets, no crash"
