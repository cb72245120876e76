//! The tiled scans of binary and int8 codes (`quant/flat/scan.rs`): their kernels against scalar
//! references (ragged tails, lengths that are not a multiple of the word or SIMD width, one query
//! and many), and their search results against the generic per-pair scan, which an allow-list
//! still takes, so `allow = every key` is the reference.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ferrovec_core::metric::codes::{
  dot_i8_tile_kernel, dot_i8_tile_portable_kernel, hamming_tile_kernel, hamming_tile_portable_kernel,
  hamming_words_of, I8_PAD, I8_TILE,
};
use ferrovec_core::metric::reference;
use ferrovec_core::quant::{QuantOptions, QuantSpec, QuantizedFlatIndex};
use ferrovec_core::Metric;
use rand::Rng;

#[test]
fn hamming_tile_counts_like_the_reference() {
  let mut r = rng(41);
  for cl in [1, 2, 7, 8, 9, 13, 16, 63, 64, 65, 98, 128, 129, 200] {
    for nq in [1, 3, 16] {
      for n in [1, 5, 37] {
        // The rows sit inside a larger buffer: the kernel must not read the bytes around them.
        let buf = random_u8(&mut r, (n + 2) * cl + 5);
        let rows = &buf[cl..cl + n * cl];
        let queries: Vec<Vec<u8>> = (0..nq).map(|_| random_u8(&mut r, cl)).collect();
        let words: Vec<u64> = queries.iter().flat_map(|q| hamming_words_of(q)).collect();
        for (name, kernel) in [
          ("dispatched", hamming_tile_kernel(cl)),
          ("portable", hamming_tile_portable_kernel(cl)),
        ] {
          let mut out = vec![u32::MAX; nq * n];
          kernel(&words, rows, cl, &mut out);
          for (i, q) in queries.iter().enumerate() {
            for (j, row) in rows.chunks_exact(cl).enumerate() {
              assert_eq!(
                f64::from(out[i * n + j]),
                reference::hamming(q, row),
                "{name}: {cl} bytes, query {i} of {nq}, row {j} of {n}"
              );
            }
          }
        }
      }
    }
  }
}

#[test]
fn i8_tile_products_are_exact() {
  let mut r = rng(42);
  for dim in [1, 3, 31, 32, 33, 100, 127, 784, 1000] {
    for stride in [dim, dim + 8] {
      for n in [1, 2, 9] {
        // Rows hold every byte value, −128 included (a damaged file could carry it); queries are
        // clamped to ±127 like every prepared query.
        let rows: Vec<u8> = random_u8(&mut r, n * stride);
        for nq in 1..=I8_TILE {
          let padded = dim.next_multiple_of(I8_PAD);
          let mut queries = vec![0i8; nq * padded];
          for q in queries.chunks_exact_mut(padded) {
            for x in &mut q[..dim] {
              *x = r.random_range(-127i8..=127);
            }
          }
          if dim >= 2 {
            queries[0] = 127;
            queries[1] = -127;
          }
          for (name, kernel) in [
            ("dispatched", dot_i8_tile_kernel(nq)),
            ("portable", dot_i8_tile_portable_kernel(nq)),
          ] {
            let mut out = vec![i32::MIN; nq * n];
            kernel(&queries, dim, &rows, stride, &mut out);
            for (i, q) in queries.chunks_exact(padded).enumerate() {
              for (j, row) in rows.chunks_exact(stride).enumerate() {
                let want: i64 = q[..dim]
                  .iter()
                  .zip(&row[..dim])
                  .map(|(a, b)| i64::from(*a) * i64::from(*b as i8))
                  .sum();
                assert_eq!(
                  i64::from(out[i * n + j]),
                  want,
                  "{name}: dim {dim}, stride {stride}, query {i} of {nq}, row {j} of {n}"
                );
              }
            }
          }
        }
      }
    }
  }
}

/// Seeded rows with exact duplicates (every 7th row repeats an earlier one) and a few values
/// shared across rows, so codes tie often and the tie-break by slot is exercised.
fn data_with_ties(seed: u64, n: usize, dim: usize) -> Vec<f32> {
  let mut r = rng(seed);
  let mut out = random_f32(&mut r, n * dim);
  for i in (7..n).step_by(7) {
    let src = r.random_range(0..i);
    out.copy_within(src * dim..(src + 1) * dim, i * dim);
  }
  out
}

