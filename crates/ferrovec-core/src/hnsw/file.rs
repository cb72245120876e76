//! [`HnswIndex`] stored in the ferrovec file format ([`crate::format`]).
//!
//! ```text
//!  kind "HNSW"; every section is REQUIRED; n = count (slots, live + removed), m0 = 2·m
//!  ┌────────┬──────────────────────────────┬───────────────────────────────────────────────────────┐
//!  │ "PARM" │ 80 bytes                     │ metric u32 │ element u32 │ dim u64 │ m u32           │
//!  │        │                              │ ef_construction u32 │ ef_search u32 │ max_level u32   │
//!  │        │                              │ seed u64 │ rng state u64 │ count u64 │ live u64       │
//!  │        │                              │ entry u64 (slot; u64::MAX when empty) │ upper u64    │
//!  │ "KEYS" │ n × 8                        │ u64 key per slot (each ≤ 2^53 − 1, unique among live) │
//!  │ "TOMB" │ ⌈n / 64⌉ × 8                 │ u64 bitmap: bit s set = slot s removed; rest zero     │
//!  │ "LEVL" │ n                            │ u8 top level per slot (≤ max_level ≤ 30)              │
//!  │ "LNK0" │ n × (1 + m0) × 4             │ level-0 lists: [count, ids…, 0…] per slot             │
//!  │ "LNKU" │ upper × (1 + m) × 4          │ one [count, ids…, 0…] block per (slot, level 1..=L),  │
//!  │        │                              │ in slot then level order; upper = Σ levels            │
//!  │ "VECS" │ n × row_len × elem           │ rows, row-major (removed rows too: they still route)  │
//!  └────────┴──────────────────────────────┴───────────────────────────────────────────────────────┘
//!  element 1 = f32 (row_len = dim), 2 = packed bits (row_len = dim / 8 bytes, metric "hamming")
//!
//!  quantised indexes add the flat file's three sections (same layout and codec, `flat_file.rs`),
//!  all REQUIRED, so a reader that does not know quantised HNSW refuses the file instead of
//!  ignoring the codes:
//!  ┌────────┬──────────────────────────────┬───────────────────────────────────────────────────────┐
//!  │ "QOPT" │ 48 bytes                     │ quantisation options and the trained flag             │
//!  │ "QPRM" │ quantiser parameters         │ trained only; see `quant::AnyQuantizer`               │
//!  │ "QCOD" │ n × code_len                 │ trained only; one code per slot (removed slots too)   │
//!  └────────┴──────────────────────────────┴───────────────────────────────────────────────────────┘
//!  VECS then holds the originals, or nothing (0 bytes) once training dropped them
//!  (keepOriginals false). Unquantised files are unchanged: they have none of these sections.
//! ```
//!
//! The lists mirror the in-memory layout of `graph.rs` (fixed stride on level 0, per-level blocks
//! above), so loading is a copy plus checks. `ef_search` is the index's current default search
//! width; the rng state continues level sampling where the saved index left off, so a seeded
//! single-thread build that is saved, loaded and extended equals one that never was saved.
//! `PARM` is exactly 80 bytes in every 1.x file: later minors add sections instead of growing it.
//!
//! Loading trusts nothing the checksums cannot vouch for: a file with valid checksums can still be
//! crafted, and a graph that breaks an invariant could make the search code index out of bounds or
//! loop. So before anything is built, every neighbour id must be a slot (`< count`), not the node
//! itself and not repeated in its list, and present on the list's level; every list count fits its
//! level's capacity and unused words are zero; levels stay within `max_level`, which is the entry
//! point's level; keys are in range and unique among live slots (a removed slot may hold the key of
//! a later live one: remove then re-add); the tombstone bitmap has the right length and popcount;
//! every f32 is finite; and all counts multiply out to the section lengths. Each violation is an
//! `ERR_CORRUPT_FILE` naming the section and the field.
//!
//! # Read-only mapped open
//!
//! [`HnswIndex::open_read_only`] maps the file, validates all of it (which reads each page once),
//! copies the small sections (keys, tombstones, levels, lists: about `4·(1 + 2m)` bytes per node)
//! into memory, and serves the vectors — most of the file — straight from the mapping. The graph is
//! copied rather than mapped because its words are atomics rewritten in place by inserts; mapping
//! them would mean a second graph representation for one read-only use. The rows' storage type
//! (owned or mapped) is `crate::storage::Vectors`, shared with the flat indexes' read-only open.
//!
//! A mapping has one hazard a read does not: if another process truncates the file (or rewrites it
//! in place) while it is mapped, touching a vanished page raises SIGBUS, which kills the process.
//! What limits it: everything is validated at open, so only vector reads touch the mapping
//! afterwards; ferrovec's own saves never write in place (temp file + rename leaves an existing
//! mapping on the old file), so saving over an open file, from this process or another, is safe.
//! What remains is a foreign tool truncating or editing the file in place: don't, or use
//! [`HnswIndex::load`], which reads the file into memory and never faults.
//!
//! Measured cost of serving vectors through the mapping-or-owned storage enum: none within noise
//! (8,000 × 96-d l2, m 16, 2,000 single-thread queries: 89.1–89.8 µs/query against 88.2–89.3 before
//! the enum existed). Not tested here: Windows may refuse to replace a file that is mapped; the
//! save then fails with `ERR_IO`, removes its temp file and leaves the mapped file as it was.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicUsize;

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use super::build::SplitMix64;
use super::graph::{Graph, MAX_LEVEL};
use super::visited::ScratchPool;
use super::{check_ef, Entry, HnswIndex, MAX_M};
use crate::error::{Context, Error, Result};
use crate::flat::check_params;
use crate::flat_file::{
  decode_quant_sections, encode_quant_options, LoadOptions, QuantSections, QUANT_CODES, QUANT_OPTIONS,
  QUANT_PARAMS,
};
use crate::format::codec::{out_of_memory, LeCodec, LeReader};
use crate::format::{self, kind, map_file, read_file, Container, FileBytes, FileElement, Tag, Writer};
use crate::keys::MAX_KEY;
use crate::metric::Metric;
use crate::storage::Vectors;

