//! # ferrovec-core
//!
//! The engine behind ferrovec: SIMD distance kernels ([`metric`], through simsimd), exact search
//! ([`flat::FlatIndex`]) and approximate search over an HNSW graph ([`hnsw::HnswIndex`]), stored in a
//! versioned, checksummed file format ([`format`](mod@format), [`flat_file`]). Pure Rust with no Node
//! dependency; the napi-rs binding in `ferrovec-node` only converts arguments and schedules work.
//!
//! Contracts kept everywhere in this crate:
//! - distances are smaller-is-closer (see [`metric`] for each metric's definition);
//! - nothing derived from user input panics: every failure is an [`Error`] with a stable
//!   [`Error::code`], and a failed call leaves the index as it was.

#![deny(clippy::all)]

mod batch;
pub mod compat;
pub mod error;
pub mod flat;
pub mod flat_file;
pub mod format;
pub mod hnsw;
pub mod keys;
pub mod metric;
pub mod quant;
mod storage;
mod tile;
pub mod topk;

pub use error::{Error, Result};
pub use flat::{BatchResult, FlatIndex, MemoryUsage};
pub use flat_file::{AnyFlatIndex, LoadOptions};
pub use hnsw::{AnyHnswIndex, HnswIndex, HnswParams, OpenOptions, SearchStats};
pub use metric::{Element, Metric};
pub use topk::Neighbor;

/// Threads in the pool that parallel batch work runs on.
pub fn threads() -> usize {
  rayon::current_num_threads()
}
