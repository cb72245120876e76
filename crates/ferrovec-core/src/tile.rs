//! Tile kernels for exact search: one row against a block of up to [`TILE`] queries per call.
//!
//! Why not simsimd here: its pairwise f32 kernels chain every FMA through one accumulator, so they
//! run at FMA latency (≈4 cycles per 8 lanes). A tile keeps `N × 2` independent accumulators (`N`
//! queries, chunk `c` of 8 lanes going to accumulator `c mod 2`), so up to eight chains are in
//! flight — what two FMA ports with 4-cycle latency need — and each row chunk is loaded once for
//! all `N` queries.
//!
//! The per-pair arithmetic (which lanes go to which accumulator, the reduction order, the tail) is
//! the same whatever `N` is, so a query scored alone and the same query scored in a batch get
//! bit-identical distances.
//!
//! ```text
//!             row chunk x (8 lanes) ─┬─► acc[0][u] += (q0 − x)²   (l2)   or  q0·x  (dot, cosine)
//!   loaded once per chunk            ├─► acc[1][u] += (q1 − x)²
//!                                    ├─► …
//!                                    └─► acc[N−1][u]                     + ‖x‖² once (cosine)
//! ```
//!
//! Lanes are reduced in `f64`. With integer-valued inputs (Fashion-MNIST pixels) every lane's partial
//! sum stays below 2²⁴, so distances come out exact, as from the pairwise kernels.
//!
//! Cosine needs ‖q‖², which callers compute once per block ([`crate::metric::query_norms`]) and
//! pass in `norms`; the row's ‖x‖² is accumulated alongside the dot products.

use crate::metric::{Metric, TileKernel, TILE};

/// The fastest tile kernel this CPU supports for `metric` (an f32 metric).
pub(crate) fn resolve(metric: Metric) -> TileKernel<f32> {
  #[cfg(target_arch = "x86_64")]
  {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
      return match metric {
        Metric::L2 => avx2::l2,
        Metric::Dot => avx2::dot,
        _ => avx2::cosine,
      };
    }
  }
  match metric {
    Metric::L2 => portable::l2,
    Metric::Dot => portable::dot,
    _ => portable::cosine,
  }
}

/// A pairwise kernel for the graph walk: one query against one row, returning the raw sum
/// (`Σ (aᵢ − bᵢ)²` or `Σ aᵢ·bᵢ`) in `f64`; callers turn it into the metric's distance.
pub(crate) type PairKernel = fn(&[f32], &[f32]) -> f64;

/// AVX2+FMA pairwise kernels `(l2sq, dot)`, or `None` on CPUs without them (the caller then uses
/// simsimd, whose NEON/SSE/serial backends are the best available there).
///
/// Why not simsimd per pair: its f32 kernels keep one accumulator, so every FMA waits for the
/// previous one (latency bound), and a dimension that is not a multiple of 16 ends in a masked
/// tail. These keep four independent chains of 8 lanes. Measured in `bench/rust` (`hnsw` binary):
/// 1.4–2.2× per distance at 100-d, 1.05–1.5× at 784-d on rows out of cache.
pub(crate) fn pair_kernels() -> Option<(PairKernel, PairKernel)> {
  #[cfg(target_arch = "x86_64")]
  {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
      return Some((avx2::pair_l2sq, avx2::pair_dot));
    }
  }
  None
}

/// An early-abandoning check for the graph walk: whether `Σ (aᵢ·sa − bᵢ·sb)²` exceeds `limit`,
/// reading the rows only as far as it takes to tell. `true` is a proof (the partial sum already
/// exceeds `limit`); `false` means "not proven" (the caller computes the distance).
pub(crate) type BeyondKernel = fn(a: &[f32], sa: f32, b: &[f32], sb: f32, limit: f32) -> bool;

/// The AVX2+FMA [`BeyondKernel`], or `None` on CPUs without them (walks then score every row).
///
/// Why: on rows of a kilobyte or more the walk waits on memory, not arithmetic, and about two thirds
/// of the rows a beam search scores end up farther than its worst kept result (measured in
/// `bench/rust` on 10k clustered 384/768-d cosine at ef 64: 68% of level-0 scores, at about 4× the
/// worst kept distance). A partial sum of squares only grows, so it proves such a row too far after
/// reading part of it, and the rest of the row never leaves memory.
pub(crate) fn beyond_kernel() -> Option<BeyondKernel> {
  #[cfg(target_arch = "x86_64")]
  {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
      return Some(avx2::beyond);
    }
  }
  None
}

