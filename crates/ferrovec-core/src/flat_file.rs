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
//!
//!  quantised indexes (format 1.1) add, all REQUIRED (so a 1.0 reader refuses the file as too new):
//!  ┌────────┬───────────────────────────────┬──────────────────────────────────────────────────┐
//!  │ "QOPT" │ 48 bytes                      │ type u32 │ flags u32 │ int8 quantile f32 │       │
//!  │        │                               │ oversample f32 │ pq m u32 │ pq iterations u32 │  │
//!  │        │                               │ pq sample u64 │ trainAfter u64 (0 = manual) │    │
//!  │        │                               │ seed u64      flags: 1 keepOriginals, 2 binary │
//!  │        │                               │ centering, 4 trained; truncate: dims in pq m     │
//!  │ "QPRM" │ quantiser parameters          │ trained only; see `quant::AnyQuantizer`          │
//!  │ "QCOD" │ count × code_len bytes        │ trained only; codes parallel to KEYS             │
//!  └────────┴───────────────────────────────┴──────────────────────────────────────────────────┘
//!  VECS then holds the originals, or nothing once training dropped them (keepOriginals false).
//! ```
//!
//! `PARM` is exactly 24 bytes in every 1.x file: later minors add sections rather than grow it, so
//! older readers keep reading newer files.
//!
//! Loading trusts nothing the container's checksums cannot vouch for: a file with valid checksums
//! can still be crafted, so counts must multiply out to the section sizes, keys must be unique and
//! in range, and every `f32` must be finite (the invariant `add` keeps), or the load fails with
//! `ERR_CORRUPT_FILE`.
//!
//! # Read-only mapped open
//!
//! [`FlatIndex::open_read_only`], [`QuantizedFlatIndex::open_read_only`] and [`AnyFlatIndex::open`]
//! with `read_only` map the file and run the very checks of a load, in the same order, so a damaged
//! file fails with the same error (only the rows are checked on the mapped view instead of a copy).
//! Keys (and a quantised index's codes, which every search scans) are copied into memory; `VECS` —
//! the scanned rows of a plain index, the originals a quantised index rescores — is served from the
//! mapping (`crate::storage::Vectors`). The originals of a quantised index thus have three storage
//! modes: in memory (load), on disk read through the mapping (this), or dropped (`keepOriginals`
//! false; such a file maps nothing). Every write fails with `ERR_READ_ONLY`.
//!
//! The hazard is HNSW's (see `hnsw/file.rs`): if another process truncates the file or rewrites it
//! in place while it is mapped, touching a vanished page raises SIGBUS and kills the process.
//! ferrovec's own saves replace files by rename, which leaves an existing mapping on the old file, so
//! saving over an open file is safe; a foreign tool editing it in place is not: use `load` then.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Context, Error, Result};
use crate::flat::{check_params, FlatIndex};
use crate::format::codec::{out_of_memory, LeCodec, LeReader};
use crate::format::{self, kind, map_file, read_file, Container, FileBytes, FileElement, Tag, Writer};
use crate::keys::MAX_KEY;
use crate::metric::Metric;
use crate::quant::{self, AnyQuantizer, QuantOptions, QuantSpec, QuantizedFlatIndex};
use crate::storage::Vectors;

/// Index parameters.
pub const PARAMS: Tag = Tag(*b"PARM");
/// Keys, `u64` little-endian.
pub const KEYS: Tag = Tag(*b"KEYS");
/// Rows, row-major.
pub const VECTORS: Tag = Tag(*b"VECS");
/// Quantisation options (quantised indexes only).
pub const QUANT_OPTIONS: Tag = Tag(*b"QOPT");
/// Trained quantiser parameters.
pub const QUANT_PARAMS: Tag = Tag(*b"QPRM");
/// Codes, `code_len` bytes per key.
pub const QUANT_CODES: Tag = Tag(*b"QCOD");

const QOPT_LEN: usize = 48;

const PARAMS_LEN: usize = 24;

/// What a caller expects of a file it loads. A file that differs is refused before its rows are
/// decoded: a different `dim` is `ERR_DIMENSION_MISMATCH`, a different metric `ERR_INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
  pub dim: Option<usize>,
  pub metric: Option<Metric>,
}

