//! HnswIndex persistence: round trips (every metric, with tombstones, after compaction, mapped
//! read-only), and every kind of damage — truncation, flipped bytes, foreign or future files, and
//! structurally invalid graphs behind valid checksums — giving a coded error, never a panic, up to
//! a seeded mutation fuzz of valid files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use ferrovec_core::format::{self, kind, Container, Tag, Writer};
use ferrovec_core::hnsw::{AnyHnswIndex, HnswParams, OpenOptions, SearchOptions};
use ferrovec_core::{Element, Error, FlatIndex, HnswIndex, LoadOptions, Metric};
use rand::Rng;

const NO_EXPECT: LoadOptions = LoadOptions {
  dim: None,
  metric: None,
};

fn ok<T>(r: Result<T, Error>) -> T {
  r.unwrap_or_else(|e| panic!("{e}"))
}

fn code<T>(r: &Result<T, Error>) -> &'static str {
  match r {
    Ok(_) => "OK",
    Err(e) => e.code(),
  }
}

fn err_msg<T>(r: Result<T, Error>) -> String {
  match r {
    Ok(_) => panic!("expected an error"),
    Err(e) => e.to_string(),
  }
}

fn params(dim: usize, metric: Metric, m: usize, seed: u64) -> HnswParams {
  HnswParams {
    m,
    ef_construction: 64,
    ef_search: 48,
    seed,
    capacity: 16,
    build_threads: 1,
    ..HnswParams::new(dim, metric)
  }
}

fn f32_index(seed: u64, n: usize, dim: usize, metric: Metric, m: usize) -> HnswIndex<f32> {
  let mut r = rng(seed);
  let idx = ok(HnswIndex::<f32>::new(params(dim, metric, m, seed)));
  let mut data = random_f32(&mut r, n * dim);
  if metric == Metric::Dot {
    for row in data.chunks_mut(dim) {
      let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
      row.iter_mut().for_each(|x| *x /= norm);
    }
  }
  let keys: Vec<u64> = (0..n as u64).map(|i| i * 7 + 3).collect();
  ok(idx.add_batch(&keys, &data, false));
  idx
}

fn bits_index(seed: u64, n: usize, dim: usize, m: usize) -> HnswIndex<u8> {
  let mut r = rng(seed);
  let idx = ok(HnswIndex::<u8>::new(params(dim, Metric::Hamming, m, seed)));
  let data = random_u8(&mut r, n * dim / 8);
  let keys: Vec<u64> = (0..n as u64).map(|i| (1 << 53) - 1 - i).collect();
  ok(idx.add_batch(&keys, &data, false));
  idx
}

/// Same graph, parameters, keys and search results (with their costs) for the same queries.
fn same<T: Element>(a: &HnswIndex<T>, b: &HnswIndex<T>, queries: &[T]) {
  assert_eq!(a.fingerprint(), b.fingerprint(), "graphs differ");
  assert_eq!(a.params().ef_search, b.params().ef_search);
  let (pa, pb) = (a.params(), b.params());
  assert_eq!(
    (pa.dim, pa.metric, pa.m, pa.ef_construction, pa.seed),
    (pb.dim, pb.metric, pb.m, pb.ef_construction, pb.seed)
  );
  assert_eq!((a.len(), a.deleted_count()), (b.len(), b.deleted_count()));
  assert_eq!(a.keys(), b.keys());
  let k = 10;
  let opts = SearchOptions::default();
  let (ra, sa) = ok(a.search_batch(queries, k, opts));
  let (rb, sb) = ok(b.search_batch(queries, k, opts));
  assert_eq!(ra, rb);
  assert_eq!(sa, sb);
  let allow: Vec<u64> = a.keys().into_iter().step_by(3).collect();
  let f = SearchOptions {
    ef: Some(20),
    allow: Some(&allow),
    ..Default::default()
  };
  assert_eq!(
    ok(a.search_batch(queries, k, f)).0,
    ok(b.search_batch(queries, k, f)).0
  );
}

fn remove_some<T: Element>(idx: &HnswIndex<T>, every: usize) {
  for (i, k) in idx.keys().into_iter().enumerate() {
    if i % every == 1 {
      assert!(idx.remove(k));
    }
  }
}

