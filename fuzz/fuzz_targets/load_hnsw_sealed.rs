//! Like `load_hnsw`, but with checksums repaired first, so the fuzzer explores the graph validation
//! (neighbour ids, list lengths, levels, entry point, keys, tombstones) that sits behind them.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
  let mut b = data.to_vec();
  common::reseal(&mut b);
  common::check_hnsw(&b);
});
