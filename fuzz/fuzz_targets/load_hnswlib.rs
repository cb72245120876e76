//! Raw bytes into the hnswlib-format reader (`compat::hnswlib`): must return Ok or a coded error,
//! never panic or crash. The first byte picks the dimension (1..=16) and the second the space, so
//! seeds written by hnswlib-node (`fuzz/seeds/load_hnswlib`, made by
//! `scripts/hnswlib-fixtures.mjs`) carry their own.
#![no_main]
use ferrovec_core::compat::hnswlib;
use ferrovec_core::hnsw::SearchOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let [d, s, file @ ..] = data else { return };
  let dim = usize::from(d % 16) + 1;
  let metric = hnswlib::metric_for_space(if s % 2 == 0 { "l2" } else { "ip" }).unwrap();
  let Ok((index, info)) = hnswlib::from_bytes(file, dim, metric, 10) else {
    return;
  };
  assert!(info.count >= index.len());
  let q = vec![0.25f32; dim];
  assert!(index.search(&q, 5, SearchOptions::default()).is_ok());
  // What loads must write back and load again to the same graph.
  let bytes = hnswlib::to_bytes(&index, info.max_elements, false).expect("a loaded index writes");
  let (again, _) = hnswlib::from_bytes(&bytes, dim, metric, 10).expect("a written index loads");
  assert_eq!(again.fingerprint(), index.fingerprint());
  // The mark/unmark cycle and an insert keep the index usable.
  if let Some(&k) = index.keys().first() {
    assert!(index.try_remove(k).unwrap());
    assert!(index.restore(k).unwrap());
  }
  let key = (1u64 << 53) - 2;
  if !index.contains(key) {
    assert!(index.add(key, &q, false).is_ok());
  }
  assert!(index.search(&q, 5, SearchOptions::default()).is_ok());
});