/// Index parameters.
pub const PARAMS: Tag = Tag(*b"PARM");
/// Keys per slot, `u64`.
pub const KEYS: Tag = Tag(*b"KEYS");
/// Tombstone bitmap, `u64` words.
pub const TOMBSTONES: Tag = Tag(*b"TOMB");
/// Top level per slot, `u8`.
pub const LEVELS: Tag = Tag(*b"LEVL");
/// Level-0 neighbour lists, `u32`.
pub const LINKS0: Tag = Tag(*b"LNK0");
/// Upper-level neighbour lists, `u32`.
pub const LINKS_UP: Tag = Tag(*b"LNKU");
/// Rows, row-major.
pub const VECTORS: Tag = Tag(*b"VECS");

const SECTIONS: [Tag; 10] = [
  PARAMS,
  KEYS,
  TOMBSTONES,
  LEVELS,
  LINKS0,
  LINKS_UP,
  VECTORS,
  QUANT_OPTIONS,
  QUANT_PARAMS,
  QUANT_CODES,
];
const PARAMS_LEN: usize = 80;
const NO_ENTRY: u64 = u64::MAX;

/// How [`AnyHnswIndex::open`] opens a file (shared with the flat index's open).
pub use crate::flat_file::OpenOptions;

/// A loaded HNSW index of either element type, for callers that learn the type from the file.
#[derive(Debug)]
pub enum AnyHnswIndex {
  F32(HnswIndex<f32>),
  Bits(HnswIndex<u8>),
}

impl AnyHnswIndex {
  /// Parses and validates a whole file held in memory.
  pub fn from_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Self> {
    let c = Container::parse(bytes)?;
    let p = read_params(&c, options)?;
    match p.element {
      <f32 as FileElement>::CODE => decode::<f32, _>(&c, &p).map(AnyHnswIndex::F32),
      _ => decode::<u8, _>(&c, &p).map(AnyHnswIndex::Bits),
    }
  }

