//! `HnswIndex` binding: argument conversion and task scheduling only.
//!
//! The core index takes `&self` for every operation and does its own locking (see
//! `ferrovec_core::hnsw`), so the binding holds it in a plain `Arc` with no outer lock: a
//! `searchBatch()` or a sync `search()` runs while an `addBatch()` task links nodes on a worker.
//! Heavy calls are `Task`s (async form) with a `…Sync` twin that runs the same task inline; tasks
//! copy their typed-array input on the JS thread before scheduling, so arguments are borrowed slices
//! (as in `flat.rs`: no napi reference per argument).

use std::sync::Arc;

use ferrovec_core::error::Context;
use ferrovec_core::flat::{k_from_f64, BatchResult};
use ferrovec_core::hnsw::{AddOptions, AnyHnswIndex, HnswParams, OpenOptions, SearchOptions};
use ferrovec_core::keys::{key_from_f64, keys_from_f64, MAX_KEY};
use ferrovec_core::{Error as CoreError, HnswIndex, Metric, Neighbor, SearchStats as CoreStats};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::error::{to_js, CoreResultExt};
use crate::flat::{
  batch_parts, load_options, quant_info, quant_options, wrong_kind, FlatQuantOptions, QuantizationInfo, Rows,
};
use crate::metric::parse_metric;

/// The two storage kinds: f32 vectors, or bit-packed rows for hamming.
enum AnyHnsw {
  F32(HnswIndex<f32>),
  Bits(HnswIndex<u8>),
}

impl From<AnyHnswIndex> for AnyHnsw {
  fn from(index: AnyHnswIndex) -> Self {
    match index {
      AnyHnswIndex::F32(i) => AnyHnsw::F32(i),
      AnyHnswIndex::Bits(i) => AnyHnsw::Bits(i),
    }
  }
}

/// Runs `$body` with `$idx` bound to the index of either kind.
macro_rules! each {
  ($index:expr, |$idx:ident| $body:expr) => {
    match $index {
      AnyHnsw::F32($idx) => $body,
      AnyHnsw::Bits($idx) => $body,
    }
  };
}

/// Runs `$body` with the index and the matching rows, or fails on a kind mismatch.
macro_rules! with_rows {
  ($index:expr, $rows:expr, |$idx:ident, $r:ident| $body:expr) => {
    match ($index, $rows) {
      (AnyHnsw::F32($idx), Rows::F32($r)) => $body,
      (AnyHnsw::Bits($idx), Rows::Bits($r)) => $body,
      (AnyHnsw::F32(_), _) => Err(wrong_kind(false)),
      (AnyHnsw::Bits(_), _) => Err(wrong_kind(true)),
    }
  };
}

/// Construction options (every field optional; defaults in the core).
#[napi(object)]
pub struct HnswNativeOptions {
  pub m: Option<f64>,
  pub ef_construction: Option<f64>,
  pub ef_search: Option<f64>,
  pub seed: Option<f64>,
  pub capacity: Option<f64>,
  /// Threads that link a batch: 0 (default) = every core, 1 = sequential and reproducible.
  pub build_threads: Option<f64>,
  /// Quantised walks (f32 metrics only); the same options as the flat index's.
  pub quantization: Option<FlatQuantOptions>,
}

/// The parameters an index was built with.
#[napi(object)]
pub struct HnswNativeParams {
  pub dim: u32,
  pub metric: String,
  pub m: u32,
  pub ef_construction: u32,
  pub ef_search: u32,
  pub seed: f64,
  pub build_threads: u32,
}

/// Bytes held by an HNSW index, by part.
#[napi(object)]
pub struct HnswMemoryUsage {
  pub vectors: f64,
  pub graph: f64,
  pub keys: f64,
  pub total: f64,
  /// Bytes of vectors served from a read-only file mapping (not in `total`).
  pub mapped: f64,
  /// Quantised indexes: bytes of codes (part of `vectors`).
  pub codes: Option<f64>,
  /// Quantised indexes: bytes of f32 originals (part of `vectors`; 0 once dropped).
  pub originals: Option<f64>,
}

/// What one search cost.
#[napi(object)]
pub struct SearchStats {
  /// Distance computations.
  pub distances: f64,
  /// Nodes whose neighbour list was read.
  pub visited: f64,
  /// Whether the query was answered by exact search over the allowed keys.
  pub exact: bool,
}

