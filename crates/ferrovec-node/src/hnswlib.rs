//! `NativeHnswlib`: the native side of `ferrovec/hnswlib-node`, an f32 HNSW index with the few
//! operations hnswlib's model needs beyond `NativeHnswIndex` (deleted marks that can be reversed,
//! files in hnswlib's format). Argument conversion and task scheduling only; the format lives in
//! `ferrovec_core::compat::hnswlib`.

use std::sync::Arc;

use ferrovec_core::compat::hnswlib;
use ferrovec_core::error::Context;
use ferrovec_core::flat::k_from_f64;
use ferrovec_core::hnsw::SearchOptions;
use ferrovec_core::keys::{key_from_f64, keys_from_f64};
use ferrovec_core::{HnswIndex, HnswParams, Neighbor};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{to_js, CoreResultExt};
use crate::hnsw::{write_into, OutDistances, OutKeys};

/// One query's neighbours, nearest first.
#[napi(object)]
pub struct HnswlibSearchResult {
  pub keys: Float64Array,
  pub distances: Float32Array,
}

fn to_result(r: Vec<Neighbor>) -> HnswlibSearchResult {
  let keys: Vec<f64> = r.iter().map(|n| n.key as f64).collect();
  let distances: Vec<f32> = r.iter().map(|n| n.distance).collect();
  HnswlibSearchResult {
    keys: keys.into(),
    distances: distances.into(),
  }
}

/// The index behind `ferrovec/hnswlib-node`'s `HierarchicalNSW`. Use that class, which keeps
/// hnswlib's bookkeeping (capacity, deleted labels) and validates arguments.
#[napi]
pub struct NativeHnswlib {
  inner: Arc<HnswIndex<f32>>,
  /// `max_elements` recorded in the file this index was read from (0 if built).
  file_max_elements: f64,
}

/// A copy of `v`, unit length when `normalize` (hnswlib-node's `cosine` space).
fn prepare(v: &[f32], normalize: bool) -> Vec<f32> {
  let mut row = v.to_vec();
  if normalize {
    hnswlib::normalize(&mut row);
  }
  row
}

fn u(x: f64, name: &str) -> ferrovec_core::Result<usize> {
  if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
    Ok(x as usize)
  } else {
    Err(ferrovec_core::Error::InvalidArgument(format!(
      "{name} must be an integer in 0..={}, got {x}",
      u32::MAX
    )))
  }
}

#[napi]
impl NativeHnswlib {
  /// An empty index for an hnswlib space (`"l2"`, `"ip"`, `"cosine"`; cosine vectors must come
  /// normalised). Links nodes one at a time (`addPoint` is one node per call anyway), so builds from
  /// the same seed and calls are reproducible.
  #[napi(constructor)]
  pub fn new(
    env: Env,
    dim: f64,
    space: String,
    m: f64,
    ef_construction: f64,
    seed: f64,
    capacity: f64,
  ) -> Result<Self> {
    let run = || {
      let metric = hnswlib::metric_for_space(&space)?;
      let mut p = HnswParams::new(u(dim, "dim")?, metric);
      p.m = u(m, "m")?;
      p.ef_construction = u(ef_construction, "efConstruction")?;
      p.ef_search = 10;
      p.seed = u(seed, "randomSeed")? as u64;
      p.capacity = u(capacity, "maxElements")?.clamp(1, 1 << 20);
      p.build_threads = 1;
      HnswIndex::new(p)
    };
    Ok(NativeHnswlib {
      inner: Arc::new(run().or_js(&env)?),
      file_max_elements: 0.0,
    })
  }

