//! Exact-layout index over quantised codes: the scan runs on codes, and the best
//! `k × oversample` candidates are rescored with the original f32 vectors when they are kept.
//!
//! ```text
//!   keys:      [k0, k1, …]                      slots: { k0 → 0, … }   (as FlatIndex)
//!   codes:     [ code 0 (code_len bytes) | code 1 | … ]                 once trained
//!   originals: [ row 0 (dim f32) | row 1 | … ]   kept (keepOriginals), or only until training
//! ```
//!
//! The originals have three storage modes: kept in memory (the default; `load`), kept on disk and
//! read through a read-only memory map of the index file ([`QuantizedFlatIndex::open_read_only`]:
//! the scan reads the codes, copied into memory, and only the `k × oversample` rescored candidates
//! touch the mapping), or dropped (`keep_originals: false`: code-only distances, `get` decodes).
//!
//! Before the quantiser is trained, added vectors wait in `originals` (they are its training
//! sample). With `train_after: Some(n)` the first add that brings the index to `n` vectors trains
//! the quantiser on them and encodes them; with `None` only [`QuantizedFlatIndex::train`] does.
//! Searching an untrained index is `ERR_NOT_TRAINED`, never an answer from half-built state.

mod scan;

use std::collections::HashMap;

use rayon::prelude::*;

use super::{AnyQuantizer, QuantSpec, Quantizer};
use crate::batch::{check_batch, check_queries};
use crate::error::{Error, Result};
use crate::flat::{allowed_slots, check_k, check_params, BatchResult};
use crate::metric::{Element, Kernel, Metric};
use crate::storage::Vectors;
use crate::topk::{Neighbor, TopK};
use crate::with_quantizer;

/// Rows one scan task covers for a single query (below it, splitting costs more than it saves).
const MIN_ROWS_PER_TASK: usize = 16_384;

/// Most queries that share one pass over the codes in a batch search.
const QUERY_BLOCK: usize = 16;

/// Bytes of codes all queries of a block score before moving on (fits L2 next to their tables).
const ROW_CHUNK_BYTES: usize = 64 * 1024;

/// How a quantised index is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantOptions {
  pub spec: QuantSpec,
  /// Candidates rescored with the originals, as a multiple of `k`; `1.0` or less turns rescoring off.
  pub oversample: f32,
  /// Keep the f32 originals (for rescoring and `get`) next to the codes.
  pub keep_originals: bool,
  /// Train automatically once this many vectors have been added; `None`: only `train()` does.
  pub train_after: Option<usize>,
  /// Seed of training (sampling and k-means).
  pub seed: u64,
}

impl QuantOptions {
  /// Default oversampling of binary codes. On WordNet USE-512 (39k, `bench/quant.bench.ts`)
  /// recall@10 is 0.55 with codes only, 0.943 at 8× and 0.981 at 16×; 16× is the smallest power of
  /// two that clears the 0.95 the issue asks of ≥ 384-d embeddings.
  pub const BINARY_OVERSAMPLE: f32 = 16.0;
  /// Default full-dimension rescoring of Matryoshka prefixes.
  pub const TRUNCATE_OVERSAMPLE: f32 = 4.0;
  /// Default oversampling of PQ codes.
  pub const PQ_OVERSAMPLE: f32 = 8.0;
  /// Default `train_after` when the spec has no stronger minimum: enough rows for stable means and
  /// quantiles, small enough that a modest index trains early.
  pub const TRAIN_AFTER: usize = 1000;

  /// The defaults for `spec`: rescoring on (with originals kept) for binary, PQ and truncation, off
  /// for f16 and int8; automatic training after `max(1000, 4 × the spec's minimum)` vectors.
  pub fn new(spec: QuantSpec) -> Self {
    let oversample = match spec {
      QuantSpec::Binary { .. } => Self::BINARY_OVERSAMPLE,
      QuantSpec::Pq { .. } => Self::PQ_OVERSAMPLE,
      QuantSpec::Truncate { .. } => Self::TRUNCATE_OVERSAMPLE,
      QuantSpec::F16 | QuantSpec::Int8 { .. } => 1.0,
    };
    let train_after = Self::TRAIN_AFTER.max(4 * spec.min_training_vectors());
    QuantOptions {
      spec,
      oversample,
      keep_originals: true,
      train_after: Some(train_after),
      seed: 0,
    }
  }

