//! Vector quantisation: compact codes that are scored directly, with exact rescoring on top.
//!
//! Every quantiser follows the same four steps, behind [`Quantizer`]:
//!
//! ```text
//!   train(sample, seed) ──► encode(vector) → code bytes ──► prepare(query) → Query ──► score(Query, code)
//!   (once, seeded)          (per stored vector)              (once per query)          (per candidate row)
//! ```
//!
//! | type     | code bytes per vector         | trained from                   | scored with                      |
//! |----------|-------------------------------|--------------------------------|----------------------------------|
//! | `f16`    | `2·dim` (little-endian)       | nothing                        | simsimd f16 cos/dot/l2sq         |
//! | `int8`   | `dim + 8` (codes + 2 × f32)   | per-dim means, clipped range   | i8 dot (tiled) + corrections     |
//! | `binary` | `⌈dim/8⌉`                     | per-dim means (centering)      | Hamming (POPCNT tile)            |
//! | `pq`     | `m`                           | k-means, 256 centroids per sub | per-query lookup table           |
//! | `truncate` | `4·dims` (Matryoshka prefix) | nothing                        | f32 kernel on the prefix         |
//!
//! A score is *smaller-is-closer* like every distance in ferrovec. For `f16`, `int8` and `pq` it is
//! already an estimate of the metric's distance; `binary` scores the raw Hamming count (cheapest in
//! the scan) and [`Quantizer::to_distance`] turns it into an estimate afterwards, monotonically.
//!
//! Training is deterministic for a given seed and sample. Parameters are written into the index file
//! by [`AnyQuantizer::params_bytes`] and validated on the way back in by
//! [`AnyQuantizer::from_params_bytes`].

pub mod binary;
pub mod f16;
pub mod flat;
pub mod int8;
pub mod pq;
pub mod truncate;

use crate::error::{Context, Error, Result};
use crate::format::codec::LeReader;
use crate::metric::{Element, Kernel, Metric};
use crate::topk::{Neighbor, TopK};

pub use binary::BinaryQuantizer;
pub use f16::F16Quantizer;
pub use flat::{QuantOptions, QuantizedFlatIndex};
pub use int8::Int8Quantizer;
pub use pq::PqQuantizer;
pub use truncate::TruncateQuantizer;

/// One quantiser: encodes vectors into fixed-size codes and scores prepared queries against them.
pub trait Quantizer: Send + Sync {
  /// What [`Quantizer::prepare`] makes of a query (a quantised copy, a lookup table, …).
  type Query: Send + Sync;

  /// Whether [`Quantizer::prepare`] costs as much as scoring hundreds of codes (PQ's lookup
  /// tables), so a graph build should prepare as few nodes as it can.
  const COSTLY_PREPARE: bool = false;

  /// Dimensions of the vectors it encodes.
  fn dim(&self) -> usize;

  /// Bytes of one code.
  fn code_len(&self) -> usize;

  /// Writes the code of `v` (`dim` finite values) into `out` (`code_len` bytes).
  fn encode(&self, v: &[f32], out: &mut [u8]);

  /// The vector a code stands for (for cosine indexes: the *normalised* vector's reconstruction).
  fn decode(&self, code: &[u8], out: &mut [f32]);

  /// Everything per-query that scoring needs, computed once.
  fn prepare(&self, query: &[f32]) -> Self::Query;

  /// [`Quantizer::prepare`] of a vector, from that vector's own code, when the code holds all of it
  /// (`prepare_code(encode(v))` scores exactly as `prepare(v)`); `None` when it cannot (PQ, whose
  /// query is a lookup table built from the raw vector).
  ///
  /// Why: a graph build compares nodes with each other, and the heuristic prepares each candidate
  /// as a query. Re-quantising its row every time was 80% of an int8 build's CPU time.
  fn prepare_code(&self, _code: &[u8]) -> Option<Self::Query> {
    None
  }

  /// Smaller-is-closer score of one code against a prepared query.
  fn score(&self, query: &Self::Query, code: &[u8]) -> f32;

  /// Turns a score into the reported distance estimate (monotone; identity unless noted).
  fn to_distance(&self, score: f32) -> f32 {
    score
  }
}

