//! Node.js binding of ferrovec-core. Thin by design: it converts typed arrays, runs heavy work as
//! `AsyncTask`s off the JS thread, and turns core errors into JS errors with a stable `code`. No
//! algorithm lives here.

#![deny(clippy::all)]
// Under cfg(test) napi-derive emits no module registration, so every exported item looks unused to
// `cargo clippy --all-targets`; the real build (and ava) uses them all.
#![cfg_attr(test, allow(dead_code))]

mod error;
mod flat;
mod hnsw;
mod hnswlib;
mod metric;

pub use flat::NativeFlatIndex;
pub use hnsw::NativeHnswIndex;
pub use hnswlib::NativeHnswlib;
// Re-exported so every `#[napi]` item is reachable from the crate root; without this, `cargo clippy
// --all-targets` (which builds the lib's test target, where napi's registration is compiled out)
// reports the plain functions as dead code.
pub use metric::{distance, distances_into, native_info, CodeKernel, NativeInfo};
