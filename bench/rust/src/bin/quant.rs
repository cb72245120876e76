//! Quantised flat scan against the f32 flat scan, in CPU time, on real data (issue 4's "binary flat
//! scan ≥ 10× f32 flat scan"). For each code type this builds a `QuantizedFlatIndex` next to an f32
//! `FlatIndex` over the same rows and times, on a one-thread rayon pool:
//! - single queries (`search`, one call per query) and one batch (`search_batch`, every query);
//! - end to end (scan on codes + exact rescoring of `k × oversample` candidates, the defaults) and the
//!   raw code scan (the same candidates, originals dropped so nothing is rescored).
//!
//! Every speed figure is printed with its ratio to the f32 flat scan and its recall@10 against the f32
//! exact results, plus a checksum of the returned keys and distances, so two builds can be compared
//! for identical answers (A/B: build each, run the two binaries back to back, compare the CPU
//! columns and the checksums).
//!
//! Time is process CPU time (`/proc/self/stat`, user + system) per query: on the shared 2-core
//! machine wall time mostly measures the neighbours.
//!
//! Run: `cargo run --release --manifest-path rust/Cargo.toml --bin quant -- BASE.f32 QUERIES.f32 DIM
//! cosine|dot|l2 [N] [NQ] [--only binary,int8,f16] [--threads T]` (raw little-endian f32 files, e.g. bench/.cache/*.f32).

use std::time::Instant;

#[path = "../common.rs"]
mod common;
use common::{process_cpu_ns, read_f32};

use ferrovec_core::quant::{QuantOptions, QuantSpec, QuantizedFlatIndex};
use ferrovec_core::metric;
use ferrovec_core::{BatchResult, FlatIndex, Metric, Neighbor};

/// CPU ns per query of `f` (which answers `per_call` queries), repeated until ≥ `min_ns` of CPU.
fn cpu_per_query(per_call: usize, min_ns: u64, mut f: impl FnMut()) -> f64 {
  f();
  let (c0, t0) = (process_cpu_ns(), Instant::now());
  let mut calls = 0usize;
  loop {
    f();
    calls += 1;
    let used = process_cpu_ns() - c0;
    if used >= min_ns && calls >= 2 {
      return used as f64 / (calls * per_call) as f64;
    }
    if t0.elapsed().as_secs() > 60 {
      return (process_cpu_ns() - c0) as f64 / (calls * per_call) as f64;
    }
  }
}

fn checksum(res: &[Vec<Neighbor>]) -> u64 {
  let mut h = 0xcbf2_9ce4_8422_2325u64;
  for r in res {
    for nb in r {
      for x in [nb.key, u64::from(nb.distance.to_bits())] {
        h ^= x;
        h = h.wrapping_mul(0x100_0000_01b3);
      }
    }
  }
  h
}

fn split(b: &BatchResult) -> Vec<Vec<Neighbor>> {
  (0..b.counts.len())
    .map(|i| {
      (0..b.counts[i] as usize)
        .map(|j| Neighbor {
          key: b.keys[i * b.k + j],
          distance: b.distances[i * b.k + j],
        })
        .collect()
    })
    .collect()
}

/// Recall@k against exact results, counting a returned key whose *exact* distance ties the k-th
/// exact distance as a hit (code-only results carry estimated distances, so those are recomputed).
fn recall(got: &[Vec<Neighbor>], exact: &[Vec<Neighbor>], k: usize, exact_dist: impl Fn(usize, u64) -> f32) -> f64 {
  let mut hits = 0usize;
  for (qi, (g, e)) in got.iter().zip(exact).enumerate() {
    let kth = e.get(k - 1).map_or(f32::INFINITY, |n| n.distance);
    let set: std::collections::HashSet<u64> = e.iter().take(k).map(|n| n.key).collect();
    hits += g
      .iter()
      .take(k)
      .filter(|n| set.contains(&n.key) || exact_dist(qi, n.key) <= kth + 1e-6)
      .count();
  }
  hits as f64 / (k * exact.len()) as f64
}

struct Timing {
  single_ns: f64,
  batch_ns: f64,
  batch_wall_ns: f64,
  single_sum: u64,
  batch_sum: u64,
  recall: f64,
}

