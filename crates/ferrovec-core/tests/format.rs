//! The file format and FlatIndex persistence: round trips, and every kind of damage giving its own
//! error code (never a panic), up to a seeded mutation fuzz of valid files.

// Test helpers fail the test by panicking; clippy.toml only exempts `#[test]` functions themselves.
#![allow(clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use ferrovec_core::format::{self, kind, map_file, read_file, Container, Tag, Writer};
use ferrovec_core::{AnyFlatIndex, Error, FlatIndex, LoadOptions, Metric};
use rand::Rng;

fn ok<T>(r: Result<T, Error>) -> T {
  r.unwrap_or_else(|e| panic!("{e}"))
}

fn io_ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
  r.unwrap_or_else(|e| panic!("{e}"))
}

/// The code of the error, or "OK".
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

fn f32_index(seed: u64, n: usize, dim: usize, metric: Metric) -> FlatIndex<f32> {
  let mut r = rng(seed);
  let data = random_f32(&mut r, n * dim);
  let keys: Vec<u64> = (0..n as u64).map(|i| i * 13 + 5).collect();
  let mut idx = ok(FlatIndex::<f32>::new(dim, metric));
  ok(idx.add_batch(&keys, &data, false));
  idx
}

fn bits_index(seed: u64, n: usize, dim: usize) -> FlatIndex<u8> {
  let mut r = rng(seed);
  let data = random_u8(&mut r, n * dim / 8);
  let keys: Vec<u64> = (0..n as u64).map(|i| (1 << 53) - 1 - i).collect();
  let mut idx = ok(FlatIndex::<u8>::new(dim, Metric::Hamming));
  ok(idx.add_batch(&keys, &data, false));
  idx
}

fn same_f32(a: &FlatIndex<f32>, b: &FlatIndex<f32>, seed: u64) {
  assert_eq!((a.dim(), a.metric(), a.len()), (b.dim(), b.metric(), b.len()));
  assert_eq!(a.keys(), b.keys());
  let mut r = rng(seed);
  let queries = random_f32(&mut r, 10 * a.dim());
  let k = 7.min(a.len().max(1));
  assert_eq!(
    ok(a.search_batch(&queries, k, None)),
    ok(b.search_batch(&queries, k, None))
  );
}

const NO_EXPECT: LoadOptions = LoadOptions {
  dim: None,
  metric: None,
};

#[test]
fn f32_round_trip_gives_the_same_results_for_every_metric() {
  let dir = io_ok(tempfile::tempdir());
  for (i, m) in [Metric::Cosine, Metric::Dot, Metric::L2].into_iter().enumerate() {
    let idx = f32_index(i as u64, 500, 37, m);
    let bytes = ok(idx.to_bytes());
    let back = ok(FlatIndex::<f32>::from_bytes(&bytes, &NO_EXPECT));
    same_f32(&idx, &back, 99);

    let path = dir.path().join(format!("i{i}.fvec"));
    ok(idx.save(&path));
    assert_eq!(
      std::fs::read(&path).ok(),
      Some(bytes.clone()),
      "save writes to_bytes"
    );
    same_f32(&idx, &ok(FlatIndex::<f32>::load(&path, &NO_EXPECT)), 7);
    let any = ok(AnyFlatIndex::load(&path, &NO_EXPECT));
    let AnyFlatIndex::F32(any) = any else {
      panic!("f32 file loaded as bits")
    };
    same_f32(&idx, &any, 8);
    // The mapped reader sees the same sections, and the vectors can be viewed in place.
    let mapped = ok(map_file(&path));
    let from_map = ok(FlatIndex::<f32>::from_container(&mapped, &NO_EXPECT));
    same_f32(&idx, &from_map, 9);
    let vecs = ok(mapped.require(Tag(*b"VECS")));
    let view = ok(<f32 as format::codec::LeCodec>::view_le(vecs));
    assert!(
      matches!(view, std::borrow::Cow::Borrowed(_)),
      "mapped f32 section is viewed in place"
    );
    assert_eq!(&*view, idx.data());
  }
}