/// How [`AnyFlatIndex::open`] and [`crate::AnyHnswIndex::open`] open a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
  /// Map the file and serve vectors from the mapping (the rows of a plain index, the originals of a
  /// quantised one, the rows of an HNSW graph); every write fails with `ERR_READ_ONLY`. `false`
  /// reads the file into memory, as `load`.
  pub read_only: bool,
  /// What the file must hold (as for `load`).
  pub expect: LoadOptions,
}

/// A loaded flat index of either element type, for callers that learn the type from the file.
#[derive(Debug, Clone)]
pub enum AnyFlatIndex {
  F32(FlatIndex<f32>),
  Bits(FlatIndex<u8>),
  /// f32 vectors searched through quantised codes.
  Quant(QuantizedFlatIndex),
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
    Self::open(
      path,
      &OpenOptions {
        read_only: false,
        expect: *options,
      },
    )
  }

  /// Loads (`read_only: false`) or maps read-only (see [`FlatIndex::open_read_only`] and
  /// [`QuantizedFlatIndex::open_read_only`]) the file at `path`, whichever index it holds.
  pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = if options.read_only {
      map_file(path)?
    } else {
      read_file(path)?
    };
    let run = || {
      let p = read_params(&c, &options.expect)?;
      if c.section(QUANT_OPTIONS).is_some() {
        return finish_quant(c, &p, options.read_only).map(AnyFlatIndex::Quant);
      }
      match p.element {
        <f32 as FileElement>::CODE => finish::<f32>(c, &p, options.read_only).map(AnyFlatIndex::F32),
        <u8 as FileElement>::CODE => finish::<u8>(c, &p, options.read_only).map(AnyFlatIndex::Bits),
        other => Err(c.unknown_value(
          format!("section {PARAMS}: element"),
          format!("unknown element code {other}"),
        )),
      }
    };
    run().map_err(|e| e.with_path(path))
  }

  /// Whether the index was opened read-only (mapped) from its file.
  pub fn is_read_only(&self) -> bool {
    match self {
      AnyFlatIndex::F32(i) => i.is_read_only(),
      AnyFlatIndex::Bits(i) => i.is_read_only(),
      AnyFlatIndex::Quant(i) => i.is_read_only(),
    }
  }

  /// Builds the index from an already validated container.
  pub fn from_container<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Self> {
    let p = read_params(c, options)?;
    if c.section(QUANT_OPTIONS).is_some() {
      return decode_quant(c, &p).map(AnyFlatIndex::Quant);
    }
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
      AnyFlatIndex::Quant(i) => i.to_bytes(),
    }
  }

  /// Saves crash-safely (see [`Writer::save`]).
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    match self {
      AnyFlatIndex::F32(i) => i.save(path),
      AnyFlatIndex::Bits(i) => i.save(path),
      AnyFlatIndex::Quant(i) => i.save(path),
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

  /// Maps the file at `path` read-only, validates all of it exactly as [`FlatIndex::load`] does
  /// (same checks, same errors), copies the keys into memory, and serves searches with the rows read
  /// straight from the mapping: the results equal the loaded index's. Every write (`add`,
  /// `add_batch`, `try_remove`) fails with `ERR_READ_ONLY`; saving a copy elsewhere works.
  ///
  /// **Do not truncate or rewrite the file in place while it is open** (another program could):
  /// touching a page that vanished raises SIGBUS and kills the process. Replacing it by rename, as
  /// every ferrovec save does, is safe: the mapping keeps the old file. Use [`FlatIndex::load`],
  /// which reads the file into memory and never faults, when the file may change in place.
  pub fn open_read_only(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = map_file(path)?;
    let run = || {
      let p = read_params(&c, options)?;
      check_plain_kind::<T, _>(&c, &p)?;
      finish(c, &p, true)
    };
    run().map_err(|e| e.with_path(path))
  }

  /// Builds the index from an already validated container.
  pub fn from_container<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Self> {
    let p = read_params(c, options)?;
    check_plain_kind::<T, B>(c, &p)?;
    decode(c, &p)
  }
}

