//! FlatIndex and QuantizedFlatIndex opened read-only: the file is mapped, validated like a load, and
//! searches read the rows (or a quantised index's originals) through the mapping. Checked here:
//! results bit-identical to the loaded index for every kind (f32, bits, int8/binary/PQ with
//! rescoring, codes only), writes refused with `ERR_READ_ONLY` and changing nothing, damaged files
//! giving the load's very errors, memory usage reporting mapped bytes, and the file being replaced
//! while open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use ferrovec_core::flat_file::{OpenOptions, VECTORS};
use ferrovec_core::quant::{QuantOptions, QuantSpec, QuantizedFlatIndex};
use ferrovec_core::{AnyFlatIndex, Error, FlatIndex, LoadOptions, Metric};

const NO_EXPECT: LoadOptions = LoadOptions {
  dim: None,
  metric: None,
};

fn ok<T>(r: Result<T, Error>) -> T {
  r.unwrap_or_else(|e| panic!("{} {e}", e.code()))
}

fn code<T>(r: &Result<T, Error>) -> &'static str {
  match r {
    Ok(_) => "OK",
    Err(e) => e.code(),
  }
}

fn open_any(path: &Path, read_only: bool) -> Result<AnyFlatIndex, Error> {
  AnyFlatIndex::open(
    path,
    &OpenOptions {
      read_only,
      expect: NO_EXPECT,
    },
  )
}

fn f32_flat(seed: u64, n: usize, dim: usize, metric: Metric) -> FlatIndex<f32> {
  let mut idx = ok(FlatIndex::<f32>::new(dim, metric));
  let keys: Vec<u64> = (0..n as u64).map(|k| k * 3 + 1).collect();
  ok(idx.add_batch(&keys, &random_f32(&mut rng(seed), n * dim), false));
  // Removals move rows around: the file then holds rows out of key order.
  for k in keys.iter().step_by(7) {
    assert!(idx.remove(*k));
  }
  idx
}

fn bits_flat(seed: u64, n: usize, dim: usize) -> FlatIndex<u8> {
  let mut idx = ok(FlatIndex::<u8>::new(dim, Metric::Hamming));
  let keys: Vec<u64> = (0..n as u64).collect();
  ok(idx.add_batch(&keys, &random_u8(&mut rng(seed), n * dim / 8), false));
  idx
}

fn quant_flat(
  seed: u64,
  n: usize,
  dim: usize,
  metric: Metric,
  spec: QuantSpec,
  f: impl Fn(&mut QuantOptions),
) -> QuantizedFlatIndex {
  let mut o = QuantOptions::new(spec);
  o.train_after = None;
  f(&mut o);
  let mut idx = ok(QuantizedFlatIndex::new(dim, metric, o));
  let data = random_f32(&mut rng(seed), n * dim);
  if !idx.is_trained() {
    ok(idx.train(&data));
  }
  let keys: Vec<u64> = (0..n as u64).map(|k| k * 5).collect();
  ok(idx.add_batch(&keys, &data, false));
  for k in keys.iter().step_by(9) {
    assert!(idx.remove(*k));
  }
  idx
}

/// Search results (batch of several queries, one query, and an allow-list) as one comparable value.
trait Searches<Q> {
  fn results(&self, queries: &[Q], row_len: usize) -> Vec<ferrovec_core::BatchResult>;
}

macro_rules! searches {
  ($t:ty, $q:ty) => {
    impl Searches<$q> for $t {
      fn results(&self, queries: &[$q], row_len: usize) -> Vec<ferrovec_core::BatchResult> {
        let allow: Vec<u64> = self.keys().iter().copied().step_by(3).collect();
        vec![
          ok(self.search_batch(queries, 10, None)),
          ok(self.search_batch(&queries[..row_len], 7, None)),
          ok(self.search_batch(queries, 5, Some(&allow))),
          ok(self.search_batch(queries, 100_000, None)),
        ]
      }
    }
  };
}
searches!(FlatIndex<f32>, f32);
searches!(FlatIndex<u8>, u8);
searches!(QuantizedFlatIndex, f32);