/// Which quantiser an index uses, with its training parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantSpec {
  /// Half precision: no training, 2× smaller.
  F16,
  /// Signed 8-bit scalar codes; `quantile` (in (0.5, 1]) is where the range is clipped.
  Int8 { quantile: f32 },
  /// One sign bit per dimension, after subtracting the per-dimension mean when `center`.
  Binary { center: bool },
  /// Product quantisation: `m` sub-vectors × 256 centroids, k-means with `iterations` rounds over
  /// at most `sample` training vectors.
  Pq {
    m: usize,
    iterations: usize,
    sample: usize,
  },
  /// Matryoshka truncation: the first `dims` components (see [`truncate`]).
  Truncate { dims: usize },
}

impl QuantSpec {
  /// Default clipping quantile of `int8`: the largest 0.1 % of deviations saturate.
  pub const INT8_QUANTILE: f32 = 0.999;
  /// Default k-means rounds of `pq`.
  pub const PQ_ITERATIONS: usize = 20;
  /// Default most vectors `pq` trains on (256 centroids × 40 points each).
  pub const PQ_SAMPLE: usize = 10_240;
  /// Most vectors `int8` and `binary` learn their statistics from.
  pub const STATS_SAMPLE: usize = 20_000;

  /// The name used at every layer (`"f16"`, `"int8"`, `"binary"`, `"pq"`).
  pub fn name(&self) -> &'static str {
    match self {
      QuantSpec::F16 => "f16",
      QuantSpec::Int8 { .. } => "int8",
      QuantSpec::Binary { .. } => "binary",
      QuantSpec::Pq { .. } => "pq",
      QuantSpec::Truncate { .. } => "truncate",
    }
  }

  /// Whether the code type learns nothing, so an index using it is ready at once.
  pub fn needs_no_training(&self) -> bool {
    matches!(self, QuantSpec::F16 | QuantSpec::Truncate { .. })
  }

  /// Fewest training vectors the quantiser accepts: none for `f16`; 32 for `int8` and centred
  /// `binary` (means and quantiles of fewer are noise); 256 for `pq` (one distinct start per
  /// centroid).
  pub fn min_training_vectors(&self) -> usize {
    match self {
      QuantSpec::F16 | QuantSpec::Truncate { .. } | QuantSpec::Binary { center: false } => 0,
      QuantSpec::Int8 { .. } | QuantSpec::Binary { center: true } => 32,
      QuantSpec::Pq { .. } => pq::CENTROIDS,
    }
  }

  /// Checks the spec against the index it would serve, before any training.
  pub fn check(&self, dim: usize, metric: Metric) -> Result<()> {
    if metric == Metric::Hamming {
      return Err(Error::invalid_argument(
        "quantization applies to f32 vectors; a \"hamming\" index already stores packed bits",
      ));
    }
    match *self {
      QuantSpec::F16 => Ok(()),
      QuantSpec::Truncate { dims } => {
        if dims == 0 || dims > dim {
          return Err(Error::invalid_argument(format!(
            "truncate dims must be an integer in 1..={dim}, got {dims}"
          )));
        }
        Ok(())
      }
      QuantSpec::Int8 { quantile } => {
        if !(quantile > 0.5 && quantile <= 1.0) {
          return Err(Error::invalid_argument(format!(
            "int8 quantile must be in (0.5, 1], got {quantile}"
          )));
        }
        Ok(())
      }
      QuantSpec::Binary { .. } => {
        if metric == Metric::L2 {
          return Err(Error::invalid_argument(
            "binary quantization keeps only the sign of each component, which says nothing about \
             Euclidean (l2) distance; use it with \"cosine\" or \"dot\", or pick int8/pq for l2",
          ));
        }
        Ok(())
      }
      QuantSpec::Pq {
        m,
        iterations,
        sample,
      } => {
        if m == 0 || m > dim || !dim.is_multiple_of(m) {
          return Err(Error::invalid_argument(format!(
            "pq m must divide dim ({dim}) into equal sub-vectors, got m = {m}"
          )));
        }
        if m > pq::MAX_M {
          return Err(Error::invalid_argument(format!(
            "pq m must be at most {}, got {m}",
            pq::MAX_M
          )));
        }
        if iterations == 0 || iterations > 1000 {
          return Err(Error::invalid_argument(format!(
            "pq iterations must be in 1..=1000, got {iterations}"
          )));
        }
        if sample < pq::CENTROIDS {
          return Err(Error::invalid_argument(format!(
            "pq sample must be at least {} vectors, got {sample}",
            pq::CENTROIDS
          )));
        }
        Ok(())
      }
    }
  }
}