  /// Reads the file at `path` into memory and validates it.
  pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    Self::open(
      path,
      &OpenOptions {
        read_only: false,
        expect: *options,
      },
    )
  }

  /// Loads (`read_only: false`) or maps read-only (see [`HnswIndex::open_read_only`]).
  pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = if options.read_only {
      map_file(path)?
    } else {
      read_file(path)?
    };
    let run = || {
      let p = read_params(&c, &options.expect)?;
      Ok(match p.element {
        <f32 as FileElement>::CODE => AnyHnswIndex::F32(finish(c, &p, options.read_only)?),
        _ => AnyHnswIndex::Bits(finish(c, &p, options.read_only)?),
      })
    };
    run().map_err(|e: Error| e.with_path(path))
  }

  /// The file bytes of the index.
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    match self {
      AnyHnswIndex::F32(i) => i.to_bytes(),
      AnyHnswIndex::Bits(i) => i.to_bytes(),
    }
  }

  /// Saves crash-safely (see [`Writer::save`]).
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    match self {
      AnyHnswIndex::F32(i) => i.save(path),
      AnyHnswIndex::Bits(i) => i.save(path),
    }
  }
}

impl<T: FileElement> HnswIndex<T> {
  /// Runs `f` on a writer holding a consistent snapshot of the index. It holds the writer lock
  /// (so no batch is linking and no compaction swapping: a save started during an async batch
  /// waits for it and then writes it whole) and the graph read lock (searches keep running).
  /// Removes may run meanwhile; the tombstones are read once and the live count derived from them,
  /// so each remove is either wholly in the file or wholly not.
  fn with_writer<R>(&self, f: impl FnOnce(&Writer<'_>) -> Result<R>) -> Result<R> {
    let rng = self.writer.lock();
    let g = self.graph.read();
    let entry = *self.entry.read();
    let n = g.len;
    let mut tomb = vec![0u64; n.div_ceil(64)];
    for s in 0..n {
      if g.is_deleted(s as u32) {
        tomb[s / 64] |= 1 << (s % 64);
      }
    }
    let removed: usize = tomb.iter().map(|w| w.count_ones() as usize).sum();
    let (l0, lu) = g.export_links();
    let upper: u64 = g.levels[..n].iter().map(|&l| u64::from(l)).sum();

    let mut p = Vec::with_capacity(PARAMS_LEN);
    p.extend_from_slice(&format::metric_code(self.metric).to_le_bytes());
    p.extend_from_slice(&T::CODE.to_le_bytes());
    p.extend_from_slice(&(self.dim as u64).to_le_bytes());
    p.extend_from_slice(&(self.m as u32).to_le_bytes());
    p.extend_from_slice(&(self.ef_construction as u32).to_le_bytes());
    p.extend_from_slice(&(self.ef_search() as u32).to_le_bytes());
    p.extend_from_slice(&u32::from(entry.map_or(0, |e| e.level)).to_le_bytes());
    p.extend_from_slice(&self.seed.to_le_bytes());
    p.extend_from_slice(&rng.state().to_le_bytes());
    p.extend_from_slice(&(n as u64).to_le_bytes());
    p.extend_from_slice(&((n - removed) as u64).to_le_bytes());
    p.extend_from_slice(&entry.map_or(NO_ENTRY, |e| u64::from(e.node)).to_le_bytes());
    p.extend_from_slice(&upper.to_le_bytes());

    let rows = g.vectors.as_slice();
    let rows = rows.get(..n * self.row_len).unwrap_or(rows);
    let mut w = Writer::new(kind::HNSW);
    w.section(PARAMS, p)
      .section(KEYS, u64::encode_le(&g.keys[..n]))
      .section(TOMBSTONES, u64::encode_le(&tomb).into_owned())
      .section(LEVELS, &g.levels[..n])
      .section(LINKS0, u32::encode_le(&l0).into_owned())
      .section(LINKS_UP, u32::encode_le(&lu).into_owned())
      .section(VECTORS, T::encode_le(rows));
    if let Some(o) = &self.quant {
      w.section(QUANT_OPTIONS, encode_quant_options(o, g.quantizer.is_some()));
      if let Some(q) = &g.quantizer {
        let codes = g.codes.get(..n * g.code_len).unwrap_or_default();
        w.section(QUANT_PARAMS, q.params_bytes())
          .section(QUANT_CODES, codes);
      }
    }
    f(&w)
  }

  /// The whole file as bytes (a consistent snapshot, see [`HnswIndex::save`]).
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    self.with_writer(|w| w.to_bytes())
  }