#[test]
fn mapped_plain_indexes_search_exactly_like_loaded_ones() {
  let dir = tempfile::tempdir().unwrap();
  for (i, metric) in [Metric::Cosine, Metric::L2, Metric::Dot].into_iter().enumerate() {
    let dim = [7, 64, 129][i];
    let idx = f32_flat(10 + i as u64, 3000, dim, metric);
    let path = dir.path().join(format!("f32-{i}.flat"));
    ok(idx.save(&path));
    let queries = random_f32(&mut rng(99), 9 * dim);
    let loaded = ok(FlatIndex::<f32>::load(&path, &NO_EXPECT));
    let mapped = ok(FlatIndex::<f32>::open_read_only(&path, &NO_EXPECT));
    assert!(mapped.is_read_only() && !loaded.is_read_only());
    assert_eq!(
      mapped.results(&queries, dim),
      loaded.results(&queries, dim),
      "{metric:?}"
    );
    assert_eq!(
      mapped.results(&queries, dim),
      idx.results(&queries, dim),
      "{metric:?}"
    );
    assert_eq!(mapped.keys(), idx.keys());
    assert_eq!(mapped.get(4), idx.get(4));
    // Memory: the rows are the mapping's, not the heap's.
    let (m, l) = (mapped.memory_usage(), loaded.memory_usage());
    assert_eq!(m.vectors, 0, "{m:?}");
    assert_eq!(m.mapped, idx.len() * dim * 4, "{m:?}");
    assert_eq!(l.mapped, 0);
    assert_eq!(m.total + l.vectors, l.total, "total leaves the mapped rows out");
    // A copy of a mapped index shares the mapping and answers alike; its save is the same file.
    let copy = mapped.clone();
    assert_eq!(copy.results(&queries, dim), idx.results(&queries, dim));
    assert_eq!(ok(mapped.to_bytes()), ok(idx.to_bytes()));
    // Through the kind-agnostic opener too.
    match ok(open_any(&path, true)) {
      AnyFlatIndex::F32(a) => {
        assert!(a.is_read_only());
        assert_eq!(a.results(&queries, dim), idx.results(&queries, dim));
      }
      _ => panic!("wrong kind"),
    }
    assert!(!ok(open_any(&path, false)).is_read_only());
  }

  let dim = 256;
  let idx = bits_flat(20, 2500, dim);
  let path = dir.path().join("bits.flat");
  ok(idx.save(&path));
  let queries = random_u8(&mut rng(21), 6 * dim / 8);
  let mapped = ok(FlatIndex::<u8>::open_read_only(&path, &NO_EXPECT));
  let loaded = ok(FlatIndex::<u8>::load(&path, &NO_EXPECT));
  assert_eq!(
    mapped.results(&queries, dim / 8),
    loaded.results(&queries, dim / 8)
  );
  assert_eq!(mapped.memory_usage().mapped, 2500 * dim / 8);
  assert!(matches!(ok(open_any(&path, true)), AnyFlatIndex::Bits(b) if b.is_read_only()));

  // An empty index opens read-only and maps nothing.
  let empty = ok(FlatIndex::<f32>::new(4, Metric::L2));
  let path = dir.path().join("empty.flat");
  ok(empty.save(&path));
  let mapped = ok(FlatIndex::<f32>::open_read_only(&path, &NO_EXPECT));
  assert!(mapped.is_empty());
  assert_eq!(mapped.memory_usage().mapped, 0);
  assert_eq!(ok(mapped.search(&[0.0; 4], 3, None)), vec![]);
}

