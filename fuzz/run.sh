#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets for a bounded time each (default 60 s), starting from the
# committed seed files. Needs a nightly toolchain (`rustup toolchain install nightly`) and a C++
# compiler (libFuzzer is built from source by libfuzzer-sys). Equivalent to `cargo fuzz run`,
# without needing cargo-fuzz installed.
#
#   fuzz/run.sh                 every target, 60 s each
#   fuzz/run.sh 300 load_flat   one target, 300 s
#
# A crash leaves its input in fuzz/artifacts/TARGET/; copy it into fuzz/regressions/ (which
# tests/format.rs and tests/hnsw_file.rs feed to the loaders) as a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(load_flat load_flat_sealed load_hnsw load_hnsw_sealed load_hnswlib)

# The flags cargo-fuzz passes: coverage counters and comparison tracing for libFuzzer, AddressSanitizer,
# and debug assertions plus overflow checks so arithmetic slips show up as crashes.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers"
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
cargo +nightly build --release --target "$triple" --bins

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== $t for ${secs}s"
  seeds="seeds/${t%_sealed}"
  "target/$triple/release/$t" "corpus/$t" "$seeds" \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1
done
