#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time each, from the seeds kept
# in fuzz/corpus (new inputs go to a scratch corpus, so the repository stays small).
#
#   scripts/fuzz.sh [seconds-per-target]      (default 20; 0 skips)
#
# Cost on the 2-core CI machine: the first build ~5.5 min (aws-lc and the rest of
# latchkey-core's dependencies, instrumented), later builds seconds; then ~21 s per target.
#
# No nightly toolchain needed: stable rustc with RUSTC_BOOTSTRAP=1 and no sanitizer (the
# targets are safe Rust; libFuzzer still finds panics, overflows, aborts). One build for
# all targets, in a target directory outside the clone that later runs reuse.
# Prints each target's executions and crashes; exits non-zero on any crash (its input is
# left in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-20}"
# (libFuzzer reads -max_total_time=0 as "forever": 0 here means skip.)
if [ "$secs" -le 0 ]; then echo "fuzzing skipped"; exit 0; fi
export CARGO_TARGET_DIR="${LATCHKEY_FUZZ_TARGET_DIR:-$HOME/.cache/latchkey-fuzz-target}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
start=$(date +%s)
cargo fuzz build --sanitizer none -O
echo "fuzz build: $(( $(date +%s) - start )) s"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
crashed=0
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target" "corpus/$target"
    log="$scratch/$target.log"
    status=0
    cargo fuzz run --sanitizer none -O "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 -max_len=8192 -timeout=10 >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    runs=${runs:-0}
    total=$((total + runs))
    if [ "$status" -ne 0 ]; then
        crashed=$((crashed + 1))
        echo "fuzz $target: CRASH after $runs executions"
        tail -40 "$log"
    else
        echo "fuzz $target: $runs executions in ${secs} s, no crash"
    fi
done
echo "fuzz total: $total executions, $crashed crashing targets"
[ "$crashed" -eq 0 ]