/// A trained quantiser of any type.
#[derive(Debug, Clone)]
pub enum AnyQuantizer {
  F16(F16Quantizer),
  Int8(Int8Quantizer),
  Binary(BinaryQuantizer),
  Pq(PqQuantizer),
  Truncate(TruncateQuantizer),
}

/// Runs `$body` with `$q` bound to the concrete quantiser (one branch per call, not per row).
#[macro_export]
#[doc(hidden)]
macro_rules! with_quantizer {
  ($any:expr, |$q:ident| $body:expr) => {
    match $any {
      $crate::quant::AnyQuantizer::F16($q) => $body,
      $crate::quant::AnyQuantizer::Int8($q) => $body,
      $crate::quant::AnyQuantizer::Binary($q) => $body,
      $crate::quant::AnyQuantizer::Pq($q) => $body,
      $crate::quant::AnyQuantizer::Truncate($q) => $body,
    }
  };
}

impl AnyQuantizer {
  /// Trains a quantiser of `spec` for `dim`-dimensional vectors compared with `metric`, from the
  /// row-major `sample`. Deterministic for a given `seed` and sample.
  pub fn train(spec: &QuantSpec, dim: usize, metric: Metric, sample: &[f32], seed: u64) -> Result<Self> {
    spec.check(dim, metric)?;
    if dim == 0 || !sample.len().is_multiple_of(dim) {
      return Err(Error::DimensionMismatch {
        expected: dim,
        got: if dim == 0 { 0 } else { sample.len() % dim },
        context: Context::NONE,
      });
    }
    let n = sample.len() / dim;
    let need = spec.min_training_vectors();
    if n < need {
      return Err(Error::invalid_argument(format!(
        "{} quantization needs at least {need} training vectors, got {n}",
        spec.name()
      )));
    }
    for (i, row) in sample.chunks_exact(dim).enumerate() {
      f32::validate(row, Context::row(i))?;
    }
    Ok(match *spec {
      QuantSpec::F16 => AnyQuantizer::F16(F16Quantizer::new(dim, metric)),
      QuantSpec::Truncate { dims } => AnyQuantizer::Truncate(TruncateQuantizer::new(dim, dims, metric)),
      QuantSpec::Int8 { quantile } => {
        let s = subsample(sample, dim, QuantSpec::STATS_SAMPLE, seed);
        AnyQuantizer::Int8(Int8Quantizer::train(dim, metric, &s, quantile))
      }
      QuantSpec::Binary { center } => {
        let s = subsample(sample, dim, QuantSpec::STATS_SAMPLE, seed);
        AnyQuantizer::Binary(BinaryQuantizer::train(dim, metric, &s, center))
      }
      QuantSpec::Pq {
        m,
        iterations,
        sample: cap,
      } => {
        let s = subsample(sample, dim, cap, seed);
        AnyQuantizer::Pq(PqQuantizer::train(dim, metric, &s, m, iterations, seed)?)
      }
    })
  }

