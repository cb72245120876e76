//! Node.js binding of ferrovec-core. Thin by design: it converts typed arrays, runs heavy work as
//! `AsyncTask`s off the JS thread, and turns core errors into JS errors with a stable `code`. No
//! algorithm lives here.

#![deny(clippy::all)]

mod error;
mod flat;
mod metric;

pub use flat::NativeFlatIndex;
