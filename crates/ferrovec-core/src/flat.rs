//! Exact (brute-force) search.
//!
//! Rows live in one contiguous row-major buffer; a key → slot map gives O(1) `get`/`remove`. The
//! buffer is owned, or, for an index opened with [`FlatIndex::open_read_only`], a view of the file's
//! row section in a read-only memory map (`storage.rs`): the scan reads it in place, so a
//! mapped index answers exactly as the loaded one.
//!
//! ```text
//!   data:  [ row 0 (row_len) | row 1 | row 2 | ... | row n-1 ]     keys: [k0, k1, k2, ..., k(n-1)]
//!   slots: { k0 → 0, k1 → 1, ... }        remove(k1): row n-1 moves into slot 1, the map follows it
//! ```
//!
//! Batch search is blocked twice. Each task takes up to [`QUERY_BLOCK`] queries and a range of rows;
//! it walks its rows in chunks of about [`ROW_CHUNK_BYTES`] (L2-sized) and runs every tile of
//! [`TILE`] queries over a chunk before moving on, so each row comes from DRAM once per query block
//! and from L2 once per tile. The (query block × row range) tasks are spread over rayon's pool, so
//! one query on a big index and many queries on a small one both use every core.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::batch::{check_batch, check_queries};
use crate::error::{Error, Result};
use crate::metric::{Element, Metric, TileKernel, TILE};
use crate::storage::Vectors;
use crate::topk::{Neighbor, TopK};

/// Largest supported `dim` (logical dimensions; bits for `hamming`).
pub const MAX_DIM: usize = 1 << 16;

/// Queries one task scores against its rows.
const QUERY_BLOCK: usize = 64;

/// Bytes of rows walked by all tiles of a block before moving on (fits L2 next to the queries).
const ROW_CHUNK_BYTES: usize = 128 * 1024;

/// Fewest rows worth a task of their own: below this, scheduling costs more than it saves.
const MIN_ROWS_PER_TASK: usize = 2048;

/// Results of a batch search, flat: query `i`'s results are `keys[i*k .. i*k + counts[i]]`, nearest
/// first. Slots past `counts[i]` hold key `u64::MAX` and distance `+∞`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
  pub k: usize,
  pub keys: Vec<u64>,
  pub distances: Vec<f32>,
  pub counts: Vec<u32>,
}

impl BatchResult {
  /// Query `qi`'s results as neighbours, nearest first (none for a query index out of range).
  pub fn neighbours(&self, qi: usize) -> Vec<Neighbor> {
    let n = self.counts.get(qi).map_or(0, |&c| c as usize);
    let at = qi * self.k;
    self.keys[at..at + n]
      .iter()
      .zip(&self.distances[at..at + n])
      .map(|(&key, &distance)| Neighbor { key, distance })
      .collect()
  }

  /// The first query's results: how a single search answers from its one-query batch.
  pub(crate) fn into_first(self) -> Vec<Neighbor> {
    self.neighbours(0)
  }

  /// `nq` queries' worth of padding slots, filled in by a search.
  pub(crate) fn padded(nq: usize, k: usize) -> Self {
    BatchResult {
      k,
      keys: vec![u64::MAX; nq * k],
      distances: vec![f32::INFINITY; nq * k],
      counts: vec![0; nq],
    }
  }
}

/// The slots of the allowed keys that are in the index, for a scan restricted to them.
pub(crate) fn allowed_slots(slots: &HashMap<u64, usize>, allow: Option<&[u64]>) -> Option<Vec<usize>> {
  allow.map(|keys| {
    let mut s: Vec<usize> = keys.iter().filter_map(|k| slots.get(k).copied()).collect();
    // Sorted slots read the buffer front to back; dedup makes a repeated allowed key count once.
    s.sort_unstable();
    s.dedup();
    s
  })
}

/// Bytes held by an index, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
  /// Rows held in this process's memory (0 for rows served from a mapping).
  pub vectors: usize,
  pub keys: usize,
  pub total: usize,
  /// Bytes of rows served from a read-only file mapping ([`FlatIndex::open_read_only`]): the OS
  /// page cache holds them, not this process's heap, so they are not in `total`.
  pub mapped: usize,
}