  /// The code type's name.
  pub fn name(&self) -> &'static str {
    match self {
      AnyQuantizer::F16(_) => "f16",
      AnyQuantizer::Int8(_) => "int8",
      AnyQuantizer::Binary(_) => "binary",
      AnyQuantizer::Pq(_) => "pq",
      AnyQuantizer::Truncate(_) => "truncate",
    }
  }

  pub fn code_len(&self) -> usize {
    with_quantizer!(self, |q| q.code_len())
  }

  /// Encodes `n` row-major vectors into `n × code_len` bytes (in parallel for large batches).
  pub fn encode_rows(&self, rows: &[f32], dim: usize) -> Vec<u8> {
    use rayon::prelude::*;
    let cl = self.code_len();
    let n = rows.len() / dim.max(1);
    let mut out = vec![0u8; n * cl];
    if cl == 0 {
      return out;
    }
    with_quantizer!(self, |q| out
      .par_chunks_mut(cl)
      .zip(rows.par_chunks(dim))
      .with_min_len(256)
      .for_each(|(o, r)| q.encode(r, o)));
    out
  }

  /// Bytes the quantiser holds in memory: its stored parameters, plus what is derived from them
  /// when loaded (PQ's by-dimension copy of its codebooks).
  pub fn memory_bytes(&self) -> usize {
    let derived = match self {
      AnyQuantizer::Pq(q) => q.derived_bytes(),
      _ => 0,
    };
    self.params_bytes().len() + derived
  }

  /// The quantiser's parameters as stored in index files: a type code (u32) then the type's own
  /// fields, all little-endian.
  pub fn params_bytes(&self) -> Vec<u8> {
    let mut out = Vec::new();
    match self {
      AnyQuantizer::F16(_) => out.extend_from_slice(&CODE_F16.to_le_bytes()),
      AnyQuantizer::Int8(q) => {
        out.extend_from_slice(&CODE_INT8.to_le_bytes());
        q.write_params(&mut out);
      }
      AnyQuantizer::Binary(q) => {
        out.extend_from_slice(&CODE_BINARY.to_le_bytes());
        q.write_params(&mut out);
      }
      AnyQuantizer::Pq(q) => {
        out.extend_from_slice(&CODE_PQ.to_le_bytes());
        q.write_params(&mut out);
      }
      AnyQuantizer::Truncate(q) => {
        out.extend_from_slice(&CODE_TRUNCATE.to_le_bytes());
        q.write_params(&mut out);
      }
    }
    out
  }

  /// Reads parameters written by [`AnyQuantizer::params_bytes`] for an index of `dim` and
  /// `metric`. Every field is checked (finite, in range, sizes that multiply out); a failure is
  /// `ERR_CORRUPT_FILE` naming `what`.
  pub fn from_params_bytes(bytes: &[u8], dim: usize, metric: Metric, what: &str) -> Result<Self> {
    let corrupt = |detail: String| Error::corrupt(what.to_owned(), detail);
    if bytes.len() < 4 {
      return Err(corrupt(format!(
        "{} bytes is too short for a type code",
        bytes.len()
      )));
    }
    let (head, rest) = bytes.split_at(4);
    let code = LeReader::new(head).u32();
    let q = match code {
      CODE_F16 => {
        if !rest.is_empty() {
          return Err(corrupt(
            "f16 has no parameters, but the section has more bytes".into(),
          ));
        }
        AnyQuantizer::F16(F16Quantizer::new(dim, metric))
      }
      CODE_INT8 => AnyQuantizer::Int8(Int8Quantizer::read_params(rest, dim, metric).map_err(corrupt)?),
      CODE_BINARY => AnyQuantizer::Binary(BinaryQuantizer::read_params(rest, dim, metric).map_err(corrupt)?),
      CODE_PQ => AnyQuantizer::Pq(PqQuantizer::read_params(rest, dim, metric).map_err(corrupt)?),
      CODE_TRUNCATE => {
        AnyQuantizer::Truncate(TruncateQuantizer::read_params(rest, dim, metric).map_err(corrupt)?)
      }
      other => return Err(corrupt(format!("unknown quantizer type code {other}"))),
    };
    Ok(q)
  }
}

/// Candidates kept for `k` results when rescoring with `oversample`: `⌈k × oversample⌉`, at least `k`.
/// Shared by the flat scan and the HNSW walk.
pub(crate) fn candidates_for(k: usize, oversample: f32) -> usize {
  ((k as f64 * f64::from(oversample)).ceil() as usize).max(k)
}