/// Every route to a file: bytes, save/load, open read-only (mapped), and the kind-agnostic loaders.
fn round_trip_all_ways<T: format::FileElement>(idx: &HnswIndex<T>, queries: &[T], dir: &Path, name: &str) {
  let bytes = ok(idx.to_bytes());
  same(idx, &ok(HnswIndex::<T>::from_bytes(&bytes, &NO_EXPECT)), queries);
  let path = dir.join(name);
  ok(idx.save(&path));
  assert_eq!(
    std::fs::read(&path).ok(),
    Some(bytes.clone()),
    "save writes to_bytes"
  );
  same(idx, &ok(HnswIndex::<T>::load(&path, &NO_EXPECT)), queries);
  let mapped = ok(HnswIndex::<T>::open_read_only(&path, &NO_EXPECT));
  assert!(mapped.is_read_only());
  same(idx, &mapped, queries);
  let mem = mapped.memory_usage();
  assert!(
    idx.is_empty() && idx.deleted_count() == 0 || mem.mapped > 0 && mem.vectors == 0,
    "vectors are served from the mapping: {mem:?}"
  );
  // The mapped index saves a copy identical to the original.
  assert_eq!(ok(mapped.to_bytes()), bytes);
  for ro in [false, true] {
    let any = ok(AnyHnswIndex::open(
      &path,
      &OpenOptions {
        read_only: ro,
        expect: NO_EXPECT,
      },
    ));
    assert_eq!(ok(any.to_bytes()), bytes);
  }
  assert_eq!(
    ok(ok(AnyHnswIndex::from_bytes(&bytes, &NO_EXPECT)).to_bytes()),
    bytes
  );
}

#[test]
fn round_trip_gives_the_same_graph_and_results_for_every_metric() {
  let dir = tempfile::tempdir().unwrap();
  for (i, metric) in [Metric::Cosine, Metric::Dot, Metric::L2].into_iter().enumerate() {
    for (m, n) in [(16usize, 700usize), (2, 150)] {
      let idx = f32_index(i as u64 + 10 * m as u64, n, 24, metric, m);
      ok(idx.set_ef_search(77));
      let q = random_f32(&mut rng(99 + i as u64), 12 * 24);
      round_trip_all_ways(&idx, &q, dir.path(), &format!("{i}-{m}.hnsw"));
      // With tombstones.
      remove_some(&idx, 4);
      round_trip_all_ways(&idx, &q, dir.path(), &format!("{i}-{m}-del.hnsw"));
      // After compaction.
      assert!(ok(idx.compact()) > 0);
      round_trip_all_ways(&idx, &q, dir.path(), &format!("{i}-{m}-compact.hnsw"));
    }
  }
  let bits = bits_index(5, 500, 128, 8);
  let q = random_u8(&mut rng(6), 9 * 16);
  round_trip_all_ways(&bits, &q, dir.path(), "bits.hnsw");
  remove_some(&bits, 3);
  round_trip_all_ways(&bits, &q, dir.path(), "bits-del.hnsw");
  // A removed key added again: a tombstoned slot and a live one share the key.
  let k = bits.keys()[0];
  assert!(bits.remove(k));
  ok(bits.add(k, &random_u8(&mut rng(7), 16), false));
  round_trip_all_ways(&bits, &q, dir.path(), "bits-readd.hnsw");
}

#[test]
fn empty_and_all_removed_indexes_round_trip() {
  let dir = tempfile::tempdir().unwrap();
  let empty = ok(HnswIndex::<f32>::new(params(3, Metric::L2, 4, 1)));
  let q = [0.1f32, 0.2, 0.3];
  round_trip_all_ways(&empty, &q, dir.path(), "empty.hnsw");
  let back = ok(HnswIndex::<f32>::from_bytes(&ok(empty.to_bytes()), &NO_EXPECT));
  assert!(back.is_empty());
  ok(back.add(1, &q, false));
  assert_eq!(ok(back.search(&q, 1, SearchOptions::default()))[0].key, 1);

  let idx = f32_index(3, 40, 3, Metric::L2, 4);
  for k in idx.keys() {
    idx.remove(k);
  }
  round_trip_all_ways(&idx, &q, dir.path(), "all-removed.hnsw");
  assert!(ok(idx.search(&q, 3, SearchOptions::default())).is_empty());
}