/// The quantised set-ups: spec, metric, and whether searches rescore.
fn quant_cases() -> Vec<(&'static str, QuantizedFlatIndex)> {
  let dim = 64;
  vec![
    (
      "int8 + rescore",
      quant_flat(
        30,
        2000,
        dim,
        Metric::L2,
        QuantSpec::Int8 { quantile: 0.999 },
        |o| o.oversample = 4.0,
      ),
    ),
    (
      "binary + rescore",
      quant_flat(
        31,
        2000,
        dim,
        Metric::Cosine,
        QuantSpec::Binary { center: true },
        |_| {},
      ),
    ),
    (
      "pq + rescore",
      quant_flat(
        32,
        1200,
        dim,
        Metric::Dot,
        QuantSpec::Pq {
          m: 8,
          iterations: 4,
          sample: 1000,
        },
        |_| {},
      ),
    ),
    (
      "f16",
      quant_flat(33, 1500, dim, Metric::Cosine, QuantSpec::F16, |_| {}),
    ),
    (
      "binary, originals dropped",
      quant_flat(
        34,
        2000,
        dim,
        Metric::Dot,
        QuantSpec::Binary { center: false },
        |o| o.keep_originals = false,
      ),
    ),
    (
      "int8, originals dropped",
      quant_flat(
        35,
        2000,
        dim,
        Metric::Cosine,
        QuantSpec::Int8 { quantile: 0.99 },
        |o| o.keep_originals = false,
      ),
    ),
  ]
}

#[test]
fn mapped_quantised_indexes_rescore_exactly_like_loaded_ones() {
  let dir = tempfile::tempdir().unwrap();
  let dim = 64;
  let queries = random_f32(&mut rng(77), 20 * dim);
  for (name, idx) in quant_cases() {
    let path = dir.path().join("q.flat");
    ok(idx.save(&path));
    let loaded = match ok(open_any(&path, false)) {
      AnyFlatIndex::Quant(q) => q,
      _ => panic!("{name}: wrong kind"),
    };
    let mapped = ok(QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT));
    assert!(mapped.is_read_only(), "{name}");
    assert_eq!(
      mapped.results(&queries, dim),
      loaded.results(&queries, dim),
      "{name}"
    );
    assert_eq!(
      mapped.results(&queries, dim),
      idx.results(&queries, dim),
      "{name}"
    );
    assert_eq!(mapped.codes(), idx.codes(), "{name}");
    for k in [0, 5, 10, 4995] {
      assert_eq!(mapped.get(k), idx.get(k), "{name}: get({k})");
    }
    let (m, l) = (mapped.memory_usage(), loaded.memory_usage());
    assert_eq!(m.codes, l.codes, "{name}: codes are copied into memory");
    assert_eq!(m.originals, 0, "{name}: {m:?}");
    if idx.has_originals() {
      assert!(mapped.originals_mapped(), "{name}");
      assert_eq!(m.mapped, idx.len() * dim * 4, "{name}: {m:?}");
      assert_eq!(m.total + l.originals, l.total, "{name}");
    } else {
      // keepOriginals false: codes only, nothing mapped, exactly the loaded index's footprint.
      assert!(!mapped.originals_mapped() && !mapped.has_originals(), "{name}");
      assert_eq!(m.mapped, 0, "{name}");
      assert_eq!(m, l, "{name}");
    }
    assert_eq!(
      ok(mapped.to_bytes()),
      ok(idx.to_bytes()),
      "{name}: a copy saves the same file"
    );
    assert!(matches!(ok(open_any(&path, true)), AnyFlatIndex::Quant(q) if q.is_read_only()));
  }
}

