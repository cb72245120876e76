//! The byte layout of f16 and truncate codes is part of the file format: little-endian, whatever
//! the machine. These bytes are what every file written so far (on little-endian machines) holds,
//! so the test pins both the layout and that it did not change.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use ferrovec_core::quant::{AnyQuantizer, QuantOptions, QuantSpec, QuantizedFlatIndex, Quantizer};
use ferrovec_core::{with_quantizer, AnyFlatIndex, LoadOptions, Metric};

fn encode(spec: &QuantSpec, dim: usize, v: &[f32]) -> Vec<u8> {
  let q = AnyQuantizer::train(spec, dim, Metric::L2, &[], 0).unwrap();
  let mut out = vec![0u8; q.code_len()];
  with_quantizer!(&q, |q| q.encode(v, &mut out));
  out
}

fn decode(spec: &QuantSpec, dim: usize, code: &[u8]) -> Vec<f32> {
  let q = AnyQuantizer::train(spec, dim, Metric::L2, &[], 0).unwrap();
  let mut out = vec![0f32; dim];
  with_quantizer!(&q, |q| q.decode(code, &mut out));
  out
}

const F16_VALUES: [f32; 5] = [1.0, -2.0, 0.5, 65504.0, 1e9];
/// binary16 0x3C00, 0xC000, 0x3800, 0x7BFF, 0x7BFF (saturated), low byte first.
const F16_BYTES: [u8; 10] = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38, 0xFF, 0x7B, 0xFF, 0x7B];
/// The first two components of [1.0, −2.0, 9.0] as f32 0x3F800000, 0xC0000000, low byte first.
const TRUNCATE_BYTES: [u8; 8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0];

#[test]
fn f16_and_truncate_codes_are_little_endian_bytes() {
  assert_eq!(encode(&QuantSpec::F16, 5, &F16_VALUES), F16_BYTES);
  assert_eq!(
    decode(&QuantSpec::F16, 5, &F16_BYTES),
    [1.0, -2.0, 0.5, 65504.0, 65504.0]
  );
  let t = QuantSpec::Truncate { dims: 2 };
  assert_eq!(encode(&t, 3, &[1.0, -2.0, 9.0]), TRUNCATE_BYTES);
  assert_eq!(decode(&t, 3, &TRUNCATE_BYTES), [1.0, -2.0, 0.0]);
}

#[test]
fn saved_files_hold_the_same_code_bytes_and_score_them() {
  for (spec, dim, row, bytes) in [
    (QuantSpec::F16, 5, F16_VALUES.to_vec(), F16_BYTES.to_vec()),
    (
      QuantSpec::Truncate { dims: 2 },
      3,
      vec![1.0, -2.0, 9.0],
      TRUNCATE_BYTES.to_vec(),
    ),
  ] {
    let mut o = QuantOptions::new(spec.clone());
    o.keep_originals = false;
    let mut idx = QuantizedFlatIndex::new(dim, Metric::L2, o).unwrap();
    idx.add_batch(&[7], &row, false).unwrap();
    assert_eq!(idx.codes(), &bytes[..], "{} codes in memory", spec.name());
    let file = idx.to_bytes().unwrap();
    assert!(
      file.windows(bytes.len()).any(|w| w == &bytes[..]),
      "{}: the file holds the code bytes as they are",
      spec.name()
    );
    let opts = LoadOptions {
      dim: None,
      metric: None,
    };
    let Ok(AnyFlatIndex::Quant(back)) = AnyFlatIndex::from_bytes(&file, &opts) else {
      panic!("{}: the file loads back as a quantised index", spec.name());
    };
    assert_eq!(back.codes(), &bytes[..]);
    // The decoded row scores as itself: distance 0 to its own reconstruction.
    let recon = back.get(7).unwrap();
    let hit = back.search(&recon, 1, None).unwrap();
    assert_eq!(hit[0].key, 7);
    assert_eq!(hit[0].distance, 0.0, "{}", spec.name());
  }
}
