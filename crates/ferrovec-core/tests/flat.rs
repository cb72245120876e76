//! FlatIndex against a plain brute force, plus every bad input leaving the index unchanged.

// Tests fail by panicking; the workspace denies panics only in code that handles user input.
#![allow(clippy::panic)]

mod common;

use common::*;
use ferrovec_core::metric::reference;
use ferrovec_core::{FlatIndex, Metric, Neighbor};

fn brute_f32(m: Metric, data: &[f32], keys: &[u64], q: &[f32], k: usize) -> Vec<(u64, f64)> {
  let dim = q.len();
  let mut all: Vec<(u64, f64)> = data
    .chunks_exact(dim)
    .zip(keys)
    .map(|(row, &key)| {
      let d = match m {
        Metric::Cosine => reference::cosine(q, row),
        Metric::Dot => reference::dot(q, row),
        _ => reference::l2sq(q, row),
      };
      (key, d)
    })
    .collect();
  all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
  all.truncate(k);
  all
}

/// Results must equal brute force up to float noise: the same distances (within tolerance) in order,
/// and the same keys wherever the reference distances are not near-ties.
fn assert_same(got: &[Neighbor], want: &[(u64, f64)], what: &str) {
  assert_eq!(got.len(), want.len(), "{what}: result count");
  for (i, (g, w)) in got.iter().zip(want).enumerate() {
    let eps = 1e-4 * (1.0 + w.1.abs());
    assert!(
      (f64::from(g.distance) - w.1).abs() <= eps,
      "{what}: rank {i} distance {} vs {}",
      g.distance,
      w.1
    );
    let tie = want.iter().any(|o| o.0 != w.0 && (o.1 - w.1).abs() <= 2.0 * eps);
    if !tie {
      assert_eq!(g.key, w.0, "{what}: rank {i} key");
    }
  }
}

#[test]
fn search_equals_brute_force_for_every_float_metric() {
  let mut r = rng(42);
  let (n, dim, k) = (3000, 48, 10);
  let data = random_f32(&mut r, n * dim);
  let keys: Vec<u64> = (0..n as u64).map(|i| i * 7 + 3).collect();
  let queries = random_f32(&mut r, 20 * dim);
  for m in [Metric::Cosine, Metric::Dot, Metric::L2] {
    let mut idx = FlatIndex::<f32>::new(dim, m)
      .map_err(|e| e.to_string())
      .unwrap_or_else(|e| panic!("{e}"));
    assert!(idx.add_batch(&keys, &data, false).is_ok());
    let batch = idx
      .search_batch(&queries, k, None)
      .unwrap_or_else(|e| panic!("{e}"));
    for (qi, q) in queries.chunks_exact(dim).enumerate() {
      let want = brute_f32(m, &data, &keys, q, k);
      let single = idx.search(q, k, None).unwrap_or_else(|e| panic!("{e}"));
      assert_same(&single, &want, &format!("{m} single q{qi}"));
      let from_batch: Vec<Neighbor> = (0..batch.counts[qi] as usize)
        .map(|j| Neighbor {
          key: batch.keys[qi * k + j],
          distance: batch.distances[qi * k + j],
        })
        .collect();
      assert_eq!(from_batch, single, "{m}: batch and single agree exactly");
    }
  }
}

#[test]
fn hamming_search_equals_brute_force() {
  let mut r = rng(5);
  let (n, bytes) = (2000, 16);
  let data = random_u8(&mut r, n * bytes);
  let keys: Vec<u64> = (0..n as u64).collect();
  let mut idx = FlatIndex::<u8>::new(bytes * 8, Metric::Hamming).unwrap_or_else(|e| panic!("{e}"));
  assert!(idx.add_batch(&keys, &data, false).is_ok());
  let q = random_u8(&mut r, bytes);
  let mut want: Vec<(u64, f64)> = data
    .chunks_exact(bytes)
    .zip(&keys)
    .map(|(row, &k)| (k, reference::hamming(&q, row)))
    .collect();
  want.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
  let got = idx.search(&q, 25, None).unwrap_or_else(|e| panic!("{e}"));
  let got: Vec<(u64, f64)> = got.iter().map(|n| (n.key, f64::from(n.distance))).collect();
  assert_eq!(
    got,
    want[..25].to_vec(),
    "integer distances tie often; key order breaks ties"
  );
}