  pub(crate) fn check(&self, dim: usize, metric: Metric) -> Result<()> {
    self.spec.check(dim, metric)?;
    if !(self.oversample.is_finite() && self.oversample > 0.0 && self.oversample <= 10_000.0) {
      return Err(Error::invalid_argument(format!(
        "rescore oversample must be a number in (0, 10000], got {}",
        self.oversample
      )));
    }
    if let Some(n) = self.train_after {
      let min = self.spec.min_training_vectors().max(1);
      if n < min {
        return Err(Error::invalid_argument(format!(
          "trainAfter must be at least {min} for {} quantization, got {n}",
          self.spec.name()
        )));
      }
    }
    Ok(())
  }

  /// Whether searches rescore candidates with the originals.
  pub(crate) fn rescores(&self) -> bool {
    self.keep_originals && self.oversample > 1.0
  }
}

/// Bytes held by a quantised index, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantMemoryUsage {
  /// The codes scanned by search.
  pub codes: usize,
  /// The f32 originals (rescoring, `get`), or the vectors waiting for training.
  pub originals: usize,
  /// Keys and the key → slot map.
  pub keys: usize,
  pub total: usize,
  /// Bytes of originals served from a read-only file mapping
  /// ([`QuantizedFlatIndex::open_read_only`]): the OS page cache holds them, not this process's
  /// heap, so they are in neither `originals` nor `total`.
  pub mapped: usize,
}

/// A flat index whose scan runs on quantised codes (see the module docs).
#[derive(Debug, Clone)]
pub struct QuantizedFlatIndex {
  metric: Metric,
  dim: usize,
  kernel: Kernel<f32>,
  options: QuantOptions,
  quantizer: Option<AnyQuantizer>,
  keys: Vec<u64>,
  slots: HashMap<u64, usize>,
  originals: Vectors<f32>,
  codes: Vec<u8>,
  /// Opened read-only from a file: every write fails with `ERR_READ_ONLY`.
  read_only: bool,
}

/// One query's scan of `n` rows: split into ranges (one per [`MIN_ROWS_PER_TASK`] rows, at most two
/// per thread, so a large index uses every core and a small one pays no task overhead), `pick(lo,
/// hi)` run on each (in parallel when there are several) and the partial tops merged. `empty` is
/// only for a split that yields no range.
fn scan_ranges<T: Send>(
  n: usize,
  pick: impl Fn(usize, usize) -> T + Sync + Send,
  merge: impl Fn(T, T) -> T + Sync + Send,
  empty: impl FnOnce() -> T,
) -> T {
  let ranges = n
    .div_ceil(MIN_ROWS_PER_TASK)
    .clamp(1, rayon::current_num_threads().max(1) * 2);
  let per = n.div_ceil(ranges);
  let range = |r: usize| {
    let hi = ((r + 1) * per).min(n);
    pick((r * per).min(hi), hi)
  };
  if ranges == 1 {
    return range(0);
  }
  (0..ranges)
    .into_par_iter()
    .map(range)
    .reduce_with(merge)
    .unwrap_or_else(empty)
}

impl QuantizedFlatIndex {
  /// An empty index. Fails on a spec the metric cannot use (binary on `l2`, pq `m` not dividing
  /// `dim`, …) or on options out of range.
  pub fn new(dim: usize, metric: Metric, options: QuantOptions) -> Result<Self> {
    check_params::<f32>(dim, metric)?;
    options.check(dim, metric)?;
    let mut index = QuantizedFlatIndex {
      metric,
      dim,
      kernel: f32::kernel(metric)?,
      options,
      quantizer: None,
      keys: Vec::new(),
      slots: HashMap::new(),
      originals: Vectors::default(),
      codes: Vec::new(),
      read_only: false,
    };
    if index.options.spec.needs_no_training() {
      // f16 and truncation learn nothing: they are ready at once.
      index.quantizer = Some(AnyQuantizer::train(
        &index.options.spec,
        dim,
        metric,
        &[],
        index.options.seed,
      )?);
    }
    Ok(index)
  }

  /// An index from parts the file loader has validated; `read_only` for a mapped open.
  #[allow(clippy::too_many_arguments)]
  pub(crate) fn from_parts(
    dim: usize,
    metric: Metric,
    options: QuantOptions,
    quantizer: Option<AnyQuantizer>,
    (keys, slots): (Vec<u64>, HashMap<u64, usize>),
    originals: Vectors<f32>,
    codes: Vec<u8>,
    read_only: bool,
  ) -> Result<Self> {
    check_params::<f32>(dim, metric)?;
    options.check(dim, metric)?;
    Ok(QuantizedFlatIndex {
      metric,
      dim,
      kernel: f32::kernel(metric)?,
      options,
      quantizer,
      keys,
      slots,
      originals,
      codes,
      read_only,
    })
  }

