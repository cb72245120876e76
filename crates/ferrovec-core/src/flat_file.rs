//! [`FlatIndex`] stored in the ferrovec file format ([`crate::format`]).
//!
//! ```text
//!  kind "FLAT"; every section is REQUIRED
//!  ┌────────┬───────────────────────────────┬──────────────────────────────────────────────────┐
//!  │ "PARM" │ 24 bytes                      │ metric u32 │ element u32 │ dim u64 │ count u64   │
//!  │ "KEYS" │ count × 8 bytes               │ u64 keys in storage order (each ≤ 2^53 − 1)      │
//!  │ "VECS" │ count × row_len × elem bytes  │ rows, row-major, parallel to KEYS                │
//!  └────────┴───────────────────────────────┴──────────────────────────────────────────────────┘
//!  element 1 = f32 (row_len = dim), 2 = packed bits (row_len = dim / 8 bytes, metric "hamming")
//! ```
//!
//! `PARM` is exactly 24 bytes in every 1.x file: later minors add sections rather than grow it, so
//! older readers keep reading newer files.
//!
//! Loading trusts nothing the container's checksums cannot vouch for: a file with valid checksums
//! can still be crafted, so counts must multiply out to the section sizes, keys must be unique and
//! in range, and every `f32` must be finite (the invariant `add` keeps), or the load fails with
//! `ERR_CORRUPT_FILE`.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Context, Error, Result};
use crate::flat::{check_params, FlatIndex};
use crate::format::codec::{out_of_memory, LeCodec, LeReader};
use crate::format::{self, kind, read_file, Container, FileElement, Tag, Writer};
use crate::keys::MAX_KEY;
use crate::metric::Metric;

/// Index parameters.
pub const PARAMS: Tag = Tag(*b"PARM");
/// Keys, `u64` little-endian.
pub const KEYS: Tag = Tag(*b"KEYS");
/// Rows, row-major.
pub const VECTORS: Tag = Tag(*b"VECS");

const PARAMS_LEN: usize = 24;

/// What a caller expects of a file it loads. A file that differs is refused before its rows are
/// decoded: a different `dim` is `ERR_DIMENSION_MISMATCH`, a different metric `ERR_INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
  pub dim: Option<usize>,
  pub metric: Option<Metric>,
}

/// A loaded flat index of either element type, for callers that learn the type from the file.
#[derive(Debug, Clone)]
pub enum AnyFlatIndex {
  F32(FlatIndex<f32>),
  Bits(FlatIndex<u8>),
}

impl AnyFlatIndex {
  /// Parses and validates a whole file held in memory.
  pub fn from_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Self> {
    Self::from_container(&Container::parse(bytes)?, options)
  }

  /// Reads and validates the file at `path`.
  ///
  /// Read, not mapped: the index copies its rows into memory it owns anyway, and a mapping would let
  /// another process truncating the file mid-load fault (SIGBUS) and take the host process down.
  pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = read_file(path)?;
    Self::from_container(&c, options).map_err(|e| e.with_path(path))
  }

  /// Builds the index from an already validated container.
  pub fn from_container<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Self> {
    let p = read_params(c, options)?;
    match p.element {
      <f32 as FileElement>::CODE => decode::<f32, B>(c, &p).map(AnyFlatIndex::F32),
      <u8 as FileElement>::CODE => decode::<u8, B>(c, &p).map(AnyFlatIndex::Bits),
      other => Err(c.unknown_value(
        format!("section {PARAMS}: element"),
        format!("unknown element code {other}"),
      )),
    }
  }

  /// The file bytes of the index.
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    match self {
      AnyFlatIndex::F32(i) => i.to_bytes(),
      AnyFlatIndex::Bits(i) => i.to_bytes(),
    }
  }

  /// Saves crash-safely (see [`Writer::save`]).
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    match self {
      AnyFlatIndex::F32(i) => i.save(path),
      AnyFlatIndex::Bits(i) => i.save(path),
    }
  }
}

impl<T: FileElement> FlatIndex<T> {
  /// A writer holding this index's sections; rows and keys are borrowed, not copied.
  pub fn writer(&self) -> Writer<'_> {
    let mut params = Vec::with_capacity(PARAMS_LEN);
    params.extend_from_slice(&format::metric_code(self.metric()).to_le_bytes());
    params.extend_from_slice(&T::CODE.to_le_bytes());
    params.extend_from_slice(&(self.dim() as u64).to_le_bytes());
    params.extend_from_slice(&(self.len() as u64).to_le_bytes());
    let mut w = Writer::new(kind::FLAT);
    w.section(PARAMS, params)
      .section(KEYS, u64::encode_le(self.keys()))
      .section(VECTORS, T::encode_le(self.data()));
    w
  }

  /// The whole file as bytes.
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    self.writer().to_bytes()
  }

  /// Saves to `path` crash-safely: a crash mid-save leaves the previous file intact.
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    self.writer().save(path.as_ref())
  }

  /// Parses and validates a whole file held in memory.
  pub fn from_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Self> {
    Self::from_container(&Container::parse(bytes)?, options)
  }

  /// Reads and validates the file at `path`.
  pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = read_file(path)?;
    Self::from_container(&c, options).map_err(|e| e.with_path(path))
  }

  /// Builds the index from an already validated container.
  pub fn from_container<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Self> {
    let p = read_params(c, options)?;
    if p.element != T::CODE {
      return Err(Error::invalid_argument(format!(
        "the file stores {} rows, but this index type stores {}",
        format::element_name(p.element).unwrap_or("unknown"),
        T::NAME
      )));
    }
    decode(c, &p)
  }
}