/// Per-query costs of a batch, flat (query `i` at index `i`).
#[napi(object)]
pub struct BatchSearchStats {
  pub distances: Float64Array,
  pub visited: Float64Array,
  /// 1 where the query was answered by exact search, else 0.
  pub exact: Uint8Array,
}

/// One query's results, nearest first.
#[napi(object)]
pub struct HnswSearchResult {
  pub keys: Float64Array,
  pub distances: Float32Array,
  pub stats: Option<SearchStats>,
}

/// Many queries' results, flat: query `i` owns slots `i*k .. i*k + counts[i]`.
#[napi(object)]
pub struct HnswBatchSearchResult {
  pub keys: Float64Array,
  pub distances: Float32Array,
  pub counts: Uint32Array,
  pub k: u32,
  pub stats: Option<BatchSearchStats>,
}

/// Progress of a batch insert.
#[napi(object)]
pub struct BuildProgress {
  pub done: f64,
  pub total: f64,
}

/// `(progress) => void`, called on the JS thread; CalleeHandled = false so JS gets the value itself
/// rather than an `(err, value)` pair. (Spelled out in the `#[napi]` signatures, where napi needs
/// the full type to write the TypeScript declaration.)
pub type ProgressFn = ThreadsafeFunction<BuildProgress, (), BuildProgress, Status, false>;

fn to_js_batch(r: BatchResult, stats: Option<Vec<CoreStats>>) -> HnswBatchSearchResult {
  let (keys, distances, counts, k) = batch_parts(r);
  HnswBatchSearchResult {
    keys,
    distances,
    counts,
    k,
    stats: stats.map(|s| BatchSearchStats {
      distances: s.iter().map(|x| x.distances as f64).collect::<Vec<_>>().into(),
      visited: s.iter().map(|x| x.visited as f64).collect::<Vec<_>>().into(),
      exact: s.iter().map(|x| u8::from(x.exact)).collect::<Vec<_>>().into(),
    }),
  }
}

/// A caller-allocated `Float64Array` the binding writes keys into. The alias is how napi-derive
/// takes a typed array mutably: it reads a written-out `&mut T` parameter as a `&mut self`-style
/// class reference (`FromNapiMutRef`), but converts an alias through `&mut [f64]`'s `FromNapiValue`,
/// which borrows the array's memory for the call (no copy). The call is synchronous on the JS
/// thread, so nothing else touches the array meanwhile.
pub(crate) type OutKeys<'a> = &'a mut [f64];
/// A caller-allocated `Float32Array` for distances; see [`OutKeys`].
pub(crate) type OutDistances<'a> = &'a mut [f32];

/// Runs a single search whose neighbours go into the caller's `keys` and `distances` (checked to
/// hold `k` before searching, so a short array is an error rather than a truncated result); returns
/// how many were written.
pub(crate) fn write_into(
  k: usize,
  keys: &mut [f64],
  distances: &mut [f32],
  search: impl FnOnce() -> ferrovec_core::Result<Vec<Neighbor>>,
) -> ferrovec_core::Result<u32> {
  if keys.len() < k || distances.len() < k {
    return Err(CoreError::InvalidArgument(format!(
      "result arrays hold {} keys and {} distances; k is {k}",
      keys.len(),
      distances.len()
    )));
  }
  let found = search()?;
  for ((n, key), dist) in found.iter().zip(keys.iter_mut()).zip(distances.iter_mut()) {
    *key = n.key as f64;
    *dist = n.distance;
  }
  Ok(found.len() as u32)
}

/// A non-negative integer option up to `max`.
fn int_opt(v: Option<f64>, name: &str, min: f64, max: f64) -> ferrovec_core::Result<Option<f64>> {
  match v {
    None => Ok(None),
    Some(x) if x.fract() == 0.0 && x >= min && x <= max => Ok(Some(x)),
    Some(x) => Err(CoreError::InvalidArgument(format!(
      "{name} must be an integer in {min}..={max}, got {x}"
    ))),
  }
}