  /// Whether the index was opened read-only from a file ([`QuantizedFlatIndex::open_read_only`]).
  pub fn is_read_only(&self) -> bool {
    self.read_only
  }

  fn check_writable(&self, op: &'static str) -> Result<()> {
    Error::unless_read_only(self.read_only, op)
  }

  pub fn metric(&self) -> Metric {
    self.metric
  }

  pub fn dim(&self) -> usize {
    self.dim
  }

  pub fn options(&self) -> &QuantOptions {
    &self.options
  }

  /// Sets the rescoring multiple of `k` for searches from now on (saved with the index, in the
  /// options section); `1.0` or less turns rescoring off. Fails on a value outside (0, 10000],
  /// changing nothing. Allowed on a read-only index: like `efSearch` on an HNSW index, it is a search
  /// setting, and a read-only index never writes its file (a saved copy carries it).
  pub fn set_oversample(&mut self, oversample: f32) -> Result<()> {
    let mut options = self.options.clone();
    options.oversample = oversample;
    options.check(self.dim, self.metric)?;
    self.options = options;
    Ok(())
  }

  /// The trained quantiser, if any.
  pub fn quantizer(&self) -> Option<&AnyQuantizer> {
    self.quantizer.as_ref()
  }

  pub fn is_trained(&self) -> bool {
    self.quantizer.is_some()
  }

  /// Whether the originals are held (always before training; afterwards per `keep_originals`).
  pub fn has_originals(&self) -> bool {
    self.originals.len() == self.keys.len() * self.dim
  }

  /// Whether the originals are read through a file mapping ([`QuantizedFlatIndex::open_read_only`]).
  pub fn originals_mapped(&self) -> bool {
    self.originals.mapped_bytes() > 0
  }

  pub fn len(&self) -> usize {
    self.keys.len()
  }

  pub fn is_empty(&self) -> bool {
    self.keys.is_empty()
  }

  pub fn keys(&self) -> &[u64] {
    &self.keys
  }

  pub fn contains(&self, key: u64) -> bool {
    self.slots.contains_key(&key)
  }

  /// Originals, row-major parallel to `keys` (empty once training dropped them).
  pub fn originals(&self) -> &[f32] {
    self.originals.as_slice()
  }

  /// Codes, `code_len` bytes per key (empty before training).
  pub fn codes(&self) -> &[u8] {
    &self.codes
  }

  /// The vector of `key`: the original when kept, otherwise the code's reconstruction (for cosine,
  /// of the normalised vector).
  pub fn get(&self, key: u64) -> Option<Vec<f32>> {
    let &slot = self.slots.get(&key)?;
    if self.has_originals() {
      return Some(self.originals()[slot * self.dim..(slot + 1) * self.dim].to_vec());
    }
    let q = self.quantizer.as_ref()?;
    let cl = q.code_len();
    let mut out = vec![0f32; self.dim];
    with_quantizer!(q, |q| q.decode(&self.codes[slot * cl..(slot + 1) * cl], &mut out));
    Some(out)
  }

  fn not_trained(&self) -> Error {
    let how = match self.options.train_after {
      Some(n) => format!(
        "it trains itself once {n} vectors have been added ({} so far), or call train(sample)",
        self.len()
      ),
      None => "call train(sample) first (automatic training is off)".to_owned(),
    };
    Error::NotTrained {
      reason: format!(
        "the {} quantizer is not trained yet: {how}",
        self.options.spec.name()
      ),
    }
  }

  /// Trains the quantiser on `sample` (row-major) and encodes every vector already added. Fails,
  /// changing nothing, if it is already trained or the sample is unusable, or with `ERR_READ_ONLY`
  /// on an index opened read-only.
  pub fn train(&mut self, sample: &[f32]) -> Result<()> {
    self.check_writable("train")?;
    if self.quantizer.is_some() {
      return Err(Error::invalid_argument(format!(
        "the {} quantizer is already trained; train() runs once per index",
        self.options.spec.name()
      )));
    }
    let q = AnyQuantizer::train(
      &self.options.spec,
      self.dim,
      self.metric,
      sample,
      self.options.seed,
    )?;
    self.adopt(q);
    Ok(())
  }

