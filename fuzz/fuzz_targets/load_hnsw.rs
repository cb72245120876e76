//! Raw bytes into the HnswIndex loader: must return Ok or a coded error, never panic or crash.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check_hnsw(data));