/// Exact rescoring, shared by both quantised indexes: the `(key, original row)` candidates ranked by
/// their exact distance to `query` with `kernel`, nearest `k` first (ties by key, like every search).
pub(crate) fn rescore<'a>(
  kernel: Kernel<f32>,
  query: &[f32],
  candidates: impl IntoIterator<Item = (u64, &'a [f32])>,
  k: usize,
) -> Vec<Neighbor> {
  let mut top = TopK::new(k);
  for (key, row) in candidates {
    top.push(key, kernel(query, row));
  }
  top.into_sorted()
}

/// Results from code scores alone (no rescoring): each `(key, score)` turned into the quantiser's
/// distance estimate and re-ranked, so ties break by key as in every other search.
pub(crate) fn code_results<Q: Quantizer>(
  q: &Q,
  scored: impl IntoIterator<Item = (u64, f32)>,
  k: usize,
) -> Vec<Neighbor> {
  let mut top = TopK::new(k);
  for (key, score) in scored {
    top.push(key, q.to_distance(score));
  }
  top.into_sorted()
}

/// Quantiser type codes in files, shared by the options (QOPT) and parameter (QPRM) sections. Part of
/// the format: add, never reuse.
pub(crate) const CODE_F16: u32 = 1;
pub(crate) const CODE_INT8: u32 = 2;
pub(crate) const CODE_BINARY: u32 = 3;
pub(crate) const CODE_PQ: u32 = 4;
pub(crate) const CODE_TRUNCATE: u32 = 5;

/// Seeded SplitMix64 (the same generator HNSW draws levels from, kept private here so the two
/// modules stay independent). In-crate so a dependency upgrade can never change trained codes.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
  pub(crate) fn new(seed: u64) -> Self {
    Rng(seed)
  }

  pub(crate) fn next_u64(&mut self) -> u64 {
    self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = self.0;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
  }

  /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2⁻³² for any realistic `n`.
  pub(crate) fn below(&mut self, n: usize) -> usize {
    (self.next_u64() % (n.max(1) as u64)) as usize
  }
}

/// At most `cap` rows of `sample`, chosen by a seeded partial shuffle (all rows, in order, when
/// there are no more than `cap`), so training cost is bounded whatever is added.
pub(crate) fn subsample(sample: &[f32], dim: usize, cap: usize, seed: u64) -> Vec<f32> {
  let n = sample.len() / dim.max(1);
  if n <= cap {
    return sample.to_vec();
  }
  let mut idx: Vec<usize> = (0..n).collect();
  let mut rng = Rng::new(seed ^ 0x5u64.rotate_left(60));
  for i in 0..cap {
    let j = i + rng.below(n - i);
    idx.swap(i, j);
  }
  let mut chosen = idx[..cap].to_vec();
  chosen.sort_unstable();
  let mut out = Vec::with_capacity(cap * dim);
  for i in chosen {
    out.extend_from_slice(&sample[i * dim..(i + 1) * dim]);
  }
  out
}

/// `v / ‖v‖`, or `v` unchanged when it is zero (cosine's zero-vector rule then applies).
pub(crate) fn normalized(v: &[f32]) -> Vec<f32> {
  let n = v
    .iter()
    .map(|x| f64::from(*x) * f64::from(*x))
    .sum::<f64>()
    .sqrt();
  if n == 0.0 {
    return v.to_vec();
  }
  v.iter().map(|x| (f64::from(*x) / n) as f32).collect()
}

/// Reads `n` little-endian f32 values that must all be finite.
pub(crate) fn read_f32s(bytes: &[u8], n: usize, what: &str) -> std::result::Result<Vec<f32>, String> {
  let want = n
    .checked_mul(4)
    .ok_or_else(|| format!("{what}: {n} values overflow"))?;
  if bytes.len() != want {
    return Err(format!(
      "{what}: {} bytes, expected {n} × 4 = {want}",
      bytes.len()
    ));
  }
  let mut out = Vec::new();
  out
    .try_reserve_exact(n)
    .map_err(|_| format!("{what}: not enough memory for {n} values"))?;
  for (i, c) in bytes.chunks_exact(4).enumerate() {
    let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    if !x.is_finite() {
      return Err(format!("{what}: value {i} is {x}; expected a finite number"));
    }
    out.push(x);
  }
  Ok(out)
}