  /// Installs a trained quantiser and encodes the pending vectors.
  fn adopt(&mut self, q: AnyQuantizer) {
    self.codes = q.encode_rows(self.originals.as_slice(), self.dim);
    if !self.options.keep_originals {
      self.originals = Vectors::default();
    }
    self.quantizer = Some(q);
  }

  /// Adds `keys.len()` rows from the row-major `vectors` (all-or-nothing; see
  /// [`crate::FlatIndex::add_batch`]). May train the quantiser (see the module docs). Fails with
  /// `ERR_READ_ONLY` on an index opened read-only.
  pub fn add_batch(&mut self, keys: &[u64], vectors: &[f32], upsert: bool) -> Result<()> {
    self.check_writable("add")?;
    let present = |k: u64| self.slots.contains_key(&k);
    check_batch(
      self.dim,
      keys,
      vectors,
      if upsert { None } else { Some(&present) },
    )?;
    let new_rows = keys.iter().filter(|k| !self.slots.contains_key(k)).count();

    let Some(q) = &self.quantizer else {
      let total = self.len() + new_rows;
      match self.options.train_after {
        None => return Err(self.not_trained()),
        Some(n) if total >= n => {
          // Train on everything that will be stored, before storing anything, so a failure
          // leaves the index as it was.
          let mut staged = self.clone();
          staged.store(keys, vectors, None)?;
          let q = AnyQuantizer::train(
            &self.options.spec,
            self.dim,
            self.metric,
            staged.originals.as_slice(),
            self.options.seed,
          )?;
          staged.adopt(q);
          *self = staged;
        }
        Some(_) => self.store(keys, vectors, None)?,
      }
      return Ok(());
    };
    let codes = q.encode_rows(vectors, self.dim);
    self.store(keys, vectors, Some(&codes))
  }

  /// Stores validated rows (and their codes once trained); upserts overwrite in place.
  /// Fails (before changing anything) only if mapped originals cannot be copied out, which never
  /// happens: only a read-only open maps them, and it refuses writes before they get here.
  fn store(&mut self, keys: &[u64], vectors: &[f32], codes: Option<&[u8]>) -> Result<()> {
    let d = self.dim;
    let cl = self.quantizer.as_ref().map_or(0, AnyQuantizer::code_len);
    let keep = self.quantizer.is_none() || self.options.keep_originals;
    let originals = self.originals.owned_mut()?;
    // Reserved up front so a big batch grows each buffer once (from empty: to its exact size), and
    // memoryUsage() reports what the data needs rather than a doubling's slack.
    let new_rows = keys.iter().filter(|k| !self.slots.contains_key(k)).count();
    if codes.is_some() {
      self.codes.reserve(new_rows * cl);
    }
    if keep {
      originals.reserve(new_rows * d);
    }
    self.keys.reserve(new_rows);
    self.slots.reserve(new_rows);
    for (i, (&key, row)) in keys.iter().zip(vectors.chunks_exact(d)).enumerate() {
      let code = codes.map(|c| &c[i * cl..(i + 1) * cl]);
      match self.slots.get(&key) {
        Some(&slot) => {
          if keep {
            originals[slot * d..(slot + 1) * d].copy_from_slice(row);
          }
          if let Some(c) = code {
            self.codes[slot * cl..(slot + 1) * cl].copy_from_slice(c);
          }
        }
        None => {
          self.slots.insert(key, self.keys.len());
          self.keys.push(key);
          if keep {
            originals.extend_from_slice(row);
          }
          if let Some(c) = code {
            self.codes.extend_from_slice(c);
          }
        }
      }
    }
    Ok(())
  }

  /// Removes `key`; returns whether it was present.
  ///
  /// On a read-only index this is [`QuantizedFlatIndex::try_remove`]'s `ERR_READ_ONLY` reported as
  /// `false`; prefer `try_remove` where that matters.
  pub fn remove(&mut self, key: u64) -> bool {
    self.try_remove(key).unwrap_or(false)
  }