#[test]
fn writes_to_a_read_only_index_are_refused_and_change_nothing() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("ro.flat");
  let dim = 16;
  ok(f32_flat(40, 300, dim, Metric::Cosine).save(&path));
  let mut ro = ok(FlatIndex::<f32>::open_read_only(&path, &NO_EXPECT));
  let before = ok(ro.to_bytes());
  let row = vec![0.25f32; dim];
  let first = ro.keys()[0];
  for (what, r) in [
    ("add", ro.add(1_000_000, &row, false)),
    ("add", ro.add(first, &row, true)),
    (
      "add",
      ro.add_batch(
        &[7_000_000, 7_000_001],
        &[row.clone(), row.clone()].concat(),
        false,
      ),
    ),
    ("remove", ro.try_remove(first).map(|_| ())),
  ] {
    assert_eq!(code(&r), "ERR_READ_ONLY", "{what}");
    assert!(r.unwrap_err().to_string().contains(what), "{what}");
  }
  // Removing a key that is absent is refused too: a read-only index takes no writes at all.
  assert_eq!(code(&ro.try_remove(123_456_789)), "ERR_READ_ONLY");
  assert!(!ro.remove(first), "remove reports nothing removed");
  assert!(ro.contains(first));
  assert_eq!(ok(ro.to_bytes()), before, "refused writes change nothing");

  // Quantised: add, remove and train are refused; the oversample (a search setting) is not.
  let q = quant_flat(
    41,
    500,
    dim,
    Metric::L2,
    QuantSpec::Int8 { quantile: 0.999 },
    |_| {},
  );
  ok(q.save(&path));
  let mut ro = ok(QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT));
  let before = ok(ro.to_bytes());
  let k0 = ro.keys()[0];
  for (what, r) in [
    ("add", ro.add_batch(&[1_000_000], &row, false)),
    ("add", ro.add_batch(&[k0], &row, true)),
    ("remove", ro.try_remove(k0).map(|_| ())),
    ("train", ro.train(&random_f32(&mut rng(1), 64 * dim))),
  ] {
    assert_eq!(code(&r), "ERR_READ_ONLY", "{what}");
  }
  assert!(!ro.remove(k0));
  assert_eq!(ok(ro.to_bytes()), before, "refused writes change nothing");
  ok(ro.set_oversample(3.0));
  assert_eq!(ro.options().oversample, 3.0);

  // An untrained file: train() is a write, so it is refused (and searches say not trained).
  let mut o = QuantOptions::new(QuantSpec::Int8 { quantile: 0.999 });
  o.train_after = None;
  let untrained = ok(QuantizedFlatIndex::new(dim, Metric::L2, o));
  ok(untrained.save(&path));
  let mut ro = ok(QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT));
  assert_eq!(
    code(&ro.train(&random_f32(&mut rng(2), 64 * dim))),
    "ERR_READ_ONLY"
  );
  assert_eq!(code(&ro.search(&row, 1, None)), "ERR_NOT_TRAINED");
}

/// A flat file with one section's bytes replaced and the checksums recomputed (valid container,
/// invalid contents).
fn edited(bytes: &[u8], id: ferrovec_core::format::Tag, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
  common::rewritten(bytes, |t, mut data| {
    if t == id {
      edit(&mut data);
    }
    Some(data)
  })
}

/// Loading and opening read-only `bytes` (written to `path`) fail alike: same code, same message.
fn same_failure(path: &Path, bytes: &[u8], what: &str) {
  std::fs::write(path, bytes).unwrap();
  let load = open_any(path, false).map(|_| ());
  let open = open_any(path, true).map(|_| ());
  assert_ne!(code(&load), "OK", "{what}");
  assert_eq!(code(&open), code(&load), "{what}");
  assert_eq!(
    open.unwrap_err().to_string(),
    load.unwrap_err().to_string(),
    "{what}"
  );
}

