#![allow(dead_code)]
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DIMS: [usize; 8] = [1, 3, 8, 127, 128, 384, 768, 1536];

pub fn rng(seed: u64) -> ChaCha8Rng {
  ChaCha8Rng::seed_from_u64(seed)
}

pub fn random_f32(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
  (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

pub fn random_u8(rng: &mut ChaCha8Rng, n: usize) -> Vec<u8> {
  (0..n).map(|_| rng.random::<u8>()).collect()
}

/// `bytes` (a valid ferrovec file) written again section by section through `edit`, which gets each
/// section's tag and contents and returns the contents to write (`None` drops the section). The
/// checksums are recomputed, so the container stays valid and only what `edit` did is wrong: what
/// a buggy or hostile writer could produce.
#[allow(clippy::panic)] // test support: a malformed input file is the test's own bug
pub fn rewritten(
  bytes: &[u8],
  mut edit: impl FnMut(ferrovec_core::format::Tag, Vec<u8>) -> Option<Vec<u8>>,
) -> Vec<u8> {
  use ferrovec_core::format::{Container, Writer};
  let c = Container::parse(bytes).unwrap_or_else(|e| panic!("{e}"));
  let mut w = Writer::new(c.kind());
  for e in c.entries() {
    let body = c.require(e.id).unwrap_or_else(|e| panic!("{e}")).to_vec();
    if let Some(body) = edit(e.id, body) {
      w.section(e.id, body);
    }
  }
  w.to_bytes().unwrap_or_else(|e| panic!("{e}"))
}