#[test]
fn hamming_round_trip_gives_the_same_results() {
  let idx = bits_index(3, 300, 256);
  let bytes = ok(idx.to_bytes());
  let back = ok(FlatIndex::<u8>::from_bytes(&bytes, &NO_EXPECT));
  assert_eq!(back.keys(), idx.keys());
  assert_eq!(back.metric(), Metric::Hamming);
  let mut r = rng(4);
  let q = random_u8(&mut r, 5 * 32);
  assert_eq!(
    ok(idx.search_batch(&q, 9, None)),
    ok(back.search_batch(&q, 9, None))
  );
  assert!(matches!(
    ok(AnyFlatIndex::from_bytes(&bytes, &NO_EXPECT)),
    AnyFlatIndex::Bits(_)
  ));
  // Asking for the other element type is the caller's mistake.
  assert_eq!(
    code(&FlatIndex::<f32>::from_bytes(&bytes, &NO_EXPECT)),
    "ERR_INVALID_ARGUMENT"
  );
}

#[test]
fn empty_index_round_trips() {
  let idx = ok(FlatIndex::<f32>::new(4, Metric::L2));
  let back = ok(FlatIndex::<f32>::from_bytes(&ok(idx.to_bytes()), &NO_EXPECT));
  assert!(back.is_empty());
  assert_eq!(back.dim(), 4);
}

#[test]
fn sections_are_aligned_and_layout_is_exact() {
  let idx = f32_index(5, 10, 3, Metric::L2);
  let bytes = ok(idx.to_bytes());
  let c = ok(Container::parse(&bytes[..]));
  assert_eq!(c.kind(), kind::FLAT);
  assert_eq!(c.version(), (format::MAJOR, format::MINOR));
  let ids: Vec<Tag> = c.entries().iter().map(|e| e.id).collect();
  assert_eq!(ids, vec![Tag(*b"PARM"), Tag(*b"KEYS"), Tag(*b"VECS")]);
  for e in c.entries() {
    assert_eq!(e.offset % 64, 0);
  }
  assert_eq!(&bytes[..8], &format::MAGIC);
}

/// A small file of each kind, for the exhaustive damage tests.
fn small_files() -> Vec<(&'static str, Vec<u8>)> {
  vec![
    ("f32", ok(f32_index(11, 5, 3, Metric::Cosine).to_bytes())),
    ("bits", ok(bits_index(12, 4, 16).to_bytes())),
  ]
}

fn load_any(bytes: &[u8]) -> Result<AnyFlatIndex, Error> {
  AnyFlatIndex::from_bytes(bytes, &NO_EXPECT)
}

#[test]
fn truncation_at_every_offset_is_a_corrupt_file() {
  for (name, bytes) in small_files() {
    for len in 0..bytes.len() {
      let r = load_any(&bytes[..len]);
      assert_eq!(code(&r), "ERR_CORRUPT_FILE", "{name} truncated to {len}");
    }
    assert!(err_msg(load_any(&bytes[..bytes.len() - 1])).contains("truncated"));
  }
}

#[test]
fn a_flipped_byte_anywhere_is_detected() {
  for (name, bytes) in small_files() {
    let c = ok(Container::parse(&bytes[..]));
    for i in 0..bytes.len() {
      for mask in [0x01u8, 0x80, 0xff] {
        let mut b = bytes.clone();
        b[i] ^= mask;
        let r = load_any(&b);
        // The major version is read before the checksum (a future major may checksum differently),
        // so damage there reads as an unsupported version; everywhere else it is corruption.
        let want = if (8..10).contains(&i) {
          "ERR_UNSUPPORTED_VERSION"
        } else {
          "ERR_CORRUPT_FILE"
        };
        assert_eq!(code(&r), want, "{name}: byte {i} ^ {mask:#x}");
        // Damage inside a section is reported against that section.
        if let Some(e) = c
          .entries()
          .iter()
          .find(|e| (e.offset..e.offset + e.len).contains(&(i as u64)))
        {
          let msg = err_msg(load_any(&b));
          assert!(msg.contains(&e.id.to_string()), "{name}: byte {i}: {msg}");
          assert!(msg.contains("checksum mismatch"), "{msg}");
        }
      }
    }
  }
}