fn assert_same_as_generic(idx: &QuantizedFlatIndex, queries: &[f32], k: usize, what: &str) {
  let all: Vec<u64> = idx.keys().to_vec();
  let fast = idx.search_batch(queries, k, None).unwrap();
  let generic = idx.search_batch(queries, k, Some(&all)).unwrap();
  assert_eq!(fast.counts, generic.counts, "{what}: counts");
  assert_eq!(fast.keys, generic.keys, "{what}: keys");
  let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
  assert_eq!(
    bits(&fast.distances),
    bits(&generic.distances),
    "{what}: distances"
  );
  // A single query answers like its row of a batch.
  let dim = idx.dim();
  for (qi, q) in queries.chunks_exact(dim).enumerate().take(3) {
    let one = idx.search(q, k, None).unwrap();
    let n = fast.counts[qi] as usize;
    let keys: Vec<u64> = one.iter().map(|nb| nb.key).collect();
    assert_eq!(
      keys,
      fast.keys[qi * fast.k..qi * fast.k + n],
      "{what}: single query {qi}"
    );
  }
}

#[test]
fn tiled_scans_return_what_the_generic_scan_returns() {
  let k = 10;
  for (spec, metrics) in [
    (
      QuantSpec::Binary { center: true },
      vec![Metric::Cosine, Metric::Dot],
    ),
    (QuantSpec::Binary { center: false }, vec![Metric::Cosine]),
    (
      QuantSpec::Int8 {
        quantile: QuantSpec::INT8_QUANTILE,
      },
      vec![Metric::Cosine, Metric::Dot, Metric::L2],
    ),
  ] {
    // 8 bits: counts 0..=8, ties everywhere; 100 and 77: word and SIMD tails; 520: > 64 bytes.
    for dim in [8, 77, 100, 520] {
      for &metric in &metrics {
        let n = if dim > 200 { 900 } else { 2100 };
        let data = data_with_ties(dim as u64, n, dim);
        let queries = data_with_ties(dim as u64 + 1000, 37, dim);
        let keys: Vec<u64> = (0..n as u64).map(|i| 5 * i + 2).collect();
        for (label, oversample, keep) in [
          ("rescored", 4.0, true),
          ("codes only", 4.0, false),
          ("×1", 1.0, true),
        ] {
          let mut o = QuantOptions::new(spec.clone());
          o.oversample = oversample;
          o.keep_originals = keep;
          o.train_after = None;
          let mut idx = QuantizedFlatIndex::new(dim, metric, o).unwrap();
          idx.train(&data).unwrap();
          idx.add_batch(&keys, &data, false).unwrap();
          let what = format!("{} {metric} dim {dim} {label}", spec.name());
          assert_same_as_generic(&idx, &queries, k, &what);
          assert_same_as_generic(&idx, &queries[..dim], k, &format!("{what}, one query"));
          // k above the index size, and k = 1.
          assert_same_as_generic(&idx, &queries[..5 * dim], n + 3, &format!("{what}, k > n"));
          assert_same_as_generic(&idx, &queries, 1, &format!("{what}, k = 1"));
        }
      }
    }
  }
}

#[test]
fn tiled_scans_split_large_single_queries_without_changing_results() {
  // Above 16 384 rows a single query's scan is split into ranges that are merged afterwards.
  let (dim, n, k) = (24, 40_000, 10);
  let data = data_with_ties(77, n, dim);
  let queries = data_with_ties(78, 3, dim);
  let keys: Vec<u64> = (0..n as u64).collect();
  for spec in [
    QuantSpec::Binary { center: true },
    QuantSpec::Int8 {
      quantile: QuantSpec::INT8_QUANTILE,
    },
  ] {
    let mut o = QuantOptions::new(spec.clone());
    o.oversample = 8.0;
    let mut idx = QuantizedFlatIndex::new(dim, Metric::Cosine, o).unwrap();
    idx.add_batch(&keys, &data, false).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    pool.install(|| assert_same_as_generic(&idx, &queries, k, spec.name()));
  }
}