/// Refuses a file that holds another kind of flat index than `FlatIndex<T>`.
fn check_plain_kind<T: FileElement, B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<()> {
  if c.section(QUANT_OPTIONS).is_some() {
    return Err(Error::invalid_argument(
      "the file holds a quantised index; load it as any flat index (AnyFlatIndex) to get its codes",
    ));
  }
  if p.element != T::CODE {
    return Err(Error::invalid_argument(format!(
      "the file stores {} rows, but this index type stores {}",
      format::element_name(p.element).unwrap_or("unknown"),
      T::NAME
    )));
  }
  Ok(())
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
  c.check_sections(&[PARAMS, KEYS, VECTORS, QUANT_OPTIONS, QUANT_PARAMS, QUANT_CODES])?;
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

/// A plain flat file's checked layout: its row length and decoded keys. Row values are checked
/// separately ([`check_rows`]), on whichever form the rows take (owned copy or mapped view).
struct PlainLayout {
  row_len: usize,
  keys: (Vec<u64>, HashMap<u64, usize>),
}

fn check_plain<T: FileElement, B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<PlainLayout> {
  // A checksummed file can still hold a dim/metric pairing `new` would refuse (crafted, or written
  // by a buggy tool): that is damage to the file, not a bad argument.
  let row_len = check_params::<T>(p.dim, p.metric).map_err(|e| corrupt_in(PARAMS, e.to_string()))?;
  if row_len == 0 {
    return Err(corrupt_in(PARAMS, "rows of zero length"));
  }
  let count = p.count;

  let keys_raw = check_keys_len(c, count)?;
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
  Ok(PlainLayout {
    row_len,
    keys: decode_keys(keys_raw, count)?,
  })
}

/// Every row must pass `T::validate` (finite f32), the invariant `add` keeps.
fn check_rows<T: FileElement>(data: &[T], row_len: usize) -> Result<()> {
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
  Ok(())
}

/// Builds an owned index from any validated container.
fn decode<T: FileElement, B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<FlatIndex<T>> {
  let PlainLayout { row_len, keys } = check_plain::<T, B>(c, p)?;
  // Decoded first and checked on the copy: one pass over the rows, and a `fromBuffer` of unaligned
  // bytes is not copied twice.
  let data = T::decode_le(c.require(VECTORS)?)?;
  check_rows(&data, row_len)?;
  FlatIndex::from_parts(p.metric, p.dim, Vectors::Owned(data), keys.0, keys.1, false)
}

/// Builds the index from a file's container: owned ([`decode`]), or for a read-only open with the
/// rows served from the mapping after the same checks.
fn finish<T: FileElement>(c: Container<FileBytes>, p: &Params, read_only: bool) -> Result<FlatIndex<T>> {
  if !read_only {
    return decode(&c, p);
  }
  let PlainLayout { row_len, keys } = check_plain::<T, _>(&c, p)?;
  check_rows(&T::view_le(c.require(VECTORS)?)?, row_len)?;
  let data = Vectors::from_section(c, VECTORS, p.count * row_len)?;
  FlatIndex::from_parts(p.metric, p.dim, data, keys.0, keys.1, true)
}

fn decode_keys(keys_raw: &[u8], count: usize) -> Result<(Vec<u64>, HashMap<u64, usize>)> {
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
  Ok((keys, slots))
}

fn check_keys_len<B: AsRef<[u8]>>(c: &Container<B>, count: usize) -> Result<&[u8]> {
  let keys_raw = c.require(KEYS)?;
  if count.checked_mul(8) != Some(keys_raw.len()) {
    return Err(corrupt_in(
      KEYS,
      format!(
        "length is {} bytes, but {count} keys (the count in {PARAMS}) need {count} × 8",
        keys_raw.len()
      ),
    ));
  }
  Ok(keys_raw)
}

const QFLAG_KEEP: u32 = 1;
const QFLAG_CENTER: u32 = 2;
const QFLAG_TRAINED: u32 = 4;

/// The `QOPT` section of a quantised index (flat or HNSW).
pub(crate) fn encode_quant_options(o: &QuantOptions, trained: bool) -> Vec<u8> {
  let (code, center, quantile, m, iterations, sample) = match o.spec {
    QuantSpec::F16 => (quant::CODE_F16, false, 0.0, 0, 0, 0),
    QuantSpec::Int8 { quantile } => (quant::CODE_INT8, false, quantile, 0, 0, 0),
    QuantSpec::Binary { center } => (quant::CODE_BINARY, center, 0.0, 0, 0, 0),
    QuantSpec::Pq {
      m,
      iterations,
      sample,
    } => (quant::CODE_PQ, false, 0.0, m, iterations, sample),
    // The kept dims travel in the `m` field.
    QuantSpec::Truncate { dims } => (quant::CODE_TRUNCATE, false, 0.0, dims, 0, 0),
  };
  let bit = |on: bool, flag: u32| if on { flag } else { 0 };
  let flags = bit(o.keep_originals, QFLAG_KEEP) | bit(center, QFLAG_CENTER) | bit(trained, QFLAG_TRAINED);
  let mut b = Vec::with_capacity(QOPT_LEN);
  b.extend_from_slice(&code.to_le_bytes());
  b.extend_from_slice(&flags.to_le_bytes());
  b.extend_from_slice(&quantile.to_le_bytes());
  b.extend_from_slice(&o.oversample.to_le_bytes());
  b.extend_from_slice(&(m as u32).to_le_bytes());
  b.extend_from_slice(&(iterations as u32).to_le_bytes());
  b.extend_from_slice(&(sample as u64).to_le_bytes());
  b.extend_from_slice(&(o.train_after.unwrap_or(0) as u64).to_le_bytes());
  b.extend_from_slice(&o.seed.to_le_bytes());
  b
}

fn decode_quant_options<B: AsRef<[u8]>>(c: &Container<B>) -> Result<(QuantOptions, bool)> {
  let raw = c.require(QUANT_OPTIONS)?;
  if raw.len() != QOPT_LEN {
    return Err(corrupt_in(
      QUANT_OPTIONS,
      format!("length is {} bytes, expected {QOPT_LEN}", raw.len()),
    ));
  }
  let mut r = LeReader::new(raw);
  let (code, flags) = (r.u32(), r.u32());
  let quantile = f32::from_bits(r.u32());
  let oversample = f32::from_bits(r.u32());
  let (m, iterations, sample) = (r.u32() as usize, r.u32() as usize, r.u64());
  let (train_after, seed) = (r.u64(), r.u64());
  if flags & !(QFLAG_KEEP | QFLAG_CENTER | QFLAG_TRAINED) != 0 {
    return Err(c.unknown_value(
      format!("section {QUANT_OPTIONS}: flags"),
      format!("unknown flag bits {flags:#x}"),
    ));
  }
  let spec = match code {
    quant::CODE_F16 => QuantSpec::F16,
    quant::CODE_INT8 => QuantSpec::Int8 { quantile },
    quant::CODE_BINARY => QuantSpec::Binary {
      center: flags & QFLAG_CENTER != 0,
    },
    quant::CODE_PQ => QuantSpec::Pq {
      m,
      iterations,
      sample: usize::try_from(sample)
        .map_err(|_| corrupt_in(QUANT_OPTIONS, format!("pq sample {sample} is out of range")))?,
    },
    quant::CODE_TRUNCATE => QuantSpec::Truncate { dims: m },
    other => {
      return Err(c.unknown_value(
        format!("section {QUANT_OPTIONS}: type"),
        format!("unknown quantization type code {other}"),
      ))
    }
  };
  let train_after = match train_after {
    0 => None,
    n => Some(
      usize::try_from(n).map_err(|_| corrupt_in(QUANT_OPTIONS, format!("trainAfter {n} is out of range")))?,
    ),
  };
  Ok((
    QuantOptions {
      spec,
      oversample,
      keep_originals: flags & QFLAG_KEEP != 0,
      train_after,
      seed,
    },
    flags & QFLAG_TRAINED != 0,
  ))
}

/// A quantised index's own sections, decoded and checked against each other.
pub(crate) struct QuantSections {
  pub options: QuantOptions,
  pub quantizer: Option<AnyQuantizer>,
  /// `count × code_len` bytes (empty when untrained).
  pub codes: Vec<u8>,
}

/// Reads `QOPT`, `QPRM` and `QCOD` for an index of `count` vectors (slots) of `dim` and `metric`:
/// shared by the flat and HNSW files. Every inconsistency is `ERR_CORRUPT_FILE` naming the section.
pub(crate) fn decode_quant_sections<B: AsRef<[u8]>>(
  c: &Container<B>,
  dim: usize,
  metric: Metric,
  count: usize,
) -> Result<QuantSections> {
  let (options, trained) = decode_quant_options(c)?;
  options
    .check(dim, metric)
    .map_err(|e| corrupt_in(QUANT_OPTIONS, e.to_string()))?;
  let quantizer = match (trained, c.section(QUANT_PARAMS), c.section(QUANT_CODES)) {
    (true, Some(params), Some(_)) => Some(AnyQuantizer::from_params_bytes(
      params,
      dim,
      metric,
      &format!("section {QUANT_PARAMS}"),
    )?),
    (false, None, None) => None,
    (true, ..) => {
      return Err(corrupt_in(
        QUANT_OPTIONS,
        format!("marked trained, but {QUANT_PARAMS} or {QUANT_CODES} is missing"),
      ))
    }
    (false, ..) => {
      return Err(corrupt_in(
        QUANT_OPTIONS,
        format!("marked untrained, but the file has {QUANT_PARAMS} or {QUANT_CODES}"),
      ))
    }
  };
  if let Some(q) = &quantizer {
    if q.name() != options.spec.name() {
      return Err(corrupt_in(
        QUANT_PARAMS,
        format!(
          "holds {} parameters, but {QUANT_OPTIONS} says {}",
          q.name(),
          options.spec.name()
        ),
      ));
    }
  }

  let codes = match &quantizer {
    None => Vec::new(),
    Some(q) => {
      let raw = c.require(QUANT_CODES)?;
      let cl = q.code_len();
      if count.checked_mul(cl) != Some(raw.len()) {
        return Err(corrupt_in(
          QUANT_CODES,
          format!(
            "length is {} bytes, but {count} codes of {cl} bytes need {}",
            raw.len(),
            count.saturating_mul(cl)
          ),
        ));
      }
      if let AnyQuantizer::Int8(_) = q {
        // The two f32 corrections after each int8 code must be finite, like every stored float.
        if let Some(bad) = raw.chunks_exact(cl).position(|code| {
          code[dim..]
            .chunks_exact(4)
            .any(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite())
        }) {
          return Err(corrupt_in(
            QUANT_CODES,
            format!("code {bad} has a non-finite correction term"),
          ));
        }
      }
      let mut v = Vec::new();
      v.try_reserve_exact(raw.len())
        .map_err(|_| out_of_memory(raw.len()))?;
      v.extend_from_slice(raw);
      v
    }
  };

  Ok(QuantSections {
    options,
    quantizer,
    codes,
  })
}

/// A quantised flat file's checked sections, all but the originals' values (and the keys, which are
/// decoded after those values, in the order `load` has always reported problems).
struct QuantLayout<'a> {
  sections: QuantSections,
  keys_raw: &'a [u8],
  /// Whether VECS holds the originals (else it is empty: trained with keepOriginals false).
  originals: bool,
}

