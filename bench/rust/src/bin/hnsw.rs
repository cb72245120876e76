//! Where does HnswIndex's single-query search time go? On real data dumped by the HNSW benchmark
//! (raw little-endian f32 files in bench/.cache/, see `hnsw.bench.ts` / ANALYSIS.md), this:
//! 1. builds an index (m = 16, efConstruction = 200; threads from `--threads`, default every core) and
//!    reports wall time;
//! 2. runs every query one at a time on one thread at several ef, reporting queries/s, recall@10 vs
//!    an exact scan, and distances / expanded nodes per query (`search_with_stats`). Build and search
//!    also report CPU time (Linux), which a loaded, shared machine disturbs far less than wall time:
//!    compare two versions by running their binaries back to back and reading the CPU columns;
//! 3. times the distance kernel alone the way the search uses it: simsimd per pair on the rows a
//!    query actually touches (random rows of the base, mostly out of L1/L2), against a 4-accumulator
//!    AVX2 kernel, and the share of search time the kernel accounts for;
//! 4. times the per-call overhead of `search` on a 1-node index (validation, locks, allocation).
//!
//! Run: `cargo run --release --manifest-path rust/Cargo.toml --bin hnsw -- BASE.f32 QUERIES.f32 DIM l2|cosine [N]`
//! Quantised walks: add `--quant int8|binary|pq [--oversample X]` (trained automatically on the first
//! 1,000 vectors; the rest are linked on codes; searches rescore `k × X` candidates when X > 1).
//! Profile: `perf record -g rust/target/release/hnsw …` (release keeps debug info).

use std::time::Instant;

#[path = "../common.rs"]
mod common;
use common::{thread_cpu_ns, process_cpu_ns, read_f32};

use ferrovec_core::hnsw::SearchOptions;
use ferrovec_core::{HnswIndex, HnswParams, Metric};
use simsimd::SpatialSimilarity;

#[cfg(target_arch = "x86_64")]
mod k4 {
  use std::arch::x86_64::*;
  /// Squared L2 with four independent 8-lane accumulators (dim a multiple of 32 for the main loop).
  #[target_feature(enable = "avx2,fma")]
  pub unsafe fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
      for (j, acc_j) in acc.iter_mut().enumerate() {
        let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8 * j)), _mm256_loadu_ps(pb.add(i + 8 * j)));
        *acc_j = _mm256_fmadd_ps(d, d, *acc_j);
      }
      i += 32;
    }
    while i + 8 <= n {
      let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
      acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
      i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let lo = _mm256_castps256_ps128(s);
    let hi = _mm256_extractf128_ps(s, 1);
    let s4 = _mm_add_ps(lo, hi);
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    let mut r = _mm_cvtss_f32(s1);
    while i < n {
      let d = a[i] - b[i];
      r += d * d;
      i += 1;
    }
    r
  }
  /// Dot product, same structure (cosine on pre-normalised rows is 1 − dot).
  #[target_feature(enable = "avx2,fma")]
  pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
      for (j, acc_j) in acc.iter_mut().enumerate() {
        *acc_j = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8 * j)), _mm256_loadu_ps(pb.add(i + 8 * j)), *acc_j);
      }
      i += 32;
    }
    while i + 8 <= n {
      acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
      i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let mut r = _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
    while i < n {
      r += a[i] * b[i];
      i += 1;
    }
    r
  }
}

