//! Readers and writers for the file formats of other vector indexes, so their saved indexes load
//! into ferrovec (and back) without a rebuild.
//!
//! - [`hnswlib`]: hnswlib's `HierarchicalNSW` binary format (hnswlib-node, Python `hnswlib`).

pub mod hnswlib;