fn check_quant<'a, B: AsRef<[u8]>>(c: &'a Container<B>, p: &Params) -> Result<QuantLayout<'a>> {
  if p.element != <f32 as FileElement>::CODE {
    return Err(corrupt_in(
      PARAMS,
      "a quantised index stores f32 vectors, but the element code differs",
    ));
  }
  check_params::<f32>(p.dim, p.metric).map_err(|e| corrupt_in(PARAMS, e.to_string()))?;
  let (dim, count) = (p.dim, p.count);
  let keys_raw = check_keys_len(c, count)?;

  let sections = decode_quant_sections(c, dim, p.metric, count)?;
  let dropped = sections.quantizer.is_some() && !sections.options.keep_originals;

  let rows_raw = c.require(VECTORS)?;
  let full = count.checked_mul(dim).and_then(|x| x.checked_mul(4));
  let originals = if Some(rows_raw.len()) == full {
    true
  } else if rows_raw.is_empty() && dropped {
    false
  } else {
    return Err(corrupt_in(
      VECTORS,
      format!(
        "length is {} bytes, but {count} rows of {dim} f32 need {}{}",
        rows_raw.len(),
        full.map_or_else(|| "more than fits in memory".to_owned(), |w| format!("{w}")),
        if dropped { " (or 0, originals dropped)" } else { "" }
      ),
    ));
  };
  Ok(QuantLayout {
    sections,
    keys_raw,
    originals,
  })
}

