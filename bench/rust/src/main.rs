//! Where does FlatIndex's batch time go? Times, on one thread unless stated:
//! 1. `FlatIndex::search_batch` (1 and 2 threads): kernels plus top-k upkeep and scheduling;
//! 2. a rows-outer loop over 64 queries calling simsimd once per (query, row) pair: flat.rs before
//!    commit cb31658, and what any per-pair design costs (simsimd's f32 kernels keep one accumulator,
//!    one dependent FMA chain);
//! 3. the same loop with ferrovec-core's own tile kernel (`Element::tile_kernel`, `metric::TILE`
//!    queries per call), the kernel flat.rs uses now, without the top-k;
//! 4. the same loop with an 8-query, 8-accumulator AVX2 kernel (below), to show the kernel's headroom;
//! 5. `metric::distances_into` against a bare simsimd loop, to size the per-row validation cost.
//!
//! Run: `npm run bench:rust` in bench/ (or `cargo run --release --manifest-path rust/Cargo.toml`).
//! Profile: `perf record rust/target/release/ferrovec-bench-rust && perf report` (release keeps debug
//! info). Findings so far are in ../ANALYSIS.md.

use std::time::Instant;

use ferrovec_core::metric::{self, Metric, TILE};
use ferrovec_core::{Element, FlatIndex};
use simsimd::SpatialSimilarity;

/// Seeded uniform data in [−1, 1) (a 64-bit LCG: reproducible, no dependency).
fn data(n: usize, seed: u64) -> Vec<f32> {
  let mut s = seed;
  (0..n)
    .map(|_| {
      s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
      ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    })
    .collect()
}

fn gmacs(macs: usize, secs: f64) -> f64 {
  macs as f64 / secs / 1e9
}

#[cfg(target_arch = "x86_64")]
mod tile {
  use std::arch::x86_64::*;

