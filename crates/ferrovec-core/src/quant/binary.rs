//! Binary quantisation: one sign bit per dimension, packed, compared by Hamming distance.
//!
//! Bit `j` of a code is `xⱼ − μⱼ > 0`, with `μ` the per-dimension training mean when centering is
//! on (zero otherwise); bits are packed most-significant first, 8 per byte, and the last byte is
//! zero-padded. Centering matters for embeddings: most models put every vector in one narrow cone,
//! so raw signs agree on many dimensions for all documents and carry little information.
//!
//! For two vectors at angle θ (after centering), a random hyperplane separates them with
//! probability θ/π, so the Hamming count `h` over `dim` bits estimates `θ ≈ π·h/dim` (Charikar's
//! SimHash). The scan ranks on `h` itself; the reported code-only distance is `1 − cos(π·h/dim)`, an
//! estimate of the cosine distance (used for `dot` too, where it is exact only for unit vectors).
//! Binary codes say nothing about Euclidean distance, so `l2` indexes refuse them.

use super::{read_f32s, Quantizer};
use crate::metric::codes::hamming_kernel;
use crate::metric::Metric;

/// A trained binary quantiser.
#[derive(Debug, Clone)]
pub struct BinaryQuantizer {
  dim: usize,
  /// Per-dimension centre (zeros when centering is off).
  center: Vec<f32>,
  /// Mean `|xⱼ − μⱼ|` of the sample: the magnitude [`Quantizer::decode`] gives each bit.
  scale: f32,
  hamming: fn(&[u8], &[u8]) -> f32,
}

impl BinaryQuantizer {
  /// Learns the centre (when `center`) and the decode scale from `sample` (row-major, validated).
  pub fn train(dim: usize, _metric: Metric, sample: &[f32], center: bool) -> Self {
    let n = sample.len() / dim.max(1);
    let mut mu = vec![0f64; dim];
    if center && n > 0 {
      for r in sample.chunks_exact(dim) {
        for (m, x) in mu.iter_mut().zip(r) {
          *m += f64::from(*x);
        }
      }
      for m in &mut mu {
        *m /= n as f64;
      }
    }
    let center: Vec<f32> = mu.iter().map(|m| *m as f32).collect();
    let total: f64 = sample
      .chunks_exact(dim)
      .flat_map(|r| r.iter().zip(&center).map(|(x, c)| f64::from((x - c).abs())))
      .sum();
    let scale = if n > 0 {
      (total / (n * dim) as f64) as f32
    } else {
      1.0
    };
    BinaryQuantizer {
      dim,
      center,
      scale: if scale > 0.0 && scale.is_finite() {
        scale
      } else {
        1.0
      },
      hamming: hamming_kernel(),
    }
  }

  /// The per-dimension centre subtracted before taking signs.
  pub fn center(&self) -> &[f32] {
    &self.center
  }

  pub(crate) fn write_params(&self, out: &mut Vec<u8>) {
    out.extend_from_slice(&self.scale.to_le_bytes());
    for c in &self.center {
      out.extend_from_slice(&c.to_le_bytes());
    }
  }

  pub(crate) fn read_params(bytes: &[u8], dim: usize, _metric: Metric) -> Result<Self, String> {
    let v = read_f32s(
      bytes,
      dim + 1,
      "binary parameters (scale, then one centre per dimension)",
    )?;
    let scale = v[0];
    if scale <= 0.0 {
      return Err(format!("binary scale is {scale}; expected a positive number"));
    }
    Ok(BinaryQuantizer {
      dim,
      center: v[1..].to_vec(),
      scale,
      hamming: hamming_kernel(),
    })
  }
}

impl Quantizer for BinaryQuantizer {
  /// The query's own code: queries are binarised like the rows (symmetric Hamming).
  type Query = Vec<u8>;

  fn dim(&self) -> usize {
    self.dim
  }

  fn code_len(&self) -> usize {
    self.dim.div_ceil(8)
  }

  fn encode(&self, v: &[f32], out: &mut [u8]) {
    out.fill(0);
    for (j, (x, c)) in v.iter().zip(&self.center).enumerate() {
      if x - c > 0.0 {
        out[j / 8] |= 0x80 >> (j % 8);
      }
    }
  }

  fn decode(&self, code: &[u8], out: &mut [f32]) {
    for (j, (x, c)) in out.iter_mut().zip(&self.center).enumerate() {
      let bit = code[j / 8] & (0x80 >> (j % 8)) != 0;
      *x = if bit { c + self.scale } else { c - self.scale };
    }
  }

  fn prepare(&self, query: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; self.code_len()];
    self.encode(query, &mut out);
    out
  }

  fn prepare_code(&self, code: &[u8]) -> Option<Vec<u8>> {
    Some(code.to_vec())
  }

  #[inline]
  fn score(&self, q: &Vec<u8>, code: &[u8]) -> f32 {
    (self.hamming)(q, code)
  }

  fn to_distance(&self, score: f32) -> f32 {
    1.0 - (std::f32::consts::PI * score / self.dim as f32).cos()
  }
}