fn build_quant(
  p: &Params,
  sections: QuantSections,
  keys: (Vec<u64>, HashMap<u64, usize>),
  originals: Vectors<f32>,
  read_only: bool,
) -> Result<QuantizedFlatIndex> {
  let QuantSections {
    options,
    quantizer,
    codes,
  } = sections;
  QuantizedFlatIndex::from_parts(
    p.dim, p.metric, options, quantizer, keys, originals, codes, read_only,
  )
  .map_err(|e| corrupt_in(QUANT_OPTIONS, e.to_string()))
}

/// Builds an owned quantised index from any validated container.
fn decode_quant<B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<QuantizedFlatIndex> {
  let layout = check_quant(c, p)?;
  let originals = if layout.originals {
    let data = f32::decode_le(c.require(VECTORS)?)?;
    check_rows(&data, p.dim)?;
    data
  } else {
    Vec::new()
  };
  let keys = decode_keys(layout.keys_raw, p.count)?;
  build_quant(p, layout.sections, keys, Vectors::Owned(originals), false)
}

/// [`decode_quant`] from a file's container; a read-only open serves the originals (what rescoring
/// reads) from the mapping after the same checks. Codes are copied: they are what every search
/// scans, and a fraction of the originals' size.
fn finish_quant(c: Container<FileBytes>, p: &Params, read_only: bool) -> Result<QuantizedFlatIndex> {
  if !read_only {
    return decode_quant(&c, p);
  }
  let layout = check_quant(&c, p)?;
  let len = if layout.originals {
    check_rows(&f32::view_le(c.require(VECTORS)?)?, p.dim)?;
    p.count * p.dim
  } else {
    0
  };
  // The layout borrows the container, which the mapping is about to move out of: finish the keys
  // (the last check) first.
  let keys = decode_keys(layout.keys_raw, p.count)?;
  let sections = layout.sections;
  build_quant(p, sections, keys, Vectors::from_section(c, VECTORS, len)?, true)
}