#[test]
fn filters_remove_and_upsert() {
  let dim = 4;
  let mut idx = FlatIndex::<f32>::new(dim, Metric::L2).unwrap_or_else(|e| panic!("{e}"));
  for i in 0..100u64 {
    assert!(idx.add(i, &[i as f32, 0.0, 0.0, 0.0], false).is_ok());
  }
  let q = [0.0f32; 4];
  let got = idx
    .search(&q, 3, Some(&[50, 7, 99, 7, 12345]))
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(
    got.iter().map(|n| n.key).collect::<Vec<_>>(),
    vec![7, 50, 99],
    "unknown keys ignored, repeats once"
  );
  assert!(idx.remove(0));
  assert!(!idx.remove(0));
  assert_eq!(idx.len(), 99);
  assert_eq!(idx.search(&q, 1, None).ok().map(|v| v[0].key), Some(1));
  assert!(idx.add(99, &[-0.5, 0.0, 0.0, 0.0], true).is_ok());
  assert_eq!(
    idx.search(&q, 1, None).ok().map(|v| v[0].key),
    Some(99),
    "upsert moved key 99"
  );
  assert_eq!(idx.get(99), Some(&[-0.5f32, 0.0, 0.0, 0.0][..]));
  assert_eq!(idx.len(), 99);
  let all = idx.search(&q, 1000, None).unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(all.len(), 99, "k larger than the index returns what there is");
  let empty = FlatIndex::<f32>::new(dim, Metric::L2).unwrap_or_else(|e| panic!("{e}"));
  assert!(empty.search(&q, 5, None).map(|v| v.is_empty()).unwrap_or(false));
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
  let dim = 3;
  let mut idx = FlatIndex::<f32>::new(dim, Metric::Cosine).unwrap_or_else(|e| panic!("{e}"));
  assert!(idx
    .add_batch(&[1, 2], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], false)
    .is_ok());
  let before = idx.clone();
  let cases: Vec<(&str, ferrovec_core::Result<()>)> = vec![
    ("ERR_DIMENSION_MISMATCH", idx.add(3, &[1.0, 2.0], false)),
    (
      "ERR_INVALID_VECTOR",
      idx.add_batch(&[3, 4], &[1.0, 2.0, 3.0, 1.0, f32::NAN, 3.0], false),
    ),
    (
      "ERR_INVALID_VECTOR",
      idx.add(3, &[f32::NEG_INFINITY, 0.0, 0.0], false),
    ),
    ("ERR_DUPLICATE_KEY", idx.add(1, &[1.0, 1.0, 1.0], false)),
    ("ERR_DUPLICATE_KEY", idx.add_batch(&[5, 5], &[1.0; 6], true)),
    ("ERR_INVALID_KEY", idx.add(1 << 53, &[1.0, 1.0, 1.0], false)),
    ("ERR_INVALID_ARGUMENT", idx.add_batch(&[7], &[1.0; 6], false)),
  ];
  for (want, got) in cases {
    assert_eq!(got.err().map(|e| e.code()), Some(want));
    assert_eq!(idx.keys(), before.keys());
    assert_eq!(idx.len(), 2);
  }
  assert_eq!(idx.get(1), before.get(1));
  let code = |r: ferrovec_core::Result<Vec<Neighbor>>| r.err().map(|e| e.code());
  assert_eq!(
    code(idx.search(&[1.0, 0.0, 0.0], 0, None)),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    code(idx.search(&[1.0, 0.0], 1, None)),
    Some("ERR_DIMENSION_MISMATCH")
  );
  assert_eq!(code(idx.search(&[], 1, None)), Some("ERR_DIMENSION_MISMATCH"));
  assert_eq!(
    code(idx.search(&[f32::NAN, 0.0, 0.0], 1, None)),
    Some("ERR_INVALID_VECTOR")
  );
  assert_eq!(
    FlatIndex::<f32>::new(0, Metric::L2).err().map(|e| e.code()),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    FlatIndex::<u8>::new(12, Metric::Hamming).err().map(|e| e.code()),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    FlatIndex::<f32>::new(8, Metric::Hamming).err().map(|e| e.code()),
    Some("ERR_INVALID_ARGUMENT")
  );
}

#[test]
fn first_bad_row_is_named() {
  let mut idx = FlatIndex::<f32>::new(2, Metric::L2).unwrap_or_else(|e| panic!("{e}"));
  let mut rows = vec![0.5f32; 2 * 10_000];
  rows[2 * 7001 + 1] = f32::NAN;
  rows[2 * 9000] = f32::INFINITY;
  let keys: Vec<u64> = (0..10_000).collect();
  let msg = idx
    .add_batch(&keys, &rows, false)
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
  assert!(
    msg.contains("row 7001") && msg.contains("component 1 is NaN"),
    "{msg}"
  );
  assert!(idx.is_empty());
}
