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