fn main() {
  let args: Vec<String> = std::env::args().collect();
  if args.len() < 5 {
    eprintln!("usage: hnsw BASE.f32 QUERIES.f32 DIM l2|cosine [N] [--threads T] [--only-search SECONDS] [--build-only]");
    std::process::exit(2);
  }
  let dim: usize = args[3].parse().unwrap();
  let metric = if args[4] == "l2" { Metric::L2 } else { Metric::Cosine };
  let mut base = read_f32(&args[1]);
  let queries = read_f32(&args[2]);
  let n = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(base.len() / dim).min(base.len() / dim);
  base.truncate(n * dim);
  let nq = queries.len() / dim;
  let threads = args.iter().position(|a| a == "--threads").map_or(0, |i| args[i + 1].parse().unwrap());
  let soak: f64 = args.iter().position(|a| a == "--only-search").map_or(0.0, |i| args[i + 1].parse().unwrap());
  println!("{n} × {dim} {:?}, {nq} queries, build threads {threads}", metric);

  let mut p = HnswParams::new(dim, metric);
  p.m = 16;
  p.ef_construction = 200;
  p.capacity = n;
  p.seed = 1;
  p.build_threads = threads;
  let quant = args.iter().position(|a| a == "--quant").map(|i| args[i + 1].clone());
  let idx = HnswIndex::<f32>::new(p).unwrap();
  let idx = match quant.as_deref() {
    None => idx,
    Some(kind) => {
      use ferrovec_core::quant::{QuantOptions, QuantSpec};
      let spec = match kind {
        "int8" => QuantSpec::Int8 { quantile: QuantSpec::INT8_QUANTILE },
        "binary" => QuantSpec::Binary { center: true },
        "pq" => QuantSpec::Pq { m: dim / 4, iterations: QuantSpec::PQ_ITERATIONS, sample: QuantSpec::PQ_SAMPLE },
        other => panic!("unknown --quant {other}"),
      };
      let mut o = QuantOptions::new(spec);
      if let Some(i) = args.iter().position(|a| a == "--oversample") {
        o.oversample = args[i + 1].parse().unwrap();
      }
      println!("quantised: {kind}, oversample {}", o.oversample);
      idx.with_quantization(o).unwrap()
    }
  };
  let keys: Vec<u64> = (0..n as u64).collect();
  let t = Instant::now();
  let c0 = process_cpu_ns();
  idx.add_batch(&keys, &base, false).unwrap();
  let bt = t.elapsed().as_secs_f64();
  let bcpu = (process_cpu_ns() - c0) as f64 / 1e9;
  let mu = idx.memory_usage();
  println!("build {bt:.2} s wall, {bcpu:.2} s CPU; memory/vector: vectors {} codes {} graph {:.1} keys {:.1}", mu.vectors / n, mu.codes / n, mu.graph as f64 / n as f64, mu.keys as f64 / n as f64);
  if args.iter().any(|a| a == "--build-only") {
    return;
  }

  // Exact top-10 by the same kernel family (f64 accumulation), for recall by id overlap.
  let exact_d = |q: &[f32], r: &[f32]| -> f64 {
    match metric {
      Metric::L2 => q.iter().zip(r).map(|(a, b)| ((a - b) as f64).powi(2)).sum(),
      _ => {
        let (mut d, mut na, mut nb) = (0f64, 0f64, 0f64);
        for (a, b) in q.iter().zip(r) {
          d += (*a as f64) * (*b as f64);
          na += (*a as f64).powi(2);
          nb += (*b as f64).powi(2);
        }
        1.0 - d / (na * nb).sqrt()
      }
    }
  };
  let nq_eval = nq.min(300);
  let truth: Vec<Vec<u64>> = (0..nq_eval)
    .map(|qi| {
      let q = &queries[qi * dim..(qi + 1) * dim];
      let mut all: Vec<(f64, u64)> = (0..n).map(|i| (exact_d(q, &base[i * dim..(i + 1) * dim]), i as u64)).collect();
      all.select_nth_unstable_by(9, |a, b| a.0.total_cmp(&b.0));
      all[..10].iter().map(|x| x.1).collect()
    })
    .collect();

  let cold_mb: usize = args.iter().position(|a| a == "--cold").map_or(0, |i| args[i + 1].parse().unwrap());
  if cold_mb > 0 {
    // Cold-cache latency: before each query, write a buffer larger than the last-level cache, so the
    // query finds the index's rows and lists in DRAM (as one search does when other work ran in
    // between, e.g. the peers in the node latency bench). Median of each query timed alone.
    let mut junk = vec![0u8; cold_mb << 20];
    for ef in [16usize, 64] {
      let mut times = Vec::with_capacity(nq * 3);
      for r in 0..3 {
        for qi in 0..nq {
          for (i, b) in junk.iter_mut().step_by(64).enumerate() {
            *b = b.wrapping_add((i + r) as u8);
          }
          let t = Instant::now();
          let _ = idx.search(&queries[qi * dim..(qi + 1) * dim], 10, SearchOptions { ef: Some(ef), allow: None, ..Default::default() }).unwrap();
          times.push(t.elapsed().as_secs_f64() * 1e6);
        }
      }
      times.sort_by(f64::total_cmp);
      println!("cold ef {ef:>3}: median {:.1} µs, p90 {:.1} µs ({} calls, {cold_mb} MB written before each)", times[times.len() / 2], times[times.len() * 9 / 10], times.len());
    }
    println!("checksum {}", junk.iter().map(|&b| b as u64).sum::<u64>());
    return;
  }

  if soak > 0.0 {
    // For perf: search at ef 64 for `soak` seconds.
    let t = Instant::now();
    let mut count = 0usize;
    while t.elapsed().as_secs_f64() < soak {
      let qi = count % nq;
      let _ = idx.search(&queries[qi * dim..(qi + 1) * dim], 10, SearchOptions { ef: Some(64), allow: None, ..Default::default() }).unwrap();
      count += 1;
    }
    println!("soak: {:.0} q/s", count as f64 / t.elapsed().as_secs_f64());
    return;
  }

  let mut dist_per_q_64 = 0.0;
  let mut us_per_q_64 = 0.0;
  for ef in [10usize, 16, 32, 64, 128, 256] {
    let mut hits = 0usize;
    let mut dist = 0u64;
    let mut vis = 0u64;
    for qi in 0..nq_eval {
      let (r, st) = idx.search_with_stats(&queries[qi * dim..(qi + 1) * dim], 10, SearchOptions { ef: Some(ef), allow: None, ..Default::default() }).unwrap();
      hits += r.iter().filter(|x| truth[qi].contains(&x.key)).count();
      dist += st.distances;
      vis += st.visited;
    }
    let reps = 3;
    let t = Instant::now();
    let c0 = thread_cpu_ns();
    for _ in 0..reps {
      for qi in 0..nq {
        let _ = idx.search(&queries[qi * dim..(qi + 1) * dim], 10, SearchOptions { ef: Some(ef), allow: None, ..Default::default() }).unwrap();
      }
    }
    let secs = t.elapsed().as_secs_f64() / (reps * nq) as f64;
    let cpu_us = (thread_cpu_ns() - c0) as f64 / 1e3 / (reps * nq) as f64;
    let dq = dist as f64 / nq_eval as f64;
    println!(
      "ef {ef:>3}: recall@10 {:.3} (id overlap), {:>8.0} q/s, {:>6.1} µs/query ({:>6.1} CPU), {:>6.0} distances/query, {:>5.0} expanded/query, {:>5.0} ns/distance all-in",
      hits as f64 / (10 * nq_eval) as f64,
      1.0 / secs,
      secs * 1e6,
      cpu_us,
      dq,
      vis as f64 / nq_eval as f64,
      secs * 1e9 / dq
    );
    if ef == 64 {
      dist_per_q_64 = dq;
      us_per_q_64 = secs * 1e6;
    }
  }

  // Kernel alone, on the access pattern of a search: one query against pseudo-random base rows.
  let m = 2_000_000usize.min(200_000_000 / dim);
  let mut s = 0x9e3779b97f4a7c15u64;
  let rows: Vec<usize> = (0..m)
    .map(|_| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      (s % n as u64) as usize
    })
    .collect();
  let q = &queries[..dim];
  let time = |name: &str, f: &dyn Fn(&[f32], &[f32]) -> f32| {
    let t = Instant::now();
    let mut acc = 0f32;
    for &r in &rows {
      acc += f(q, &base[r * dim..(r + 1) * dim]);
    }
    let ns = t.elapsed().as_secs_f64() * 1e9 / m as f64;
    println!("kernel {name:<34} {ns:>6.1} ns/distance on random rows (checksum {acc:.3e})");
    ns
  };
  let simsimd_ns = match metric {
    Metric::L2 => time("simsimd l2sq (what search calls)", &|a, b| <f32 as SpatialSimilarity>::l2sq(a, b).unwrap() as f32),
    _ => time("simsimd cos (what search calls)", &|a, b| <f32 as SpatialSimilarity>::cos(a, b).unwrap() as f32),
  };
  #[cfg(target_arch = "x86_64")]
  if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
    match metric {
      Metric::L2 => time("4-accumulator AVX2 l2sq", &|a, b| unsafe { k4::l2sq(a, b) }),
      _ => time("4-acc AVX2 dot (pre-normalised)", &|a, b| unsafe { k4::dot(a, b) }),
    };
    let _ = time("simsimd dot (pre-normalised)", &|a, b| <f32 as SpatialSimilarity>::dot(a, b).unwrap() as f32);
  }
  // The same two kernels with the rows prefetched a few rows ahead (every cache line of the row), as
  // a search could do for the unvisited neighbours of a node before scoring them.
  #[cfg(target_arch = "x86_64")]
  {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let ahead = 4usize;
    let time_pf = |name: &str, f: &dyn Fn(&[f32], &[f32]) -> f32| {
      let t = Instant::now();
      let mut acc = 0f32;
      for i in 0..m {
        if i + ahead < m {
          let p = base[rows[i + ahead] * dim..].as_ptr() as *const i8;
          let mut off = 0;
          while off < dim * 4 {
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
            off += 64;
          }
        }
        acc += f(q, &base[rows[i] * dim..(rows[i] + 1) * dim]);
      }
      let ns = t.elapsed().as_secs_f64() * 1e9 / m as f64;
      println!("kernel {name:<34} {ns:>6.1} ns/distance, rows prefetched {ahead} ahead (checksum {acc:.3e})");
    };
    match metric {
      Metric::L2 => {
        time_pf("simsimd l2sq + prefetch", &|a, b| <f32 as SpatialSimilarity>::l2sq(a, b).unwrap() as f32);
        time_pf("4-acc AVX2 l2sq + prefetch", &|a, b| unsafe { k4::l2sq(a, b) });
      }
      _ => {
        time_pf("simsimd cos + prefetch", &|a, b| <f32 as SpatialSimilarity>::cos(a, b).unwrap() as f32);
        time_pf("4-acc AVX2 dot + prefetch", &|a, b| unsafe { k4::dot(a, b) });
      }
    }
  }
  println!(
    "at ef 64: {:.0} distances × {:.0} ns = {:.1} µs of {:.1} µs per query in the kernel ({:.0} %)",
    dist_per_q_64,
    simsimd_ns,
    dist_per_q_64 * simsimd_ns / 1000.0,
    us_per_q_64,
    100.0 * dist_per_q_64 * simsimd_ns / 1000.0 / us_per_q_64
  );
}
