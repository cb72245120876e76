//! Half-precision storage: each component rounded to IEEE 754 binary16 (relative error ≤ 2⁻¹¹ for
//! normal values), scored with simsimd's f16 kernels on both sides. No training. Values beyond
//! f16's range (±65504) saturate to ±65504 rather than becoming infinite.

use super::Quantizer;
use crate::metric::codes::{f16_from_f32, f16_kernel, f16_to_f32, F16Kernel};
use crate::metric::Metric;

/// The f16 "quantiser".
#[derive(Debug, Clone)]
pub struct F16Quantizer {
  dim: usize,
  kernel: F16Kernel,
}

impl F16Quantizer {
  pub fn new(dim: usize, metric: Metric) -> Self {
    F16Quantizer {
      dim,
      kernel: f16_kernel(metric),
    }
  }
}

/// A code's binary16 values. Codes are little-endian bytes (in memory and, unchanged, in files).
/// On a little-endian machine that is the native layout, and a row starts on an even offset of a
/// buffer from the global allocator (aligned far beyond 2), so the cast borrows; a big-endian
/// machine, or a misaligned slice (never seen), decodes a copy instead.
fn halves(code: &[u8]) -> std::borrow::Cow<'_, [u16]> {
  if cfg!(target_endian = "little") {
    if let Ok(h) = bytemuck::try_cast_slice::<u8, u16>(code) {
      return std::borrow::Cow::Borrowed(h);
    }
  }
  std::borrow::Cow::Owned(
    code
      .chunks_exact(2)
      .map(|c| u16::from_le_bytes([c[0], c[1]]))
      .collect(),
  )
}

impl Quantizer for F16Quantizer {
  type Query = Vec<u16>;

  fn dim(&self) -> usize {
    self.dim
  }

  fn code_len(&self) -> usize {
    2 * self.dim
  }

  fn encode(&self, v: &[f32], out: &mut [u8]) {
    for (o, x) in out.chunks_exact_mut(2).zip(v) {
      // Little-endian like every number in ferrovec files: the file writer stores codes as
      // opaque bytes, so the code layout is the file layout (pinned by a test).
      o.copy_from_slice(&f16_from_f32(x.clamp(-65504.0, 65504.0)).to_le_bytes());
    }
  }

  fn decode(&self, code: &[u8], out: &mut [f32]) {
    for (x, h) in out.iter_mut().zip(halves(code).iter()) {
      *x = f16_to_f32(*h);
    }
  }

  fn prepare(&self, query: &[f32]) -> Vec<u16> {
    query
      .iter()
      .map(|x| f16_from_f32(x.clamp(-65504.0, 65504.0)))
      .collect()
  }

  fn prepare_code(&self, code: &[u8]) -> Option<Vec<u16>> {
    Some(halves(code).into_owned())
  }

  #[inline]
  fn score(&self, q: &Vec<u16>, code: &[u8]) -> f32 {
    (self.kernel)(q, &halves(code))
  }
}