/// An exact index over rows of `T` (`f32` vectors, or bit-packed `u8` rows for `hamming`).
#[derive(Debug, Clone)]
pub struct FlatIndex<T: Element> {
  metric: Metric,
  dim: usize,
  row_len: usize,
  tile: TileKernel<T>,
  data: Vectors<T>,
  keys: Vec<u64>,
  slots: HashMap<u64, usize>,
  /// Opened read-only from a file: every write fails with `ERR_READ_ONLY`.
  read_only: bool,
}

/// Checks `dim` and the metric/element pairing, returning the stored row length.
pub fn check_params<T: Element>(dim: usize, metric: Metric) -> Result<usize> {
  if dim == 0 || dim > MAX_DIM {
    return Err(Error::invalid_argument(format!(
      "dim must be an integer in 1..={MAX_DIM}, got {dim}"
    )));
  }
  T::kernel(metric)?;
  T::row_len(dim)
}

/// Checks a requested `k`.
pub fn check_k(k: usize) -> Result<()> {
  if k == 0 {
    return Err(Error::invalid_argument("k must be a positive integer, got 0"));
  }
  Ok(())
}

impl<T: Element> FlatIndex<T> {
  /// An empty index for vectors of `dim` dimensions compared with `metric`.
  pub fn new(dim: usize, metric: Metric) -> Result<Self> {
    let row_len = check_params::<T>(dim, metric)?;
    let tile = T::tile_kernel(metric)?;
    Ok(FlatIndex {
      metric,
      dim,
      row_len,
      tile,
      data: Vectors::default(),
      keys: Vec::new(),
      slots: HashMap::new(),
      read_only: false,
    })
  }

  /// An index over rows that the caller has fully validated (the file loader: `flat_file.rs`);
  /// `read_only` for a mapped open.
  pub(crate) fn from_parts(
    metric: Metric,
    dim: usize,
    data: Vectors<T>,
    keys: Vec<u64>,
    slots: HashMap<u64, usize>,
    read_only: bool,
  ) -> Result<Self> {
    let row_len = check_params::<T>(dim, metric)?;
    let tile = T::tile_kernel(metric)?;
    Ok(FlatIndex {
      metric,
      dim,
      row_len,
      tile,
      data,
      keys,
      slots,
      read_only,
    })
  }

  /// Every row, row-major in storage order (parallel to [`FlatIndex::keys`]).
  pub fn data(&self) -> &[T] {
    self.data.as_slice()
  }

  /// Whether the index was opened read-only from a file ([`FlatIndex::open_read_only`]).
  pub fn is_read_only(&self) -> bool {
    self.read_only
  }

  fn check_writable(&self, op: &'static str) -> Result<()> {
    Error::unless_read_only(self.read_only, op)
  }

  pub fn metric(&self) -> Metric {
    self.metric
  }

  /// Logical dimensions (bits for `hamming`).
  pub fn dim(&self) -> usize {
    self.dim
  }

  /// Stored elements per row (`dim`, or `dim / 8` bytes for `hamming`).
  pub fn row_len(&self) -> usize {
    self.row_len
  }

  pub fn len(&self) -> usize {
    self.keys.len()
  }

  pub fn is_empty(&self) -> bool {
    self.keys.is_empty()
  }

  pub fn contains(&self, key: u64) -> bool {
    self.slots.contains_key(&key)
  }

  /// The stored row for `key`.
  pub fn get(&self, key: u64) -> Option<&[T]> {
    self.slots.get(&key).map(|&s| self.row(s))
  }

  /// Keys in storage order.
  pub fn keys(&self) -> &[u64] {
    &self.keys
  }

  /// Adds one vector; with `upsert`, replaces the vector of an existing key instead of failing.
  pub fn add(&mut self, key: u64, vector: &[T], upsert: bool) -> Result<()> {
    self.add_batch(&[key], vector, upsert)
  }