  /// [`QuantizedFlatIndex::remove`], failing with `ERR_READ_ONLY` (changing nothing) on an index
  /// opened read-only.
  pub fn try_remove(&mut self, key: u64) -> Result<bool> {
    self.check_writable("remove")?;
    if !self.slots.contains_key(&key) {
      return Ok(false);
    }
    let d = self.dim;
    let has_orig = self.has_originals();
    let originals = self.originals.owned_mut()?;
    let Some(slot) = self.slots.remove(&key) else {
      return Ok(false);
    };
    let last = self.keys.len() - 1;
    let cl = self.quantizer.as_ref().map_or(0, AnyQuantizer::code_len);
    if slot != last {
      let moved = self.keys[last];
      self.keys[slot] = moved;
      if has_orig {
        originals.copy_within(last * d..(last + 1) * d, slot * d);
      }
      if cl > 0 {
        self.codes.copy_within(last * cl..(last + 1) * cl, slot * cl);
      }
      self.slots.insert(moved, slot);
    }
    self.keys.truncate(last);
    if has_orig {
      originals.truncate(last * d);
    }
    self.codes.truncate(last * cl);
    Ok(true)
  }

  /// Bytes held, by part (capacity: what the process pays); originals served from a mapping are
  /// `mapped`, outside `originals` and `total`.
  pub fn memory_usage(&self) -> QuantMemoryUsage {
    let codes = self.codes.capacity();
    let originals = self.originals.capacity() * 4;
    let mapped = self.originals.mapped_bytes();
    let map = self.slots.capacity() * (std::mem::size_of::<(u64, usize)>() + 1);
    let keys = self.keys.capacity() * 8 + map;
    let params = self.quantizer.as_ref().map_or(0, AnyQuantizer::memory_bytes);
    QuantMemoryUsage {
      codes,
      originals,
      keys,
      total: codes + originals + keys + params + std::mem::size_of::<Self>(),
      mapped,
    }
  }

  /// The `k` nearest neighbours of `query`, nearest first.
  pub fn search(&self, query: &[f32], k: usize, allow: Option<&[u64]>) -> Result<Vec<Neighbor>> {
    Ok(self.search_batch(query, k, allow)?.into_first())
  }

  /// Candidates the scan keeps for `k` results: `⌈k × oversample⌉` when rescoring, else `k`.
  pub fn candidates_for(&self, k: usize) -> usize {
    if self.options.rescores() {
      super::candidates_for(k, self.options.oversample)
    } else {
      k
    }
  }

  /// The `k` nearest neighbours of each row of `queries`: scanned on codes, then (when rescoring)
  /// the best `k × oversample` candidates re-ranked by their exact f32 distances. Distances are
  /// exact for rescored results and code estimates otherwise.
  pub fn search_batch(&self, queries: &[f32], k: usize, allow: Option<&[u64]>) -> Result<BatchResult> {
    check_k(k)?;
    let nq = check_queries(self.dim, queries)?;
    let Some(quant) = &self.quantizer else {
      return Err(self.not_trained());
    };
    let candidates = allowed_slots(&self.slots, allow);
    let n_cand = candidates.as_ref().map_or(self.len(), Vec::len);
    let k_eff = k.min(n_cand);
    let mut out = BatchResult::padded(nq, k_eff);
    if k_eff == 0 {
      return Ok(out);
    }
    let kc = self.candidates_for(k_eff);
    let results: Vec<Vec<Neighbor>> = match (quant, &candidates) {
      // Binary and int8 codes have tiled integer kernels (see `scan`); an allow-list gathers
      // rows one by one and takes the generic path below.
      (AnyQuantizer::Binary(q), None) => self.search_binary(q, queries, k_eff, kc),
      (AnyQuantizer::Int8(q), None) => self.search_int8(q, queries, k_eff, kc),
      _ => self.search_generic(quant, queries, nq, k_eff, kc, candidates.as_deref()),
    };
    for (i, res) in results.into_iter().enumerate() {
      out.counts[i] = res.len() as u32;
      for (j, nb) in res.into_iter().enumerate() {
        out.keys[i * k_eff + j] = nb.key;
        out.distances[i * k_eff + j] = nb.distance;
      }
    }
    Ok(out)
  }