#[test]
fn a_loaded_index_continues_exactly_like_one_never_saved() {
  // Levels come from the saved rng state, so a seeded single-thread build is reproducible across a save.
  let mut r = rng(40);
  let (dim, n) = (16, 600);
  let data = random_f32(&mut r, 2 * n * dim);
  let keys: Vec<u64> = (0..2 * n as u64).collect();
  let whole = ok(HnswIndex::<f32>::new(params(dim, Metric::L2, 8, 41)));
  ok(whole.add_batch(&keys[..n], &data[..n * dim], false));
  let bytes = ok(whole.to_bytes());
  ok(whole.add_batch(&keys[n..], &data[n * dim..], false));

  let resumed = ok(ok(HnswIndex::<f32>::from_bytes(&bytes, &NO_EXPECT)).with_build_threads(1));
  ok(resumed.add_batch(&keys[n..], &data[n * dim..], false));
  same(&whole, &resumed, &data[..10 * dim]);
  // Loaded indexes stay writable: upsert, remove, compact, save again.
  ok(resumed.add(0, &data[dim..2 * dim], true));
  assert!(resumed.remove(5));
  ok(resumed.compact());
  let again = ok(HnswIndex::<f32>::from_bytes(&ok(resumed.to_bytes()), &NO_EXPECT));
  same(&resumed, &again, &data[..10 * dim]);
}

#[test]
fn read_only_open_refuses_writes_and_survives_the_file_being_replaced() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("ro.hnsw");
  let idx = f32_index(50, 400, 8, Metric::Cosine, 8);
  ok(idx.save(&path));
  let ro = ok(HnswIndex::<f32>::open_read_only(&path, &NO_EXPECT));
  let before = ro.fingerprint();
  let row = vec![0.5f32; 8];
  for (what, r) in [
    ("add", ro.add(1_000_000, &row, false).map(|_| ())),
    ("add", ro.add(3, &row, true).map(|_| ())),
    ("remove", ro.try_remove(3).map(|_| ())),
    ("compact", ro.compact().map(|_| ())),
  ] {
    assert_eq!(code(&r), "ERR_READ_ONLY", "{what}");
    assert!(err_msg(r).contains(what), "{what}");
  }
  assert!(!ro.remove(3), "remove reports nothing removed");
  assert!(ro.contains(3));
  assert_eq!(ro.fingerprint(), before, "refused writes change nothing");
  // efSearch is a search setting, not a write to the file.
  ok(ro.set_ef_search(10));

  // Saving a different index over the open file replaces it by rename: the mapping keeps the old one.
  let q = random_f32(&mut rng(51), 5 * 8);
  let want = ok(idx.search_batch(&q, 5, SearchOptions::default())).0;
  ok(f32_index(52, 30, 8, Metric::Cosine, 4).save(&path));
  ok(ro.set_ef_search(48));
  assert_eq!(ok(ro.search_batch(&q, 5, SearchOptions::default())).0, want);
  assert_eq!(ok(HnswIndex::<f32>::load(&path, &NO_EXPECT)).len(), 30);
  // And a read-only index can save itself (a copy) over its own file.
  ok(ro.save(&path));
  same(&idx, &ok(HnswIndex::<f32>::load(&path, &NO_EXPECT)), &q);
}

#[test]
fn saving_during_a_batch_insert_writes_a_consistent_snapshot() {
  use std::sync::Arc;
  let dim = 16;
  let idx = Arc::new(f32_index(60, 300, dim, Metric::L2, 8));
  let mut r = rng(61);
  let batches: Vec<(Vec<u64>, Vec<f32>)> = (0..4)
    .map(|b| {
      let keys = (0..1500u64).map(|i| 10_000 * (b + 1) + i).collect();
      (keys, random_f32(&mut r, 1500 * dim))
    })
    .collect();
  let writer = {
    let idx = idx.clone();
    std::thread::spawn(move || {
      for (keys, rows) in &batches {
        idx.add_batch(keys, rows, false).unwrap();
      }
    })
  };
  let mut sizes = Vec::new();
  let q = random_f32(&mut rng(62), 3 * dim);
  while !writer.is_finished() || sizes.is_empty() {
    let bytes = ok(idx.to_bytes());
    let back = ok(HnswIndex::<f32>::from_bytes(&bytes, &NO_EXPECT));
    // Whole batches only, and every stored key findable by an exact filter.
    assert_eq!((back.len() - 300) % 1500, 0, "a batch was saved half-linked");
    let some: Vec<u64> = back.keys().into_iter().rev().take(3).collect();
    let hits = ok(back.search(
      &q[..dim],
      3,
      SearchOptions {
        ef: None,
        allow: Some(&some),
        ..Default::default()
      },
    ));
    assert_eq!(hits.len(), 3);
    sizes.push(back.len());
  }
  writer.join().unwrap();
  println!("snapshot sizes: {sizes:?}");
}

