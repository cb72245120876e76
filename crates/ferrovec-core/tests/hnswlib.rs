//! hnswlib's binary index format (`compat::hnswlib`): files written by the real hnswlib-node load
//! with their graph, labels, vectors and deleted marks; ferrovec's writer round-trips; and every
//! truncated, damaged or mismatched file is a coded error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use ferrovec_core::compat::hnswlib;
use ferrovec_core::hnsw::SearchOptions;
use ferrovec_core::{Error, HnswIndex, HnswParams, Metric};

fn fixture(name: &str) -> Vec<u8> {
  let p = Path::new(env!("CARGO_MANIFEST_DIR"))
    .join("../../__test__/fixtures/hnswlib")
    .join(name);
  std::fs::read(&p).unwrap_or_else(|e| {
    panic!(
      "{}: {e} (regenerate with scripts/hnswlib-fixtures.mjs)",
      p.display()
    )
  })
}

/// The formula `scripts/hnswlib-fixtures.mjs` builds its vectors with.
fn point(label: u64, dim: usize) -> Vec<f32> {
  (0..dim)
    .map(|j| (label as f64 * 0.37 + j as f64 * 1.3).sin() as f32)
    .collect()
}

fn code<T>(r: &Result<T, Error>) -> &'static str {
  match r {
    Ok(_) => "OK",
    Err(e) => e.code(),
  }
}

fn built(n: usize, dim: usize, metric: Metric, seed: u64) -> HnswIndex<f32> {
  let mut p = HnswParams::new(dim, metric);
  p.m = 6;
  p.ef_construction = 40;
  p.build_threads = 1;
  p.seed = seed;
  let index = HnswIndex::new(p).unwrap();
  let mut rng = common::rng(seed);
  let rows = common::random_f32(&mut rng, n * dim);
  let keys: Vec<u64> = (0..n as u64).map(|k| k * 7 + 3).collect();
  index.add_batch(&keys, &rows, false).unwrap();
  index
}

#[test]
fn reads_a_file_written_by_hnswlib_node() {
  let bytes = fixture("l2-d8-m8.index");
  let (index, info) = hnswlib::from_bytes(&bytes, 8, Metric::L2, 10).unwrap();
  assert_eq!(info.count, 200);
  assert_eq!(info.max_elements, 256);
  assert_eq!(info.m, 8);
  assert_eq!(info.ef_construction, 64);
  // Every 40th element from the 5th was marked deleted.
  let deleted: Vec<u64> = (5..200).step_by(40).map(|i| 3 * i + 1).collect();
  assert_eq!(index.removed_keys(), deleted);
  assert_eq!(index.len(), 200 - deleted.len());
  for i in 0..200u64 {
    let label = 3 * i + 1;
    if deleted.contains(&label) {
      assert!(index.get(label).is_none());
    } else {
      assert_eq!(index.get(label).unwrap(), point(label, 8), "label {label}");
    }
  }
  // Searches find each stored point first, at distance 0, and never a deleted one.
  for &label in &[1u64, 301, 598] {
    let r = index
      .search(&point(label, 8), 5, SearchOptions::default())
      .unwrap();
    assert_eq!(r[0].key, label);
    assert_eq!(r[0].distance, 0.0);
    assert!(r.iter().all(|n| !deleted.contains(&n.key)));
  }
  // The graph as read writes back unchanged.
  let out = hnswlib::to_bytes(&index, info.max_elements, false).unwrap();
  let (again, info2) = hnswlib::from_bytes(&out, 8, Metric::L2, 10).unwrap();
  assert_eq!(again.fingerprint(), index.fingerprint());
  assert_eq!(info2, info);
  assert_eq!(out.len(), bytes.len());
  // Same header, field for field.
  assert_eq!(out[..hnswlib::HEADER_LEN], bytes[..hnswlib::HEADER_LEN]);
}