  /// Saves to `path` crash-safely: written to a temp file beside it, fsynced and renamed over it,
  /// so a crash mid-save leaves the previous file intact. A save that starts while a batch insert
  /// is linking waits for the batch and writes it whole; searches keep running throughout.
  pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
    self.with_writer(|w| w.save(path.as_ref()))
  }

  /// Parses and validates a whole file held in memory.
  pub fn from_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Self> {
    let c = Container::parse(bytes)?;
    let p = read_params(&c, options)?;
    check_element::<T>(&p)?;
    decode(&c, &p)
  }

  /// Reads the file at `path` into memory and validates it. Read, not mapped: a mapping would let
  /// another process truncating the file fault (SIGBUS) this one; see [`HnswIndex::open_read_only`]
  /// for the mapped form.
  pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = read_file(path)?;
    let run = || {
      let p = read_params(&c, options)?;
      check_element::<T>(&p)?;
      finish(c, &p, false)
    };
    run().map_err(|e| e.with_path(path))
  }

  /// Maps the file at `path` read-only, validates all of it, and serves searches with the vectors
  /// read straight from the mapping (only the graph, keys and tombstones are copied into memory).
  /// Every write (`add`, `try_remove`, `compact`) fails with `ERR_READ_ONLY`; saving a copy elsewhere
  /// works.
  ///
  /// **Do not truncate or rewrite the file in place while it is open** (another program could):
  /// touching a page that vanished raises SIGBUS and kills the process. Replacing it by rename, as
  /// every ferrovec save does, is safe: the mapping keeps the old file. See the module docs.
  pub fn open_read_only(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
    let path = path.as_ref();
    let c = map_file(path)?;
    let run = || {
      let p = read_params(&c, options)?;
      check_element::<T>(&p)?;
      finish(c, &p, true)
    };
    run().map_err(|e| e.with_path(path))
  }

  /// Sets the threads that link a batch (see [`super::HnswParams::build_threads`]); a loaded index
  /// starts with 0 (every core), since the file does not record the machine it was built on.
  pub fn with_build_threads(mut self, threads: usize) -> Result<Self> {
    if threads > 1024 {
      return Err(Error::invalid_argument(format!(
        "buildThreads must be an integer in 0..=1024, got {threads}"
      )));
    }
    self.build_threads = threads;
    Ok(self)
  }
}

struct Params {
  metric: Metric,
  element: u32,
  dim: usize,
  row_len: usize,
  m: usize,
  ef_construction: usize,
  ef_search: usize,
  max_level: u8,
  seed: u64,
  rng_state: u64,
  count: usize,
  live: usize,
  entry: Option<u32>,
  upper: usize,
}

fn corrupt_in(section: Tag, field: &str, detail: impl Into<String>) -> Error {
  Error::corrupt(format!("section {section}: {field}"), detail)
}

fn check_element<T: FileElement>(p: &Params) -> Result<()> {
  if p.element != T::CODE {
    return Err(Error::invalid_argument(format!(
      "the file stores {} rows, but this index type stores {}",
      format::element_name(p.element).unwrap_or("unknown"),
      T::NAME
    )));
  }
  Ok(())
}