#[test]
fn header_and_table_damage_names_the_part() {
  let (_, bytes) = &small_files()[0];
  let mut b = bytes.clone();
  b[13] ^= 1; // kind
  assert!(err_msg(load_any(&b)).contains("header: checksum mismatch"));
  let mut b = bytes.clone();
  b[64 + 9] ^= 1; // first entry's offset
  assert!(err_msg(load_any(&b)).contains("section table: checksum mismatch"));
  let mut b = bytes.clone();
  let last = b.len() - 1;
  b.push(0);
  assert!(err_msg(load_any(&b)).contains("unexpected bytes after the end"));
  b.truncate(last);
  assert!(err_msg(load_any(&b)).contains("truncated"));
}

#[test]
fn a_foreign_file_is_refused_by_its_magic() {
  for junk in [
    &b""[..],
    b"hello world, this is not an index",
    &[0u8; 200],
    b"\x89PNG\r\n\x1a\n0000",
  ] {
    let r = load_any(junk);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE");
  }
  let mut b = small_files()[0].1.clone();
  b[1] = b'X';
  assert!(err_msg(load_any(&b)).contains("not a ferrovec file"));
}

/// A file written with the real writer but other version numbers or extra sections.
fn flat_writer(idx: &FlatIndex<f32>, major: u16, minor: u16, flags: u32) -> Vec<u8> {
  let c_bytes = ok(idx.to_bytes());
  let c = ok(Container::parse(&c_bytes[..]));
  let mut w = Writer::new(kind::FLAT).with_version(major, minor, flags);
  for e in c.entries() {
    w.section(e.id, ok(c.require(e.id)).to_vec());
  }
  ok(w.to_bytes())
}

#[test]
fn a_future_major_version_is_unsupported() {
  let idx = f32_index(20, 20, 4, Metric::L2);
  let b = flat_writer(&idx, format::MAJOR + 1, 0, 0);
  let r = load_any(&b);
  assert_eq!(code(&r), "ERR_UNSUPPORTED_VERSION");
  assert!(err_msg(r).contains(&format!("version {}.0", format::MAJOR + 1)));
  assert_eq!(
    code(&load_any(&flat_writer(&idx, 0, 3, 0))),
    "ERR_UNSUPPORTED_VERSION"
  );
}

#[test]
fn a_newer_minor_with_an_unknown_optional_section_is_readable() {
  let idx = f32_index(21, 50, 6, Metric::Cosine);
  let bytes = ok(idx.to_bytes());
  let c = ok(Container::parse(&bytes[..]));
  let mut w = Writer::new(kind::FLAT).with_version(format::MAJOR, format::MINOR + 1, 0x0001_0000);
  w.optional_section(Tag(*b"NEW0"), vec![7u8; 100]);
  for e in c.entries() {
    w.section(e.id, ok(c.require(e.id)).to_vec());
  }
  w.optional_section(Tag(*b"NEW1"), vec![1u8; 3]);
  let newer = ok(w.to_bytes());
  let back = ok(FlatIndex::<f32>::from_bytes(&newer, &NO_EXPECT));
  same_f32(&idx, &back, 1);

  // The same file with the new section marked required needs a newer build.
  let mut w = Writer::new(kind::FLAT).with_version(format::MAJOR, format::MINOR + 1, 0);
  for e in c.entries() {
    w.section(e.id, ok(c.require(e.id)).to_vec());
  }
  w.section(Tag(*b"NEW2"), vec![1u8; 3]);
  let r = FlatIndex::<f32>::from_bytes(&ok(w.to_bytes()), &NO_EXPECT);
  assert_eq!(code(&r), "ERR_UNSUPPORTED_VERSION");
  assert!(err_msg(r).contains("\"NEW2\""));

  // So does a must-understand header flag this build does not know.
  let r = load_any(&flat_writer(&idx, format::MAJOR, format::MINOR + 1, 0x0000_0004));
  assert_eq!(code(&r), "ERR_UNSUPPORTED_VERSION");
}

