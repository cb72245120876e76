//! Signed 8-bit scalar quantisation, scored with an exact i8 dot product (the flat index's tiled
//! kernel, `metric::codes::dot_i8_tile_kernel`, or simsimd's `dot_i8` per pair) plus corrections.
//!
//! # The code
//!
//! Component `j` of a vector `x` (normalised first for cosine) is stored as
//!
//! ```text
//!   cⱼ = clamp(round((xⱼ − oⱼ) / s), −127, 127)          x̂ⱼ = oⱼ + s·cⱼ
//! ```
//!
//! with a per-dimension offset `oⱼ` (the training mean) and one global step `s = R / 127`, where `R`
//! is the `quantile` of `|xⱼ − oⱼ|` over every component of the training sample. Deviations beyond
//! `R` saturate (the clipping); every other component is off by at most half a step:
//! `|xⱼ − x̂ⱼ| ≤ s/2` — the bound the tests check.
//!
//! # The correction algebra
//!
//! One global step (rather than one per dimension) is what lets the integer kernel do the work:
//!
//! ```text
//!   x̂·q̂ = Σ (oⱼ + s·cxⱼ)(oⱼ + s·cqⱼ)
//!       = s²·Σ cxⱼ·cqⱼ  +  s·(Σ oⱼ·cxⱼ + Σ oⱼ·cqⱼ)  +  Σ oⱼ²
//!       = s²·dot_i8(cx, cq) + s·(Ax + Aq) + O
//! ```
//!
//! `Ax = Σ oⱼ·cxⱼ` and `Nx = ‖x̂‖²` are stored after each code (two f32), `Aq`, `Nq` are computed once
//! per query (the query is quantised with the same parameters), and `O = Σ oⱼ²` once at training.
//! Then, with `P = x̂·q̂`:
//!
//! ```text
//!   cosine: 1 − P / √(Nx·Nq)      dot: 1 − P      l2: Nx + Nq − 2P
//! ```
//!
//! which are the f32 distances evaluated on the reconstructions, so codes track the true values to
//! within the reconstruction error.

use super::{normalized, read_f32s, Quantizer};
use crate::metric::codes::dot_i8;
use crate::metric::Metric;

/// Bytes of the corrections stored after each code: `A` and `N`, f32 little-endian.
const TAIL: usize = 8;

/// A trained int8 quantiser (see the module docs for the algebra).
#[derive(Debug, Clone)]
pub struct Int8Quantizer {
  dim: usize,
  metric: Metric,
  offsets: Vec<f32>,
  step: f32,
  /// `Σ oⱼ²`.
  o2: f32,
}

/// A query quantised with the index's parameters, with its corrections.
#[derive(Debug, Clone)]
pub struct Int8Query {
  codes: Vec<i8>,
  a: f32,
  n: f32,
}

impl Int8Quantizer {
  /// Learns offsets and the clipped step from `sample` (row-major, validated by the caller).
  pub fn train(dim: usize, metric: Metric, sample: &[f32], quantile: f32) -> Self {
    let rows: Vec<Vec<f32>> = sample
      .chunks_exact(dim)
      .map(|r| {
        if metric == Metric::Cosine {
          normalized(r)
        } else {
          r.to_vec()
        }
      })
      .collect();
    let n = rows.len().max(1) as f64;
    let mut offsets = vec![0f64; dim];
    for r in &rows {
      for (o, x) in offsets.iter_mut().zip(r) {
        *o += f64::from(*x);
      }
    }
    let offsets: Vec<f32> = offsets.iter().map(|o| (o / n) as f32).collect();
    let mut dev: Vec<f32> = rows
      .iter()
      .flat_map(|r| r.iter().zip(&offsets).map(|(x, o)| (x - o).abs()))
      .collect();
    let range = if dev.is_empty() {
      0.0
    } else {
      let at = ((f64::from(quantile) * dev.len() as f64).ceil() as usize).clamp(1, dev.len()) - 1;
      *dev.select_nth_unstable_by(at, f32::total_cmp).1
    };
    // A sample with no spread (all rows equal) still needs a usable step; any positive one encodes
    // it exactly as all-zero codes.
    let step = if range > 0.0 && range.is_finite() {
      range / 127.0
    } else {
      1.0
    };
    Self::from_parts(dim, metric, offsets, step)
  }

  fn from_parts(dim: usize, metric: Metric, offsets: Vec<f32>, step: f32) -> Self {
    let o2 = offsets.iter().map(|o| f64::from(*o) * f64::from(*o)).sum::<f64>() as f32;
    Int8Quantizer {
      dim,
      metric,
      offsets,
      step,
      o2,
    }
  }

  /// The step `s`: every unclipped component decodes to within `s / 2`.
  pub fn step(&self) -> f32 {
    self.step
  }

  /// The largest deviation from the offset that is stored without clipping (`127·s`).
  pub fn range(&self) -> f32 {
    127.0 * self.step
  }

  /// Per-dimension offsets `oⱼ`.
  pub fn offsets(&self) -> &[f32] {
    &self.offsets
  }