  /// Adds `keys.len()` rows from the row-major `vectors`. All-or-nothing: every key and row is
  /// checked before anything is stored, so a batch with one bad row leaves the index as it was.
  /// Fails with `ERR_READ_ONLY` on an index opened read-only.
  pub fn add_batch(&mut self, keys: &[u64], vectors: &[T], upsert: bool) -> Result<()> {
    self.check_writable("add")?;
    let present = |k: u64| self.slots.contains_key(&k);
    check_batch(
      self.row_len,
      keys,
      vectors,
      if upsert { None } else { Some(&present) },
    )?;
    let new_rows = keys.iter().filter(|k| !self.slots.contains_key(k)).count();
    // Owned on every writable index (only a read-only open maps, and it was refused above).
    let data = self.data.owned_mut()?;
    data.reserve(new_rows * self.row_len);
    self.keys.reserve(new_rows);
    self.slots.reserve(new_rows);
    for (&key, row) in keys.iter().zip(vectors.chunks_exact(self.row_len)) {
      match self.slots.get(&key) {
        Some(&slot) => data[slot * self.row_len..(slot + 1) * self.row_len].copy_from_slice(row),
        None => {
          self.slots.insert(key, self.keys.len());
          self.keys.push(key);
          data.extend_from_slice(row);
        }
      }
    }
    Ok(())
  }

  /// Removes `key`; returns whether it was present.
  ///
  /// On a read-only index this is [`FlatIndex::try_remove`]'s `ERR_READ_ONLY` reported as `false`;
  /// prefer `try_remove` where that matters.
  pub fn remove(&mut self, key: u64) -> bool {
    self.try_remove(key).unwrap_or(false)
  }

  /// [`FlatIndex::remove`], failing with `ERR_READ_ONLY` (changing nothing) on an index opened
  /// read-only.
  pub fn try_remove(&mut self, key: u64) -> Result<bool> {
    self.check_writable("remove")?;
    if !self.slots.contains_key(&key) {
      return Ok(false);
    }
    let rl = self.row_len;
    let data = self.data.owned_mut()?;
    let Some(slot) = self.slots.remove(&key) else {
      return Ok(false);
    };
    let last = self.keys.len() - 1;
    if slot != last {
      let moved = self.keys[last];
      self.keys[slot] = moved;
      data.copy_within(last * rl..(last + 1) * rl, slot * rl);
      self.slots.insert(moved, slot);
    }
    self.keys.truncate(last);
    data.truncate(last * rl);
    Ok(true)
  }

  /// Bytes held, by part (capacity, not length: what the process actually pays); rows served from
  /// a mapping are `mapped`, outside `total`.
  pub fn memory_usage(&self) -> MemoryUsage {
    let vectors = self.data.capacity() * std::mem::size_of::<T>();
    let mapped = self.data.mapped_bytes();
    // hashbrown stores (key, slot) pairs plus one control byte per bucket.
    let map = self.slots.capacity() * (std::mem::size_of::<(u64, usize)>() + 1);
    let keys = self.keys.capacity() * std::mem::size_of::<u64>() + map;
    MemoryUsage {
      vectors,
      keys,
      total: vectors + keys + std::mem::size_of::<Self>(),
      mapped,
    }
  }

  /// The `k` nearest neighbours of `query`, nearest first, optionally only among `allow` (keys not
  /// in the index are ignored).
  pub fn search(&self, query: &[T], k: usize, allow: Option<&[u64]>) -> Result<Vec<Neighbor>> {
    Ok(self.search_batch(query, k, allow)?.into_first())
  }

