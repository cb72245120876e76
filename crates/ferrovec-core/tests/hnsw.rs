//! HnswIndex: recall against exact search (FlatIndex) per metric, deletes, upsert, compaction,
//! concurrency, reproducibility, filters, and every bad input leaving the index unchanged.
//!
//! Data is seeded clustered Gaussian noise (the shape real embeddings have: dense clusters, not a
//! uniform cube); every recall assertion prints its seed so a failure can be replayed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use ferrovec_core::hnsw::{AddOptions, HnswParams, SearchOptions};
use ferrovec_core::{FlatIndex, HnswIndex, Metric, Neighbor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const K: usize = 10;

fn gauss(r: &mut ChaCha8Rng) -> f32 {
  // Box–Muller; rand 0.9 has no normal distribution without rand_distr.
  let u1: f64 = r.random_range(1e-12..1.0);
  let u2: f64 = r.random_range(0.0..1.0);
  ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `n` points around `clusters` random centres, with per-cluster spread, optionally L2-normalised.
fn clustered(r: &mut ChaCha8Rng, n: usize, dim: usize, clusters: usize, normalise: bool) -> Vec<f32> {
  let centres: Vec<f32> = (0..clusters * dim)
    .map(|_| r.random_range(-1.0f32..1.0))
    .collect();
  let mut out = Vec::with_capacity(n * dim);
  for _ in 0..n {
    let c = r.random_range(0..clusters);
    let spread = 0.15 + 0.25 * (c as f32 / clusters as f32);
    let start = out.len();
    for j in 0..dim {
      out.push(centres[c * dim + j] + spread * gauss(r));
    }
    if normalise {
      let norm = out[start..].iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
      for x in &mut out[start..] {
        *x /= norm;
      }
    }
  }
  out
}

/// Binary codes with cluster structure: each point flips a few bits of its cluster's code.
fn clustered_bits(r: &mut ChaCha8Rng, n: usize, bytes: usize, clusters: usize) -> Vec<u8> {
  let centres = random_u8(r, clusters * bytes);
  let mut out = Vec::with_capacity(n * bytes);
  for _ in 0..n {
    let c = r.random_range(0..clusters);
    let start = out.len();
    out.extend_from_slice(&centres[c * bytes..(c + 1) * bytes]);
    for _ in 0..(bytes * 8 / 6) {
      let bit = r.random_range(0..bytes * 8);
      out[start + bit / 8] ^= 1 << (bit % 8);
    }
  }
  out
}

fn params(dim: usize, metric: Metric, seed: u64) -> HnswParams {
  HnswParams {
    seed,
    ..HnswParams::new(dim, metric)
  }
}

fn hnsw<T: ferrovec_core::Element>(p: HnswParams) -> HnswIndex<T> {
  HnswIndex::new(p).unwrap_or_else(|e| panic!("{e}"))
}

/// recall@k of `got` against `want`, counting a result as a hit when its distance is within the
/// k-th true distance (ties at the boundary are not misses; the ann-benchmarks rule).
fn recall(got: &[Neighbor], want: &[Neighbor]) -> f64 {
  if want.is_empty() {
    return 1.0;
  }
  let kth = want[want.len() - 1].distance;
  let eps = 1e-5 * (1.0 + kth.abs());
  let hits = got
    .iter()
    .filter(|n| n.distance <= kth + eps)
    .count()
    .min(want.len());
  hits as f64 / want.len() as f64
}

fn mean_recall<T: ferrovec_core::Element>(
  h: &HnswIndex<T>,
  f: &FlatIndex<T>,
  queries: &[T],
  opts: SearchOptions<'_>,
) -> f64 {
  let rl = h.row_len();
  let nq = queries.len() / rl;
  let mut sum = 0.0;
  for q in queries.chunks_exact(rl) {
    let got = h.search(q, K, opts).unwrap_or_else(|e| panic!("{e}"));
    let want = f.search(q, K, opts.allow).unwrap_or_else(|e| panic!("{e}"));
    sum += recall(&got, &want);
  }
  sum / nq as f64
}

fn build_f32(
  metric: Metric,
  seed: u64,
  n: usize,
  dim: usize,
) -> (HnswIndex<f32>, FlatIndex<f32>, Vec<f32>, Vec<u64>) {
  let mut r = rng(seed);
  let normalise = metric != Metric::L2;
  let data = clustered(&mut r, n, dim, 20, normalise);
  let keys: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
  let h = hnsw::<f32>(params(dim, metric, seed));
  h.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
  let mut f = FlatIndex::<f32>::new(dim, metric).unwrap_or_else(|e| panic!("{e}"));
  f.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
  (h, f, data, keys)
}

fn queries_f32(metric: Metric, seed: u64, nq: usize, dim: usize) -> Vec<f32> {
  let mut r = rng(seed ^ 0xABCD);
  clustered(&mut r, nq, dim, 20, metric != Metric::L2)
}

#[test]
fn recall_at_10_per_float_metric() {
  // Thresholds sit a few points under what the default ef (64) measures (0.97–1.0), so they catch a
  // broken graph without flaking.
  let (n, dim, nq) = (3000, 32, 100);
  for (metric, seed, min) in [
    (Metric::Cosine, 11, 0.95),
    (Metric::Dot, 12, 0.95),
    (Metric::L2, 13, 0.95),
  ] {
    let (h, f, _, _) = build_f32(metric, seed, n, dim);
    let qs = queries_f32(metric, seed, nq, dim);
    let r = mean_recall(&h, &f, &qs, SearchOptions::default());
    println!("{metric}: recall@10 = {r:.4} (seed = {seed})");
    assert!(r >= min, "{metric}: recall@10 {r:.4} < {min} (seed = {seed})");
    // A wider beam never makes it worse by much, and ef = k still works.
    let wide = mean_recall(
      &h,
      &f,
      &qs,
      SearchOptions {
        ef: Some(256),
        allow: None,
        ..Default::default()
      },
    );
    assert!(
      wide >= r - 0.01,
      "{metric}: ef 256 recall {wide:.4} vs {r:.4} (seed = {seed})"
    );
    let narrow = mean_recall(
      &h,
      &f,
      &qs,
      SearchOptions {
        ef: Some(1),
        allow: None,
        ..Default::default()
      },
    );
    assert!(
      narrow > 0.5,
      "{metric}: ef raised to k gives {narrow:.4} (seed = {seed})"
    );
  }
}

#[test]
fn recall_at_10_hamming() {
  let seed = 21;
  let (n, bytes, nq) = (3000, 16, 100);
  let mut r = rng(seed);
  let data = clustered_bits(&mut r, n, bytes, 30);
  let qs = clustered_bits(&mut r, nq, bytes, 30);
  let keys: Vec<u64> = (0..n as u64).collect();
  let h = hnsw::<u8>(params(bytes * 8, Metric::Hamming, seed));
  h.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
  let mut f = FlatIndex::<u8>::new(bytes * 8, Metric::Hamming).unwrap_or_else(|e| panic!("{e}"));
  f.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
  let rec = mean_recall(&h, &f, &qs, SearchOptions::default());
  println!("hamming: recall@10 = {rec:.4} (seed = {seed})");
  assert!(rec >= 0.9, "hamming: recall@10 {rec:.4} < 0.9 (seed = {seed})");
}

#[test]
fn deletes_are_never_returned_and_recall_holds() {
  let seed = 31;
  let (n, dim) = (3000, 32);
  let (h, mut f, _, keys) = build_f32(Metric::L2, seed, n, dim);
  let mut r = rng(seed);
  let mut removed = HashSet::new();
  while removed.len() < n * 3 / 10 {
    let k = keys[r.random_range(0..n)];
    if removed.insert(k) {
      assert!(h.remove(k));
      assert!(f.remove(k));
    }
  }
  let gone = *removed.iter().next().unwrap();
  assert!(!h.remove(gone), "removing twice reports absent");
  assert!(!h.contains(gone) && h.get(gone).is_none());
  assert_eq!(h.len(), n - removed.len());
  assert_eq!(h.deleted_count(), removed.len());
  assert!(h.keys().iter().all(|k| !removed.contains(k)));
  let qs = queries_f32(Metric::L2, seed, 100, dim);
  for q in qs.chunks_exact(dim) {
    let got = h
      .search(q, K, SearchOptions::default())
      .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), K);
    assert!(
      got.iter().all(|nb| !removed.contains(&nb.key)),
      "a removed key came back (seed = {seed})"
    );
  }
  let rec = mean_recall(&h, &f, &qs, SearchOptions::default());
  println!("after removing 30%: recall@10 = {rec:.4} (seed = {seed})");
  assert!(rec >= 0.93, "recall after deletes {rec:.4} (seed = {seed})");
  // Asking for more than remain returns exactly the live ones.
  let all = h
    .search(&qs[..dim], n, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(all.len(), n - removed.len());
}

#[test]
fn upsert_moves_a_point_and_relinks_it() {
  let seed = 41;
  let (n, dim) = (2000, 16);
  let (h, _, data, keys) = build_f32(Metric::L2, seed, n, dim);
  let key = keys[5];
  let old = data[5 * dim..6 * dim].to_vec();
  // Move it onto another point's position (plus a hair, so it is not a tie).
  let target: Vec<f32> = data[1500 * dim..1501 * dim].iter().map(|x| x + 1e-3).collect();
  assert_eq!(
    h.add(key, &target, false).err().map(|e| e.code()),
    Some("ERR_DUPLICATE_KEY")
  );
  h.add(key, &target, true).unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(h.len(), n, "upsert does not add a node");
  assert_eq!(h.get(key), Some(target.clone()));
  let got = h
    .search(&target, 2, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(got[0].key, key);
  assert_eq!(got[1].key, keys[1500]);
  let near_old = h
    .search(&old, K, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert!(
    near_old.iter().all(|nb| nb.key != key),
    "the old position no longer finds it"
  );
  // The re-linked node is reachable from anywhere: search for it from many queries.
  let qs = queries_f32(Metric::L2, seed, 20, dim);
  for q in qs.chunks_exact(dim) {
    let all = h
      .search(
        q,
        n,
        SearchOptions {
          ef: Some(n),
          allow: None,
          ..Default::default()
        },
      )
      .unwrap_or_else(|e| panic!("{e}"));
    assert!(all.iter().any(|nb| nb.key == key));
  }
}

#[test]
fn compaction_reclaims_slots_and_keeps_results() {
  let seed = 51;
  let (n, dim) = (2000, 24);
  let (h, mut f, _, keys) = build_f32(Metric::Cosine, seed, n, dim);
  for (i, &k) in keys.iter().enumerate() {
    if i % 10 < 3 {
      assert!(h.remove(k));
      assert!(f.remove(k));
    }
  }
  let live = h.len();
  let qs = queries_f32(Metric::Cosine, seed, 50, dim);
  let exhaustive = SearchOptions {
    ef: Some(n),
    allow: None,
    ..Default::default()
  };
  let before: Vec<Vec<Neighbor>> = qs
    .chunks_exact(dim)
    .map(|q| h.search(q, K, exhaustive).unwrap_or_else(|e| panic!("{e}")))
    .collect();
  let before_default = mean_recall(&h, &f, &qs, SearchOptions::default());
  let mem_before = h.memory_usage();
  assert_eq!(h.compact().unwrap(), n - live);
  assert_eq!(h.compact().unwrap(), 0, "nothing left to reclaim");
  assert_eq!(h.len(), live);
  assert_eq!(h.deleted_count(), 0);
  let (mut hk, mut fk) = (h.keys(), f.keys().to_vec());
  hk.sort_unstable();
  fk.sort_unstable();
  assert_eq!(hk, fk, "the same live keys");
  assert!(h.memory_usage().vectors < mem_before.vectors);
  for (q, b) in qs.chunks_exact(dim).zip(&before) {
    let after = h.search(q, K, exhaustive).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
      &after, b,
      "an exhaustive search gives identical results after compaction"
    );
    let exact = f.search(q, K, None).unwrap_or_else(|e| panic!("{e}"));
    assert!((recall(&after, &exact) - 1.0).abs() < 1e-9);
  }
  let after_default = mean_recall(&h, &f, &qs, SearchOptions::default());
  println!("compaction: recall@10 {before_default:.4} → {after_default:.4} (seed = {seed})");
  assert!(after_default >= before_default - 0.02, "(seed = {seed})");
  // The index keeps working: new keys, and the removed ones may come back.
  h.add(keys[0], &qs[..dim], false)
    .unwrap_or_else(|e| panic!("{e}"));
  let got = h
    .search(&qs[..dim], 1, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(got[0].key, keys[0]);
}

#[test]
fn filters_return_k_allowed_results() {
  let seed = 61;
  let (n, dim) = (3000, 32);
  let (h, f, _, keys) = build_f32(Metric::Cosine, seed, n, dim);
  let qs = queries_f32(Metric::Cosine, seed, 50, dim);
  // With 3000 nodes and ef 64 the switch to exact search is at about sqrt(8·64·3000) ≈ 1240 allowed
  // keys: two thirds allowed are walked in the graph, a fifth and 1% are answered exactly.
  for (every, min_recall, want_exact) in [(3, 0.9, false), (5, 1.0, true), (100, 1.0, true)] {
    let allow: Vec<u64> = if every == 3 {
      keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, &k)| k)
        .collect()
    } else {
      keys.iter().copied().step_by(every).collect()
    };
    let allowed: HashSet<u64> = allow.iter().copied().collect();
    let opts = SearchOptions {
      ef: None,
      allow: Some(&allow),
      ..Default::default()
    };
    for q in qs.chunks_exact(dim) {
      let (got, stats) = h.search_with_stats(q, K, opts).unwrap_or_else(|e| panic!("{e}"));
      assert_eq!(got.len(), K, "k results when k allowed points exist");
      assert!(got.iter().all(|nb| allowed.contains(&nb.key)));
      assert_eq!(stats.exact, want_exact, "1/{every} allowed");
    }
    let rec = mean_recall(&h, &f, &qs, opts);
    println!("filter 1/{every}: recall@10 = {rec:.4} (seed = {seed})");
    assert!(rec >= min_recall, "filter 1/{every}: {rec:.4} (seed = {seed})");
  }
  // Fewer allowed than k: all of them, nearest first; unknown keys ignored.
  let few = [keys[3], keys[7], 999_999_999, keys[3]];
  let got = h
    .search(
      &qs[..dim],
      K,
      SearchOptions {
        ef: None,
        allow: Some(&few),
        ..Default::default()
      },
    )
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(got.len(), 2);
  let none = h
    .search(
      &qs[..dim],
      K,
      SearchOptions {
        ef: None,
        allow: Some(&[]),
        ..Default::default()
      },
    )
    .unwrap_or_else(|e| panic!("{e}"));
  assert!(none.is_empty());
}

#[test]
fn stats_count_the_work_and_grow_with_ef() {
  let (h, _, _, _) = build_f32(Metric::L2, 71, 3000, 32);
  let qs = queries_f32(Metric::L2, 71, 20, 32);
  let cost = |ef: usize| -> u64 {
    let (_, stats) = h
      .search_batch(
        &qs,
        K,
        SearchOptions {
          ef: Some(ef),
          allow: None,
          ..Default::default()
        },
      )
      .unwrap_or_else(|e| panic!("{e}"));
    assert!(stats
      .iter()
      .all(|s| !s.exact && s.visited > 0 && s.distances >= s.visited));
    stats.iter().map(|s| s.distances).sum::<u64>() / stats.len() as u64
  };
  let (c16, c64, c256) = (cost(16), cost(64), cost(256));
  println!("distances per query: ef 16 → {c16}, ef 64 → {c64}, ef 256 → {c256}");
  assert!(c16 < c64 && c64 < c256);
  assert!(c256 < 3000, "ef 256 is still cheaper than exact search");
}

#[test]
fn batch_search_equals_single_searches() {
  let (h, _, _, _) = build_f32(Metric::Dot, 81, 1500, 16);
  let qs = queries_f32(Metric::Dot, 81, 30, 16);
  let (batch, stats) = h
    .search_batch(&qs, K, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(stats.len(), 30);
  for (i, q) in qs.chunks_exact(16).enumerate() {
    let (single, st) = h
      .search_with_stats(q, K, SearchOptions::default())
      .unwrap_or_else(|e| panic!("{e}"));
    let from_batch: Vec<Neighbor> = (0..batch.counts[i] as usize)
      .map(|j| Neighbor {
        key: batch.keys[i * K + j],
        distance: batch.distances[i * K + j],
      })
      .collect();
    assert_eq!(from_batch, single);
    assert_eq!(stats[i], st);
  }
}

#[test]
fn single_thread_seeded_build_is_reproducible() {
  let (n, dim) = (1500, 16);
  let mut r = rng(91);
  let data = clustered(&mut r, n, dim, 10, false);
  let keys: Vec<u64> = (0..n as u64).collect();
  let build = |seed: u64| {
    let h = hnsw::<f32>(HnswParams {
      build_threads: 1,
      capacity: 10,
      ..params(dim, Metric::L2, seed)
    });
    // Several batches and a single add, as a real build would do.
    h.add_batch(&keys[..700], &data[..700 * dim], false)
      .unwrap_or_else(|e| panic!("{e}"));
    h.add(keys[700], &data[700 * dim..701 * dim], false)
      .unwrap_or_else(|e| panic!("{e}"));
    h.add_batch(&keys[701..], &data[701 * dim..], false)
      .unwrap_or_else(|e| panic!("{e}"));
    h
  };
  let (a, b, c) = (build(7), build(7), build(8));
  assert_eq!(a.fingerprint(), b.fingerprint(), "same seed, same graph");
  assert_ne!(
    a.fingerprint(),
    c.fingerprint(),
    "another seed draws other levels"
  );
  assert!(a.capacity() >= n, "capacity grew past the initial 10");
  let qs = queries_f32(Metric::L2, 91, 10, dim);
  let ra = a
    .search_batch(&qs, K, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  let rb = b
    .search_batch(&qs, K, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(ra, rb);
}

#[test]
fn parallel_build_reports_progress_and_matches_recall() {
  let seed = 101;
  let (n, dim) = (3000, 32);
  let mut r = rng(seed);
  let data = clustered(&mut r, n, dim, 20, false);
  let keys: Vec<u64> = (0..n as u64).collect();
  let h = hnsw::<f32>(HnswParams {
    build_threads: 2,
    ..params(dim, Metric::L2, seed)
  });
  let calls = Mutex::new(Vec::new());
  let progress = |done: usize, total: usize| calls.lock().unwrap().push((done, total));
  h.add_batch_with(
    &keys,
    &data,
    AddOptions {
      upsert: false,
      progress: Some(&progress),
    },
  )
  .unwrap_or_else(|e| panic!("{e}"));
  let calls = calls.into_inner().unwrap();
  assert!(calls.len() >= 2, "{calls:?}");
  assert!(calls.iter().all(|&(d, t)| t == n && d <= n));
  assert!(
    calls.iter().any(|&(d, _)| d == n),
    "the last node reports done == total"
  );
  let mut f = FlatIndex::<f32>::new(dim, Metric::L2).unwrap_or_else(|e| panic!("{e}"));
  f.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
  let qs = queries_f32(Metric::L2, seed, 100, dim);
  let rec = mean_recall(&h, &f, &qs, SearchOptions::default());
  println!("parallel build: recall@10 = {rec:.4} (seed = {seed})");
  assert!(rec >= 0.95, "parallel build recall {rec:.4} (seed = {seed})");

  // A thread count that differs from the global pool gets a pool of its own; same quality.
  let h3 = hnsw::<f32>(HnswParams {
    build_threads: 3,
    ..params(dim, Metric::L2, seed)
  });
  h3.add_batch(&keys, &data, false)
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(h3.len(), n);
  let rec3 = mean_recall(&h3, &f, &qs, SearchOptions::default());
  assert!(rec3 >= 0.95, "3-thread build recall {rec3:.4} (seed = {seed})");
}

#[test]
fn searches_run_while_batches_insert() {
  let seed = 111;
  let (dim, batches, per) = (16, 8, 400);
  let mut r = rng(seed);
  let data = clustered(&mut r, batches * per, dim, 10, false);
  let h = Arc::new(hnsw::<f32>(HnswParams {
    capacity: 16,
    ..params(dim, Metric::L2, seed)
  }));
  let stop = Arc::new(AtomicBool::new(false));
  let searches = Arc::new(AtomicUsize::new(0));
  let readers: Vec<_> = (0..2)
    .map(|t| {
      let (h, stop, searches) = (h.clone(), stop.clone(), searches.clone());
      let q: Vec<f32> = data[t * dim..(t + 1) * dim].to_vec();
      std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
          let got = h
            .search(&q, K, SearchOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
          // Results are always well formed: sorted, unique, no more than asked.
          assert!(got.len() <= K);
          assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance));
          let uniq: HashSet<u64> = got.iter().map(|n| n.key).collect();
          assert_eq!(uniq.len(), got.len());
          let _ = h.len();
          let _ = h.contains(0);
          searches.fetch_add(1, Ordering::Relaxed);
        }
      })
    })
    .collect();
  let writer = {
    let (h, data) = (h.clone(), data.clone());
    std::thread::spawn(move || {
      for b in 0..batches {
        let keys: Vec<u64> = (b * per..(b + 1) * per).map(|i| i as u64).collect();
        h.add_batch(&keys, &data[b * per * dim..(b + 1) * per * dim], false)
          .unwrap_or_else(|e| panic!("{e}"));
        // A remove racing the searches too.
        assert!(h.remove((b * per) as u64));
      }
    })
  };
  writer.join().unwrap();
  stop.store(true, Ordering::Relaxed);
  for t in readers {
    t.join().unwrap();
  }
  assert!(searches.load(Ordering::Relaxed) > 0);
  assert_eq!(h.len(), batches * per - batches, "no point lost");
  // No lost points: every live key is reachable in the graph (an exhaustive beam finds each one),
  // and the default beam finds nearly all of them from their own vector (a few isolated outliers may
  // need a wider beam; that is approximate search, not loss).
  let exhaustive = SearchOptions {
    ef: Some(batches * per),
    allow: None,
    ..Default::default()
  };
  let mut found_default = 0;
  for (i, row) in data.chunks_exact(dim).enumerate() {
    let key = i as u64;
    let removed = i % per == 0;
    assert_eq!(h.contains(key), !removed);
    if removed {
      continue;
    }
    let got = h
      .search(row, K, SearchOptions::default())
      .unwrap_or_else(|e| panic!("{e}"));
    if got.iter().any(|nb| nb.key == key) {
      found_default += 1;
      continue;
    }
    let got = h.search(row, K, exhaustive).unwrap_or_else(|e| panic!("{e}"));
    assert!(
      got.iter().any(|nb| nb.key == key),
      "key {key} is unreachable (seed = {seed})"
    );
  }
  let rate = found_default as f64 / h.len() as f64;
  assert!(
    rate >= 0.995,
    "found {rate:.4} of keys at the default ef (seed = {seed})"
  );
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
  let dim = 3;
  let h = hnsw::<f32>(params(dim, Metric::Cosine, 1));
  h.add_batch(&[1, 2], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], false)
    .unwrap_or_else(|e| panic!("{e}"));
  let (keys, fp, v1) = (h.keys(), h.fingerprint(), h.get(1));
  let cases: Vec<(&str, ferrovec_core::Result<()>)> = vec![
    ("ERR_DIMENSION_MISMATCH", h.add(3, &[1.0, 2.0], false)),
    (
      "ERR_INVALID_VECTOR",
      h.add_batch(&[3, 4], &[1.0, 2.0, 3.0, 1.0, f32::NAN, 3.0], false),
    ),
    (
      "ERR_INVALID_VECTOR",
      h.add(3, &[f32::NEG_INFINITY, 0.0, 0.0], false),
    ),
    ("ERR_INVALID_VECTOR", h.add(3, &[f32::INFINITY, 0.0, 0.0], true)),
    ("ERR_DUPLICATE_KEY", h.add(1, &[1.0, 1.0, 1.0], false)),
    ("ERR_DUPLICATE_KEY", h.add_batch(&[3, 1], &[1.0; 6], false)),
    ("ERR_DUPLICATE_KEY", h.add_batch(&[5, 5], &[1.0; 6], true)),
    ("ERR_INVALID_KEY", h.add(1 << 53, &[1.0, 1.0, 1.0], false)),
    ("ERR_INVALID_KEY", h.add_batch(&[1, u64::MAX], &[1.0; 6], true)),
    ("ERR_INVALID_ARGUMENT", h.add_batch(&[7], &[1.0; 6], false)),
    ("ERR_INVALID_ARGUMENT", h.set_ef_search(0)),
  ];
  for (want, got) in cases {
    assert_eq!(got.err().map(|e| e.code()), Some(want));
    assert_eq!(h.keys(), keys);
    assert_eq!(h.len(), 2);
    assert_eq!(h.fingerprint(), fp);
    assert_eq!(h.get(1), v1);
  }
  assert_eq!(h.ef_search(), 64);
  let code = |r: ferrovec_core::Result<Vec<Neighbor>>| r.err().map(|e| e.code());
  let s = SearchOptions::default;
  assert_eq!(
    code(h.search(&[1.0, 0.0, 0.0], 0, s())),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    code(h.search(&[1.0, 0.0], 1, s())),
    Some("ERR_DIMENSION_MISMATCH")
  );
  assert_eq!(code(h.search(&[], 1, s())), Some("ERR_DIMENSION_MISMATCH"));
  assert_eq!(
    code(h.search(&[f32::NAN, 0.0, 0.0], 1, s())),
    Some("ERR_INVALID_VECTOR")
  );
  assert_eq!(
    code(h.search(
      &[1.0, 0.0, 0.0],
      1,
      SearchOptions {
        ef: Some(0),
        allow: None,
        ..Default::default()
      }
    )),
    Some("ERR_INVALID_ARGUMENT")
  );
  let bad = |p: HnswParams| HnswIndex::<f32>::new(p).err().map(|e| e.code());
  let ok = HnswParams::new(8, Metric::L2);
  assert_eq!(bad(HnswParams { dim: 0, ..ok }), Some("ERR_INVALID_ARGUMENT"));
  assert_eq!(bad(HnswParams { m: 1, ..ok }), Some("ERR_INVALID_ARGUMENT"));
  assert_eq!(
    bad(HnswParams {
      ef_construction: 0,
      ..ok
    }),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    bad(HnswParams { ef_search: 0, ..ok }),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    bad(HnswParams {
      metric: Metric::Hamming,
      ..ok
    }),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    HnswIndex::<u8>::new(HnswParams::new(12, Metric::Hamming))
      .err()
      .map(|e| e.code()),
    Some("ERR_INVALID_ARGUMENT")
  );
  // The index still works after all that.
  assert_eq!(h.search(&[1.0, 0.1, 0.0], 1, s()).ok().map(|v| v[0].key), Some(1));
}