#[test]
fn expectations_are_checked() {
  let idx = f32_index(30, 10, 8, Metric::Dot);
  let bytes = ok(idx.to_bytes());
  let want = |dim, metric| LoadOptions { dim, metric };
  let r = FlatIndex::<f32>::from_bytes(&bytes, &want(Some(9), None));
  assert_eq!(code(&r), "ERR_DIMENSION_MISMATCH");
  assert!(err_msg(r).contains("expected 9, got 8"));
  let r = FlatIndex::<f32>::from_bytes(&bytes, &want(None, Some(Metric::L2)));
  assert_eq!(code(&r), "ERR_INVALID_ARGUMENT");
  assert_eq!(
    code(&FlatIndex::<f32>::from_bytes(
      &bytes,
      &want(Some(8), Some(Metric::Dot))
    )),
    "OK"
  );
  // A ferrovec file of another kind is refused as the wrong file, not as damage.
  let mut w = Writer::new(kind::HNSW);
  w.section(Tag(*b"PARM"), vec![0u8; 24]);
  assert_eq!(code(&load_any(&ok(w.to_bytes()))), "ERR_INVALID_ARGUMENT");
}

/// A FLAT file with hand-made section contents and valid checksums: what a buggy or hostile
/// writer could produce.
fn crafted(
  metric: u32,
  element: u32,
  dim: u64,
  count: u64,
  keys: &[u64],
  rows: &[u8],
  minor: u16,
) -> Vec<u8> {
  let mut p = Vec::new();
  p.extend_from_slice(&metric.to_le_bytes());
  p.extend_from_slice(&element.to_le_bytes());
  p.extend_from_slice(&dim.to_le_bytes());
  p.extend_from_slice(&count.to_le_bytes());
  let k: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
  let mut w = Writer::new(kind::FLAT).with_version(format::MAJOR, minor, 0);
  w.section(Tag(*b"PARM"), p)
    .section(Tag(*b"KEYS"), k)
    .section(Tag(*b"VECS"), rows.to_vec());
  ok(w.to_bytes())
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
  xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn checksummed_but_inconsistent_contents_are_corrupt() {
  let rows = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
  // A good one first, so the cases below fail for the stated reason only.
  assert_eq!(code(&load_any(&crafted(3, 1, 2, 2, &[1, 2], &rows, 0))), "OK");
  let cases: Vec<(&str, Vec<u8>)> = vec![
    ("appears twice", crafted(3, 1, 2, 2, &[1, 1], &rows, 0)),
    (
      "above the largest key",
      crafted(3, 1, 2, 2, &[1, 1 << 53], &rows, 0),
    ),
    ("need 2 × 8", crafted(3, 1, 2, 2, &[1], &rows, 0)),
    ("need", crafted(3, 1, 2, 3, &[1, 2, 3], &rows, 0)),
    ("need", crafted(3, 1, 4, 2, &[1, 2], &rows, 0)),
    (
      "keys (the count",
      crafted(3, 1, 1 << 16, u64::MAX / 8, &[1, 2], &rows, 0),
    ),
    ("keys (the count", crafted(3, 1, 2, u64::MAX, &[1, 2], &rows, 0)),
    (
      "NaN",
      crafted(3, 1, 2, 2, &[1, 2], &f32_bytes(&[1.0, f32::NAN, 3.0, 4.0]), 0),
    ),
    (
      "inf",
      crafted(
        3,
        1,
        2,
        2,
        &[1, 2],
        &f32_bytes(&[1.0, 2.0, f32::INFINITY, 4.0]),
        0,
      ),
    ),
    ("unknown metric code 9", crafted(9, 1, 2, 2, &[1, 2], &rows, 0)),
    ("unknown element code 7", crafted(3, 7, 2, 2, &[1, 2], &rows, 0)),
    ("dim must be", crafted(3, 1, 0, 0, &[], &[], 0)),
    ("hamming", crafted(4, 1, 2, 2, &[1, 2], &rows, 0)),
    ("multiple of 8", crafted(4, 2, 12, 1, &[1], &[0, 0], 0)),
  ];
  for (want, b) in cases {
    let r = load_any(&b);
    assert_eq!(code(&r), "ERR_CORRUPT_FILE", "{want}");
    let msg = err_msg(r);
    assert!(msg.contains(want), "{want}: {msg}");
  }
  // The same unknown metric code in a newer-minor file means this build is too old.
  let r = load_any(&crafted(9, 1, 2, 2, &[1, 2], &rows, format::MINOR + 1));
  assert_eq!(code(&r), "ERR_UNSUPPORTED_VERSION");
  // A missing section.
  let mut w = Writer::new(kind::FLAT);
  w.section(
    Tag(*b"PARM"),
    vec![
      3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
  );
  let r = load_any(&ok(w.to_bytes()));
  assert_eq!(code(&r), "ERR_CORRUPT_FILE");
  assert!(err_msg(r).contains("missing"));
}

#[test]
fn file_errors_name_the_path() {
  let dir = io_ok(tempfile::tempdir());
  let missing = dir.path().join("nope.fvec");
  let r = AnyFlatIndex::load(&missing, &NO_EXPECT);
  assert_eq!(code(&r), "ERR_IO");
  assert!(err_msg(r).contains("nope.fvec"));
  let idx = f32_index(40, 5, 2, Metric::L2);
  let r = idx.save(dir.path().join("no-such-dir").join("x.fvec"));
  assert_eq!(code(&r), "ERR_IO");
  // Corruption found in a file names the file.
  let path = dir.path().join("bad.fvec");
  io_ok(std::fs::write(&path, b"garbage"));
  let r = AnyFlatIndex::load(&path, &NO_EXPECT);
  assert_eq!(code(&r), "ERR_CORRUPT_FILE");
  assert!(err_msg(r).contains("bad.fvec"));
  assert_eq!(code(&map_file(&path)), "ERR_CORRUPT_FILE");
  assert_eq!(
    code(&read_file(dir.path())),
    "ERR_IO",
    "a directory is not a file"
  );
}

#[test]
fn saves_replace_the_file_and_leave_no_temp_files() {
  let dir = io_ok(tempfile::tempdir());
  let path = dir.path().join("idx.fvec");
  let a = f32_index(50, 100, 8, Metric::L2);
  let b = f32_index(51, 30, 8, Metric::L2);
  ok(a.save(&path));
  ok(b.save(&path));
  same_f32(&b, &ok(FlatIndex::<f32>::load(&path, &NO_EXPECT)), 2);
  let names: Vec<String> = std::fs::read_dir(dir.path())
    .map(|rd| {
      rd.filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
    })
    .unwrap_or_default();
  assert_eq!(names, vec!["idx.fvec".to_owned()]);
  // A path that names no file is refused before anything is written.
  assert_eq!(code(&a.save(Path::new(""))), "ERR_INVALID_ARGUMENT");
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

/// One random mutation of `b`, with `other` as a source for splices.
fn mutate(r: &mut impl Rng, b: &mut Vec<u8>, other: &[u8]) {
  if b.is_empty() {
    b.push(r.random());
    return;
  }
  let i = r.random_range(0..b.len());
  match r.random_range(0..8) {
    0 => b[i] ^= 1 << r.random_range(0..8),
    1 => b[i] = r.random(),
    2 => b.truncate(i),
    3 => {
      // Overwrite a field-sized run with an interesting value.
      let v: u64 = match r.random_range(0..6) {
        0 => 0,
        1 => u64::MAX,
        2 => 1 << 53,
        3 => r.random_range(0..4096),
        4 => u64::from(u32::MAX),
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
    6 if !other.is_empty() => {
      // Splice a run of another valid file in.
      let s = r.random_range(0..other.len());
      let e = (s + r.random_range(1..=128)).min(other.len());
      let at_end = (i + (e - s)).min(b.len());
      b.splice(i..at_end, other[s..e].iter().copied());
    }
    _ => b.extend((0..r.random_range(1..=32)).map(|_| r.random::<u8>())),
  }
}

#[test]
fn seeded_mutation_fuzz_never_panics() {
  const CODES: [&str; 6] = [
    "OK",
    "ERR_CORRUPT_FILE",
    "ERR_UNSUPPORTED_VERSION",
    "ERR_INVALID_ARGUMENT",
    "ERR_DIMENSION_MISMATCH",
    "ERR_IO",
  ];
  let seed = 0x5eed_f11e;
  println!("fuzz seed {seed:#x}");
  let mut r = rng(seed);
  let files: Vec<Vec<u8>> = vec![
    ok(f32_index(60, 6, 3, Metric::L2).to_bytes()),
    ok(f32_index(61, 40, 16, Metric::Cosine).to_bytes()),
    ok(bits_index(62, 9, 24).to_bytes()),
    ok(FlatIndex::<f32>::new(2, Metric::Dot).and_then(|i| i.to_bytes())),
  ];
  let mut seen = std::collections::BTreeMap::<&str, usize>::new();
  let iterations = 60_000;
  for it in 0..iterations {
    let src = &files[it % files.len()];
    let other = &files[(it / files.len()) % files.len()];
    let mut b = src.clone();
    for _ in 0..r.random_range(1..=4) {
      mutate(&mut r, &mut b, other);
    }
    // Half the cases get valid checksums, so the checks behind them are reached too.
    if it % 2 == 0 {
      reseal(&mut b);
    }
    let res = load_any(&b);
    let c = code(&res);
    assert!(CODES.contains(&c), "iteration {it}: unexpected code {c}");
    *seen.entry(c).or_default() += 1;
    // Whatever loads must be usable.
    if let Ok(AnyFlatIndex::F32(i)) = &res {
      let q = vec![0.5f32; i.dim()];
      assert!(i.search(&q, 3, None).is_ok(), "iteration {it}");
    }
    let _ = Container::parse(&b[..]).map(|c| c.check_sections(&[]));
  }
  println!("fuzz outcomes: {seen:?}");
  assert!(seen.get("ERR_CORRUPT_FILE").copied().unwrap_or(0) > iterations / 2);
}

/// Every committed fuzz seed and every input a fuzzer ever crashed on (`fuzz/regressions/`, one file
/// per crash) goes through the loader: valid seeds load, and nothing panics.
#[test]
fn fuzz_seeds_and_regressions_never_panic() {
  let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
  let mut n = 0;
  for sub in ["seeds/load_flat", "regressions"] {
    let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
      continue;
    };
    for entry in entries.filter_map(|e| e.ok()) {
      let bytes = io_ok(std::fs::read(entry.path()));
      let r = load_any(&bytes);
      if sub.starts_with("seeds") {
        assert_eq!(code(&r), "OK", "{}", entry.path().display());
      }
      n += 1;
    }
  }
  assert!(n >= 4, "the seed corpus is missing ({n} files)");
}

/// Writes the seed corpus for the coverage-guided fuzzer in `fuzz/` (run with `--ignored`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
  let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/load_flat");
  io_ok(std::fs::create_dir_all(&dir));
  let files = [
    ("f32-l2", ok(f32_index(60, 6, 3, Metric::L2).to_bytes())),
    ("f32-cosine", ok(f32_index(61, 20, 8, Metric::Cosine).to_bytes())),
    ("bits", ok(bits_index(62, 9, 24).to_bytes())),
    (
      "empty",
      ok(FlatIndex::<f32>::new(2, Metric::Dot).and_then(|i| i.to_bytes())),
    ),
  ];
  for (name, b) in files {
    io_ok(std::fs::write(dir.join(name), b));
  }
}