fn main() {
  let args: Vec<String> = std::env::args().collect();
  if args.len() < 5 {
    eprintln!("usage: quant BASE.f32 QUERIES.f32 DIM cosine|dot|l2 [N] [NQ] [--only binary,int8,f16]");
    std::process::exit(2);
  }
  let dim: usize = args[3].parse().expect("DIM");
  let metric: Metric = args[4].parse().expect("metric");
  let mut base = read_f32(&args[1]);
  let mut queries = read_f32(&args[2]);
  let n = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(base.len() / dim).min(base.len() / dim);
  let nq = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(200).min(queries.len() / dim);
  let only: Option<Vec<String>> = args
    .iter()
    .position(|a| a == "--only")
    .map(|i| args[i + 1].split(',').map(str::to_owned).collect());
  base.truncate(n * dim);
  queries.truncate(nq * dim);
  let k = 10;
  let keys: Vec<u64> = (0..n as u64).collect();
  let threads: usize = args
    .iter()
    .position(|a| a == "--threads")
    .and_then(|i| args.get(i + 1)?.parse().ok())
    .unwrap_or(1);
  let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
  println!("{n} × {dim} {metric}, {nq} queries, k = {k}, {threads} thread(s), CPU ns per query (wall ns per query for batches)");

  let mut flat = FlatIndex::<f32>::new(dim, metric).expect("flat");
  flat.add_batch(&keys, &base, false).expect("add");
  let exact: Vec<Vec<Neighbor>> = pool.install(|| split(&flat.search_batch(&queries, k, None).expect("search")));
  let time = |search_one: &(dyn Fn(&[f32]) -> Vec<Neighbor> + Sync), batch: &(dyn Fn(&[f32]) -> BatchResult + Sync)| {
    pool.install(|| {
      let singles: Vec<Vec<Neighbor>> = queries.chunks_exact(dim).map(search_one).collect();
      let single_ns = cpu_per_query(nq, 1_000_000_000, || {
        for q in queries.chunks_exact(dim) {
          std::hint::black_box(search_one(q));
        }
      });
      let b = split(&batch(&queries));
      let batch_ns = cpu_per_query(nq, 1_000_000_000, || {
        std::hint::black_box(batch(&queries));
      });
      // Wall time of the batch too: with several threads, CPU time also counts rayon's idle
      // spinning, and the Node bench reports wall time.
      let t = Instant::now();
      let mut calls = 0usize;
      while calls < 2 || t.elapsed().as_secs_f64() < 1.0 {
        std::hint::black_box(batch(&queries));
        calls += 1;
      }
      let batch_wall_ns = t.elapsed().as_nanos() as f64 / (calls * nq) as f64;
      Timing {
        single_ns,
        batch_ns,
        batch_wall_ns,
        single_sum: checksum(&singles),
        batch_sum: checksum(&b),
        recall: recall(&singles, &exact, k, |qi, key| {
          let (q, r) = (qi * dim, key as usize * dim);
          metric::distance(metric, &queries[q..q + dim], &base[r..r + dim]).unwrap_or(f32::INFINITY)
        }),
      }
    })
  };
  let f32t = time(&|q| flat.search(q, k, None).expect("s"), &|qs| flat.search_batch(qs, k, None).expect("b"));
  println!(
    "{:<28} single {:>9.0} ns/q  batch {:>9.0} ns/q  recall@10 {:.3}  batch wall {:>9.0} ns/q",
    "f32 FlatIndex (exact)", f32t.single_ns, f32t.batch_ns, f32t.recall, f32t.batch_wall_ns
  );

  let variants: Vec<(&str, QuantSpec)> = vec![
    ("binary", QuantSpec::Binary { center: true }),
    ("int8", QuantSpec::Int8 { quantile: QuantSpec::INT8_QUANTILE }),
    ("f16", QuantSpec::F16),
  ];
  for (name, spec) in variants {
    if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == name)) {
      continue;
    }
    if name == "binary" && metric == Metric::L2 {
      continue;
    }
    let defaults = QuantOptions::new(spec.clone());
    let mut runs = vec![(format!("{name} end-to-end ×{}", defaults.oversample), defaults.clone())];
    if defaults.oversample > 1.0 {
      // Same candidates, originals dropped: the raw code scan plus the slot → key conversion.
      let mut raw = defaults.clone();
      raw.keep_originals = false;
      runs.push((format!("{name} code scan only"), raw));
    }
    for (label, opts) in runs {
      let mut qi = QuantizedFlatIndex::new(dim, metric, opts).expect("quant");
      if !qi.is_trained() {
        qi.train(&base).expect("train");
      }
      qi.add_batch(&keys, &base, false).expect("add");
      let t = time(&|q| qi.search(q, k, None).expect("s"), &|qs| qi.search_batch(qs, k, None).expect("b"));
      println!(
        "{:<28} single {:>9.0} ns/q ({:>5.2}× f32)  batch {:>9.0} ns/q ({:>5.2}× f32)  recall@10 {:.3}  sums {:016x} {:016x}  batch wall {:>9.0} ns/q ({:>5.2}× f32)",
        label,
        t.single_ns,
        f32t.single_ns / t.single_ns,
        t.batch_ns,
        f32t.batch_ns / t.batch_ns,
        t.recall,
        t.single_sum,
        t.batch_sum,
        t.batch_wall_ns,
        f32t.batch_wall_ns / t.batch_wall_ns
      );
    }
  }
}