#[test]
fn reads_a_cosine_file_as_normalised_inner_product() {
  let bytes = fixture("cosine-d8-m8.index");
  let (index, info) = hnswlib::from_bytes(&bytes, 8, Metric::Dot, 10).unwrap();
  assert_eq!((info.count, index.len()), (200, 200));
  let v = index.get(1).unwrap();
  let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
  assert!((norm - 1.0).abs() < 1e-5);
  let r = index.search(&v, 1, SearchOptions::default()).unwrap();
  assert_eq!(r[0].key, 1);
  assert!(r[0].distance.abs() < 1e-5);
}

#[test]
fn refuses_a_file_of_another_dimension() {
  let bytes = fixture("l2-d8-m8.index");
  for dim in [1, 4, 7, 9, 16] {
    match hnswlib::from_bytes(&bytes, dim, Metric::L2, 10) {
      Err(Error::DimensionMismatch { expected, got, .. }) => assert_eq!((expected, got), (dim, 8)),
      other => panic!("dim {dim}: {:?}", code(&other)),
    }
  }
}

#[test]
fn round_trips_a_ferrovec_graph_with_removed_nodes() {
  let index = built(300, 12, Metric::L2, 9);
  for k in [3u64, 10, 17, 703] {
    assert!(index.remove(k));
  }
  let bytes = hnswlib::to_bytes(&index, 1000, false).unwrap();
  let (back, info) = hnswlib::from_bytes(&bytes, 12, Metric::L2, 10).unwrap();
  assert_eq!(info.max_elements, 1000);
  assert_eq!(back.fingerprint(), index.fingerprint());
  assert_eq!(back.keys(), index.keys());
  assert_eq!(back.removed_keys(), vec![3, 10, 17, 703]);
  let mut rng = common::rng(77);
  let queries = common::random_f32(&mut rng, 20 * 12);
  for q in queries.chunks(12) {
    let opts = SearchOptions {
      ef: Some(32),
      allow: None,
      ..Default::default()
    };
    assert_eq!(
      back.search(q, 10, opts).unwrap(),
      index.search(q, 10, opts).unwrap()
    );
  }
  // max_elements below the count is raised to it, as hnswlib's loader does.
  let (_, info) =
    hnswlib::from_bytes(&hnswlib::to_bytes(&index, 5, false).unwrap(), 12, Metric::L2, 10).unwrap();
  assert_eq!(info.max_elements, 300);
}

#[test]
fn restore_brings_a_removed_node_back_as_it_was() {
  let index = built(100, 6, Metric::L2, 4);
  let before = index.fingerprint();
  assert!(index.remove(10));
  assert!(!index.restore(24).unwrap(), "a live key has nothing to restore");
  assert!(
    !index.restore(5).unwrap(),
    "a key never added has nothing to restore"
  );
  assert!(index.restore(10).unwrap());
  assert_eq!(index.fingerprint(), before);
  assert_eq!(index.len(), 100);
  // Under another key: the node keeps its vector and links.
  let v = index.get(17).unwrap();
  assert!(index.remove(17));
  assert_eq!(code(&index.restore_as(17, 24)), "ERR_DUPLICATE_KEY");
  assert!(index.restore_as(17, 5000).unwrap());
  assert_eq!(index.get(5000).unwrap(), v);
  assert!(!index.contains(17));
  assert!(index.removed_keys().is_empty());
}

#[test]
fn an_empty_index_round_trips() {
  let index = HnswIndex::<f32>::new(HnswParams::new(3, Metric::Dot)).unwrap();
  let bytes = hnswlib::to_bytes(&index, 10, false).unwrap();
  assert_eq!(bytes.len(), hnswlib::HEADER_LEN);
  let (back, info) = hnswlib::from_bytes(&bytes, 3, Metric::Dot, 10).unwrap();
  assert_eq!((back.len(), info.count, info.max_elements), (0, 0, 10));
  assert!(back
    .search(&[1.0, 0.0, 0.0], 3, SearchOptions::default())
    .unwrap()
    .is_empty());
}