  /// Adds `vector` under `key`, or with `upsert` replaces (and re-links) a live key's vector;
  /// with `normalize`, a unit-length copy of it (as hnswlib-node's `cosine` space).
  #[napi]
  pub fn add(&self, env: Env, key: f64, vector: &[f32], upsert: bool, normalize: bool) -> Result<()> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    let row = prepare(vector, normalize);
    self.inner.add(key, &row, upsert).or_js(&env)
  }

  /// Marks `key` removed; returns whether it was live.
  #[napi]
  pub fn remove(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    self.inner.try_remove(key).or_js(&env)
  }

  /// Brings back the removed node of `removed` under the key `key`; returns whether there was one.
  #[napi]
  pub fn restore(&self, env: Env, removed: f64, key: f64) -> Result<bool> {
    let removed = key_from_f64(removed, Context::NONE).or_js(&env)?;
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    self.inner.restore_as(removed, key).or_js(&env)
  }

  #[napi]
  pub fn has(&self, env: Env, key: f64) -> Result<bool> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(self.inner.contains(key))
  }

  /// The stored vector of a live `key`, or `undefined`.
  #[napi]
  pub fn get(&self, env: Env, key: f64) -> Result<Option<Float32Array>> {
    let key = key_from_f64(key, Context::NONE).or_js(&env)?;
    Ok(self.inner.get(key).map(Float32Array::from))
  }

  /// Live keys in slot order.
  #[napi]
  pub fn keys(&self) -> Float64Array {
    let k: Vec<f64> = self.inner.keys().into_iter().map(|k| k as f64).collect();
    k.into()
  }

  /// Keys of removed nodes still in the graph, in slot order.
  #[napi]
  pub fn removed_keys(&self) -> Float64Array {
    let k: Vec<f64> = self.inner.removed_keys().into_iter().map(|k| k as f64).collect();
    k.into()
  }

  /// Live nodes.
  #[napi(getter)]
  pub fn size(&self) -> f64 {
    self.inner.len() as f64
  }

  /// `max_elements` of the file this index was read from (0 for a built index).
  #[napi(getter)]
  pub fn file_max_elements(&self) -> f64 {
    self.file_max_elements
  }

  #[napi(getter)]
  pub fn ef(&self) -> f64 {
    self.inner.ef_search() as f64
  }

  #[napi(setter)]
  pub fn set_ef(&self, env: Env, ef: f64) -> Result<()> {
    let ef = u(ef, "ef").or_js(&env)?;
    self.inner.set_ef_search(ef).or_js(&env)
  }

  /// The `k` nearest live neighbours of `query` (beam width max(ef, k)), only among `allow` when
  /// given; with `normalize`, of the query scaled to unit length.
  #[napi]
  pub fn search(
    &self,
    env: Env,
    query: &[f32],
    k: f64,
    allow: Option<&[f64]>,
    normalize: bool,
  ) -> Result<HnswlibSearchResult> {
    let mut task = SearchTask {
      inner: self.inner.clone(),
      query: prepare(query, normalize),
      k,
      allow: allow.map(<[f64]>::to_vec),
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// `search` written into caller-allocated `keys` and `distances` (at least `k` long); returns how
  /// many were found. Same reason as `NativeHnswIndex::search_into`: at a few microseconds per
  /// search, building the result object natively cost about as much as the search.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn search_into(
    &self,
    env: Env,
    query: &[f32],
    k: f64,
    allow: Option<&[f64]>,
    normalize: bool,
    #[napi(ts_arg_type = "Float64Array")] keys: OutKeys,
    #[napi(ts_arg_type = "Float32Array")] distances: OutDistances,
  ) -> Result<u32> {
    let mut run = || {
      let k = k_from_f64(k)?;
      let allow = allow.map(keys_from_f64).transpose()?;
      let opts = SearchOptions {
        ef: None,
        allow: allow.as_deref(),
        ..Default::default()
      };
      write_into(k, keys, distances, || {
        if normalize {
          self.inner.search(&prepare(query, true), k, opts)
        } else {
          self.inner.search(query, k, opts)
        }
      })
    };
    run().or_js(&env)
  }

  /// `search` off the JS thread.
  #[napi(ts_return_type = "Promise<HnswlibSearchResult>")]
  pub fn search_async(
    &self,
    query: &[f32],
    k: f64,
    allow: Option<&[f64]>,
    normalize: bool,
  ) -> AsyncTask<SearchTask> {
    AsyncTask::new(SearchTask {
      inner: self.inner.clone(),
      query: prepare(query, normalize),
      k,
      allow: allow.map(<[f64]>::to_vec),
    })
  }

  /// Writes the index in hnswlib's format off the JS thread (crash-safe: temp file and rename).
  #[napi(ts_return_type = "Promise<void>")]
  pub fn write(&self, path: String, max_elements: f64, normalize: bool) -> AsyncTask<WriteTask> {
    AsyncTask::new(WriteTask {
      inner: self.inner.clone(),
      path,
      max_elements,
      normalize,
    })
  }

  /// `write` on the calling thread.
  #[napi]
  pub fn write_sync(&self, env: Env, path: String, max_elements: f64, normalize: bool) -> Result<()> {
    let mut task = WriteTask {
      inner: self.inner.clone(),
      path,
      max_elements,
      normalize,
    };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// Reads an hnswlib index file for `dim`-dimensional vectors of `space` off the JS thread.
  #[napi(ts_return_type = "Promise<NativeHnswlib>")]
  pub fn read(path: String, dim: f64, space: String) -> AsyncTask<ReadTask> {
    AsyncTask::new(ReadTask { path, dim, space })
  }

  /// `read` on the calling thread.
  #[napi]
  pub fn read_sync(env: Env, path: String, dim: f64, space: String) -> Result<NativeHnswlib> {
    let mut task = ReadTask { path, dim, space };
    let out = task.compute()?;
    task.resolve(env, out)
  }

  /// An index from the bytes of an hnswlib index file.
  #[napi]
  pub fn from_buffer(env: Env, bytes: &[u8], dim: f64, space: String) -> Result<NativeHnswlib> {
    let run = || {
      let metric = hnswlib::metric_for_space(&space)?;
      let (index, info) = hnswlib::from_bytes(bytes, u(dim, "dim")?, metric, 10)?;
      Ok::<_, ferrovec_core::Error>((index.with_build_threads(1)?, info))
    };
    let (index, info) = run().or_js(&env)?;
    Ok(NativeHnswlib {
      inner: Arc::new(index),
      file_max_elements: info.max_elements as f64,
    })
  }

  /// The index as the bytes of an hnswlib index file.
  #[napi]
  pub fn to_buffer(&self, env: Env, max_elements: f64, normalize: bool) -> Result<Buffer> {
    let run = || hnswlib::to_bytes(&self.inner, u(max_elements, "maxElements")?, normalize);
    Ok(run().or_js(&env)?.into())
  }
}

pub struct SearchTask {
  inner: Arc<HnswIndex<f32>>,
  query: Vec<f32>,
  k: f64,
  allow: Option<Vec<f64>>,
}

impl Task for SearchTask {
  type Output = ferrovec_core::Result<Vec<Neighbor>>;
  type JsValue = HnswlibSearchResult;

  fn compute(&mut self) -> Result<Self::Output> {
    let run = || {
      let k = k_from_f64(self.k)?;
      let allow = self.allow.as_deref().map(keys_from_f64).transpose()?;
      self.inner.search(
        &self.query,
        k,
        SearchOptions {
          ef: None,
          allow: allow.as_deref(),
          ..Default::default()
        },
      )
    };
    Ok(run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<HnswlibSearchResult> {
    output.map(to_result).map_err(|e| to_js(&env, e))
  }
}

pub struct WriteTask {
  inner: Arc<HnswIndex<f32>>,
  path: String,
  max_elements: f64,
  normalize: bool,
}

impl Task for WriteTask {
  type Output = ferrovec_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let run = || {
      let max = u(self.max_elements, "maxElements")?;
      hnswlib::save(&self.inner, &self.path, max, self.normalize)
    };
    Ok(run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.map_err(|e| to_js(&env, e))
  }
}

pub struct ReadTask {
  path: String,
  dim: f64,
  space: String,
}

impl Task for ReadTask {
  type Output = ferrovec_core::Result<(HnswIndex<f32>, hnswlib::HnswlibInfo)>;
  type JsValue = NativeHnswlib;

  fn compute(&mut self) -> Result<Self::Output> {
    let run = || {
      let metric = hnswlib::metric_for_space(&self.space)?;
      let (index, info) = hnswlib::load(&self.path, u(self.dim, "dim")?, metric, 10)?;
      Ok((index.with_build_threads(1)?, info))
    };
    Ok(run())
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<NativeHnswlib> {
    let (index, info) = output.map_err(|e| to_js(&env, e))?;
    Ok(NativeHnswlib {
      inner: Arc::new(index),
      file_max_elements: info.max_elements as f64,
    })
  }
}
