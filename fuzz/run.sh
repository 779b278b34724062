#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) each, starting from the committed
# corpus in fuzz/corpus/<target>; new inputs go to a scratch directory, not the tree.
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Stable Rust works: RUSTC_BOOTSTRAP lets
# it take the sanitizer flags cargo-fuzz passes.
# A crash, a panic, an out-of-memory or an input slower than 10 s fails the run; libFuzzer
# writes the input under fuzz/artifacts/<target>/ and `cargo fuzz run <target> <file>`
# replays it.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
export RUSTC_BOOTSTRAP=1
targets=(filter_query openlineage_event graphql_request)
cargo fuzz build --release
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "$scratch/$target"
  set +e
  cargo fuzz run --release "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 >"$scratch/$target.log" 2>&1
  rc=$?
  set -e
  grep -E "^stat::number_of_executed_units|^Done [0-9]+ runs" "$scratch/$target.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -60 "$scratch/$target.log" >&2
    echo "fuzz target $target failed (exit $rc): the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzzing passed: ${targets[*]}"