/// Name of the tile implementation in use, for `nativeInfo()`.
pub(crate) fn backend() -> &'static str {
  #[cfg(target_arch = "x86_64")]
  {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
      return "avx2+fma";
    }
  }
  "portable"
}

/// Turns per-query sums into distances, with the same semantics as the pairwise kernels.
#[inline]
fn finish(kind: Kind, sums: &[f64], row_norm: f64, norms: &[f32], out: &mut [f32]) {
  for (j, o) in out.iter_mut().enumerate() {
    let s = sums[j];
    *o = match kind {
      Kind::L2 => s as f32,
      Kind::Dot => (1.0 - s) as f32,
      Kind::Cosine => {
        let aa = f64::from(norms.get(j).copied().unwrap_or(0.0));
        let bb = row_norm;
        if aa == 0.0 && bb == 0.0 {
          0.0
        } else if aa == 0.0 || bb == 0.0 {
          1.0
        } else {
          (1.0 - s / (aa * bb).sqrt()).clamp(0.0, 2.0) as f32
        }
      }
    };
  }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
  L2,
  Dot,
  Cosine,
}

/// `true` when the slices cannot be read as `out.len()` queries of `row.len()`; the kernels then
/// write NaN instead of reading out of bounds (callers never get here: FlatIndex sizes every tile).
#[inline]
fn malformed(queries: &[f32], row: &[f32], out: &[f32]) -> bool {
  out.is_empty() || out.len() > TILE || queries.len() < out.len() * row.len()
}

/// Accumulators per query: chunk `c` of 8 lanes goes to accumulator `c % U`. Fixed for every block
/// size so results never depend on how queries were grouped.
const U: usize = 2;

/// Expands to a `match` on the block size that calls `$acc::<N, U, DIFF, NORM>`.
macro_rules! dispatch {
  ($acc:ident, $diff:expr, $norm:expr, $q:expr, $row:expr, $sums:expr) => {
    match $sums.len() {
      1 => $acc::<1, U, $diff, $norm>($q, $row, $sums),
      2 => $acc::<2, U, $diff, $norm>($q, $row, $sums),
      3 => $acc::<3, U, $diff, $norm>($q, $row, $sums),
      _ => $acc::<4, U, $diff, $norm>($q, $row, $sums),
    }
  };
}

