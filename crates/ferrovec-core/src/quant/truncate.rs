//! Matryoshka truncation as a code type: the first `dims` components of each vector, stored as f32
//! and scored with the index metric's f32 kernel on that prefix. Models trained with Matryoshka
//! Representation Learning put most of the information in the leading dimensions, so the prefix
//! ranks almost like the whole vector; rescoring with the kept originals restores full-dimension
//! distances.
//!
//! Cosine compares prefixes by angle (the kernel normalises them, the same as re-normalising each
//! prefix); dot does too, since a prefix of a unit vector is no longer unit and its raw product would
//! favour vectors whose mass sits early; l2 compares the raw prefixes.

use super::Quantizer;
use crate::metric::{Element, Kernel, Metric};

/// The truncation "quantiser".
#[derive(Debug, Clone)]
pub struct TruncateQuantizer {
  dim: usize,
  dims: usize,
  kernel: Kernel<f32>,
}

impl TruncateQuantizer {
  /// Keeps `dims` (1..=dim, checked by the spec) of `dim` components.
  pub fn new(dim: usize, dims: usize, metric: Metric) -> Self {
    let kernel_metric = if metric == Metric::L2 {
      Metric::L2
    } else {
      Metric::Cosine
    };
    // Cosine and l2 always resolve for f32; the fallback is never taken.
    let kernel = f32::kernel(kernel_metric).unwrap_or(|_, _| f32::NAN);
    TruncateQuantizer { dim, dims, kernel }
  }

  /// Components kept per vector.
  pub fn dims(&self) -> usize {
    self.dims
  }

  pub(crate) fn write_params(&self, out: &mut Vec<u8>) {
    out.extend_from_slice(&(self.dims as u32).to_le_bytes());
  }

  pub(crate) fn read_params(bytes: &[u8], dim: usize, metric: Metric) -> Result<Self, String> {
    let Ok(b) = <[u8; 4]>::try_from(bytes) else {
      return Err(format!("truncate parameters: {} bytes, expected 4", bytes.len()));
    };
    let dims = u32::from_le_bytes(b) as usize;
    if dims == 0 || dims > dim {
      return Err(format!("truncate dims is {dims}; expected 1..={dim}"));
    }
    Ok(Self::new(dim, dims, metric))
  }
}

/// A code row as f32. Codes are little-endian bytes (in memory and, unchanged, in files): on a
/// little-endian machine the cast borrows when aligned, which rows of a global-allocator buffer
/// always are; a big-endian machine or a misaligned slice decodes a copy.
fn floats(code: &[u8]) -> std::borrow::Cow<'_, [f32]> {
  if cfg!(target_endian = "little") {
    if let Ok(f) = bytemuck::try_cast_slice::<u8, f32>(code) {
      return std::borrow::Cow::Borrowed(f);
    }
  }
  std::borrow::Cow::Owned(
    code
      .chunks_exact(4)
      .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
      .collect(),
  )
}

impl Quantizer for TruncateQuantizer {
  type Query = Vec<f32>;

  fn dim(&self) -> usize {
    self.dim
  }

  fn code_len(&self) -> usize {
    4 * self.dims
  }

  fn encode(&self, v: &[f32], out: &mut [u8]) {
    for (o, x) in out.chunks_exact_mut(4).zip(&v[..self.dims]) {
      // Little-endian, the file layout (see `floats`).
      o.copy_from_slice(&x.to_le_bytes());
    }
  }

  fn decode(&self, code: &[u8], out: &mut [f32]) {
    out.fill(0.0);
    out[..self.dims].copy_from_slice(&floats(code));
  }

  fn prepare(&self, query: &[f32]) -> Vec<f32> {
    query[..self.dims].to_vec()
  }

  fn prepare_code(&self, code: &[u8]) -> Option<Vec<f32>> {
    Some(floats(code).into_owned())
  }

  #[inline]
  fn score(&self, q: &Vec<f32>, code: &[u8]) -> f32 {
    (self.kernel)(q, &floats(code))
  }
}
