//! Distance functions and build facts, exported as plain functions.

use ferrovec_core::metric::{self, Metric};
use ferrovec_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::CoreResultExt;

/// Parses a metric name; shared by every entry point.
pub fn parse_metric(name: &str) -> ferrovec_core::Result<Metric> {
  name.parse()
}

fn mixed() -> CoreError {
  CoreError::InvalidArgument(
    "both vectors must be Float32Array (cosine, dot, l2) or both Uint8Array (hamming)".into(),
  )
}

/// Distance between `a` and `b` under `metric` (smaller is closer). `Float32Array`s for cosine, dot
/// and l2; bit-packed `Uint8Array`s for hamming.
#[napi]
pub fn distance(env: Env, a: Either<&[f32], &[u8]>, b: Either<&[f32], &[u8]>, metric: String) -> Result<f64> {
  // Borrowed slices: a one-off call needs no napi reference to keep the arrays alive.
  let m = parse_metric(&metric).or_js(&env)?;
  let d = match (a, b) {
    (Either::A(a), Either::A(b)) => metric::distance(m, a, b),
    (Either::B(a), Either::B(b)) => metric::distance(m, a, b),
    _ => Err(mixed()),
  };
  d.map(f64::from).or_js(&env)
}

/// Distances from `query` to each row of the row-major `rows`, written into `out` (one per row).
#[napi]
pub fn distances_into(
  env: Env,
  query: Either<&[f32], &[u8]>,
  rows: Either<&[f32], &[u8]>,
  metric: String,
  mut out: Float32Array,
) -> Result<()> {
  let m = parse_metric(&metric).or_js(&env)?;
  // Computed into our own buffer first: `out` may share memory with `query` or `rows` (views of
  // one ArrayBuffer), and a `&mut` overlapping a `&` is undefined behaviour.
  let mut buf = vec![0f32; out.len()];
  let r = match (query, rows) {
    (Either::A(q), Either::A(r)) => metric::distances_into(m, q, r, &mut buf),
    (Either::B(q), Either::B(r)) => metric::distances_into(m, q, r, &mut buf),
    _ => Err(mixed()),
  };
  r.or_js(&env)?;
  // SAFETY: we are on the JS thread inside a synchronous call, so no JS runs while we write, and
  // nothing else borrows `out` any more.
  unsafe { out.as_mut() }.copy_from_slice(&buf);
  Ok(())
}

/// What the native engine runs with on this machine.
#[napi(object)]
pub struct NativeInfo {
  /// Version of the native crate.
  pub version: String,
  /// SIMD backends simsimd dispatches to on this CPU (e.g. `["haswell", "skylake"]`), or `["serial"]`.
  pub backends: Vec<String>,
  /// Whether simsimd picks kernels at run time (so one build uses the best the CPU offers).
  pub dynamic_dispatch: bool,
  /// Kernels exact batch search scores query tiles with (`"avx2+fma"` or `"portable"`).
  pub tile_kernels: String,
  /// Threads in the pool used by async batch work.
  pub threads: u32,
  /// CPU architecture the addon was compiled for.
  pub arch: String,
  /// The kernel each stored code type is scored with (`f32`, `f16`, `int8`, `binary`, `pq`); the
  /// simsimd ones run on the `backends` above.
  pub code_kernels: Vec<CodeKernel>,
}

/// One code type and the kernel that scores it.
#[napi(object)]
pub struct CodeKernel {
  pub code: String,
  pub kernel: String,
}

/// Reports the SIMD backends and thread pool in use.
#[napi]
pub fn native_info() -> NativeInfo {
  let caps = metric::capabilities();
  NativeInfo {
    version: env!("CARGO_PKG_VERSION").to_owned(),
    backends: caps.backends.iter().map(|s| (*s).to_owned()).collect(),
    dynamic_dispatch: caps.dynamic_dispatch,
    tile_kernels: caps.tile.to_owned(),
    threads: u32::try_from(ferrovec_core::threads()).unwrap_or(u32::MAX),
    arch: std::env::consts::ARCH.to_owned(),
    code_kernels: metric::codes::kernel_names()
      .into_iter()
      .map(|(code, kernel)| CodeKernel {
        code: code.to_owned(),
        kernel: kernel.to_owned(),
      })
      .collect(),
  }
}