/// A small file of each kind, for the exhaustive damage tests.
fn small_files() -> Vec<(&'static str, Vec<u8>)> {
  let f = f32_index(11, 20, 3, Metric::Cosine, 2);
  remove_some(&f, 5);
  vec![
    ("f32", ok(f.to_bytes())),
    ("bits", ok(bits_index(12, 12, 16, 3).to_bytes())),
  ]
}

fn load_any(bytes: &[u8]) -> Result<AnyHnswIndex, Error> {
  AnyHnswIndex::from_bytes(bytes, &NO_EXPECT)
}

#[test]
fn truncation_at_every_offset_is_a_corrupt_file() {
  for (name, bytes) in small_files() {
    for len in 0..bytes.len() {
      assert_eq!(
        code(&load_any(&bytes[..len])),
        "ERR_CORRUPT_FILE",
        "{name} truncated to {len}"
      );
    }
    assert!(err_msg(load_any(&bytes[..bytes.len() - 1])).contains("truncated"));
  }
  // Through the file loaders too (read and mapped), with the path in the message.
  let dir = tempfile::tempdir().unwrap();
  let (_, bytes) = &small_files()[0];
  let path = dir.path().join("cut.hnsw");
  for len in [0, 7, 64, 100, bytes.len() / 2, bytes.len() - 1] {
    std::fs::write(&path, &bytes[..len]).unwrap();
    let r = HnswIndex::<f32>::load(&path, &NO_EXPECT);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE");
    assert!(err_msg(r).contains("cut.hnsw"));
    assert_eq!(
      code(&HnswIndex::<f32>::open_read_only(&path, &NO_EXPECT)),
      "ERR_CORRUPT_FILE"
    );
  }
}

#[test]
fn a_flipped_byte_in_every_section_is_detected() {
  for (name, bytes) in small_files() {
    let c = ok(Container::parse(&bytes[..]));
    let ids: Vec<String> = c.entries().iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
      ids.join(","),
      "\"PARM\",\"KEYS\",\"TOMB\",\"LEVL\",\"LNK0\",\"LNKU\",\"VECS\""
    );
    for i in 0..bytes.len() {
      for mask in [0x01u8, 0x80] {
        let mut b = bytes.clone();
        b[i] ^= mask;
        let r = load_any(&b);
        let want = if (8..10).contains(&i) {
          "ERR_UNSUPPORTED_VERSION"
        } else {
          "ERR_CORRUPT_FILE"
        };
        assert_eq!(code(&r), want, "{name}: byte {i} ^ {mask:#x}");
        if let Some(e) = c
          .entries()
          .iter()
          .find(|e| (e.offset..e.offset + e.len).contains(&(i as u64)))
        {
          let msg = err_msg(r);
          assert!(
            msg.contains(&e.id.to_string()) && msg.contains("checksum mismatch"),
            "{msg}"
          );
        }
      }
    }
  }
}