fn read_params<B: AsRef<[u8]>>(c: &Container<B>, options: &LoadOptions) -> Result<Params> {
  c.expect_kind(kind::HNSW)?;
  c.check_sections(&SECTIONS)?;
  let raw = c.require(PARAMS)?;
  if raw.len() != PARAMS_LEN {
    return Err(corrupt_in(
      PARAMS,
      "length",
      format!("{} bytes, expected {PARAMS_LEN}", raw.len()),
    ));
  }
  let mut r = LeReader::new(raw);
  let metric_code = r.u32();
  let element = r.u32();
  let dim = r.u64();
  let m = r.u32();
  let ef_construction = r.u32();
  let ef_search = r.u32();
  let max_level = r.u32();
  let seed = r.u64();
  let rng_state = r.u64();
  let count = r.u64();
  let live = r.u64();
  let entry = r.u64();
  let upper = r.u64();

  let bad = |field: &str, detail: String| corrupt_in(PARAMS, field, detail);
  let metric = format::metric_from_code(metric_code).ok_or_else(|| {
    c.unknown_value(
      format!("section {PARAMS}: metric"),
      format!("unknown metric code {metric_code}"),
    )
  })?;
  if format::element_name(element).is_none() {
    return Err(c.unknown_value(
      format!("section {PARAMS}: element"),
      format!("unknown element code {element}"),
    ));
  }
  let dim = usize::try_from(dim).map_err(|_| bad("dim", format!("{dim} is out of range")))?;
  // Expectations first: a wrong file is refused cheaply, and as what it is.
  if let Some(want) = options.metric {
    if want != metric {
      return Err(Error::invalid_argument(format!(
        "the file holds a {:?} index, expected {:?}",
        metric.name(),
        want.name()
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
  let row_len = if element == <f32 as FileElement>::CODE {
    check_params::<f32>(dim, metric)
  } else {
    check_params::<u8>(dim, metric)
  }
  .map_err(|e| bad("dim/metric/element", e.to_string()))?;
  if row_len == 0 {
    return Err(bad("dim", "rows of zero length".into()));
  }
  let m = m as usize;
  if !(2..=MAX_M).contains(&m) {
    return Err(bad("m", format!("{m} is outside 2..={MAX_M}")));
  }
  check_ef(ef_construction as usize, "efConstruction").map_err(|e| bad("ef_construction", e.to_string()))?;
  check_ef(ef_search as usize, "efSearch").map_err(|e| bad("ef_search", e.to_string()))?;
  if max_level > u32::from(MAX_LEVEL) {
    return Err(bad(
      "max_level",
      format!("{max_level} is above the highest level, {MAX_LEVEL}"),
    ));
  }
  // Slots are u32 ids and u32::MAX is a sentinel (as `add` enforces).
  if count > u64::from(u32::MAX - 1) {
    return Err(bad(
      "count",
      format!("{count} nodes is above the limit of {}", u32::MAX - 1),
    ));
  }
  if live > count {
    return Err(bad("live", format!("{live} live nodes out of only {count}")));
  }
  let entry = if count == 0 {
    if entry != NO_ENTRY || max_level != 0 || upper != 0 {
      return Err(bad(
        "entry",
        format!("an empty graph has no entry point (stored {entry}, max_level {max_level}, upper {upper})"),
      ));
    }
    None
  } else if entry >= count {
    return Err(bad(
      "entry",
      format!("entry point {entry} is not a node (there are {count})"),
    ));
  } else {
    Some(entry as u32)
  };
  let upper = usize::try_from(upper).map_err(|_| bad("upper", format!("{upper} is out of range")))?;
  Ok(Params {
    metric,
    element,
    dim,
    row_len,
    m,
    ef_construction: ef_construction as usize,
    ef_search: ef_search as usize,
    max_level: max_level as u8,
    seed,
    rng_state,
    count: count as usize,
    live: live as usize,
    entry,
    upper,
  })
}

/// Everything but the vectors, validated.
struct Parts {
  keys: Vec<u64>,
  keymap: HashMap<u64, u32>,
  tomb: Vec<u64>,
  levels: Vec<u8>,
  links0: Vec<u32>,
  links_up: Vec<u32>,
}

fn expect_len(section: Tag, got: usize, want: Option<usize>, what: impl FnOnce() -> String) -> Result<()> {
  if want == Some(got) {
    Ok(())
  } else {
    Err(corrupt_in(
      section,
      "length",
      format!(
        "{got} bytes, but {} need {}",
        what(),
        want.map_or_else(|| "more than fits in memory".to_owned(), |w| format!("{w}"))
      ),
    ))
  }
}

fn parse_graph<B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<Parts> {
  let n = p.count;
  let (m, m0) = (p.m, 2 * p.m);

  // Lengths first: every allocation below is then bounded by the file's own size.
  let keys_raw = c.require(KEYS)?;
  expect_len(KEYS, keys_raw.len(), n.checked_mul(8), || format!("{n} keys × 8"))?;
  let tomb_raw = c.require(TOMBSTONES)?;
  expect_len(TOMBSTONES, tomb_raw.len(), Some(n.div_ceil(64) * 8), || {
    format!("a bitmap of {n} slots (⌈{n} / 64⌉ × 8)")
  })?;
  let levels = c.require(LEVELS)?;
  expect_len(LEVELS, levels.len(), Some(n), || format!("{n} levels × 1"))?;
  let l0_raw = c.require(LINKS0)?;
  expect_len(
    LINKS0,
    l0_raw.len(),
    n.checked_mul(1 + m0).and_then(|x| x.checked_mul(4)),
    || format!("{n} lists × (1 + 2·m = {}) × 4", 1 + m0),
  )?;
  let lu_raw = c.require(LINKS_UP)?;
  expect_len(
    LINKS_UP,
    lu_raw.len(),
    p.upper.checked_mul(1 + m).and_then(|x| x.checked_mul(4)),
    || format!("{} upper lists × (1 + m = {}) × 4", p.upper, 1 + m),
  )?;

  // Levels and the entry point.
  let mut sum: usize = 0;
  for (s, &l) in levels.iter().enumerate() {
    if l > p.max_level {
      return Err(corrupt_in(
        LEVELS,
        "level",
        format!("node {s} is on level {l}, above max_level {}", p.max_level),
      ));
    }
    sum += usize::from(l);
  }
  if let Some(e) = p.entry {
    let l = levels.get(e as usize).copied().unwrap_or(0);
    if l != p.max_level {
      return Err(corrupt_in(
        PARAMS,
        "entry",
        format!(
          "entry point {e} is on level {l}, but max_level is {} (the entry point must be a top node)",
          p.max_level
        ),
      ));
    }
  }
  if sum != p.upper {
    return Err(corrupt_in(
      PARAMS,
      "upper",
      format!("{} upper lists recorded, but the levels add up to {sum}", p.upper),
    ));
  }
  if sum.saturating_mul(1 + m) > u32::MAX as usize - 1 {
    return Err(corrupt_in(
      LINKS_UP,
      "length",
      format!("{sum} upper lists is above the limit"),
    ));
  }

  // Tombstones.
  let tomb = u64::decode_le(tomb_raw)?;
  if !n.is_multiple_of(64) {
    if let Some(&last) = tomb.last() {
      if last >> (n % 64) != 0 {
        return Err(corrupt_in(
          TOMBSTONES,
          "bitmap",
          format!("bits past the {n} slots are set"),
        ));
      }
    }
  }
  let removed: usize = tomb.iter().map(|w| w.count_ones() as usize).sum();
  if removed != n - p.live {
    return Err(corrupt_in(
      TOMBSTONES,
      "bitmap",
      format!(
        "{removed} slots are marked removed, but {PARAMS} records {} live of {n}",
        p.live
      ),
    ));
  }
  let is_deleted = |s: usize| tomb.get(s / 64).is_some_and(|w| w & (1 << (s % 64)) != 0);

  // Keys: in range everywhere, unique among live slots.
  let keys = u64::decode_le(keys_raw)?;
  let mut keymap: HashMap<u64, u32> = HashMap::new();
  keymap
    .try_reserve(p.live)
    .map_err(|_| out_of_memory(keys_raw.len()))?;
  for (s, &k) in keys.iter().enumerate() {
    if k > MAX_KEY {
      return Err(corrupt_in(
        KEYS,
        "key",
        format!("key {k} of node {s} is above the largest key, 2^53 − 1 = {MAX_KEY}"),
      ));
    }
    if !is_deleted(s) {
      if let Some(prev) = keymap.insert(k, s as u32) {
        return Err(corrupt_in(
          KEYS,
          "key",
          format!("key {k} is held by two live nodes ({prev} and {s})"),
        ));
      }
    }
  }

  // Neighbour lists.
  let links0 = u32::decode_le(l0_raw)?;
  let links_up = u32::decode_le(lu_raw)?;
  let mut mark = vec![false; n];
  let mut check_list = |section: Tag, s: usize, level: usize, block: &[u32], cap: usize| -> Result<()> {
    let count = block.first().copied().unwrap_or(0) as usize;
    let here = || format!("node {s}, level {level}");
    if count > cap {
      return Err(corrupt_in(
        section,
        "list length",
        format!(
          "{}: {count} neighbours, but a list on this level holds at most {cap}",
          here()
        ),
      ));
    }
    let ids = block.get(1..=count).unwrap_or_default();
    let mut result = Ok(());
    for &id in ids {
      let i = id as usize;
      let problem = if i >= n {
        Some((
          "neighbour",
          format!("{}: neighbour {id} is not a node (there are {n})", here()),
        ))
      } else if i == s {
        Some(("neighbour", format!("{}: the node links to itself", here())))
      } else if usize::from(levels[i]) < level {
        Some((
          "neighbour",
          format!("{}: neighbour {id} only reaches level {}", here(), levels[i]),
        ))
      } else if mark[i] {
        Some(("neighbour", format!("{}: neighbour {id} is listed twice", here())))
      } else {
        mark[i] = true;
        None
      };
      if let Some((field, detail)) = problem {
        result = Err(corrupt_in(section, field, detail));
        break;
      }
    }
    for &id in ids {
      if let Some(x) = mark.get_mut(id as usize) {
        *x = false;
      }
    }
    result?;
    if block.get(1 + count..).unwrap_or_default().iter().any(|&w| w != 0) {
      return Err(corrupt_in(
        section,
        "unused words",
        format!("{}: words past the {count} neighbours must be zero", here()),
      ));
    }
    Ok(())
  };
  for (s, block) in links0.chunks_exact(1 + m0).enumerate() {
    check_list(LINKS0, s, 0, block, m0)?;
  }
  let mut blocks = links_up.chunks_exact(1 + m);
  for (s, &l) in levels.iter().enumerate() {
    for level in 1..=usize::from(l) {
      // The length check above guarantees a block per (node, level).
      let block = blocks.next().unwrap_or_default();
      check_list(LINKS_UP, s, level, block, m)?;
    }
  }
  Ok(Parts {
    keys,
    keymap,
    tomb,
    levels: levels.to_vec(),
    links0,
    links_up,
  })
}

fn check_rows<T: FileElement>(rows: &[T], row_len: usize) -> Result<()> {
  if let Some(bad) = rows
    .par_chunks(row_len)
    .position_first(|row| T::validate(row, crate::error::Context::NONE).is_err())
  {
    let row = rows.get(bad * row_len..(bad + 1) * row_len).unwrap_or_default();
    let reason = T::validate(row, crate::error::Context::row(bad))
      .err()
      .map_or_else(String::new, |e| e.to_string());
    return Err(corrupt_in(VECTORS, "value", reason));
  }
  Ok(())
}

/// The quantised sections, when the file has them (`None` for an unquantised index).
fn read_quant<B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<Option<QuantSections>> {
  if c.section(QUANT_OPTIONS).is_none() {
    if c.section(QUANT_PARAMS).is_some() || c.section(QUANT_CODES).is_some() {
      return Err(corrupt_in(
        QUANT_OPTIONS,
        "presence",
        format!("missing, but the file has {QUANT_PARAMS} or {QUANT_CODES}"),
      ));
    }
    return Ok(None);
  }
  if p.element != <f32 as FileElement>::CODE {
    return Err(corrupt_in(
      PARAMS,
      "element",
      "a quantised index stores f32 vectors, but the element code differs",
    ));
  }
  decode_quant_sections(c, p.dim, p.metric, p.count).map(Some)
}

/// Whether a quantised file's VECS is empty by design (trained with keepOriginals false).
fn rows_dropped(quant: Option<&QuantSections>) -> bool {
  quant.is_some_and(|q| q.quantizer.is_some() && !q.options.keep_originals)
}

fn vectors_raw<'a, B: AsRef<[u8]>, T: FileElement>(
  c: &'a Container<B>,
  p: &Params,
  dropped: bool,
) -> Result<&'a [u8]> {
  let raw = c.require(VECTORS)?;
  if dropped {
    if !raw.is_empty() {
      return Err(corrupt_in(
        VECTORS,
        "length",
        format!(
          "{} bytes, but {QUANT_OPTIONS} says the originals were dropped (0 bytes)",
          raw.len()
        ),
      ));
    }
    return Ok(raw);
  }
  let elem = std::mem::size_of::<T>();
  expect_len(
    VECTORS,
    raw.len(),
    p.count.checked_mul(p.row_len).and_then(|x| x.checked_mul(elem)),
    || format!("{} rows of {} × {elem}-byte {}", p.count, p.row_len, T::NAME),
  )?;
  Ok(raw)
}

/// Builds an owned index from any validated container.
fn decode<T: FileElement, B: AsRef<[u8]>>(c: &Container<B>, p: &Params) -> Result<HnswIndex<T>> {
  let quant = read_quant(c, p)?;
  let raw = vectors_raw::<B, T>(c, p, rows_dropped(quant.as_ref()))?;
  let parts = parse_graph(c, p)?;
  let rows = T::decode_le(raw)?;
  check_rows(&rows, p.row_len)?;
  assemble(p, parts, Vectors::Owned(rows), quant, false)
}

/// Builds the index from a file's container, keeping a mapping as the vector store when asked.
fn finish<T: FileElement>(c: Container<FileBytes>, p: &Params, read_only: bool) -> Result<HnswIndex<T>> {
  if !read_only {
    return decode(&c, p);
  }
  let quant = read_quant(&c, p)?;
  let dropped = rows_dropped(quant.as_ref());
  let raw = vectors_raw::<_, T>(&c, p, dropped)?;
  let parts = parse_graph(&c, p)?;
  check_rows(&T::view_le(raw)?, p.row_len)?;
  let len = if dropped { 0 } else { p.count * p.row_len };
  let vectors = Vectors::from_section(c, VECTORS, len)?;
  assemble(p, parts, vectors, quant, true)
}

fn assemble<T: FileElement>(
  p: &Params,
  parts: Parts,
  vectors: Vectors<T>,
  quant: Option<QuantSections>,
  read_only: bool,
) -> Result<HnswIndex<T>> {
  let dropped = rows_dropped(quant.as_ref());
  let tomb = parts.tomb;
  let deleted = (0..p.count).map(|s| tomb.get(s / 64).is_some_and(|w| w & (1 << (s % 64)) != 0));
  let mut graph = Graph::from_parts(
    p.row_len,
    p.m,
    vectors,
    parts.keys,
    parts.levels,
    deleted,
    &parts.links0,
    &parts.links_up,
    p.metric == crate::metric::Metric::Cosine,
  )?;
  let quant = quant.map(|qs| {
    graph.rows_kept = !dropped;
    graph.code_len = qs.quantizer.as_ref().map_or(0, |q| q.code_len());
    graph.quantizer = qs.quantizer;
    graph.codes = qs.codes;
    qs.options
  });
  debug_assert!(graph
    .upper
    .iter()
    .all(|&(_, s)| (s as usize) < graph.links_up.len()));
  Ok(HnswIndex {
    metric: p.metric,
    dim: p.dim,
    row_len: p.row_len,
    space: super::search::Space::new(p.metric)?,
    m: p.m,
    ef_construction: p.ef_construction,
    ml: 1.0 / (p.m as f64).ln(),
    seed: p.seed,
    build_threads: 0,
    ef_search: AtomicUsize::new(p.ef_search),
    live: AtomicUsize::new(p.live),
    graph: RwLock::new(graph),
    keymap: RwLock::new(parts.keymap),
    entry: RwLock::new(p.entry.map(|node| Entry {
      node,
      level: p.max_level,
    })),
    top_lock: Mutex::new(()),
    writer: Mutex::new(SplitMix64::new(p.rng_state)),
    pool: ScratchPool::new(),
    read_only,
    quant,
  })
}