  /// The `k` nearest neighbours of each row of `queries` (row-major), in one flat result.
  pub fn search_batch(&self, queries: &[T], k: usize, allow: Option<&[u64]>) -> Result<BatchResult> {
    check_k(k)?;
    let rl = self.row_len;
    let nq = check_queries(rl, queries)?;
    let candidates = allowed_slots(&self.slots, allow);
    let n_cand = candidates.as_ref().map_or(self.len(), Vec::len);
    let k_eff = k.min(n_cand);
    let mut out = BatchResult::padded(nq, k_eff);
    if k_eff == 0 {
      return Ok(out);
    }

    let blocks = nq.div_ceil(QUERY_BLOCK);
    let threads = rayon::current_num_threads().max(1);
    // Enough row ranges that blocks × ranges keeps every thread busy, but none smaller than
    // MIN_ROWS_PER_TASK.
    let ranges = (threads * 2)
      .div_ceil(blocks)
      .min(n_cand.div_ceil(MIN_ROWS_PER_TASK))
      .max(1);
    let per_range = n_cand.div_ceil(ranges);
    let tasks: Vec<(usize, usize)> = (0..blocks)
      .flat_map(|b| (0..ranges).map(move |r| (b, r)))
      .collect();
    let run = |(b, r): (usize, usize)| {
      let qs = &queries[b * QUERY_BLOCK * rl..((b + 1) * QUERY_BLOCK * rl).min(queries.len())];
      let lo = r * per_range;
      let hi = ((r + 1) * per_range).min(n_cand);
      let tops = match &candidates {
        None => self.scan_block(qs, k_eff, &(lo..hi).collect::<Vec<_>>()),
        Some(slots) => self.scan_block(qs, k_eff, &slots[lo.min(hi)..hi]),
      };
      (b, tops)
    };
    // One task runs inline: handing it to the pool would only add a cross-thread round trip to the
    // latency of a small single-query search.
    let partials: Vec<(usize, Vec<TopK>)> = if tasks.len() == 1 {
      tasks.into_iter().map(run).collect()
    } else {
      tasks.into_par_iter().map(run).collect()
    };

    let mut merged: Vec<Option<TopK>> = (0..nq).map(|_| None).collect();
    for (b, tops) in partials {
      for (i, t) in tops.into_iter().enumerate() {
        let q = b * QUERY_BLOCK + i;
        match &mut merged[q] {
          Some(m) => m.merge(t),
          slot @ None => *slot = Some(t),
        }
      }
    }
    for (q, top) in merged.into_iter().enumerate() {
      let sorted = top.map(TopK::into_sorted).unwrap_or_default();
      out.counts[q] = sorted.len() as u32;
      for (j, nb) in sorted.into_iter().enumerate() {
        out.keys[q * k_eff + j] = nb.key;
        out.distances[q * k_eff + j] = nb.distance;
      }
    }
    Ok(out)
  }

  #[inline]
  fn row(&self, slot: usize) -> &[T] {
    &self.data.as_slice()[slot * self.row_len..(slot + 1) * self.row_len]
  }

  /// Scores a block of queries against the rows at `slots`: row chunk by row chunk, every tile of
  /// queries over the chunk while it is in cache.
  fn scan_block(&self, queries: &[T], k: usize, slots: &[usize]) -> Vec<TopK> {
    let rl = self.row_len;
    let nq = queries.len() / rl;
    let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
    let mut norms = vec![0f32; nq];
    T::tile_norms(queries, rl, &mut norms);
    let chunk_rows = (ROW_CHUNK_BYTES / (rl * std::mem::size_of::<T>()).max(1)).max(1);
    let mut dists = [0f32; TILE];
    // Resolved once: owned or mapped, the scan reads the same rows.
    let data = self.data.as_slice();
    for chunk in slots.chunks(chunk_rows) {
      for (t, tile_q) in queries.chunks(TILE * rl).enumerate() {
        let n = tile_q.len() / rl;
        let (tile_norms, tile_tops) = (&norms[t * TILE..t * TILE + n], &mut tops[t * TILE..t * TILE + n]);
        for &slot in chunk {
          (self.tile)(
            tile_q,
            tile_norms,
            &data[slot * rl..(slot + 1) * rl],
            &mut dists[..n],
          );
          let key = self.keys[slot];
          for (top, &d) in tile_tops.iter_mut().zip(dists.iter()) {
            top.push(key, d);
          }
        }
      }
    }
    tops
  }
}

/// Converts a `k` received as a JS number: a positive integer (fractions, NaN and ±Infinity refused).
pub fn k_from_f64(k: f64) -> Result<usize> {
  if k.fract() == 0.0 && k >= 1.0 && k <= u32::MAX as f64 {
    Ok(k as usize)
  } else {
    Err(Error::invalid_argument(format!(
      "k must be a positive integer, got {k}"
    )))
  }
}