  /// The scan for every code type: one [`Quantizer::score`] call per (query, row) into a heap.
  fn search_generic(
    &self,
    quant: &AnyQuantizer,
    queries: &[f32],
    nq: usize,
    k_eff: usize,
    kc: usize,
    candidates: Option<&[usize]>,
  ) -> Vec<Vec<Neighbor>> {
    with_quantizer!(quant, |q| {
      if nq == 1 {
        vec![self.search_one(q, queries, k_eff, kc, candidates)]
      } else {
        // Blocks of queries share each pass over the codes (see `search_block`); enough blocks
        // that every thread has work, none larger than QUERY_BLOCK.
        let per = nq
          .div_ceil(rayon::current_num_threads().max(1) * 2)
          .clamp(1, QUERY_BLOCK);
        queries
          .par_chunks(per * self.dim)
          .flat_map_iter(|block| self.search_block(q, block, k_eff, kc, candidates))
          .collect()
      }
    })
  }

  fn search_one<Q: Quantizer>(
    &self,
    q: &Q,
    query: &[f32],
    k: usize,
    kc: usize,
    allow: Option<&[usize]>,
  ) -> Vec<Neighbor> {
    let prepared = q.prepare(query);
    let cl = q.code_len();
    let scan = |slots: &mut dyn Iterator<Item = usize>| {
      let mut top = TopK::new(kc);
      for s in slots {
        // The top keeps slots (as keys) so rescoring finds the originals without a map lookup.
        top.push(s as u64, q.score(&prepared, &self.codes[s * cl..(s + 1) * cl]));
      }
      top
    };
    let n = allow.map_or(self.len(), <[usize]>::len);
    let top = scan_ranges(
      n,
      |lo, hi| match allow {
        None => scan(&mut (lo..hi)),
        Some(s) => scan(&mut s[lo..hi].iter().copied()),
      },
      |mut a, b| {
        a.merge(b);
        a
      },
      || TopK::new(kc),
    );
    self.finish(q, query, top, k)
  }

  /// Several queries in one pass: the codes are walked in cache-sized chunks, and every query of
  /// the block scores a chunk while it is in cache, so codes come from memory once per block
  /// instead of once per query.
  fn search_block<Q: Quantizer>(
    &self,
    q: &Q,
    block: &[f32],
    k: usize,
    kc: usize,
    allow: Option<&[usize]>,
  ) -> Vec<Vec<Neighbor>> {
    let prepared: Vec<Q::Query> = block.chunks_exact(self.dim).map(|x| q.prepare(x)).collect();
    let mut tops: Vec<TopK> = prepared.iter().map(|_| TopK::new(kc)).collect();
    let cl = q.code_len();
    let chunk = (ROW_CHUNK_BYTES / cl.max(1)).max(1);
    let n = allow.map_or(self.len(), <[usize]>::len);
    let mut lo = 0;
    while lo < n {
      let hi = (lo + chunk).min(n);
      for (p, top) in prepared.iter().zip(tops.iter_mut()) {
        match allow {
          None => {
            for (s, code) in (lo..hi).zip(self.codes[lo * cl..hi * cl].chunks_exact(cl)) {
              top.push(s as u64, q.score(p, code));
            }
          }
          Some(slots) => {
            for &s in &slots[lo..hi] {
              top.push(s as u64, q.score(p, &self.codes[s * cl..(s + 1) * cl]));
            }
          }
        }
      }
      lo = hi;
    }
    block
      .chunks_exact(self.dim)
      .zip(tops)
      .map(|(query, top)| self.finish(q, query, top, k))
      .collect()
  }

  /// From a query's scan candidates (slots) to its results: rescored exactly when the options
  /// ask for it and the originals are held, otherwise code distances.
  fn finish<Q: Quantizer>(&self, q: &Q, query: &[f32], top: TopK, k: usize) -> Vec<Neighbor> {
    self.finish_sorted(q, query, top.into_sorted(), k)
  }

  /// [`Self::finish`] from candidates already sorted nearest first (slots as keys, scores as
  /// distances).
  fn finish_sorted<Q: Quantizer>(
    &self,
    q: &Q,
    query: &[f32],
    found: Vec<Neighbor>,
    k: usize,
  ) -> Vec<Neighbor> {
    let d = self.dim;
    if self.options.rescores() && self.has_originals() {
      // Owned or mapped, the same rows: a read-only open rescores exactly as the loaded index.
      let originals = self.originals.as_slice();
      super::rescore(
        self.kernel,
        query,
        found.iter().map(|nb| {
          let s = nb.key as usize;
          (self.keys[s], &originals[s * d..(s + 1) * d])
        }),
        k,
      )
    } else {
      // Back from slots to keys.
      super::code_results(
        q,
        found.iter().map(|nb| (self.keys[nb.key as usize], nb.distance)),
        k,
      )
    }
  }
}