fn params_from(dim: f64, metric: Metric, o: &HnswNativeOptions) -> ferrovec_core::Result<HnswParams> {
  let dim = int_opt(Some(dim), "dim", 1.0, f64::from(u32::MAX))?.unwrap_or(1.0) as usize;
  let mut p = HnswParams::new(dim, metric);
  let big = f64::from(u32::MAX);
  if let Some(m) = int_opt(o.m, "m", 0.0, big)? {
    p.m = m as usize;
  }
  if let Some(x) = int_opt(o.ef_construction, "efConstruction", 0.0, big)? {
    p.ef_construction = x as usize;
  }
  if let Some(x) = int_opt(o.ef_search, "efSearch", 0.0, big)? {
    p.ef_search = x as usize;
  }
  if let Some(x) = int_opt(o.seed, "seed", 0.0, MAX_KEY as f64)? {
    p.seed = x as u64;
  }
  if let Some(x) = int_opt(o.capacity, "capacity", 0.0, big)? {
    p.capacity = x as usize;
  }
  if let Some(x) = int_opt(o.build_threads, "buildThreads", 0.0, big)? {
    p.build_threads = x as usize;
  }
  Ok(p)
}

fn ef_from(ef: Option<f64>) -> ferrovec_core::Result<Option<usize>> {
  Ok(int_opt(ef, "ef", 1.0, f64::from(u32::MAX))?.map(|x| x as usize))
}

/// The native HNSW index. Use the `HnswIndex` class of the TypeScript package, which validates and
/// normalises input before calling in here.
#[napi]
pub struct NativeHnswIndex {
  inner: Arc<AnyHnsw>,
}

#[napi]
impl NativeHnswIndex {
  #[napi(constructor)]
  pub fn new(env: Env, dim: f64, metric: String, options: Option<HnswNativeOptions>) -> Result<Self> {
    let m = parse_metric(&metric).or_js(&env)?;
    let o = options.unwrap_or(HnswNativeOptions {
      m: None,
      ef_construction: None,
      ef_search: None,
      seed: None,
      capacity: None,
      build_threads: None,
      quantization: None,
    });
    let p = params_from(dim, m, &o).or_js(&env)?;
    let quant = o
      .quantization
      .as_ref()
      .map(|q| quant_options(q, p.dim))
      .transpose()
      .or_js(&env)?;
    let inner = if m == Metric::Hamming {
      let index = HnswIndex::new(p).or_js(&env)?;
      // Refused by the core with the same message the flat index gives.
      let index = match quant {
        Some(q) => index.with_quantization(q).or_js(&env)?,
        None => index,
      };
      AnyHnsw::Bits(index)
    } else {
      let index = HnswIndex::new(p).or_js(&env)?;
      let index = match quant {
        Some(q) => index.with_quantization(q).or_js(&env)?,
        None => index,
      };
      AnyHnsw::F32(index)
    };
    Ok(NativeHnswIndex {
      inner: Arc::new(inner),
    })
  }

  #[napi(getter)]
  pub fn dim(&self) -> u32 {
    u32::try_from(each!(&*self.inner, |i| i.dim())).unwrap_or(u32::MAX)
  }

  #[napi(getter)]
  pub fn metric(&self) -> String {
    each!(&*self.inner, |i| i.metric().name().to_owned())
  }

  /// Live (not removed) vectors.
  #[napi(getter)]
  pub fn size(&self) -> f64 {
    each!(&*self.inner, |i| i.len()) as f64
  }

  /// Nodes the index has room for before it next grows.
  #[napi(getter)]
  pub fn capacity(&self) -> f64 {
    each!(&*self.inner, |i| i.capacity()) as f64
  }

  /// Slots held by removed vectors (reclaimed by `compact`).
  #[napi(getter)]
  pub fn deleted_count(&self) -> f64 {
    each!(&*self.inner, |i| i.deleted_count()) as f64
  }

  /// Whether the index was opened read-only (mapped) from a file.
  #[napi(getter)]
  pub fn read_only(&self) -> bool {
    each!(&*self.inner, |i| i.is_read_only())
  }

  #[napi(getter)]
  pub fn ef_search(&self) -> u32 {
    u32::try_from(each!(&*self.inner, |i| i.ef_search())).unwrap_or(u32::MAX)
  }

  #[napi(setter)]
  pub fn set_ef_search(&self, env: Env, ef: f64) -> Result<()> {
    let ef = int_opt(Some(ef), "efSearch", 1.0, f64::from(u32::MAX))
      .map(|x| x.unwrap_or(1.0) as usize)
      .or_js(&env)?;
    each!(&*self.inner, |i| i.set_ef_search(ef)).or_js(&env)
  }