#[test]
fn small_and_empty_indexes() {
  let h = hnsw::<f32>(params(2, Metric::L2, 3));
  assert!(h
    .search(&[0.0, 0.0], 5, SearchOptions::default())
    .map(|v| v.is_empty())
    .unwrap_or(false));
  assert_eq!(h.compact().unwrap(), 0);
  h.add(9, &[1.0, 1.0], false).unwrap_or_else(|e| panic!("{e}"));
  let got = h
    .search(&[0.0, 0.0], 5, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(
    got,
    vec![Neighbor {
      key: 9,
      distance: 2.0
    }]
  );
  assert!(h.remove(9));
  assert!(h
    .search(&[0.0, 0.0], 5, SearchOptions::default())
    .map(|v| v.is_empty())
    .unwrap_or(false));
  assert_eq!(h.compact().unwrap(), 1);
  assert!(h.is_empty());
  h.add(9, &[1.0, 1.0], false).unwrap_or_else(|e| panic!("{e}"));
  // Exact duplicates tie; the smaller key wins, like FlatIndex.
  h.add(4, &[1.0, 1.0], false).unwrap_or_else(|e| panic!("{e}"));
  let got = h
    .search(&[1.0, 1.0], 2, SearchOptions::default())
    .unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(got.iter().map(|n| n.key).collect::<Vec<_>>(), vec![4, 9]);
  let m = h.memory_usage();
  assert!(m.vectors > 0 && m.graph > 0 && m.keys > 0 && m.total >= m.vectors + m.graph + m.keys);
  assert_eq!(h.params().ef_search, 64);
  h.set_ef_search(100).unwrap_or_else(|e| panic!("{e}"));
  assert_eq!(h.params().ef_search, 100);
}

/// Random sequences of every mutating operation, checked against FlatIndex as the model after each
/// step: same live keys, same stored vectors, results only from live (and allowed) keys, `k` results
/// whenever `k` candidates exist, and an exhaustive beam equal to exact search.
#[test]
fn random_operation_sequences_match_the_exact_model() {
  let dim = 6;
  for seed in [1u64, 2, 3, 4] {
    let mut r = rng(1000 + seed);
    let h = hnsw::<f32>(HnswParams {
      m: 8,
      ef_construction: 64,
      capacity: 4,
      build_threads: if seed % 2 == 0 { 1 } else { 0 },
      ..params(dim, Metric::L2, seed)
    });
    let mut f = FlatIndex::<f32>::new(dim, Metric::L2).unwrap();
    let (mut checks, mut misses) = (0, 0);
    for step in 0..120 {
      let op = r.random_range(0..10);
      match op {
        0..=3 => {
          let n = r.random_range(1..40);
          let keys: Vec<u64> = (0..n)
            .map(|_| r.random_range(0..300))
            // Ordered, so a seed replays the same batches (a HashSet's order changes per process).
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
          let rows = clustered(&mut r, keys.len(), dim, 5, false);
          let upsert = r.random_bool(0.5);
          let a = h.add_batch(&keys, &rows, upsert).map_err(|e| e.code());
          let b = f.add_batch(&keys, &rows, upsert).map_err(|e| e.code());
          assert_eq!(a, b, "seed {seed} step {step}: add outcome");
        }
        4..=6 => {
          for _ in 0..r.random_range(1..20) {
            let k = r.random_range(0..300);
            assert_eq!(h.remove(k), f.remove(k), "seed {seed} step {step}: remove {k}");
          }
        }
        7 => {
          let before = h.len();
          let reclaimed = h.compact().unwrap();
          assert_eq!(h.deleted_count(), 0);
          assert_eq!(h.len(), before);
          let _ = reclaimed;
        }
        _ => {}
      }
      assert_eq!(h.len(), f.len(), "seed {seed} step {step}: len");
      let (mut hk, mut fk) = (h.keys(), f.keys().to_vec());
      hk.sort_unstable();
      fk.sort_unstable();
      assert_eq!(hk, fk, "seed {seed} step {step}: keys");
      for &k in fk.iter().take(5) {
        assert_eq!(h.get(k).as_deref(), f.get(k), "seed {seed} step {step}: get {k}");
      }
      let q = clustered(&mut r, 1, dim, 5, false);
      let allow: Vec<u64> = (0..300).filter(|k| k % 3 == step % 3).collect();
      for allow in [None, Some(&allow[..])] {
        let want = f.search(&q, 7, allow).unwrap();
        let got = h
          .search(
            &q,
            7,
            SearchOptions {
              ef: Some(400),
              allow,
              ..Default::default()
            },
          )
          .unwrap();
        assert_eq!(got.len(), want.len(), "seed {seed} step {step}: count");
        // HNSW does not promise that every node stays reachable under churn (pruning and upserts
        // can take a node's last incoming link, as in every HNSW library), so an exhaustive beam
        // may miss one; right after compact(), which reconnects such nodes, it may not.
        checks += 1;
        if (recall(&got, &want) - 1.0).abs() >= 1e-9 {
          misses += 1;
          assert!(
            op != 7,
            "seed {seed} step {step}: exhaustive = exact right after compact()"
          );
        }
        let approx = h
          .search(
            &q,
            7,
            SearchOptions {
              ef: None,
              allow,
              ..Default::default()
            },
          )
          .unwrap();
        assert_eq!(approx.len(), want.len(), "seed {seed} step {step}: k results");
        assert!(approx
          .iter()
          .all(|n| f.contains(n.key) && allow.is_none_or(|a| a.contains(&n.key))));
      }
    }
    println!("seed {seed}: exhaustive search differed from exact in {misses}/{checks} checks");
    assert!(
      misses * 50 <= checks,
      "seed {seed}: {misses}/{checks} exhaustive misses"
    );
  }
}

/// Cosine in the graph is one dot product times stored inverse norms (not `metric::distance`'s
/// three-product kernel): the distances must still match the f64 reference, zero-vector rules and
/// extreme magnitudes included (simsimd's `cos` underflows to 0 on the 1e-20 row; this does not), on the graph path, the exact (filtered) path, after an upsert and after a
/// save/load (the norms are not in the file; they are recomputed).
#[test]
fn cosine_distances_match_the_pairwise_kernel() {
  let rows: [[f32; 3]; 7] = [
    [0.0, 0.0, 0.0],
    [1.0, 0.0, 0.0],
    [2.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [1e-20, 1e-20, 0.0],
    [1e30, -1e30, 1e30],
    [-1.0, 0.5, 0.25],
  ];
  let h = hnsw::<f32>(params(3, Metric::Cosine, 5));
  for (i, r) in rows.iter().enumerate() {
    h.add(i as u64, r, false).unwrap_or_else(|e| panic!("{e}"));
  }
  let check = |h: &HnswIndex<f32>, what: &str| {
    for q in [
      [0.0, 0.0, 0.0],
      [1.0, 1.0, 0.0],
      [3e-20, 0.0, 0.0],
      [-2.0, 1.0, 0.5],
    ] {
      for allow in [None, Some(&[0u64, 2, 5][..])] {
        let got = h
          .search(
            &q,
            7,
            SearchOptions {
              ef: None,
              allow,
              ..Default::default()
            },
          )
          .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), allow.map_or(7, <[u64]>::len), "{what}");
        for n in got {
          let row = h.get(n.key).unwrap_or_default();
          let want = ferrovec_core::metric::reference::cosine(&q, &row);
          assert!(
            (f64::from(n.distance) - want).abs() <= 1e-6,
            "{what}: query {q:?} key {}: {} vs {want}",
            n.key,
            n.distance
          );
        }
      }
    }
  };
  check(&h, "built");
  h.add(3, &[0.0, 0.0, 0.0], true).unwrap_or_else(|e| panic!("{e}"));
  h.add(0, &[0.0, 0.0, 4.0], true).unwrap_or_else(|e| panic!("{e}"));
  check(&h, "after upserts");
  let bytes = h.to_bytes().unwrap_or_else(|e| panic!("{e}"));
  let loaded = HnswIndex::<f32>::from_bytes(&bytes, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
  check(&loaded, "loaded");
  assert_eq!(loaded.fingerprint(), h.fingerprint());
}

/// Data with many tied distances: groups of exact copies (larger than a level-0 list and than
/// `ef_construction`, so neither a list nor a build beam can hold a whole group) and a group of
/// near-copies, among clustered points; copies first (every early walk starts inside a group) or
/// shuffled in. A hashed bag-of-words embedder produces such data when many texts share one word,
/// and it is how HNSW graphs classically come apart: to the neighbour heuristic, a copy of a
/// vector covers every direction the vector covers.
fn with_duplicates(r: &mut ChaCha8Rng, dim: usize, normalise: bool, shuffle: bool) -> Vec<f32> {
  let base = clustered(r, 1500, dim, 12, normalise);
  let mut rows: Vec<Vec<f32>> = Vec::new();
  for (group, copies) in [(0usize, 400usize), (1, 120), (2, 40), (3, 8)] {
    let v = base[group * 97 * dim..(group * 97 + 1) * dim].to_vec();
    rows.extend(std::iter::repeat_n(v, copies));
  }
  rows.extend(base.chunks_exact(dim).map(<[f32]>::to_vec));
  let centre = base[5 * dim..6 * dim].to_vec();
  for _ in 0..60 {
    let mut v: Vec<f32> = centre.iter().map(|&x| x + 1e-4 * gauss(r)).collect();
    if normalise {
      let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
      v.iter_mut().for_each(|x| *x /= norm);
    }
    rows.push(v);
  }
  if shuffle {
    for i in (1..rows.len()).rev() {
      rows.swap(i, r.random_range(0..=i));
    }
  }
  rows.concat()
}

/// Queries every live indexed vector; returns how many did not find themselves (or, when more
/// than k vectors tie with them, k of their copies) at the default ef, and mean recall@k against
/// `f`. Each of those must be found at ef 512.
fn self_search(h: &HnswIndex<f32>, f: &FlatIndex<f32>, data: &[f32], live: &[u64]) -> (Vec<u64>, f64) {
  let dim = h.row_len();
  let mut misses = Vec::new();
  let mut recall_sum = 0.0;
  for &key in live {
    let q = &data[key as usize * dim..(key as usize + 1) * dim];
    let got = h
      .search(q, K, SearchOptions::default())
      .unwrap_or_else(|e| panic!("{e}"));
    let want = f.search(q, K, None).unwrap_or_else(|e| panic!("{e}"));
    recall_sum += recall(&got, &want);
    let tol = want[0].distance + 1e-6;
    let found = if want.iter().filter(|w| w.distance <= tol).count() < K {
      got.iter().any(|g| g.key == key)
    } else {
      got.len() == K && got.iter().all(|g| g.distance <= tol)
    };
    if !found {
      // Reachable but behind a beam of ties: a wider beam must find it.
      let wide = h
        .search(
          q,
          K,
          SearchOptions {
            ef: Some(512),
            allow: None,
            ..Default::default()
          },
        )
        .unwrap_or_else(|e| panic!("{e}"));
      assert!(
        wide.iter().any(|g| g.key == key),
        "{key} is not found by its own vector even at ef 512"
      );
      misses.push(key);
    }
  }
  (misses, recall_sum / live.len() as f64)
}

#[test]
fn duplicates_stay_reachable() {
  let dim = 32;
  for (metric, seed, threads, shuffle) in [
    (Metric::Cosine, 101, 1, true),
    (Metric::L2, 102, 1, true),
    (Metric::Cosine, 103, 1, false),
    (Metric::L2, 104, 1, false),
    (Metric::Cosine, 105, 0, true),
    (Metric::L2, 106, 0, false),
  ] {
    let mut r = rng(seed);
    let data = with_duplicates(&mut r, dim, metric != Metric::L2, shuffle);
    let n = data.len() / dim;
    let keys: Vec<u64> = (0..n as u64).collect();
    let h = hnsw::<f32>(HnswParams {
      build_threads: threads,
      ..params(dim, metric, seed)
    });
    h.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
    let mut f = FlatIndex::<f32>::new(dim, metric).unwrap_or_else(|e| panic!("{e}"));
    f.add_batch(&keys, &data, false).unwrap_or_else(|e| panic!("{e}"));
    let case = format!("{metric}, threads {threads}, shuffled {shuffle} (seed = {seed})");
    let orphans = h.unreachable_count();
    let (misses, rec) = self_search(&h, &f, &data, &keys);
    println!(
      "{case}: {orphans} of {n} unreachable, {} not found by their own vector, recall@10 {rec:.4}",
      misses.len()
    );
    assert_eq!(orphans, 0, "{case}: nodes no search can reach");
    // Single-thread builds are deterministic and measured 0. Parallel ones differ run to run: a
    // point right beside the 400-copy group can sit behind a beam full of equidistant copies
    // (measured after the post-batch re-link: 0–1 of 2,128 per run, found with a wider ef). Before
    // that re-link, a node linked first in its region could be found by nothing, even at ef 512.
    let slack = |of: usize| if threads == 1 { 0 } else { of / 500 };
    assert!(misses.len() <= slack(n), "{case}: not found: {misses:?}");
    assert!(rec >= 0.97, "{case}: recall@10 {rec:.4}");

    // Removing most of each copy group (every key ≡ 0, 1 or 2 mod 4 among the first 568, the
    // copies when unshuffled) and compacting must leave the rest reachable and found too. Before
    // compaction's own re-attach pass, about 1 parallel build in 10 left 9 of 1,702 nodes found
    // only at a wider ef; after it, 0–1 per run over 120 runs.
    let gone: Vec<u64> = keys.iter().copied().filter(|k| *k < 568 && k % 4 != 3).collect();
    for &k in &gone {
      assert!(h.remove(k));
      f.remove(k);
    }
    h.compact().unwrap_or_else(|e| panic!("{e}"));
    let live: Vec<u64> = keys.iter().copied().filter(|k| !gone.contains(k)).collect();
    let (misses, rec) = self_search(&h, &f, &data, &live);
    assert_eq!(h.unreachable_count(), 0, "{case}: unreachable after compaction");
    assert!(
      misses.len() <= slack(live.len()),
      "{case}: not found after compaction: {misses:?}"
    );
    assert!(rec >= 0.97, "{case}: recall@10 after compaction {rec:.4}");
  }
}

/// `SearchOptions::exclude`: each query searched as if its own key were not in the index (what
/// `tune()` uses to measure indexed vectors as held-out queries).
#[test]
fn exclude_is_never_returned_and_k_results_still_come_back() {
  let seed = 97;
  let (n, dim) = (2000, 24);
  let (h, f, data, keys) = build_f32(Metric::L2, seed, n, dim);
  // Every 10th indexed vector as a query, excluding itself.
  let picks: Vec<usize> = (0..n).step_by(10).collect();
  let qs: Vec<f32> = picks
    .iter()
    .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
    .collect();
  let own: Vec<u64> = picks.iter().map(|&i| keys[i]).collect();
  let (r, stats) = h
    .search_batch(
      &qs,
      K,
      SearchOptions {
        ef: Some(64),
        exclude: Some(&own),
        ..Default::default()
      },
    )
    .unwrap();
  let mut sum = 0.0;
  for (qi, &key) in own.iter().enumerate() {
    let got = r.neighbours(qi);
    assert_eq!(got.len(), K, "query {qi}: k results");
    assert!(got.iter().all(|nb| nb.key != key), "query {qi}: own key returned");
    assert!(!stats[qi].exact, "query {qi}: answered by the graph");
    // The truth without the node: exact k + 1, own key dropped.
    let want: Vec<Neighbor> = f
      .search(&qs[qi * dim..(qi + 1) * dim], K + 1, None)
      .unwrap()
      .into_iter()
      .filter(|nb| nb.key != key)
      .take(K)
      .collect();
    sum += recall(&got, &want);
  }
  let rec = sum / own.len() as f64;
  println!("indexed vectors as queries, self excluded: recall@10 = {rec:.4} at ef 64 (seed = {seed})");
  assert!(rec >= 0.9, "{rec:.4} (seed = {seed})");

  // What exclusion changes, at a narrow beam: the same queries searched with the node in place
  // (k + 1, own key dropped afterwards) ride its links and score higher. Printed, not asserted.
  let narrow = |exclude: Option<&[u64]>| {
    let k = if exclude.is_some() { K } else { K + 1 };
    let (r, _) = h
      .search_batch(
        &qs,
        k,
        SearchOptions {
          ef: Some(k),
          exclude,
          ..Default::default()
        },
      )
      .unwrap();
    let mut sum = 0.0;
    for (qi, &key) in own.iter().enumerate() {
      let got: Vec<Neighbor> = r
        .neighbours(qi)
        .into_iter()
        .filter(|nb| nb.key != key)
        .take(K)
        .collect();
      let want: Vec<Neighbor> = f
        .search(&qs[qi * dim..(qi + 1) * dim], K + 1, None)
        .unwrap()
        .into_iter()
        .filter(|nb| nb.key != key)
        .take(K)
        .collect();
      sum += recall(&got, &want);
    }
    sum / own.len() as f64
  };
  println!(
    "ef = k: recall@10 {:.4} with the node excluded, {:.4} with it in place (seed = {seed})",
    narrow(Some(&own)),
    narrow(None)
  );

  // Every node of a small graph excluded from its own search, so one of them is the entry point;
  // and a graph of a few nodes, all on level 0 (the entry point is then the only door).
  for (n, seed) in [(300usize, 5u64), (6, 6)] {
    let (h, _, data, keys) = build_f32(Metric::Cosine, seed, n, 8);
    let k = K.min(n - 1);
    let (r, _) = h
      .search_batch(
        &data,
        k,
        SearchOptions {
          ef: Some(n),
          exclude: Some(&keys),
          ..Default::default()
        },
      )
      .unwrap();
    for (qi, &key) in keys.iter().enumerate() {
      assert_eq!(r.counts[qi] as usize, k, "n {n}, query {qi}");
      assert!(
        r.keys[qi * r.k..qi * r.k + k].iter().all(|&x| x != key),
        "n {n}, query {qi}"
      );
    }
  }
}

#[test]
fn exclude_is_honoured_by_the_exact_fallback_and_checked() {
  let (h, _, data, keys) = build_f32(Metric::L2, 98, 500, 16);
  let q = &data[..16];
  let own = [keys[0]];
  let search = |k: usize, allow: Option<&[u64]>, exclude: Option<&[u64]>| {
    h.search_batch(
      q,
      k,
      SearchOptions {
        ef: None,
        allow,
        exclude,
      },
    )
  };
  // A small allow list is answered exactly: the excluded key is skipped there too.
  let allow: Vec<u64> = keys[..20].to_vec();
  let (r, stats) = search(K, Some(&allow), Some(&own)).unwrap();
  assert!(stats[0].exact);
  assert_eq!(r.counts[0] as usize, K);
  assert!(r.keys[..K].iter().all(|&x| x != keys[0] && allow.contains(&x)));
  // Asking for every vector: the graph alone cannot come up with k, exact search answers with
  // everything but the excluded key.
  let (r, stats) = search(500, None, Some(&own)).unwrap();
  assert!(stats[0].exact);
  assert_eq!(r.counts[0], 499);
  assert!(!r.keys[..499].contains(&keys[0]));
  // Without exclusion the query finds itself first; an unknown key excludes nothing.
  for ex in [None, Some(&[u64::MAX - 1][..])] {
    let (r, _) = search(K, None, ex).unwrap();
    assert_eq!(r.keys[0], keys[0]);
    assert_eq!(r.distances[0], 0.0);
  }
  // One key per query, or an error (and the index is unchanged).
  let before = h.fingerprint();
  for bad in [&[][..], &[keys[0], keys[1]][..]] {
    let e = search(K, None, Some(bad)).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARGUMENT", "{e}");
  }
  assert_eq!(h.fingerprint(), before);
}
