//! `FlatIndex` binding: argument conversion and task scheduling only.
//!
//! Heavy calls are `Task`s: the async method runs `compute` on the libuv pool (where rayon spreads
//! it over every core), and the `…Sync` twin runs the very same task inline. Tasks copy their typed
//! array input on the JS thread before scheduling, so JavaScript mutating a buffer while a promise is
//! pending can never race the worker. Because of that copy, every method takes *borrowed* slices
//! (`&[f32]`): an owned napi typed array would create and later free a napi reference per argument,
//! which measured as over a microsecond per call.

use std::sync::Arc;

use ferrovec_core::error::Context;
use ferrovec_core::flat::{k_from_f64, BatchResult};
use ferrovec_core::keys::{key_from_f64, keys_from_f64};
use ferrovec_core::quant::{QuantOptions, QuantSpec, QuantizedFlatIndex};
use ferrovec_core::{AnyFlatIndex, Error as CoreError, FlatIndex, LoadOptions, Metric, OpenOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::RwLock;

use crate::error::{to_js, CoreResultExt};
use crate::metric::parse_metric;

/// The storage kinds: f32 vectors, bit-packed rows for hamming, or f32 vectors searched through
/// quantised codes.
enum AnyFlat {
  F32(FlatIndex<f32>),
  Bits(FlatIndex<u8>),
  Quant(QuantizedFlatIndex),
}

impl From<AnyFlatIndex> for AnyFlat {
  fn from(index: AnyFlatIndex) -> Self {
    match index {
      AnyFlatIndex::F32(i) => AnyFlat::F32(i),
      AnyFlatIndex::Bits(i) => AnyFlat::Bits(i),
      AnyFlatIndex::Quant(i) => AnyFlat::Quant(i),
    }
  }
}

impl AnyFlat {
  fn save(&self, path: &std::path::Path) -> ferrovec_core::Result<()> {
    match self {
      AnyFlat::F32(i) => i.save(path),
      AnyFlat::Bits(i) => i.save(path),
      AnyFlat::Quant(i) => i.save(path),
    }
  }

  fn is_read_only(&self) -> bool {
    match self {
      AnyFlat::F32(i) => i.is_read_only(),
      AnyFlat::Bits(i) => i.is_read_only(),
      AnyFlat::Quant(i) => i.is_read_only(),
    }
  }

  fn to_bytes(&self) -> ferrovec_core::Result<Vec<u8>> {
    match self {
      AnyFlat::F32(i) => i.to_bytes(),
      AnyFlat::Bits(i) => i.to_bytes(),
      AnyFlat::Quant(i) => i.to_bytes(),
    }
  }
}

/// Rows copied out of a `Float32Array` or `Uint8Array`.
pub enum Rows {
  F32(Vec<f32>),
  Bits(Vec<u8>),
}

impl Rows {
  pub fn copy_from(v: &Either<&[f32], &[u8]>) -> Self {
    match *v {
      Either::A(f) => Rows::F32(f.to_vec()),
      Either::B(b) => Rows::Bits(b.to_vec()),
    }
  }
}

pub(crate) fn wrong_kind(index_is_binary: bool) -> CoreError {
  CoreError::InvalidArgument(if index_is_binary {
    "this index uses \"hamming\" and stores bit-packed rows: pass a Uint8Array".into()
  } else {
    "this index stores f32 vectors: pass a Float32Array (Uint8Array is for \"hamming\" indexes)".into()
  })
}

/// Dispatches a closure over the index kind with the matching rows, or fails on a kind mismatch.
macro_rules! with_rows {
  ($index:expr, $rows:expr, |$idx:ident, $r:ident| $body:expr) => {
    match ($index, $rows) {
      (AnyFlat::F32($idx), Rows::F32($r)) => $body,
      (AnyFlat::Bits($idx), Rows::Bits($r)) => $body,
      (AnyFlat::Quant($idx), Rows::F32($r)) => $body,
      (AnyFlat::F32(_) | AnyFlat::Quant(_), _) => Err(wrong_kind(false)),
      (AnyFlat::Bits(_), _) => Err(wrong_kind(true)),
    }
  };
}

/// Sizes of an index's parts in bytes.
#[napi(object)]
pub struct MemoryUsage {
  pub vectors: f64,
  pub keys: f64,
  pub total: f64,
  /// Bytes of vectors (rows, or a quantised index's originals) served from the file mapping of a
  /// read-only index; in neither `vectors` nor `total`. 0 otherwise.
  pub mapped: f64,
  /// Quantised indexes: bytes of codes (part of `vectors`).
  pub codes: Option<f64>,
  /// Quantised indexes: bytes of f32 originals (part of `vectors`).
  pub originals: Option<f64>,
}

/// Quantisation options as the facade passes them (already shape-checked there).
#[napi(object)]
pub struct FlatQuantOptions {
  /// `"f16"`, `"int8"`, `"binary"`, `"pq"` or `"truncate"`.
  pub kind: String,
  pub m: Option<f64>,
  /// Matryoshka prefix length of `"truncate"`.
  pub dims: Option<f64>,
  pub iterations: Option<f64>,
  pub sample: Option<f64>,
  pub quantile: Option<f64>,
  pub center: Option<bool>,
  /// Rescoring multiple of `k`; 1 turns rescoring off. Absent: the type's default.
  pub oversample: Option<f64>,
  pub keep_originals: Option<bool>,
  /// Automatic training after this many vectors; 0 = only `train()`. Absent: the default.
  pub train_after: Option<f64>,
  pub seed: Option<f64>,
}

/// How a quantised index is set up, and whether it is trained.
#[napi(object)]
pub struct QuantizationInfo {
  pub kind: String,
  pub trained: bool,
  /// Bytes per stored code (0 before training for types that learn their size).
  pub code_bytes: u32,
  pub oversample: f64,
  pub keep_originals: bool,
  /// 0 when training is manual.
  pub train_after: f64,
  pub seed: f64,
  /// PQ sub-vectors (0 for other types).
  pub m: u32,
  /// Matryoshka prefix length of `"truncate"` (0 for other types).
  pub dims: u32,
}

fn whole(name: &str, v: Option<f64>, default: usize, max: f64) -> ferrovec_core::Result<usize> {
  match v {
    None => Ok(default),
    Some(x) if x.fract() == 0.0 && x >= 0.0 && x <= max => Ok(x as usize),
    Some(x) => Err(CoreError::InvalidArgument(format!(
      "{name} must be an integer in 0..={max}, got {x}"
    ))),
  }
}

/// The `quantization` getter's value, for both index kinds.
pub(crate) fn quant_info(o: &QuantOptions, trained: bool, code_len: Option<usize>) -> QuantizationInfo {
  QuantizationInfo {
    kind: o.spec.name().to_owned(),
    trained,
    code_bytes: code_len.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    oversample: f64::from(o.oversample),
    keep_originals: o.keep_originals,
    train_after: o.train_after.map_or(0.0, |n| n as f64),
    seed: o.seed as f64,
    m: match o.spec {
      QuantSpec::Pq { m, .. } => u32::try_from(m).unwrap_or(u32::MAX),
      _ => 0,
    },
    dims: match o.spec {
      QuantSpec::Truncate { dims } => u32::try_from(dims).unwrap_or(u32::MAX),
      _ => 0,
    },
  }
}

/// Core options from the binding's object; ranges are checked here and in the core. Shared by
/// both index kinds.
pub(crate) fn quant_options(o: &FlatQuantOptions, dim: usize) -> ferrovec_core::Result<QuantOptions> {
  let spec = match o.kind.as_str() {
    "f16" => QuantSpec::F16,
    "int8" => QuantSpec::Int8 {
      quantile: o.quantile.map_or(QuantSpec::INT8_QUANTILE, |q| q as f32),
    },
    "binary" => QuantSpec::Binary {
      center: o.center.unwrap_or(true),
    },
    "pq" => QuantSpec::Pq {
      m: whole("pq m", o.m, (dim / 8).max(1), u32::MAX as f64)?,
      iterations: whole(
        "pq iterations",
        o.iterations,
        QuantSpec::PQ_ITERATIONS,
        u32::MAX as f64,
      )?,
      sample: whole("pq sample", o.sample, QuantSpec::PQ_SAMPLE, u32::MAX as f64)?,
    },
    "truncate" => QuantSpec::Truncate {
      dims: whole("truncate dims", o.dims, dim, u32::MAX as f64)?,
    },
    other => {
      return Err(CoreError::InvalidArgument(format!(
        "quantization type must be one of \"none\", \"f16\", \"int8\", \"binary\", \"pq\", \"truncate\", got {other:?}"
      )))
    }
  };
  let mut q = QuantOptions::new(spec);
  if let Some(x) = o.oversample {
    q.oversample = x as f32;
  }
  if let Some(k) = o.keep_originals {
    q.keep_originals = k;
  }
  if let Some(t) = o.train_after {
    let t = whole("trainAfter", Some(t), 0, u32::MAX as f64)?;
    q.train_after = (t > 0).then_some(t);
  }
  if let Some(s) = o.seed {
    q.seed = whole("seed", Some(s), 0, 9_007_199_254_740_991.0)? as u64;
  }
  Ok(q)
}

/// One query's results, nearest first.
#[napi(object)]
pub struct SearchResult {
  pub keys: Float64Array,
  pub distances: Float32Array,
}

/// Many queries' results, flat: query `i` owns slots `i*k .. i*k + counts[i]`.
#[napi(object)]
pub struct BatchSearchResult {
  pub keys: Float64Array,
  pub distances: Float32Array,
  pub counts: Uint32Array,
  pub k: u32,
}

/// The typed arrays of a batch result, shared by every index's result type: keys, distances,
/// counts and `k`.
pub(crate) fn batch_parts(r: BatchResult) -> (Float64Array, Float32Array, Uint32Array, u32) {
  // Padding slots are u64::MAX in the core; -1 is the JS-side sentinel (never a valid key).
  let keys: Vec<f64> = r
    .keys
    .iter()
    .map(|&k| if k == u64::MAX { -1.0 } else { k as f64 })
    .collect();
  let k = u32::try_from(r.k).unwrap_or(u32::MAX);
  (keys.into(), r.distances.into(), r.counts.into(), k)
}

fn to_js_batch(r: BatchResult) -> BatchSearchResult {
  let (keys, distances, counts, k) = batch_parts(r);
  BatchSearchResult {
    keys,
    distances,
    counts,
    k,
  }
}

/// The native exact index. Use the `FlatIndex` class of the TypeScript package, which validates and
/// normalises input before calling in here.
#[napi]
pub struct NativeFlatIndex {
  inner: Arc<RwLock<AnyFlat>>,
}

#[napi]
impl NativeFlatIndex {
  #[napi(constructor)]
  pub fn new(env: Env, dim: f64, metric: String, quantization: Option<FlatQuantOptions>) -> Result<Self> {
    let m = parse_metric(&metric).or_js(&env)?;
    let dim = dim_from_f64(dim).or_js(&env)?;
    let inner = if let Some(q) = quantization {
      let options = quant_options(&q, dim).or_js(&env)?;
      AnyFlat::Quant(QuantizedFlatIndex::new(dim, m, options).or_js(&env)?)
    } else if m == Metric::Hamming {
      AnyFlat::Bits(FlatIndex::new(dim, m).or_js(&env)?)
    } else {
      AnyFlat::F32(FlatIndex::new(dim, m).or_js(&env)?)
    };
    Ok(NativeFlatIndex {
      inner: Arc::new(RwLock::new(inner)),
    })
  }

  #[napi(getter)]
  pub fn dim(&self) -> u32 {
    let d = match &*self.inner.read() {
      AnyFlat::F32(i) => i.dim(),
      AnyFlat::Bits(i) => i.dim(),
      AnyFlat::Quant(i) => i.dim(),
    };
    u32::try_from(d).unwrap_or(u32::MAX)
  }

  #[napi(getter)]
  pub fn metric(&self) -> String {
    match &*self.inner.read() {
      AnyFlat::F32(i) => i.metric().name().to_owned(),
      AnyFlat::Bits(i) => i.metric().name().to_owned(),
      AnyFlat::Quant(i) => i.metric().name().to_owned(),
    }
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    let n = match &*self.inner.read() {
      AnyFlat::F32(i) => i.len(),
      AnyFlat::Bits(i) => i.len(),
      AnyFlat::Quant(i) => i.len(),
    };
    u32::try_from(n).unwrap_or(u32::MAX)
  }

  /// Adds rows (`keys.length` of them, row-major in `vectors`) off the JS thread.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn add_batch(
    &self,
    keys: &[f64],
    vectors: Either<&[f32], &[u8]>,
    upsert: bool,
  ) -> AsyncTask<AddBatchTask> {
    AsyncTask::new(self.add_task(keys, &vectors, upsert))
  }

  /// Adds rows on the calling thread.
  #[napi]
  pub fn add_batch_sync(
    &self,
    env: Env,
    keys: &[f64],
    vectors: Either<&[f32], &[u8]>,
    upsert: bool,
  ) -> Result<()> {
    let mut task = self.add_task(keys, &vectors, upsert);
    let out = task.compute()?;
    task.resolve(env, out)
  }

  fn add_task(&self, keys: &[f64], vectors: &Either<&[f32], &[u8]>, upsert: bool) -> AddBatchTask {
    AddBatchTask {
      inner: self.inner.clone(),
      keys: keys.to_vec(),
      rows: Some(Rows::copy_from(vectors)),
      upsert,
    }
  }

  /// Trains the quantiser on `sample` (row-major) off the JS thread, then encodes every vector
  /// already added.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn train(&self, sample: &[f32]) -> AsyncTask<TrainTask> {
    AsyncTask::new(TrainTask {
      inner: self.inner.clone(),
      sample: sample.to_vec(),
    })
  }

  /// {@link train} on the calling thread.
  #[napi]
  pub fn train_sync(&self, env: Env, sample: &[f32]) -> Result<()> {
    let mut task = TrainTask {
      inner: self.inner.clone(),
      sample: sample.to_vec(),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// The quantisation set-up, or `undefined` for a plain index.
  #[napi(getter)]
  pub fn quantization(&self) -> Option<QuantizationInfo> {
    let guard = self.inner.read();
    let AnyFlat::Quant(i) = &*guard else {
      return None;
    };
    Some(quant_info(
      i.options(),
      i.is_trained(),
      i.quantizer().map(|q| q.code_len()),
    ))
  }

  /// Sets the rescoring multiple of `k` of a quantised index (1 turns rescoring off).
  #[napi]
  pub fn set_oversample(&self, env: Env, oversample: f64) -> Result<()> {
    let mut guard = self.inner.write();
    let AnyFlat::Quant(i) = &mut *guard else {
      return Err(to_js(
        &env,
        CoreError::InvalidArgument("oversample applies to quantised indexes only".into()),
      ));
    };
    i.set_oversample(oversample as f32).or_js(&env)
  }

  /// Removes `key`; resolves whether it was present.
  #[napi]
  pub fn remove(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    match &mut *self.inner.write() {
      AnyFlat::F32(i) => i.try_remove(key),
      AnyFlat::Bits(i) => i.try_remove(key),
      AnyFlat::Quant(i) => i.try_remove(key),
    }
    .or_js(&env)
  }

  #[napi]
  pub fn has(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(match &*self.inner.read() {
      AnyFlat::F32(i) => i.contains(key),
      AnyFlat::Bits(i) => i.contains(key),
      AnyFlat::Quant(i) => i.contains(key),
    })
  }

  /// A copy of the stored vector of `key`, or `undefined`.
  #[napi]
  pub fn get(&self, env: Env, key: f64) -> Result<Option<Either<Float32Array, Uint8Array>>> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(match &*self.inner.read() {
      AnyFlat::F32(i) => i.get(key).map(|r| Either::A(r.to_vec().into())),
      AnyFlat::Bits(i) => i.get(key).map(|r| Either::B(r.to_vec().into())),
      AnyFlat::Quant(i) => i.get(key).map(|r| Either::A(r.into())),
    })
  }

  /// Every key, in storage order.
  #[napi]
  pub fn keys(&self) -> Float64Array {
    let keys: Vec<f64> = match &*self.inner.read() {
      AnyFlat::F32(i) => i.keys().iter().map(|&k| k as f64).collect(),
      AnyFlat::Bits(i) => i.keys().iter().map(|&k| k as f64).collect(),
      AnyFlat::Quant(i) => i.keys().iter().map(|&k| k as f64).collect(),
    };
    keys.into()
  }

  #[napi]
  pub fn memory_usage(&self) -> MemoryUsage {
    let m = match &*self.inner.read() {
      AnyFlat::F32(i) => i.memory_usage(),
      AnyFlat::Bits(i) => i.memory_usage(),
      AnyFlat::Quant(i) => {
        let m = i.memory_usage();
        return MemoryUsage {
          vectors: (m.codes + m.originals) as f64,
          keys: m.keys as f64,
          total: m.total as f64,
          mapped: m.mapped as f64,
          codes: Some(m.codes as f64),
          originals: Some(m.originals as f64),
        };
      }
    };
    MemoryUsage {
      vectors: m.vectors as f64,
      keys: m.keys as f64,
      total: m.total as f64,
      mapped: m.mapped as f64,
      codes: None,
      originals: None,
    }
  }

  /// The `k` nearest neighbours of one query, optionally among the keys in `allow` only.
  #[napi]
  pub fn search(
    &self,
    env: Env,
    query: Either<&[f32], &[u8]>,
    k: f64,
    allow: Option<&[f64]>,
  ) -> Result<SearchResult> {
    let mut task = self.search_task(&query, k, allow);
    let out = task.compute()?;
    let r = task.resolve(env, out)?;
    let n = r.counts.first().copied().unwrap_or(0) as usize;
    Ok(SearchResult {
      keys: r.keys[..n].to_vec().into(),
      distances: r.distances[..n].to_vec().into(),
    })
  }

  /// The `k` nearest neighbours of each row of `queries`, off the JS thread.
  #[napi(ts_return_type = "Promise<BatchSearchResult>")]
  pub fn search_batch(
    &self,
    queries: Either<&[f32], &[u8]>,
    k: f64,
    allow: Option<&[f64]>,
  ) -> AsyncTask<SearchBatchTask> {
    AsyncTask::new(self.search_task(&queries, k, allow))
  }

  /// The `k` nearest neighbours of each row of `queries`, on the calling thread.
  #[napi]
  pub fn search_batch_sync(
    &self,
    env: Env,
    queries: Either<&[f32], &[u8]>,
    k: f64,
    allow: Option<&[f64]>,
  ) -> Result<BatchSearchResult> {
    let mut task = self.search_task(&queries, k, allow);
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Saves the index to `path` off the JS thread: written to a temp file beside it, fsynced and
  /// renamed over it, so a crash mid-save leaves the previous file intact.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String) -> AsyncTask<SaveTask> {
    AsyncTask::new(SaveTask {
      inner: self.inner.clone(),
      path,
    })
  }

  /// {@link save} on the calling thread.
  #[napi]
  pub fn save_sync(&self, env: Env, path: String) -> Result<()> {
    let mut task = SaveTask {
      inner: self.inner.clone(),
      path,
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// The index in ferrovec's file format, as one Buffer.
  #[napi]
  pub fn to_buffer(&self, env: Env) -> Result<Buffer> {
    let bytes = self.inner.read().to_bytes().or_js(&env)?;
    Ok(bytes.into())
  }

  /// Loads an index saved with `save` off the JS thread. `dim` and `metric`, when given, are what the
  /// caller expects the file to hold (a mismatch is an error).
  #[napi(ts_return_type = "Promise<NativeFlatIndex>")]
  pub fn load(path: String, dim: Option<f64>, metric: Option<String>) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask {
      path,
      dim,
      metric,
      read_only: false,
    })
  }

  /// {@link load} on the calling thread.
  #[napi]
  pub fn load_sync(
    env: Env,
    path: String,
    dim: Option<f64>,
    metric: Option<String>,
  ) -> Result<NativeFlatIndex> {
    let mut task = LoadTask {
      path,
      dim,
      metric,
      read_only: false,
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Loads (`readOnly` false) or maps read-only (`readOnly` true: rows, or a quantised index's
  /// originals, are read from the mapping) an index file off the JS thread.
  #[napi(ts_return_type = "Promise<NativeFlatIndex>")]
  pub fn open(
    path: String,
    dim: Option<f64>,
    metric: Option<String>,
    read_only: Option<bool>,
  ) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask {
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
  ) -> Result<NativeFlatIndex> {
    let mut task = LoadTask {
      path,
      dim,
      metric,
      read_only: read_only.unwrap_or(false),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Whether the index was opened read-only (mapped) from a file.
  #[napi(getter)]
  pub fn read_only(&self) -> bool {
    self.inner.read().is_read_only()
  }

  /// An index from bytes produced by `toBuffer` (or read from a saved file).
  #[napi]
  pub fn from_buffer(
    env: Env,
    bytes: &[u8],
    dim: Option<f64>,
    metric: Option<String>,
  ) -> Result<NativeFlatIndex> {
    let options = load_options(dim, metric.as_deref()).or_js(&env)?;
    let index = AnyFlatIndex::from_bytes(bytes, &options).or_js(&env)?;
    Ok(NativeFlatIndex {
      inner: Arc::new(RwLock::new(index.into())),
    })
  }

  fn search_task(&self, queries: &Either<&[f32], &[u8]>, k: f64, allow: Option<&[f64]>) -> SearchBatchTask {
    SearchBatchTask {
      inner: self.inner.clone(),
      queries: Rows::copy_from(queries),
      k,
      allow: allow.map(|a| a.to_vec()),
    }
  }
}

fn dim_from_f64(dim: f64) -> ferrovec_core::Result<usize> {
  if dim.fract() == 0.0 && dim >= 1.0 && dim <= u32::MAX as f64 {
    Ok(dim as usize)
  } else {
    Err(CoreError::InvalidArgument(format!(
      "dim must be a positive integer, got {dim}"
    )))
  }
}

pub(crate) fn load_options(dim: Option<f64>, metric: Option<&str>) -> ferrovec_core::Result<LoadOptions> {
  Ok(LoadOptions {
    dim: dim.map(dim_from_f64).transpose()?,
    metric: metric.map(parse_metric).transpose()?,
  })
}

pub struct SaveTask {
  inner: Arc<RwLock<AnyFlat>>,
  path: String,
}

impl Task for SaveTask {
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    // The read lock makes the file a consistent snapshot: writers wait, searches carry on.
    Ok(self.inner.read().save(std::path::Path::new(&self.path)))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct LoadTask {
  path: String,
  dim: Option<f64>,
  metric: Option<String>,
  read_only: bool,
}

impl Task for LoadTask {
  type Output = ferrovec_core::Result<AnyFlatIndex>;
  type JsValue = NativeFlatIndex;

  fn compute(&mut self) -> Result<Self::Output> {
    // Options are parsed here, not in the constructor, so their errors reach JS as coded errors
    // through `resolve`, like every other failure of the load.
    let run = || {
      let expect = load_options(self.dim, self.metric.as_deref())?;
      AnyFlatIndex::open(
        &self.path,
        &OpenOptions {
          read_only: self.read_only,
          expect,
        },
      )
    };
    Ok(run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<NativeFlatIndex> {
    let index = output.map_err(|e| to_js(&env, e))?;
    Ok(NativeFlatIndex {
      inner: Arc::new(RwLock::new(index.into())),
    })
  }
}

pub struct TrainTask {
  inner: Arc<RwLock<AnyFlat>>,
  sample: Vec<f32>,
}

impl Task for TrainTask {
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let sample = std::mem::take(&mut self.sample);
    Ok(match &mut *self.inner.write() {
      AnyFlat::Quant(i) => i.train(&sample),
      _ => Err(CoreError::InvalidArgument(
        "train() is for quantised indexes; this index has no quantization option".into(),
      )),
    })
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct AddBatchTask {
  inner: Arc<RwLock<AnyFlat>>,
  keys: Vec<f64>,
  rows: Option<Rows>,
  upsert: bool,
}

impl Task for AddBatchTask {
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
    let upsert = self.upsert;
    let mut index = self.inner.write();
    Ok(with_rows!(&mut *index, &rows, |idx, r| idx.add_batch(&keys, r, upsert)))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct SearchBatchTask {
  inner: Arc<RwLock<AnyFlat>>,
  queries: Rows,
  k: f64,
  allow: Option<Vec<f64>>,
}

impl Task for SearchBatchTask {
  type Output = ferrovec_core::Result<BatchResult>;
  type JsValue = BatchSearchResult;

  fn compute(&mut self) -> Result<Self::Output> {
    Ok(self.run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<BatchSearchResult> {
    output.map(to_js_batch).map_err(|e| to_js(&env, e))
  }
}

impl SearchBatchTask {
  fn run(&self) -> ferrovec_core::Result<BatchResult> {
    let k = k_from_f64(self.k)?;
    // Unknown allowed keys are simply not candidates, but malformed ones (negative, fractional) are
    // a caller bug worth reporting.
    let allow = self.allow.as_deref().map(keys_from_f64).transpose()?;
    let index = self.inner.read();
    with_rows!(&*index, &self.queries, |idx, q| idx.search_batch(
      q,
      k,
      allow.as_deref()
    ))
  }
}