struct Params {
  metric: Metric,
  element: u32,
  dim: usize,
  count: usize,
}

fn corrupt_in(section: Tag, detail: impl Into<String>) -> Error {
  Error::corrupt(format!("section {section}"), detail)
}

fn read_params<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Params> {
  c.expect_kind(kind::FLAT)?;
  c.check_sections(&[PARAMS, KEYS, VECTORS])?;
  let raw = c.require(PARAMS)?;
  if raw.len() != PARAMS_LEN {
    return Err(corrupt_in(
      PARAMS,
      format!("length is {} bytes, expected {PARAMS_LEN}", raw.len()),
    ));
  }
  let mut r = LeReader::new(raw);
  let (metric_code, element, dim, count) = (r.u32(), r.u32(), r.u64(), r.u64());
  let metric = format::metric_from_code(metric_code).ok_or_else(|| {
    c.unknown_value(
      format!("section {PARAMS}: metric"),
      format!("unknown metric code {metric_code}"),
    )
  })?;
  let dim = usize::try_from(dim).map_err(|_| corrupt_in(PARAMS, format!("dim {dim} is out of range")))?;
  let count =
    usize::try_from(count).map_err(|_| corrupt_in(PARAMS, format!("count {count} is out of range")))?;
  // Expectations are checked before the rows are decoded, so a wrong file is refused cheaply.
  if let Some(m) = options.metric {
    if m != metric {
      return Err(Error::invalid_argument(format!(
        "the file holds a {:?} index, expected {:?}",
        metric.name(),
        m.name()
      )));
    }
  }
  if let Some(d) = options.dim {
    if d != dim {
      return Err(Error::DimensionMismatch {
        expected: d,
        got: dim,
        context: Context::NONE,
      });
    }
  }
  Ok(Params {
    metric,
    element,
    dim,
    count,
  })
}

fn decode<T: FileElement, B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<FlatIndex<T>> {
  // A checksummed file can still hold a dim/metric pairing `new` would refuse (crafted, or written
  // by a buggy tool): that is damage to the file, not a bad argument.
  let row_len = check_params::<T>(p.dim, p.metric).map_err(|e| corrupt_in(PARAMS, e.to_string()))?;
  if row_len == 0 {
    return Err(corrupt_in(PARAMS, "rows of zero length"));
  }
  let count = p.count;

  let keys_raw = c.require(KEYS)?;
  let want = count.checked_mul(8);
  if want != Some(keys_raw.len()) {
    return Err(corrupt_in(
      KEYS,
      format!(
        "length is {} bytes, but {count} keys (the count in {PARAMS}) need {count} × 8",
        keys_raw.len()
      ),
    ));
  }
  let rows_raw = c.require(VECTORS)?;
  let elem = std::mem::size_of::<T>();
  let want = count.checked_mul(row_len).and_then(|x| x.checked_mul(elem));
  if want != Some(rows_raw.len()) {
    return Err(corrupt_in(
      VECTORS,
      format!(
        "length is {} bytes, but {count} rows of {row_len} × {elem}-byte {} need {}",
        rows_raw.len(),
        T::NAME,
        want.map_or_else(|| "more than fits in memory".to_owned(), |w| format!("{w}"))
      ),
    ));
  }

  let keys = u64::decode_le(keys_raw)?;
  let mut slots: HashMap<u64, usize> = HashMap::new();
  slots
    .try_reserve(count)
    .map_err(|_| out_of_memory(keys_raw.len()))?;
  for (i, &k) in keys.iter().enumerate() {
    if k > MAX_KEY {
      return Err(corrupt_in(
        KEYS,
        format!("key {k} at position {i} is above the largest key, 2^53 − 1 = {MAX_KEY}"),
      ));
    }
    if let Some(prev) = slots.insert(k, i) {
      return Err(corrupt_in(
        KEYS,
        format!("key {k} appears twice (positions {prev} and {i})"),
      ));
    }
  }

  let data = T::decode_le(rows_raw)?;
  if let Some(bad) = data
    .par_chunks(row_len)
    .position_first(|row| T::validate(row, Context::NONE).is_err())
  {
    let row = data.get(bad * row_len..(bad + 1) * row_len).unwrap_or_default();
    let reason = T::validate(row, Context::row(bad))
      .err()
      .map_or_else(String::new, |e| e.to_string());
    return Err(corrupt_in(VECTORS, reason));
  }
  FlatIndex::from_parts(p.metric, p.dim, data, keys, slots)
}