#[test]
fn damaged_files_fail_to_open_exactly_as_they_fail_to_load() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("bad.flat");
  let files = [
    ("f32", ok(f32_flat(50, 40, 5, Metric::L2).to_bytes())),
    ("bits", ok(bits_flat(51, 30, 24).to_bytes())),
    (
      "int8",
      ok(quant_flat(52, 64, 8, Metric::L2, QuantSpec::Int8 { quantile: 0.999 }, |_| {}).to_bytes()),
    ),
    (
      "binary, dropped",
      ok(
        quant_flat(
          53,
          64,
          8,
          Metric::Cosine,
          QuantSpec::Binary { center: true },
          |o| o.keep_originals = false,
        )
        .to_bytes(),
      ),
    ),
  ];
  for (name, bytes) in &files {
    // Truncated anywhere.
    for len in (0..bytes.len()).step_by(13).chain([bytes.len() - 1]) {
      same_failure(&path, &bytes[..len], &format!("{name} truncated to {len}"));
    }
    // One flipped bit in every 7th byte (header, table, every section, padding).
    for i in (0..bytes.len()).step_by(7) {
      let mut b = bytes.clone();
      b[i] ^= 0x10;
      same_failure(&path, &b, &format!("{name}: byte {i} flipped"));
    }
  }
  // Valid checksums, invalid contents: a NaN row, a short VECS, a duplicate key.
  let (_, f32_bytes) = &files[0];
  let nan = edited(f32_bytes, VECTORS, |d| {
    d[8..12].copy_from_slice(&f32::NAN.to_le_bytes())
  });
  same_failure(&path, &nan, "NaN row");
  std::fs::write(&path, &nan).unwrap();
  assert_eq!(
    code(&FlatIndex::<f32>::open_read_only(&path, &NO_EXPECT)),
    "ERR_CORRUPT_FILE"
  );
  same_failure(
    &path,
    &edited(f32_bytes, VECTORS, |d| d.truncate(d.len() - 4)),
    "short VECS",
  );
  same_failure(
    &path,
    &edited(f32_bytes, ferrovec_core::flat_file::KEYS, |d| {
      let first: [u8; 8] = d[..8].try_into().unwrap();
      d[8..16].copy_from_slice(&first);
    }),
    "duplicate key",
  );
  let (_, q_bytes) = &files[2];
  let nan = edited(q_bytes, VECTORS, |d| {
    d[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes())
  });
  same_failure(&path, &nan, "quantised: infinite original");
  std::fs::write(&path, &nan).unwrap();
  assert_eq!(
    code(&QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT)),
    "ERR_CORRUPT_FILE"
  );
  same_failure(
    &path,
    &edited(q_bytes, VECTORS, |d| d.clear()),
    "quantised: originals missing",
  );

  // Not what the caller expects, the wrong index type, no file at all.
  std::fs::write(&path, f32_bytes).unwrap();
  let dim9 = LoadOptions {
    dim: Some(9),
    metric: None,
  };
  assert_eq!(
    code(&FlatIndex::<f32>::open_read_only(&path, &dim9)),
    "ERR_DIMENSION_MISMATCH"
  );
  let cos = LoadOptions {
    dim: None,
    metric: Some(Metric::Cosine),
  };
  assert_eq!(
    code(&FlatIndex::<f32>::open_read_only(&path, &cos)),
    "ERR_INVALID_ARGUMENT"
  );
  assert_eq!(
    code(&FlatIndex::<u8>::open_read_only(&path, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );
  assert_eq!(
    code(&QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );
  std::fs::write(&path, q_bytes).unwrap();
  assert_eq!(
    code(&FlatIndex::<f32>::open_read_only(&path, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );
  let missing = dir.path().join("missing.flat");
  let r = FlatIndex::<f32>::open_read_only(&missing, &NO_EXPECT);
  assert_eq!(code(&r), "ERR_IO");
  assert!(r.unwrap_err().to_string().contains("missing.flat"));
}

#[test]
fn a_read_only_index_survives_its_file_being_replaced_and_saves_a_copy() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("replaced.flat");
  let dim = 12;
  let idx = quant_flat(
    60,
    800,
    dim,
    Metric::Cosine,
    QuantSpec::Binary { center: true },
    |o| o.oversample = 8.0,
  );
  ok(idx.save(&path));
  let ro = ok(QuantizedFlatIndex::open_read_only(&path, &NO_EXPECT));
  let queries = random_f32(&mut rng(61), 4 * dim);
  let want = idx.results(&queries, dim);
  // A save over the open file replaces it by rename: the mapping keeps reading the old one.
  ok(f32_flat(62, 10, dim, Metric::L2).save(&path));
  assert_eq!(ro.results(&queries, dim), want);
  assert_eq!(ok(FlatIndex::<f32>::load(&path, &NO_EXPECT)).len(), 8);
  // The read-only index saves a copy (over its own file, too), which loads writable.
  ok(ro.save(&path));
  let back = match ok(open_any(&path, false)) {
    AnyFlatIndex::Quant(q) => q,
    _ => panic!("wrong kind"),
  };
  assert!(!back.is_read_only());
  assert_eq!(back.results(&queries, dim), want);
}