#[test]
fn foreign_future_and_mismatched_files_get_their_own_codes() {
  let (_, bytes) = &small_files()[0];
  let mut b = bytes.clone();
  b[0..6].copy_from_slice(b"GIF89a");
  let r = load_any(&b);
  assert_eq!(code(&r), "ERR_CORRUPT_FILE");
  assert!(err_msg(r).contains("not a ferrovec file"));

  // A future major version, written with the real writer.
  let c = ok(Container::parse(&bytes[..]));
  let mut w = Writer::new(kind::HNSW).with_version(format::MAJOR + 1, 0, 0);
  for e in c.entries() {
    w.section(e.id, ok(c.require(e.id)).to_vec());
  }
  let r = load_any(&ok(w.to_bytes()));
  assert_eq!(code(&r), "ERR_UNSUPPORTED_VERSION");
  assert!(err_msg(r).contains(&format!("version {}.0", format::MAJOR + 1)));

  // Expectations: dim and metric.
  let want = |dim, metric| LoadOptions { dim, metric };
  let r = HnswIndex::<f32>::from_bytes(bytes, &want(Some(4), None));
  assert_eq!(code(&r), "ERR_DIMENSION_MISMATCH");
  assert!(err_msg(r).contains("expected 4, got 3"));
  assert_eq!(
    code(&HnswIndex::<f32>::from_bytes(
      bytes,
      &want(None, Some(Metric::L2))
    )),
    "ERR_INVALID_ARGUMENT"
  );
  assert_eq!(
    code(&HnswIndex::<f32>::from_bytes(
      bytes,
      &want(Some(3), Some(Metric::Cosine))
    )),
    "OK"
  );
  // The other element type.
  assert_eq!(
    code(&HnswIndex::<u8>::from_bytes(bytes, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );

  // A FlatIndex file is refused by the HNSW loaders as the wrong kind, and vice versa.
  let mut flat = ok(FlatIndex::<f32>::new(3, Metric::Cosine));
  ok(flat.add(1, &[1.0, 2.0, 3.0], false));
  let fb = ok(flat.to_bytes());
  let r = HnswIndex::<f32>::from_bytes(&fb, &NO_EXPECT);
  assert_eq!(code(&r), "ERR_INVALID_ARGUMENT");
  assert!(err_msg(r).contains("kind \"FLAT\""));
  assert_eq!(code(&load_any(&fb)), "ERR_INVALID_ARGUMENT");
  assert_eq!(
    code(&ferrovec_core::AnyFlatIndex::from_bytes(bytes, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );

  let dir = tempfile::tempdir().unwrap();
  let missing = dir.path().join("nope.hnsw");
  let r = HnswIndex::<f32>::open_read_only(&missing, &NO_EXPECT);
  assert_eq!(code(&r), "ERR_IO");
  assert!(err_msg(r).contains("nope.hnsw"));
}

/// Rewrites a valid file with `edit` applied to its sections, keeping every checksum valid: what a
/// buggy or hostile writer could produce.
fn edited(bytes: &[u8], edit: impl Fn(Tag, &mut Vec<u8>)) -> Vec<u8> {
  common::rewritten(bytes, |t, mut data| {
    edit(t, &mut data);
    Some(data)
  })
}

fn put_u32(d: &mut [u8], at: usize, v: u32) {
  d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(d: &mut [u8], at: usize, v: u64) {
  d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(d: &[u8], at: usize) -> u32 {
  u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}

#[test]
fn structurally_invalid_graphs_with_valid_checksums_are_corrupt() {
  // m = 2 (level 0 holds 4), 30 nodes with a few on upper levels, some removed.
  let idx = f32_index(70, 30, 3, Metric::L2, 2);
  remove_some(&idx, 6);
  let good = ok(idx.to_bytes());
  assert_eq!(code(&load_any(&edited(&good, |_, _| {}))), "OK");
  let c = ok(Container::parse(&good[..]));
  let parm = ok(c.require(Tag(*b"PARM"))).to_vec();
  let levels = ok(c.require(Tag(*b"LEVL"))).to_vec();
  let entry = u64::from_le_bytes(parm[64..72].try_into().unwrap()) as usize;
  let max_level = get_u32(&parm, 28);
  assert!(max_level >= 1, "the test graph needs an upper level");
  let stride0 = 4 * (1 + 4);
  let low = levels.iter().position(|&l| l == 0).unwrap();
  let upper_node = levels.iter().position(|&l| l >= 1).unwrap();
  // Node 0's level-0 list (non-empty in a graph this size).
  let l0 = ok(c.require(Tag(*b"LNK0"))).to_vec();
  assert!(get_u32(&l0, 0) >= 2);
  let first = get_u32(&l0, 4);

  type Edit = Box<dyn Fn(Tag, &mut Vec<u8>)>;
  type SectionEdit = Box<dyn Fn(&mut Vec<u8>)>;
  let on = |id: &'static [u8; 4], f: SectionEdit| -> Edit {
    Box::new(move |t: Tag, d: &mut Vec<u8>| {
      if t == Tag(*id) {
        f(d)
      }
    })
  };
  let cases: Vec<(&str, Edit)> = vec![
    (
      "\"LNK0\": neighbour: node 0, level 0: neighbour 30 is not a node",
      on(b"LNK0", Box::new(|d| put_u32(d, 4, 30))),
    ),
    (
      "\"LNK0\": neighbour: node 0, level 0: the node links to itself",
      on(b"LNK0", Box::new(|d| put_u32(d, 4, 0))),
    ),
    (
      "\"LNK0\": neighbour: node 0, level 0: neighbour",
      on(
        b"LNK0",
        Box::new(move |d| {
          let a = get_u32(d, 4);
          put_u32(d, 8, a);
        }),
      ),
    ),
    (
      "\"LNK0\": list length: node 0, level 0: 5 neighbours",
      on(b"LNK0", Box::new(|d| put_u32(d, 0, 5))),
    ),
    (
      "\"LNK0\": list length: node 1, level 0: 4294967295",
      on(b"LNK0", Box::new(move |d| put_u32(d, stride0, u32::MAX))),
    ),
    (
      "\"LNK0\": unused words",
      on(
        b"LNK0",
        Box::new(move |d| {
          let n = get_u32(d, 0);
          if n < 4 {
            put_u32(d, 4 + 4 * n as usize, first);
          } else {
            put_u32(d, 0, 1);
          }
        }),
      ),
    ),
    (
      "\"LNKU\": neighbour",
      on(
        b"LNKU",
        Box::new(move |d| {
          // The first upper list gets a level-0-only node as a neighbour.
          put_u32(d, 0, 1);
          put_u32(d, 4, low as u32);
          for w in 2..3 {
            put_u32(d, 4 * w, 0);
          }
        }),
      ),
    ),
    (
      "\"LNKU\": list length",
      on(b"LNKU", Box::new(|d| put_u32(d, 0, 3))),
    ),
    (
      "\"PARM\": entry: entry point 30 is not a node",
      on(b"PARM", Box::new(|d| put_u64(d, 64, 30))),
    ),
    (
      "\"PARM\": entry: entry point",
      on(b"PARM", Box::new(move |d| put_u64(d, 64, low as u64))),
    ),
    (
      "\"LEVL\": level: node",
      on(b"LEVL", Box::new(move |d| d[low] = max_level as u8 + 1)),
    ),
    // One more upper list recorded and stored than the levels account for.
    (
      "\"PARM\": upper: 31 upper lists recorded, but the levels add up to 30",
      Box::new(|t: Tag, d: &mut Vec<u8>| {
        if t == Tag(*b"PARM") {
          let u = u64::from_le_bytes(d[72..80].try_into().unwrap());
          put_u64(d, 72, u + 1);
        } else if t == Tag(*b"LNKU") {
          d.extend_from_slice(&[0; 12]);
        }
      }),
    ),
    (
      "\"PARM\": max_level",
      on(b"PARM", Box::new(|d| put_u32(d, 28, 31))),
    ),
    ("\"PARM\": m", on(b"PARM", Box::new(|d| put_u32(d, 16, 1)))),
    ("\"PARM\": m", on(b"PARM", Box::new(|d| put_u32(d, 16, 100_000)))),
    (
      "\"PARM\": ef_search",
      on(b"PARM", Box::new(|d| put_u32(d, 24, 0))),
    ),
    (
      "\"PARM\": ef_construction",
      on(b"PARM", Box::new(|d| put_u32(d, 20, u32::MAX))),
    ),
    ("\"PARM\": live", on(b"PARM", Box::new(|d| put_u64(d, 56, 31)))),
    (
      "\"PARM\": count",
      on(b"PARM", Box::new(|d| put_u64(d, 48, u64::MAX))),
    ),
    ("\"PARM\": metric", on(b"PARM", Box::new(|d| put_u32(d, 0, 77)))),
    ("\"PARM\": element", on(b"PARM", Box::new(|d| put_u32(d, 4, 9)))),
    (
      "\"PARM\": dim/metric/element",
      on(b"PARM", Box::new(|d| put_u32(d, 0, 4))),
    ),
    ("\"PARM\": length", on(b"PARM", Box::new(|d| d.push(0)))),
    (
      "\"KEYS\": length",
      on(b"KEYS", Box::new(|d| d.truncate(d.len() - 8))),
    ),
    (
      "\"KEYS\": key: key 9007199254740992",
      on(b"KEYS", Box::new(|d| put_u64(d, 0, 1 << 53))),
    ),
    (
      "\"KEYS\": key: key 3 is held by two live nodes",
      on(b"KEYS", Box::new(|d| put_u64(d, 8 * 2, 3))),
    ),
    (
      "\"TOMB\": bitmap: 0 slots are marked removed",
      on(b"TOMB", Box::new(|d| d.iter_mut().for_each(|x| *x = 0))),
    ),
    (
      "\"TOMB\": bitmap: bits past the 30 slots",
      on(b"TOMB", Box::new(|d| d[7] |= 0x80)),
    ),
    (
      "\"TOMB\": length",
      on(b"TOMB", Box::new(|d| d.extend_from_slice(&[0; 8]))),
    ),
    (
      "\"LEVL\": length",
      on(
        b"LEVL",
        Box::new(|d| {
          d.pop();
        }),
      ),
    ),
    (
      "\"LNK0\": length",
      on(b"LNK0", Box::new(|d| d.truncate(d.len() - 4))),
    ),
    (
      "\"LNKU\": length",
      on(b"LNKU", Box::new(|d| d.extend_from_slice(&[0; 12]))),
    ),
    (
      "\"VECS\": length",
      on(b"VECS", Box::new(|d| d.truncate(d.len() - 4))),
    ),
    (
      "\"VECS\": value",
      on(
        b"VECS",
        Box::new(|d| d[8..12].copy_from_slice(&f32::NAN.to_le_bytes())),
      ),
    ),
    (
      "\"VECS\": value",
      on(
        b"VECS",
        Box::new(|d| {
          let at = d.len() - 4;
          d[at..].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes())
        }),
      ),
    ),
  ];
  assert!(levels[entry] as u32 == max_level && upper_node < 30);
  for (want, edit) in &cases {
    let b = edited(&good, edit);
    let r = load_any(&b);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE", "{want}");
    let msg = err_msg(r);
    assert!(msg.contains(want), "want {want:?} in: {msg}");
    // The mapped opener runs the same checks.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.hnsw");
    std::fs::write(&path, &b).unwrap();
    let r = HnswIndex::<f32>::open_read_only(&path, &NO_EXPECT);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE", "mapped: {want}");
  }
  // A missing section.
  let c = ok(Container::parse(&good[..]));
  let mut w = Writer::new(kind::HNSW);
  for e in c.entries().iter().filter(|e| e.id != Tag(*b"LNKU")) {
    w.section(e.id, ok(c.require(e.id)).to_vec());
  }
  let r = load_any(&ok(w.to_bytes()));
  assert_eq!(code(&r), "ERR_CORRUPT_FILE");
  assert!(err_msg(r).contains("\"LNKU\": missing"));
}

/// Recomputes every checksum (and the recorded length) of a mutated file, so mutations get past
/// the checksums and exercise the structural and content checks behind them.
fn reseal(b: &mut [u8]) {
  if b.len() < 64 || b[..8] != format::MAGIC {
    return;
  }
  let len = b.len() as u64;
  b[24..32].copy_from_slice(&len.to_le_bytes());
  let n = u32::from_le_bytes([b[20], b[21], b[22], b[23]]) as usize;
  if n > 1024 || 64 + n * 32 > b.len() {
    return;
  }
  for i in 0..n {
    let e = 64 + i * 32;
    let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap_or_default());
    let l = u64::from_le_bytes(b[e + 16..e + 24].try_into().unwrap_or_default());
    if let Some(end) = off.checked_add(l).filter(|&end| end <= len) {
      let sum = format::checksum(&b[off as usize..end as usize]);
      b[e + 24..e + 32].copy_from_slice(&sum.to_le_bytes());
    }
  }
  let t = format::checksum(&b[64..64 + n * 32]);
  b[48..56].copy_from_slice(&t.to_le_bytes());
  let h = format::checksum(&b[..56]);
  b[56..64].copy_from_slice(&h.to_le_bytes());
}

/// One random mutation of `b`, aimed at the section contents half of the time.
fn mutate(r: &mut impl Rng, b: &mut Vec<u8>, sections: &[(usize, usize)]) {
  if b.is_empty() {
    b.push(r.random());
    return;
  }
  let i = if r.random_bool(0.5) && !sections.is_empty() {
    let (off, len) = sections[r.random_range(0..sections.len())];
    (off + r.random_range(0..len.max(1))).min(b.len() - 1)
  } else {
    r.random_range(0..b.len())
  };
  match r.random_range(0..7) {
    0 => b[i] ^= 1 << r.random_range(0..8),
    1 => b[i] = r.random(),
    2 => b.truncate(i),
    3 => {
      let v: u64 = match r.random_range(0..7) {
        0 => 0,
        1 => u64::MAX,
        2 => 1 << 53,
        3 => r.random_range(0..64),
        4 => u64::from(u32::MAX),
        5 => r.random_range(0..4),
        _ => r.random(),
      };
      let w = [1usize, 2, 4, 8][r.random_range(0..4)];
      for (j, byte) in v.to_le_bytes().iter().take(w).enumerate() {
        if let Some(x) = b.get_mut(i + j) {
          *x = *byte;
        }
      }
    }
    4 => {
      let n = r.random_range(1..=64);
      b.splice(i..i, (0..n).map(|_| r.random::<u8>()));
    }
    5 => {
      let end = (i + r.random_range(1..=64)).min(b.len());
      b.drain(i..end);
    }
    _ => {
      // Swap two u32 words (moves neighbour ids and counts around).
      let j = r.random_range(0..b.len());
      if i + 4 <= b.len() && j + 4 <= b.len() && (i + 4 <= j || j + 4 <= i) {
        for k in 0..4 {
          b.swap(i + k, j + k);
        }
      }
    }
  }
}

#[test]
fn seeded_mutation_fuzz_never_panics() {
  const CODES: [&str; 5] = [
    "OK",
    "ERR_CORRUPT_FILE",
    "ERR_UNSUPPORTED_VERSION",
    "ERR_INVALID_ARGUMENT",
    "ERR_DIMENSION_MISMATCH",
  ];
  let seed = 0x5eed_4e5f;
  println!("fuzz seed {seed:#x}");
  let mut r = rng(seed);
  let with_removed = f32_index(81, 40, 4, Metric::Cosine, 3);
  remove_some(&with_removed, 4);
  let files: Vec<Vec<u8>> = vec![
    ok(f32_index(80, 12, 3, Metric::L2, 2).to_bytes()),
    ok(with_removed.to_bytes()),
    ok(bits_index(82, 16, 16, 2).to_bytes()),
    ok(HnswIndex::<f32>::new(params(2, Metric::Dot, 2, 0)).and_then(|i| i.to_bytes())),
  ];
  let tables: Vec<Vec<(usize, usize)>> = files
    .iter()
    .map(|f| {
      ok(Container::parse(&f[..]))
        .entries()
        .iter()
        .map(|e| (e.offset as usize, e.len as usize))
        .collect()
    })
    .collect();
  let mut seen = std::collections::BTreeMap::<&str, usize>::new();
  let iterations = 40_000;
  for it in 0..iterations {
    let src = it % files.len();
    let mut b = files[src].clone();
    for _ in 0..r.random_range(1..=3) {
      mutate(&mut r, &mut b, &tables[src]);
    }
    // Most cases get valid checksums, so the checks behind them are reached.
    if it % 4 != 0 {
      reseal(&mut b);
    }
    let res = load_any(&b);
    let c = code(&res);
    assert!(CODES.contains(&c), "iteration {it}: unexpected code {c}");
    *seen.entry(c).or_default() += 1;
    // Whatever loads must be usable: search (every level), insert, compact, save again.
    match res {
      Ok(AnyHnswIndex::F32(i)) => exercise(&i, &vec![0.5f32; i.row_len()], it),
      Ok(AnyHnswIndex::Bits(i)) => exercise(&i, &vec![0x5au8; i.row_len()], it),
      Err(_) => {}
    }
  }
  println!("fuzz outcomes: {seen:?}");
  assert!(seen.get("ERR_CORRUPT_FILE").copied().unwrap_or(0) > iterations / 2);
  assert!(seen.get("OK").copied().unwrap_or(0) > 0);
}

fn exercise<T: format::FileElement>(i: &HnswIndex<T>, q: &[T], it: usize) {
  assert!(i.search(q, 5, SearchOptions::default()).is_ok(), "iteration {it}");
  let again = ok(i.to_bytes());
  assert!(
    HnswIndex::<T>::from_bytes(&again, &NO_EXPECT).is_ok(),
    "iteration {it}: reload"
  );
  let key = (1u64 << 53) - 2;
  if !i.contains(key) {
    ok(i.add(key, q, false));
  }
  ok(i.compact());
  assert!(i.search(q, 5, SearchOptions::default()).is_ok(), "iteration {it}");
}

/// Every committed fuzz seed and regression input goes through the loader: valid seeds load, and
/// nothing panics.
#[test]
fn fuzz_seeds_and_regressions_never_panic() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
  let mut n = 0;
  for sub in ["seeds/load_hnsw", "regressions"] {
    let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
      continue;
    };
    for entry in entries.filter_map(|e| e.ok()) {
      let bytes = std::fs::read(entry.path()).unwrap();
      let r = load_any(&bytes);
      if sub.starts_with("seeds") {
        assert_eq!(code(&r), "OK", "{}", entry.path().display());
      }
      n += 1;
    }
  }
  assert!(n >= 3, "the seed corpus is missing ({n} files)");
}

/// Writes the seed corpus for the coverage-guided fuzzer in `fuzz/` (run with `--ignored`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
  let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/load_hnsw");
  std::fs::create_dir_all(&dir).unwrap();
  let removed = f32_index(81, 40, 4, Metric::Cosine, 3);
  remove_some(&removed, 4);
  let files = [
    ("f32-l2", ok(f32_index(80, 12, 3, Metric::L2, 2).to_bytes())),
    ("f32-removed", ok(removed.to_bytes())),
    ("bits", ok(bits_index(82, 16, 16, 2).to_bytes())),
    (
      "empty",
      ok(HnswIndex::<f32>::new(params(2, Metric::Dot, 2, 0)).and_then(|i| i.to_bytes())),
    ),
  ];
  for (name, b) in files {
    std::fs::write(dir.join(name), b).unwrap();
  }
}