#[test]
fn every_truncation_is_a_corrupt_file() {
  let bytes = fixture("l2-d8-m8.index");
  // Every prefix of the header and the first elements, then a stride through the rest.
  let cuts = (0..2000).chain((2000..bytes.len()).step_by(97));
  for cut in cuts {
    let r = hnswlib::from_bytes(&bytes[..cut], 8, Metric::L2, 10);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE", "cut at {cut}");
  }
  let mut longer = bytes.clone();
  longer.push(0);
  assert_eq!(
    code(&hnswlib::from_bytes(&longer, 8, Metric::L2, 10)),
    "ERR_CORRUPT_FILE"
  );
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
  b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn damaged_fields_are_coded_errors() {
  let good = fixture("l2-d8-m8.index");
  let size_per = 4 + 4 * 16 + 32 + 8;
  type Damage = Box<dyn Fn(&mut Vec<u8>)>;
  let damage: Vec<(&str, Damage)> = vec![
    ("offsetLevel0", Box::new(|b| put_u64(b, 0, 8))),
    (
      "cur_element_count huge",
      Box::new(|b| put_u64(b, 16, u64::MAX / 2)),
    ),
    ("cur_element_count short", Box::new(|b| put_u64(b, 16, 199))),
    ("size_data_per_element odd", Box::new(|b| put_u64(b, 24, 7))),
    ("label_offset", Box::new(|b| put_u64(b, 32, 3))),
    ("offsetData", Box::new(|b| put_u64(b, 40, 4))),
    (
      "maxlevel",
      Box::new(|b| b[48..52].copy_from_slice(&9i32.to_le_bytes())),
    ),
    (
      "enterpoint_node",
      Box::new(|b| b[52..56].copy_from_slice(&5000u32.to_le_bytes())),
    ),
    ("maxM", Box::new(|b| put_u64(b, 56, 9))),
    ("M zero", Box::new(|b| put_u64(b, 72, 0))),
    (
      "list count",
      Box::new(|b| b[96..98].copy_from_slice(&17u16.to_le_bytes())),
    ),
    (
      "neighbour id",
      Box::new(|b| b[100..104].copy_from_slice(&999u32.to_le_bytes())),
    ),
    (
      "NaN value",
      Box::new(move |b| b[96 + 68..96 + 72].copy_from_slice(&f32::NAN.to_le_bytes())),
    ),
    (
      "label > 2^53",
      Box::new(move |b| put_u64(b, 96 + size_per - 8, u64::MAX)),
    ),
    (
      "upper record size",
      Box::new(move |b| {
        let at = 96 + 200 * size_per;
        b[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
      }),
    ),
  ];
  for (what, f) in damage {
    let mut b = good.clone();
    f(&mut b);
    let r = hnswlib::from_bytes(&b, 8, Metric::L2, 10);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE", "{what}: {:?}", r.err());
  }
}

#[test]
fn random_damage_never_panics() {
  let good = fixture("l2-d8-m8.index");
  let mut rng = common::rng(5);
  use rand::Rng;
  for _ in 0..400 {
    let mut b = good.clone();
    for _ in 0..rng.random_range(1..6) {
      let at = rng.random_range(0..b.len());
      b[at] = rng.random();
    }
    if let Ok((i, _)) = hnswlib::from_bytes(&b, 8, Metric::L2, 10) {
      assert!(i.search(&point(1, 8), 5, SearchOptions::default()).is_ok());
    }
  }
}

#[test]
fn fuzz_seeds_load() {
  let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/load_hnswlib");
  let mut n = 0;
  for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
    let b = std::fs::read(entry.path()).unwrap();
    let dim = usize::from(b[0] % 16) + 1;
    let metric = if b[1] % 2 == 0 { Metric::L2 } else { Metric::Dot };
    assert_eq!(
      code(&hnswlib::from_bytes(&b[2..], dim, metric, 10)),
      "OK",
      "{}",
      entry.path().display()
    );
    n += 1;
  }
  assert!(n >= 3);
}