impl QuantizedFlatIndex {
  /// A writer holding this index's sections (see the module docs for the layout).
  pub fn writer(&self) -> Writer<'_> {
    let mut params = Vec::with_capacity(PARAMS_LEN);
    params.extend_from_slice(&format::metric_code(self.metric()).to_le_bytes());
    params.extend_from_slice(&<f32 as FileElement>::CODE.to_le_bytes());
    params.extend_from_slice(&(self.dim() as u64).to_le_bytes());
    params.extend_from_slice(&(self.len() as u64).to_le_bytes());
    let mut w = Writer::new(kind::FLAT);
    w.section(PARAMS, params)
      .section(KEYS, u64::encode_le(self.keys()))
      .section(VECTORS, f32::encode_le(self.originals()))
      .section(
        QUANT_OPTIONS,
        encode_quant_options(self.options(), self.is_trained()),
      );
    if let Some(q) = self.quantizer() {
      w.section(QUANT_PARAMS, q.params_bytes())
        .section(QUANT_CODES, self.codes());
    }
    w
  }

  /// The whole file as bytes.
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    self.writer().to_bytes()
  }

  /// Saves to `path` crash-safely.
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    self.writer().save(path.as_ref())
  }

  /// Maps the file at `path` read-only and validates all of it exactly as a load does (same checks,
  /// same errors). Keys and codes (what every search scans) are copied into memory; the f32
  /// originals, which rescoring reads for the best `k × oversample` candidates, are served straight
  /// from the mapping. Results equal the loaded index's. Every write (`add_batch`, `try_remove`,
  /// `train`) fails with `ERR_READ_ONLY`; `set_oversample` is a search setting and works (it changes
  /// this open index, never the file). The originals' three storage modes are then: kept in memory
  /// (`load`), kept on disk and read through the mapping (this), or dropped (`keep_originals: false`,
  /// codes only; such a file maps nothing).
  ///
  /// **Do not truncate or rewrite the file in place while it is open**: see
  /// [`FlatIndex::open_read_only`] (SIGBUS).
  pub fn open_read_only(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = map_file(path)?;
    let run = || {
      let p = read_params(&c, options)?;
      if c.section(QUANT_OPTIONS).is_none() {
        return Err(Error::invalid_argument(
          "the file holds an unquantised flat index; open it as a FlatIndex (or AnyFlatIndex)",
        ));
      }
      finish_quant(c, &p, true)
    };
    run().map_err(|e| e.with_path(path))
  }
}