  #[napi]
  pub fn params(&self) -> HnswNativeParams {
    let p = each!(&*self.inner, |i| i.params());
    let u = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    HnswNativeParams {
      dim: u(p.dim),
      metric: p.metric.name().to_owned(),
      m: u(p.m),
      ef_construction: u(p.ef_construction),
      ef_search: u(p.ef_search),
      seed: p.seed as f64,
      build_threads: u(p.build_threads),
    }
  }

  /// Adds rows (`keys.length` of them, row-major in `vectors`) off the JS thread; `onProgress`
  /// receives `{ done, total }` on the JS thread while the batch links.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn add_batch(
    &self,
    keys: &[f64],
    vectors: Either<&[f32], &[u8]>,
    upsert: bool,
    on_progress: Option<ThreadsafeFunction<BuildProgress, (), BuildProgress, Status, false>>,
  ) -> AsyncTask<HnswAddTask> {
    AsyncTask::new(self.add_task(keys, &vectors, upsert, on_progress))
  }

  /// Adds rows on the calling thread.
  #[napi]
  pub fn add_batch_sync(
    &self,
    env: Env,
    keys: &[f64],
    vectors: Either<&[f32], &[u8]>,
    upsert: bool,
    on_progress: Option<ThreadsafeFunction<BuildProgress, (), BuildProgress, Status, false>>,
  ) -> Result<()> {
    let mut task = self.add_task(keys, &vectors, upsert, on_progress);
    let out = task.compute()?;
    task.resolve(env, out)
  }

  fn add_task(
    &self,
    keys: &[f64],
    vectors: &Either<&[f32], &[u8]>,
    upsert: bool,
    on_progress: Option<ProgressFn>,
  ) -> HnswAddTask {
    HnswAddTask {
      inner: self.inner.clone(),
      keys: keys.to_vec(),
      rows: Some(Rows::copy_from(vectors)),
      upsert,
      on_progress,
    }
  }

  /// Removes `key` (a tombstone until `compact`); returns whether it was present.
  #[napi]
  pub fn remove(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    each!(&*self.inner, |i| i.try_remove(key)).or_js(&env)
  }

  #[napi]
  pub fn has(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(each!(&*self.inner, |i| i.contains(key)))
  }

  /// A copy of the stored vector of `key`, or `undefined`.
  #[napi]
  pub fn get(&self, env: Env, key: f64) -> Result<Option<Either<Float32Array, Uint8Array>>> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(match &*self.inner {
      AnyHnsw::F32(i) => i.get(key).map(|r| Either::A(r.into())),
      AnyHnsw::Bits(i) => i.get(key).map(|r| Either::B(r.into())),
    })
  }

  /// Every live key, in insertion (slot) order.
  #[napi]
  pub fn keys(&self) -> Float64Array {
    let keys: Vec<f64> = each!(&*self.inner, |i| i.keys())
      .into_iter()
      .map(|k| k as f64)
      .collect();
    keys.into()
  }

  #[napi]
  pub fn memory_usage(&self) -> HnswMemoryUsage {
    let (m, quantised) = each!(&*self.inner, |i| (i.memory_usage(), i.quant_options().is_some()));
    HnswMemoryUsage {
      vectors: (m.vectors + m.codes) as f64,
      graph: m.graph as f64,
      keys: m.keys as f64,
      total: m.total as f64,
      mapped: m.mapped as f64,
      codes: quantised.then_some(m.codes as f64),
      originals: quantised.then_some(m.vectors as f64),
    }
  }

  /// Trains the quantiser on `sample` (row-major) off the JS thread, then encodes every vector
  /// already added; later inserts and every search walk on codes.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn train(&self, sample: &[f32]) -> AsyncTask<HnswTrainTask> {
    AsyncTask::new(HnswTrainTask {
      inner: self.inner.clone(),
      sample: sample.to_vec(),
    })
  }

  /// {@link train} on the calling thread.
  #[napi]
  pub fn train_sync(&self, env: Env, sample: &[f32]) -> Result<()> {
    let mut task = HnswTrainTask {
      inner: self.inner.clone(),
      sample: sample.to_vec(),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// The quantisation set-up, or `undefined` for a plain index.
  #[napi(getter)]
  pub fn quantization(&self) -> Option<QuantizationInfo> {
    let AnyHnsw::F32(i) = &*self.inner else {
      return None;
    };
    let o = i.quant_options()?;
    let q = i.quantizer();
    Some(quant_info(o, q.is_some(), q.map(|q| q.code_len())))
  }

  /// Drops removed nodes for good off the JS thread; resolves the number of slots reclaimed.
  #[napi(ts_return_type = "Promise<number>")]
  pub fn compact(&self) -> AsyncTask<CompactTask> {
    AsyncTask::new(CompactTask {
      inner: self.inner.clone(),
    })
  }

  /// `compact` on the calling thread.
  #[napi]
  pub fn compact_sync(&self, env: Env) -> Result<f64> {
    let mut task = CompactTask {
      inner: self.inner.clone(),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Saves the index to `path` off the JS thread (temp file, fsync, rename). A save that starts while
  /// a batch insert is linking waits for it and writes it whole; searches keep running.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String) -> AsyncTask<HnswSaveTask> {
    AsyncTask::new(HnswSaveTask {
      inner: self.inner.clone(),
      path,
    })
  }

  /// `save` on the calling thread.
  #[napi]
  pub fn save_sync(&self, env: Env, path: String) -> Result<()> {
    let mut task = HnswSaveTask {
      inner: self.inner.clone(),
      path,
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// The index in ferrovec's file format, as one Buffer.
  #[napi]
  pub fn to_buffer(&self, env: Env) -> Result<Buffer> {
    let bytes = each!(&*self.inner, |i| i.to_bytes()).or_js(&env)?;
    Ok(bytes.into())
  }

  /// Loads (`readOnly` false) or maps read-only (`readOnly` true) an index file off the JS thread.
  /// `dim` and `metric`, when given, are what the caller expects the file to hold.
  #[napi(ts_return_type = "Promise<NativeHnswIndex>")]
  pub fn open(
    path: String,
    dim: Option<f64>,
    metric: Option<String>,
    read_only: Option<bool>,
  ) -> AsyncTask<HnswLoadTask> {
    AsyncTask::new(HnswLoadTask {
      path,
      dim,
      metric,
      read_only: read_only.unwrap_or(false),
    })
  }

  /// `open` on the calling thread.
  #[napi]
  pub fn open_sync(
    env: Env,
    path: String,
    dim: Option<f64>,
    metric: Option<String>,
    read_only: Option<bool>,
  ) -> Result<NativeHnswIndex> {
    let mut task = HnswLoadTask {
      path,
      dim,
      metric,
      read_only: read_only.unwrap_or(false),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// An index from bytes produced by `toBuffer` (or read from a saved file).
  #[napi]
  pub fn from_buffer(
    env: Env,
    bytes: &[u8],
    dim: Option<f64>,
    metric: Option<String>,
  ) -> Result<NativeHnswIndex> {
    let options = load_options(dim, metric.as_deref()).or_js(&env)?;
    let index = AnyHnswIndex::from_bytes(bytes, &options).or_js(&env)?;
    Ok(NativeHnswIndex {
      inner: Arc::new(index.into()),
    })
  }

  /// One query's neighbours written into `keys` and `distances` (caller-allocated, at least `k`
  /// long); returns how many were found. The facade's `search` without stats.
  ///
  /// Why a second single-query entry: a small index answers in a few microseconds, about what
  /// `search`'s result object used to cost (the query copied into a task, a padded batch result,
  /// two external ArrayBuffers with finalizers, an object with three properties). Here the query is
  /// borrowed, V8 allocates the two small arrays itself, and only a number comes back.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn search_into(
    &self,
    env: Env,
    query: Either<&[f32], &[u8]>,
    k: f64,
    ef: Option<f64>,
    allow: Option<&[f64]>,
    #[napi(ts_arg_type = "Float64Array")] keys: OutKeys,
    #[napi(ts_arg_type = "Float32Array")] distances: OutDistances,
  ) -> Result<u32> {
    let mut run = || {
      let k = k_from_f64(k)?;
      let allow = allow.map(keys_from_f64).transpose()?;
      let opts = SearchOptions {
        ef: ef_from(ef)?,
        allow: allow.as_deref(),
        exclude: None,
      };
      write_into(k, keys, distances, || match (&*self.inner, &query) {
        (AnyHnsw::F32(i), Either::A(q)) => i.search(q, k, opts),
        (AnyHnsw::Bits(i), Either::B(q)) => i.search(q, k, opts),
        (AnyHnsw::F32(_), _) => Err(wrong_kind(false)),
        (AnyHnsw::Bits(_), _) => Err(wrong_kind(true)),
      })
    };
    run().or_js(&env)
  }

  /// The `k` nearest neighbours of one query (sync: a single search is sub-millisecond).
  #[napi]
  pub fn search(
    &self,
    env: Env,
    query: Either<&[f32], &[u8]>,
    k: f64,
    ef: Option<f64>,
    allow: Option<&[f64]>,
    stats: Option<bool>,
  ) -> Result<HnswSearchResult> {
    let mut task = self.search_task(&query, k, ef, allow, stats.unwrap_or(false), None);
    let out = task.compute()?;
    let r = task.resolve(env, out)?;
    let n = r.counts.first().copied().unwrap_or(0) as usize;
    Ok(HnswSearchResult {
      keys: r.keys[..n].to_vec().into(),
      distances: r.distances[..n].to_vec().into(),
      stats: r.stats.map(|s| SearchStats {
        distances: s.distances.first().copied().unwrap_or(0.0),
        visited: s.visited.first().copied().unwrap_or(0.0),
        exact: s.exact.first().copied().unwrap_or(0) != 0,
      }),
    })
  }

  /// The `k` nearest neighbours of each row of `queries`, off the JS thread and in parallel.
  #[napi(ts_return_type = "Promise<HnswBatchSearchResult>")]
  pub fn search_batch(
    &self,
    queries: Either<&[f32], &[u8]>,
    k: f64,
    ef: Option<f64>,
    allow: Option<&[f64]>,
    stats: Option<bool>,
  ) -> AsyncTask<HnswSearchTask> {
    AsyncTask::new(self.search_task(&queries, k, ef, allow, stats.unwrap_or(false), None))
  }

  /// `searchBatch` on the calling thread.
  #[napi]
  pub fn search_batch_sync(
    &self,
    env: Env,
    queries: Either<&[f32], &[u8]>,
    k: f64,
    ef: Option<f64>,
    allow: Option<&[f64]>,
    stats: Option<bool>,
  ) -> Result<HnswBatchSearchResult> {
    let mut task = self.search_task(&queries, k, ef, allow, stats.unwrap_or(false), None);
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Internal (for `tune()`, not part of the facade): `searchBatch` in which query `i` is searched
  /// as if the key `exclude[i]` were not in the index (core `SearchOptions::exclude`).
  #[napi(ts_return_type = "Promise<HnswBatchSearchResult>")]
  pub fn search_batch_excluding(
    &self,
    queries: Either<&[f32], &[u8]>,
    exclude: &[f64],
    k: f64,
    ef: Option<f64>,
    stats: Option<bool>,
  ) -> AsyncTask<HnswSearchTask> {
    AsyncTask::new(self.search_task(&queries, k, ef, None, stats.unwrap_or(false), Some(exclude)))
  }

  /// Internal: `searchBatchExcluding` on the calling thread (tune times single searches with it).
  #[napi]
  pub fn search_batch_excluding_sync(
    &self,
    env: Env,
    queries: Either<&[f32], &[u8]>,
    exclude: &[f64],
    k: f64,
    ef: Option<f64>,
    stats: Option<bool>,
  ) -> Result<HnswBatchSearchResult> {
    let mut task = self.search_task(&queries, k, ef, None, stats.unwrap_or(false), Some(exclude));
    let out = task.compute()?;
    task.resolve(env, out)
  }

  fn search_task(
    &self,
    queries: &Either<&[f32], &[u8]>,
    k: f64,
    ef: Option<f64>,
    allow: Option<&[f64]>,
    stats: bool,
    exclude: Option<&[f64]>,
  ) -> HnswSearchTask {
    HnswSearchTask {
      inner: self.inner.clone(),
      queries: Rows::copy_from(queries),
      k,
      ef,
      allow: allow.map(<[f64]>::to_vec),
      stats,
      exclude: exclude.map(<[f64]>::to_vec),
    }
  }
}

pub struct HnswAddTask {
  inner: Arc<AnyHnsw>,
  keys: Vec<f64>,
  rows: Option<Rows>,
  upsert: bool,
  on_progress: Option<ProgressFn>,
}

impl Task for HnswAddTask {
  // The domain result travels to `resolve`, which runs on the JS thread and can build a coded error.
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let keys = match keys_from_f64(&self.keys) {
      Ok(k) => k,
      Err(e) => return Ok(Err(e)),
    };
    let Some(rows) = self.rows.take() else {
      return Ok(Err(CoreError::InvalidArgument("add task already ran".into())));
    };
    let tsfn = self.on_progress.as_ref();
    let report = |done: usize, total: usize| {
      if let Some(f) = tsfn {
        // NonBlocking: queue the call for the JS thread and return at once, so a busy event loop
        // never stalls the builder (a full queue just drops that one update).
        f.call(
          BuildProgress {
            done: done as f64,
            total: total as f64,
          },
          ThreadsafeFunctionCallMode::NonBlocking,
        );
      }
    };
    let opts = AddOptions {
      upsert: self.upsert,
      progress: tsfn.map(|_| &report as &(dyn Fn(usize, usize) + Sync)),
    };
    Ok(with_rows!(&*self.inner, &rows, |idx, r| idx.add_batch_with(&keys, r, opts)))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct HnswTrainTask {
  inner: Arc<AnyHnsw>,
  sample: Vec<f32>,
}

impl Task for HnswTrainTask {
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let sample = std::mem::take(&mut self.sample);
    Ok(match &*self.inner {
      AnyHnsw::F32(i) => i.train(&sample),
      AnyHnsw::Bits(_) => Err(CoreError::InvalidArgument(
        "train() is for quantised indexes; this index has no quantization option".into(),
      )),
    })
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct CompactTask {
  inner: Arc<AnyHnsw>,
}

impl Task for CompactTask {
  type Output = ferrovec_core::Result<usize>;
  type JsValue = f64;

  fn compute(&mut self) -> Result<Self::Output> {
    Ok(each!(&*self.inner, |i| i.compact()))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<f64> {
    output.map(|n| n as f64).map_err(|e| to_js(&env, e))
  }
}

pub struct HnswSearchTask {
  inner: Arc<AnyHnsw>,
  queries: Rows,
  k: f64,
  ef: Option<f64>,
  allow: Option<Vec<f64>>,
  stats: bool,
  exclude: Option<Vec<f64>>,
}

impl Task for HnswSearchTask {
  type Output = ferrovec_core::Result<(BatchResult, Vec<CoreStats>)>;
  type JsValue = HnswBatchSearchResult;

  fn compute(&mut self) -> Result<Self::Output> {
    Ok(self.run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<HnswBatchSearchResult> {
    let stats = self.stats;
    output
      .map(|(r, s)| to_js_batch(r, stats.then_some(s)))
      .map_err(|e| to_js(&env, e))
  }
}

impl HnswSearchTask {
  fn run(&self) -> ferrovec_core::Result<(BatchResult, Vec<CoreStats>)> {
    let k = k_from_f64(self.k)?;
    let ef = ef_from(self.ef)?;
    // Unknown allowed keys are simply not candidates, but malformed ones (negative, fractional) are
    // a caller bug worth reporting.
    let allow = self.allow.as_deref().map(keys_from_f64).transpose()?;
    let exclude = self.exclude.as_deref().map(keys_from_f64).transpose()?;
    let opts = SearchOptions {
      ef,
      allow: allow.as_deref(),
      exclude: exclude.as_deref(),
    };
    with_rows!(&*self.inner, &self.queries, |idx, q| idx.search_batch(q, k, opts))
  }
}

pub struct HnswSaveTask {
  inner: Arc<AnyHnsw>,
  path: String,
}

impl Task for HnswSaveTask {
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    // The core takes the locks that make the file a consistent snapshot.
    Ok(each!(&*self.inner, |i| i.save(std::path::Path::new(&self.path))))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct HnswLoadTask {
  path: String,
  dim: Option<f64>,
  metric: Option<String>,
  read_only: bool,
}

impl Task for HnswLoadTask {
  type Output = ferrovec_core::Result<AnyHnswIndex>;
  type JsValue = NativeHnswIndex;

  fn compute(&mut self) -> Result<Self::Output> {
    // Options are parsed here so their errors reach JS as coded errors through `resolve`.
    let run = || {
      let expect = load_options(self.dim, self.metric.as_deref())?;
      AnyHnswIndex::open(
        &self.path,
        &OpenOptions {
          read_only: self.read_only,
          expect,
        },
      )
    };
    Ok(run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<NativeHnswIndex> {
    let index = output.map_err(|e| to_js(&env, e))?;
    Ok(NativeHnswIndex {
      inner: Arc::new(index.into()),
    })
  }
}