/// Generates the three public kernels of a backend from its `accumulate` function.
macro_rules! kernels {
  ($acc:ident) => {
    pub(super) fn l2(queries: &[f32], norms: &[f32], row: &[f32], out: &mut [f32]) {
      run(super::Kind::L2, queries, norms, row, out)
    }
    pub(super) fn dot(queries: &[f32], norms: &[f32], row: &[f32], out: &mut [f32]) {
      run(super::Kind::Dot, queries, norms, row, out)
    }
    pub(super) fn cosine(queries: &[f32], norms: &[f32], row: &[f32], out: &mut [f32]) {
      run(super::Kind::Cosine, queries, norms, row, out)
    }

    fn run(kind: super::Kind, queries: &[f32], norms: &[f32], row: &[f32], out: &mut [f32]) {
      if super::malformed(queries, row, out) {
        out.fill(f32::NAN);
        return;
      }
      let mut sums = [0f64; TILE];
      let sums = &mut sums[..out.len()];
      let row_norm = match kind {
        super::Kind::L2 => dispatch!($acc, true, false, queries, row, sums),
        super::Kind::Dot => dispatch!($acc, false, false, queries, row, sums),
        super::Kind::Cosine => dispatch!($acc, false, true, queries, row, sums),
      };
      super::finish(kind, sums, row_norm, norms, out);
    }
  };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
  use super::{TILE, U};
  use std::arch::x86_64::*;

  kernels!(accumulate_checked);

  /// Safe entry: `resolve` hands these kernels out only after detecting AVX2 and FMA.
  fn accumulate_checked<const N: usize, const U: usize, const DIFF: bool, const NORM: bool>(
    q: &[f32],
    row: &[f32],
    sums: &mut [f64],
  ) -> f64 {
    // SAFETY: reached only through kernels that `resolve` returns after
    // `is_x86_feature_detected!("avx2")` and `("fma")` both held; slice bounds were checked by
    // `malformed` (q holds N rows of row.len()).
    unsafe { accumulate::<N, U, DIFF, NORM>(q, row, sums) }
  }

  /// Safe entry: `pair_kernels` hands this out only after detecting AVX2 and FMA.
  pub(super) fn pair_l2sq(a: &[f32], b: &[f32]) -> f64 {
    // SAFETY: AVX2 and FMA were detected (see above); `pair` bounds every load by the shorter slice.
    unsafe { pair::<true>(a, b) }
  }

  /// Safe entry: `pair_kernels` hands this out only after detecting AVX2 and FMA.
  pub(super) fn pair_dot(a: &[f32], b: &[f32]) -> f64 {
    // SAFETY: as for `pair_l2sq`.
    unsafe { pair::<false>(a, b) }
  }

  /// Safe entry: `beyond_kernel` hands this out only after detecting AVX2 and FMA.
  pub(super) fn beyond(a: &[f32], sa: f32, b: &[f32], sb: f32, limit: f32) -> bool {
    // SAFETY: as for `pair_l2sq`; `beyond_scaled` bounds every load by the shorter slice.
    unsafe { beyond_scaled(a, sa, b, sb, limit) }
  }

  /// [`super::BeyondKernel`]: four 8-lane accumulators of `(aᵢ·sa − bᵢ·sb)²` over 32-element steps,
  /// compared with `limit` after every [`BEYOND_CHECK`] elements (a horizontal sum is a few
  /// instructions against the 64 loads of a check's stretch). The tail after the last full step
  /// is left to the caller's exact kernel.
  #[inline]
  #[target_feature(enable = "avx2,fma")]
  unsafe fn beyond_scaled(a: &[f32], sa: f32, b: &[f32], sb: f32, limit: f32) -> bool {
    let d = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (va, vb) = (_mm256_set1_ps(sa), _mm256_set1_ps(sb));
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): i + 8·(u+1) ≤ d ≤ both lengths.
    while i + 32 <= d {
      for (u, acc_u) in acc.iter_mut().enumerate() {
        let x = unsafe { _mm256_loadu_ps(pa.add(i + 8 * u)) };
        let y = unsafe { _mm256_loadu_ps(pb.add(i + 8 * u)) };
        let t = _mm256_fmsub_ps(x, va, _mm256_mul_ps(y, vb));
        *acc_u = _mm256_fmadd_ps(t, t, *acc_u);
      }
      i += 32;
      if i % BEYOND_CHECK == 0 {
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
        if _mm_cvtss_f32(h) > limit {
          return true;
        }
      }
    }
    false
  }

  /// Elements between two checks of [`beyond_scaled`]: 256 bytes, four cache lines.
  const BEYOND_CHECK: usize = 64;

  /// Four independent 8-lane accumulators over 32-element steps, then 8-element steps, then a
  /// scalar tail. Lanes are summed in f32 (each lane holds ≤ d/8 terms) and reduced in f64, so
  /// integer-valued data (Fashion-MNIST pixels) still gives exact distances.
  #[inline]
  #[target_feature(enable = "avx2,fma")]
  unsafe fn pair<const DIFF: bool>(a: &[f32], b: &[f32]) -> f64 {
    let d = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): i + 8·(u+1) ≤ d ≤ both lengths.
    while i + 32 <= d {
      for (u, acc_u) in acc.iter_mut().enumerate() {
        let x = unsafe { _mm256_loadu_ps(pa.add(i + 8 * u)) };
        let y = unsafe { _mm256_loadu_ps(pb.add(i + 8 * u)) };
        *acc_u = if DIFF {
          let t = _mm256_sub_ps(x, y);
          _mm256_fmadd_ps(t, t, *acc_u)
        } else {
          _mm256_fmadd_ps(x, y, *acc_u)
        };
      }
      i += 32;
    }
    let mut u = 0;
    while i + 8 <= d {
      let x = unsafe { _mm256_loadu_ps(pa.add(i)) };
      let y = unsafe { _mm256_loadu_ps(pb.add(i)) };
      acc[u] = if DIFF {
        let t = _mm256_sub_ps(x, y);
        _mm256_fmadd_ps(t, t, acc[u])
      } else {
        _mm256_fmadd_ps(x, y, acc[u])
      };
      u += 1;
      i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(s));
    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1));
    let s4 = _mm256_add_pd(lo, hi);
    let s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    let mut total = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    while i < d {
      // SAFETY: i < d ≤ both lengths.
      let (x, y) = unsafe { (*pa.add(i), *pb.add(i)) };
      total += if DIFF {
        f64::from((x - y) * (x - y))
      } else {
        f64::from(x * y)
      };
      i += 1;
    }
    total
  }

  #[inline]
  #[target_feature(enable = "avx2,fma")]
  fn hsum(v: __m256) -> f64 {
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` is 8 f32s, exactly one unaligned 256-bit store.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
    lanes.iter().map(|&x| f64::from(x)).sum()
  }

  #[target_feature(enable = "avx2,fma")]
  unsafe fn accumulate<const N: usize, const U: usize, const DIFF: bool, const NORM: bool>(
    q: &[f32],
    row: &[f32],
    sums: &mut [f64],
  ) -> f64 {
    let d = row.len();
    let (rp, qp) = (row.as_ptr(), q.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); U]; N];
    let mut nacc = [_mm256_setzero_ps(); U];
    let mut i = 0;
    // SAFETY (all loads): i + 8·(u+1) ≤ d bounds every row load, and query j's loads stay within
    // q[j·d .. (j+1)·d] because q holds at least N·d values.
    while i + 8 * U <= d {
      for u in 0..U {
        let x = unsafe { _mm256_loadu_ps(rp.add(i + 8 * u)) };
        if NORM {
          nacc[u] = _mm256_fmadd_ps(x, x, nacc[u]);
        }
        for (j, a) in acc.iter_mut().enumerate() {
          let y = unsafe { _mm256_loadu_ps(qp.add(j * d + i + 8 * u)) };
          a[u] = if DIFF {
            let t = _mm256_sub_ps(y, x);
            _mm256_fmadd_ps(t, t, a[u])
          } else {
            _mm256_fmadd_ps(y, x, a[u])
          };
        }
      }
      i += 8 * U;
    }
    while i + 8 <= d {
      let x = unsafe { _mm256_loadu_ps(rp.add(i)) };
      if NORM {
        nacc[0] = _mm256_fmadd_ps(x, x, nacc[0]);
      }
      for (j, a) in acc.iter_mut().enumerate() {
        let y = unsafe { _mm256_loadu_ps(qp.add(j * d + i)) };
        a[0] = if DIFF {
          let t = _mm256_sub_ps(y, x);
          _mm256_fmadd_ps(t, t, a[0])
        } else {
          _mm256_fmadd_ps(y, x, a[0])
        };
      }
      i += 8;
    }
    for (j, s) in sums.iter_mut().enumerate().take(N) {
      let mut total: f64 = acc[j].iter().map(|&v| hsum(v)).sum();
      for k in i..d {
        let (y, x) = (q[j * d + k], row[k]);
        total += if DIFF {
          f64::from((y - x) * (y - x))
        } else {
          f64::from(y * x)
        };
      }
      *s = total;
    }
    let mut norm: f64 = if NORM {
      nacc.iter().map(|&v| hsum(v)).sum()
    } else {
      0.0
    };
    if NORM {
      norm += row[i..].iter().map(|&x| f64::from(x * x)).sum::<f64>();
    }
    norm
  }
}

/// Plain Rust with the same accumulator layout: the compiler vectorises the 8-lane arrays for the
/// baseline target (SSE2 on x86_64, NEON on aarch64).
mod portable {
  use super::{TILE, U};

  kernels!(accumulate);

  fn accumulate<const N: usize, const U: usize, const DIFF: bool, const NORM: bool>(
    q: &[f32],
    row: &[f32],
    sums: &mut [f64],
  ) -> f64 {
    let d = row.len();
    let mut acc = [[[0f32; 8]; U]; N];
    let mut nacc = [[0f32; 8]; U];
    let mut i = 0;
    while i + 8 <= d {
      // One chunk of 8 per step; `u` rotates through the accumulator sets to keep chains independent.
      let u = (i / 8) % U;
      let x = &row[i..i + 8];
      if NORM {
        for l in 0..8 {
          nacc[u][l] += x[l] * x[l];
        }
      }
      for (j, a) in acc.iter_mut().enumerate() {
        let y = &q[j * d + i..j * d + i + 8];
        for l in 0..8 {
          a[u][l] += if DIFF {
            (y[l] - x[l]) * (y[l] - x[l])
          } else {
            y[l] * x[l]
          };
        }
      }
      i += 8;
    }
    for (j, s) in sums.iter_mut().enumerate().take(N) {
      let mut total: f64 = acc[j].iter().flatten().map(|&v| f64::from(v)).sum();
      for k in i..d {
        let (y, x) = (q[j * d + k], row[k]);
        total += if DIFF {
          f64::from((y - x) * (y - x))
        } else {
          f64::from(y * x)
        };
      }
      *s = total;
    }
    if NORM {
      nacc.iter().flatten().map(|&v| f64::from(v)).sum::<f64>()
        + row[i..].iter().map(|&x| f64::from(x * x)).sum::<f64>()
    } else {
      0.0
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::metric::{query_norms, reference};

  fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
      .map(|_| {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
      })
      .collect()
  }

  /// Every backend, block size and awkward dimension against the f64 reference.
  #[test]
  fn tiles_match_the_reference() {
    type Backend = (&'static str, [TileKernel<f32>; 3]);
    let mut backends: Vec<Backend> = vec![("portable", [portable::l2, portable::dot, portable::cosine])];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
      backends.push(("avx2", [avx2::l2, avx2::dot, avx2::cosine]));
    }
    for (name, [l2, dot, cos]) in backends {
      for dim in [1usize, 3, 7, 8, 9, 63, 64, 65, 127, 768, 1536] {
        for n in 1..=TILE {
          let q = data(n * dim, (dim * 31 + n) as u32);
          let mut row = data(dim, dim as u32 + 7);
          if n == 3 {
            row.copy_from_slice(&q[dim..2 * dim]); // a query identical to the row
          }
          let mut norms = vec![0f32; n];
          query_norms(&q, dim, &mut norms);
          let mut out = vec![0f32; n];
          for (kernel, which) in [(l2, 0), (dot, 1), (cos, 2)] {
            kernel(&q, &norms, &row, &mut out);
            for j in 0..n {
              let qj = &q[j * dim..(j + 1) * dim];
              let want = match which {
                0 => reference::l2sq(qj, &row),
                1 => reference::dot(qj, &row),
                _ => reference::cosine(qj, &row),
              };
              let terms: f64 = qj
                .iter()
                .zip(&row)
                .map(|(a, b)| f64::from((a * b).abs() + (a - b) * (a - b)))
                .sum();
              let tol = 1e-4 * (1.0 + terms);
              assert!(
                (f64::from(out[j]) - want).abs() <= tol,
                "{name} kernel {which} dim {dim} n {n} j {j}: {} vs {want}",
                out[j]
              );
            }
          }
        }
      }
    }
  }

  /// The walk's pairwise kernels against the f64 reference, on every tail length, plus the exactness
  /// integer-valued rows rely on (Fashion-MNIST: sums far above 2²⁴ must still come out exact).
  #[test]
  fn pair_kernels_match_the_reference() {
    let Some((l2, dot)) = pair_kernels() else {
      return;
    };
    for dim in [1usize, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 784, 1536] {
      let a = data(dim, dim as u32 * 3 + 1);
      let b = data(dim, dim as u32 * 5 + 2);
      let terms: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| f64::from((x * y).abs() + (x - y) * (x - y)))
        .sum();
      let tol = 1e-5 * (1.0 + terms);
      assert!(
        (l2(&a, &b) - reference::l2sq(&a, &b)).abs() <= tol,
        "l2 dim {dim}"
      );
      assert!(
        (1.0 - dot(&a, &b) - reference::dot(&a, &b)).abs() <= tol,
        "dot dim {dim}"
      );
      assert_eq!(l2(&a, &a), 0.0);
    }
    let px: Vec<f32> = (0..784).map(|i| ((i * 37) % 256) as f32).collect();
    let zero = vec![0f32; 784];
    assert_eq!(l2(&px, &zero), reference::l2sq(&px, &zero));
    assert_eq!(dot(&px, &px), reference::l2sq(&px, &zero));
  }

  #[test]
  fn cosine_zero_rules_hold_in_tiles() {
    let dim = 16;
    let q = [vec![0f32; dim], vec![1f32; dim]].concat();
    let mut norms = [0f32; 2];
    query_norms(&q, dim, &mut norms);
    let mut out = [0f32; 2];
    resolve(Metric::Cosine)(&q, &norms, &vec![0f32; dim], &mut out);
    assert_eq!(out, [0.0, 1.0]);
    resolve(Metric::Cosine)(&q, &norms, &vec![2f32; dim], &mut out);
    assert_eq!(out[0], 1.0);
    assert!(out[1].abs() < 1e-6);
  }

  #[test]
  fn malformed_input_gives_nan_not_a_read_out_of_bounds() {
    let mut out = [0f32; 2];
    resolve(Metric::L2)(&[1.0, 2.0, 3.0], &[], &[1.0, 2.0], &mut out);
    assert!(out.iter().all(|x| x.is_nan()));
  }
}