  /// Quantises `v` into `codes`, returning `(A, N)`.
  fn quantize(&self, v: &[f32], codes: &mut [i8]) -> (f32, f32) {
    let owned;
    let v = if self.metric == Metric::Cosine {
      owned = normalized(v);
      &owned[..]
    } else {
      v
    };
    let inv = 1.0 / self.step;
    let (mut a, mut nn) = (0f64, 0f64);
    for ((c, x), o) in codes.iter_mut().zip(v).zip(&self.offsets) {
      let q = ((x - o) * inv).round().clamp(-127.0, 127.0);
      *c = q as i8;
      a += f64::from(*o) * f64::from(q);
      let r = f64::from(*o) + f64::from(self.step) * f64::from(q);
      nn += r * r;
    }
    (a as f32, nn as f32)
  }

  pub(crate) fn write_params(&self, out: &mut Vec<u8>) {
    out.extend_from_slice(&self.step.to_le_bytes());
    for o in &self.offsets {
      out.extend_from_slice(&o.to_le_bytes());
    }
  }

  pub(crate) fn read_params(bytes: &[u8], dim: usize, metric: Metric) -> Result<Self, String> {
    let v = read_f32s(
      bytes,
      dim + 1,
      "int8 parameters (step, then one offset per dimension)",
    )?;
    let step = v[0];
    if step <= 0.0 {
      return Err(format!("int8 step is {step}; expected a positive number"));
    }
    Ok(Self::from_parts(dim, metric, v[1..].to_vec(), step))
  }
}

#[inline]
fn tail(code: &[u8], dim: usize) -> (f32, f32) {
  let t = &code[dim..dim + TAIL];
  (
    f32::from_le_bytes([t[0], t[1], t[2], t[3]]),
    f32::from_le_bytes([t[4], t[5], t[6], t[7]]),
  )
}

impl Quantizer for Int8Quantizer {
  type Query = Int8Query;

  fn dim(&self) -> usize {
    self.dim
  }

  fn code_len(&self) -> usize {
    self.dim + TAIL
  }

  fn encode(&self, v: &[f32], out: &mut [u8]) {
    let (codes, rest) = out.split_at_mut(self.dim);
    let (a, n) = self.quantize(v, bytemuck::cast_slice_mut(codes));
    rest[..4].copy_from_slice(&a.to_le_bytes());
    rest[4..8].copy_from_slice(&n.to_le_bytes());
  }

  fn decode(&self, code: &[u8], out: &mut [f32]) {
    let codes: &[i8] = bytemuck::cast_slice(&code[..self.dim]);
    for ((x, c), o) in out.iter_mut().zip(codes).zip(&self.offsets) {
      *x = o + self.step * f32::from(*c);
    }
  }

  fn prepare(&self, query: &[f32]) -> Int8Query {
    let mut codes = vec![0i8; self.dim];
    let (a, n) = self.quantize(query, &mut codes);
    Int8Query { codes, a, n }
  }

  /// The code holds the quantised row and both corrections, exactly as `prepare` computes them.
  fn prepare_code(&self, code: &[u8]) -> Option<Int8Query> {
    let codes: &[i8] = bytemuck::cast_slice(code.get(..self.dim)?);
    let (a, n) = tail(code, self.dim);
    Some(Int8Query {
      codes: codes.to_vec(),
      a,
      n,
    })
  }

  #[inline]
  fn score(&self, q: &Int8Query, code: &[u8]) -> f32 {
    let codes: &[i8] = bytemuck::cast_slice(&code[..self.dim]);
    self.score_dot_f32(q, dot_i8(codes, &q.codes), code)
  }
}

impl Int8Query {
  /// The query's codes (`dim` values in −127..=127).
  pub fn codes(&self) -> &[i8] {
    &self.codes
  }
}

impl Int8Quantizer {
  /// [`Quantizer::score`] from the integer product `Σ cxⱼ·cqⱼ` of the codes, computed elsewhere
  /// (a tile kernel): bit for bit the same score, since the product is exact either way and the
  /// algebra below is shared.
  #[inline]
  pub fn score_from_dot(&self, q: &Int8Query, dot: i32, code: &[u8]) -> f32 {
    // An i32 converts to f32 with one rounding, as simsimd's exact f64 product does.
    self.score_dot_f32(q, dot as f32, code)
  }

  #[inline]
  fn score_dot_f32(&self, q: &Int8Query, dot: f32, code: &[u8]) -> f32 {
    let (ax, nx) = tail(code, self.dim);
    let s = self.step;
    // P = s²·dot_i8 + s·(Ax + Aq) + O  (module docs).
    let p = s * s * dot + s * (ax + q.a) + self.o2;
    match self.metric {
      Metric::Cosine => {
        let d = (nx * q.n).sqrt();
        if d > 0.0 {
          (1.0 - p / d).clamp(0.0, 2.0)
        } else if nx == q.n {
          0.0
        } else {
          1.0
        }
      }
      Metric::Dot => 1.0 - p,
      Metric::L2 | Metric::Hamming => (nx + q.n - 2.0 * p).max(0.0),
    }
  }
}