  /// Squared L2 of one row against 8 queries (`qs` holds 8 rows of `dim`), one accumulator per query.
  ///
  /// # Safety
  /// The CPU must support AVX2 and FMA; `qs.len() >= 8 * dim`, `row.len() >= dim`.
  /// With `F64_SCALAR`, each accumulator is reduced the way ferrovec-core's tile kernel does it (store
  /// the 8 lanes, add them as scalar f64), to tell the cost of the reduction from the cost of the tile
  /// shape.
  #[target_feature(enable = "avx2,fma")]
  pub unsafe fn l2_row_vs_8<const F64_SCALAR: bool>(qs: &[f32], dim: usize, row: &[f32], out: &mut [f32; 8]) {
    let mut acc = [_mm256_setzero_ps(); 8];
    let mut j = 0;
    while j + 8 <= dim {
      // SAFETY: j + 8 <= dim bounds every load, per the function's contract.
      let r = unsafe { _mm256_loadu_ps(row.as_ptr().add(j)) };
      for (t, a) in acc.iter_mut().enumerate() {
        let q = unsafe { _mm256_loadu_ps(qs.as_ptr().add(t * dim + j)) };
        let d = _mm256_sub_ps(q, r);
        *a = _mm256_fmadd_ps(d, d, *a);
      }
      j += 8;
    }
    for (t, a) in acc.iter().enumerate() {
      let mut x = if F64_SCALAR {
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` is exactly one unaligned 256-bit store.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
        lanes.iter().map(|&v| f64::from(v)).sum::<f64>() as f32
      } else {
        let s = _mm_add_ps(_mm256_extractf128_ps(*a, 1), _mm256_castps256_ps128(*a));
        let s = _mm_hadd_ps(s, s);
        let s = _mm_hadd_ps(s, s);
        _mm_cvtss_f32(s)
      };
      for k in j..dim {
        let d = qs[t * dim + k] - row[k];
        x += d * d;
      }
      out[t] = x;
    }
  }
}

fn main() {
  let dim = 768;
  let n = 20_000;
  let nq = 256;
  let base = data(n * dim, 3);
  let qs = data(nq * dim, 4);
  println!("data: {n} rows x {dim} dims (uniform, seeded), {nq} queries, k = 10, squared L2");

  let mut index = match FlatIndex::<f32>::new(dim, Metric::L2) {
    Ok(i) => i,
    Err(e) => return eprintln!("cannot build index: {e}"),
  };
  let keys: Vec<u64> = (0..n as u64).collect();
  if let Err(e) = index.add_batch(&keys, &base, false) {
    return eprintln!("cannot add: {e}");
  }
  for threads in [1usize, 2] {
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
      return eprintln!("cannot build a rayon pool");
    };
    let reps = 3;
    let t = Instant::now();
    for _ in 0..reps {
      let _ = pool.install(|| index.search_batch(&qs, 10, None));
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!(
      "FlatIndex::search_batch, {threads} thread(s): {:>6.0} q/s, {:>5.2} G mult-add/s",
      nq as f64 / s,
      gmacs(nq * n * dim, s)
    );
  }

  // Rows outer, 64 queries in tiles of 8, one thread, no top-k upkeep: kernel cost alone.
  let tiles = 8;
  let t = Instant::now();
  let mut sum_a = 0f64;
  for tile in qs.chunks_exact(8 * dim).take(tiles) {
    for r in base.chunks_exact(dim) {
      for q in tile.chunks_exact(dim) {
        sum_a += f32::l2sq(q, r).unwrap_or(f64::NAN);
      }
    }
  }
  let sa = t.elapsed().as_secs_f64();
  println!("simsimd per pair (flat.rs before cb31658), 1 thread: {:>5.2} G mult-add/s", gmacs(tiles * 8 * n * dim, sa));

  let tile_kernel = match <f32 as Element>::tile_kernel(Metric::L2) {
    Ok(k) => k,
    Err(e) => return eprintln!("no tile kernel: {e}"),
  };
  let norms = vec![0f32; TILE];
  let mut dists = [0f32; TILE];
  let t = Instant::now();
  let mut sum_c = 0f64;
  for tile in qs.chunks_exact(8 * dim).take(tiles) {
    for r in base.chunks_exact(dim) {
      for sub in tile.chunks(TILE * dim) {
        let m = sub.len() / dim;
        tile_kernel(sub, &norms[..m], r, &mut dists[..m]);
        sum_c += dists[..m].iter().map(|&x| f64::from(x)).sum::<f64>();
      }
    }
  }
  let sc = t.elapsed().as_secs_f64();
  println!(
    "ferrovec-core tile kernel ({TILE} queries/call), 1 thread: {:>5.2} G mult-add/s ({:.2}x per pair; sums agree to {:.1e})",
    gmacs(tiles * 8 * n * dim, sc),
    sa / sc,
    ((sum_a - sum_c) / sum_a).abs()
  );

  #[cfg(target_arch = "x86_64")]
  if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
    for (label, scalar_f64) in [("f32 hadd reduction", false), ("scalar f64 reduction", true)] {
      let t = Instant::now();
      let mut sum_b = 0f64;
      let mut out = [0f32; 8];
      for tile in qs.chunks_exact(8 * dim).take(tiles) {
        for r in base.chunks_exact(dim) {
          // SAFETY: AVX2 and FMA were detected above; the tile holds 8 rows of `dim`.
          if scalar_f64 {
            unsafe { tile::l2_row_vs_8::<true>(tile, dim, r, &mut out) };
          } else {
            unsafe { tile::l2_row_vs_8::<false>(tile, dim, r, &mut out) };
          }
          sum_b += out.iter().map(|&x| f64::from(x)).sum::<f64>();
        }
      }
      let sb = t.elapsed().as_secs_f64();
      println!(
        "8-query AVX2 kernel, 8 accumulators, {label}, 1 thread: {:>5.2} G mult-add/s ({:.2}x per pair; sums agree to {:.1e})",
        gmacs(tiles * 8 * n * dim, sb),
        sa / sb,
        ((sum_a - sum_b) / sum_a).abs()
      );
    }
  }

  // distances_into vs a bare kernel loop: the gap is validating every row on every call.
  for d in [128usize, 768] {
    let rows = 2048;
    let r = data(rows * d, 5);
    let q = data(d, 6);
    let mut out = vec![0f32; rows];
    let reps = 500;
    let t = Instant::now();
    for _ in 0..reps {
      let _ = metric::distances_into(Metric::L2, &q, &r, &mut out);
    }
    let a = t.elapsed().as_nanos() as f64 / (reps * rows) as f64;
    let t = Instant::now();
    for _ in 0..reps {
      for (o, row) in out.iter_mut().zip(r.chunks_exact(d)) {
        *o = f32::l2sq(&q, row).unwrap_or(f64::NAN) as f32;
      }
    }
    let b = t.elapsed().as_nanos() as f64 / (reps * rows) as f64;
    println!("dim {d:>4}: metric::distances_into {a:>6.1} ns/row; bare simsimd loop {b:>6.1} ns/row");
  }
}
