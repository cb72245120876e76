//! Distance kernels. This is the only module that calls `simsimd`.
//!
//! Every distance is *smaller-is-closer*:
//!
//! | metric    | element       | distance                          | range     |
//! |-----------|---------------|-----------------------------------|-----------|
//! | `cosine`  | `f32`         | `1 − a·b / (‖a‖‖b‖)`              | `[0, 2]`  |
//! | `dot`     | `f32`         | `1 − a·b` (hnswlib's `ip`)        | unbounded |
//! | `l2`      | `f32`         | `Σ (aᵢ − bᵢ)²` (squared)          | `[0, ∞)`  |
//! | `hamming` | packed `u8`   | number of differing bits          | `[0, 8n]` |
//!
//! Cosine with a zero vector is defined, never NaN: two zero vectors are at distance `0` (they are
//! identical), and a zero vector is at distance `1` from any non-zero vector (no similarity either way).
//! That matches simsimd's own normalisation, and [`reference`] spells it out for the tests.
//!
//! Kernels are resolved once per index ([`Element::kernel`]) into a plain function pointer, so the
//! hot loops never branch on the metric. simsimd picks the widest SIMD backend the CPU offers at run
//! time (dynamic dispatch); [`capabilities`] reports which.
//!
//! Exact search also has *tile* kernels ([`Element::tile_kernel`]): one row scored against a block
//! of up to [`TILE`] queries at once. simsimd's pairwise f32 kernels keep one accumulator, so a
//! 768-d distance is ~100 dependent FMAs and runs at FMA *latency*; a tile keeps one independent
//! accumulator per query (and several per query when the block is small), which runs at FMA
//! *throughput* and reads each row once per block instead of once per query. Measured single-thread
//! on this project's machines: ~5× fewer CPU-ns per 768-d L2 pair. simsimd 6.x offers no batched
//! kernel, so these live here, with an AVX2+FMA path chosen at run time and a portable path that the
//! compiler vectorises for the baseline target (SSE2, NEON).

use std::fmt;
use std::str::FromStr;

use simsimd::{BinarySimilarity, SpatialSimilarity};

use crate::error::{Context, Error, Result};

/// A distance function over two rows of equal length.
pub type Kernel<T> = fn(&[T], &[T]) -> f32;

/// Most queries a tile kernel scores against one row in a call.
pub const TILE: usize = 4;

/// Scores one `row` against `queries` (row-major, `out.len()` ≤ [`TILE`] queries of `row.len()`),
/// writing one distance per query into `out`. `norms` holds each query's squared L2 norm (only the
/// cosine kernel reads it; see [`query_norms`]).
pub type TileKernel<T> = fn(queries: &[T], norms: &[f32], row: &[T], out: &mut [f32]);

/// Squared L2 norms of each query of a block, as the cosine tile kernel expects them.
pub fn query_norms(queries: &[f32], dim: usize, out: &mut [f32]) {
  for (o, q) in out.iter_mut().zip(queries.chunks_exact(dim)) {
    *o = q.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>() as f32;
  }
}

/// The distance an index measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
  Cosine,
  Dot,
  L2,
  Hamming,
}

impl Metric {
  pub const ALL: [Metric; 4] = [Metric::Cosine, Metric::Dot, Metric::L2, Metric::Hamming];

  /// The name used at every layer (`"cosine"`, `"dot"`, `"l2"`, `"hamming"`).
  pub fn name(self) -> &'static str {
    match self {
      Metric::Cosine => "cosine",
      Metric::Dot => "dot",
      Metric::L2 => "l2",
      Metric::Hamming => "hamming",
    }
  }

  /// Whether the metric works on bit-packed bytes rather than `f32` components.
  pub fn is_binary(self) -> bool {
    matches!(self, Metric::Hamming)
  }
}

impl FromStr for Metric {
  type Err = Error;
  fn from_str(s: &str) -> Result<Self> {
    match s {
      "cosine" => Ok(Metric::Cosine),
      "dot" => Ok(Metric::Dot),
      "l2" => Ok(Metric::L2),
      "hamming" => Ok(Metric::Hamming),
      other => Err(Error::UnknownMetric {
        got: other.to_owned(),
      }),
    }
  }
}

impl fmt::Display for Metric {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(self.name())
  }
}

// simsimd returns `None` only when the slice lengths differ; every caller has checked them, so the
// NaN fallback is unreachable in practice and still never panics.
fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
  // Rounding in the SIMD normalisation can put identical vectors a hair below 0 or opposite ones
  // above 2; clamping keeps the documented range.
  <f32 as SpatialSimilarity>::cos(a, b).map_or(f32::NAN, |d| d.clamp(0.0, 2.0) as f32)
}

fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
  // simsimd's `dot` is the raw inner product; the distance is its complement.
  <f32 as SpatialSimilarity>::dot(a, b).map_or(f32::NAN, |p| (1.0 - p) as f32)
}

fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
  f32::l2sq(a, b).map_or(f32::NAN, |d| d as f32)
}

fn hamming_u8(a: &[u8], b: &[u8]) -> f32 {
  u8::hamming(a, b).map_or(f32::NAN, |d| d as f32)
}

/// A raw pairwise kernel of the HNSW walk: `Σ (aᵢ − bᵢ)²`, `Σ aᵢ·bᵢ` or differing bits, before
/// [`Finish`] turns it into the metric's distance (see [`Element::walk_kernel`]).
pub type RawKernel<T> = fn(&[T], &[T]) -> f64;

/// How a [`RawKernel`] sum becomes the metric's distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
  /// The sum is the distance (`l2`, `hamming`).
  Raw,
  /// `1 − sum` (`dot`).
  OneMinus,
  /// `1 − sum · inv‖a‖ · inv‖b‖`, with the zero-vector rules above ([`cosine_from_dot`]).
  Cosine,
}

/// Cosine distance from a dot product and the two rows' inverse norms ([`Element::inv_norm`]; 0
/// marks a zero row). Matches `cosine_f32` up to rounding: one dot product per pair instead of
/// three, because the norms are computed once per row and once per query.
#[inline]
pub fn cosine_from_dot(dot: f64, inv_a: f32, inv_b: f32) -> f32 {
  if inv_a == 0.0 || inv_b == 0.0 {
    return if inv_a == inv_b { 0.0 } else { 1.0 };
  }
  (1.0 - dot * (f64::from(inv_a) * f64::from(inv_b))).clamp(0.0, 2.0) as f32
}

fn l2sq_raw_f32(a: &[f32], b: &[f32]) -> f64 {
  f32::l2sq(a, b).unwrap_or(f64::NAN)
}

fn dot_raw_f32(a: &[f32], b: &[f32]) -> f64 {
  <f32 as SpatialSimilarity>::dot(a, b).unwrap_or(f64::NAN)
}

fn hamming_raw_u8(a: &[u8], b: &[u8]) -> f64 {
  u8::hamming(a, b).unwrap_or(f64::NAN)
}

/// Quantised-code kernels (the `quant` module's only route to simsimd). Each returns the raw value
/// the quantiser's correction algebra needs, not a finished distance.
pub mod codes {
  use simsimd::SpatialSimilarity;

  /// The raw inner product `Σ aᵢbᵢ` of two signed 8-bit code rows. simsimd sums in integers; the
  /// `f32` result is exact while |Σ| ≤ 127²·dim < 2²⁴ (dim ≤ 1040) and within 6·10⁻⁸ relative beyond.
  #[inline]
  pub fn dot_i8(a: &[i8], b: &[i8]) -> f32 {
    <i8 as SpatialSimilarity>::dot(a, b).map_or(f32::NAN, |p| p as f32)
  }

  /// Differing bits between two packed bit rows (simsimd).
  #[inline]
  pub fn hamming(a: &[u8], b: &[u8]) -> f32 {
    super::hamming_u8(a, b)
  }

  /// Differing bits, eight bytes per step: binary codes are short (64 bytes at 512-d), where a
  /// call into simsimd (run-time dispatch, length checks) costs more than the popcounts themselves.
  #[inline(always)]
  fn hamming_words_body(a: &[u8], b: &[u8]) -> f32 {
    let mut n = 0u32;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
      let x = u64::from_ne_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
      let y = u64::from_ne_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
      n += (x ^ y).count_ones();
    }
    for (x, y) in ra.iter().zip(rb) {
      n += (x ^ y).count_ones();
    }
    n as f32
  }

  fn hamming_words(a: &[u8], b: &[u8]) -> f32 {
    hamming_words_body(a, b)
  }

  #[cfg(target_arch = "x86_64")]
  #[target_feature(enable = "popcnt")]
  fn hamming_words_popcnt_impl(a: &[u8], b: &[u8]) -> f32 {
    hamming_words_body(a, b)
  }

  #[cfg(target_arch = "x86_64")]
  fn hamming_words_popcnt(a: &[u8], b: &[u8]) -> f32 {
    // SAFETY: `hamming_kernel` hands this out only after detecting POPCNT on this CPU.
    unsafe { hamming_words_popcnt_impl(a, b) }
  }

  /// The Hamming kernel binary codes are scanned with: the word loop compiled for POPCNT when the
  /// CPU has it (x86-64's baseline lacks the instruction), the portable word loop otherwise.
  pub fn hamming_kernel() -> fn(&[u8], &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
      return hamming_words_popcnt;
    }
    hamming_words
  }

  /// A binary code as little-endian 64-bit words, the last one zero-padded: the form
  /// [`HammingTile`] kernels take queries in (rows stay packed bytes).
  pub fn hamming_words_of(code: &[u8]) -> Vec<u64> {
    code
      .chunks(8)
      .map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
      })
      .collect()
  }

  /// Hamming distances of several queries against a run of packed rows: with `code_len` bytes per
  /// row and `n = rows.len() / code_len` rows, `out[i * n + r]` = differing bits between query `i`
  /// (`code_len.div_ceil(8)` words of `queries`, from [`hamming_words_of`]) and row `r`.
  pub type HammingTile = fn(queries: &[u64], rows: &[u8], code_len: usize, out: &mut [u32]);

  /// `len` (1..=8) bytes of `rows` at `off` as a little-endian word, zero-extended. Inside the
  /// buffer a full 8-byte load is masked (one load instead of a byte loop); only the very end of
  /// the buffer assembles bytes.
  #[inline(always)]
  fn row_word(rows: &[u8], off: usize, len: usize) -> u64 {
    let mut w = [0u8; 8];
    match rows.get(off..off + 8) {
      Some(b) => w.copy_from_slice(b),
      None => {
        let end = (off + len).min(rows.len());
        let got = rows.get(off..end).unwrap_or(&[]);
        w[..got.len()].copy_from_slice(got);
      }
    }
    let x = u64::from_le_bytes(w);
    if len >= 8 {
      x
    } else {
      x & ((1u64 << (8 * len)) - 1)
    }
  }

  /// The tile loop for codes of exactly `W` words: each row's words are loaded once (into
  /// registers) and XOR-popcounted against every query. `W = 0` handles any length with a loop.
  #[inline(always)]
  fn hamming_tile_body<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    let words = cl.div_ceil(8);
    if words == 0 || cl == 0 {
      return;
    }
    let n = rows.len() / cl;
    let nq = queries.len() / words;
    let last_len = cl - 8 * (words - 1);
    let out = &mut out[..nq * n];
    if W != 0 {
      let last_mask = if last_len >= 8 {
        u64::MAX
      } else {
        (1u64 << (8 * last_len)) - 1
      };
      for r in 0..n {
        let mut rw = [0u64; W];
        if let Some(bytes) = rows.get(r * cl..r * cl + 8 * W) {
          // Every row but the last one or two of the buffer: whole words, the bytes past the
          // code masked off (one load per word, no bounds check once `bytes` is cut).
          for (x, b) in rw.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            *x = u64::from_le_bytes(a);
          }
          rw[W - 1] &= last_mask;
        } else {
          for (w, x) in rw.iter_mut().enumerate() {
            *x = row_word(rows, r * cl + 8 * w, if w + 1 == W { last_len } else { 8 });
          }
        }
        for (i, q) in queries.chunks_exact(W).enumerate() {
          let mut s = 0u32;
          for w in 0..W {
            s += (q[w] ^ rw[w]).count_ones();
          }
          out[i * n + r] = s;
        }
      }
    } else {
      let mut rw = vec![0u64; words];
      for r in 0..n {
        for (w, x) in rw.iter_mut().enumerate() {
          *x = row_word(rows, r * cl + 8 * w, if w + 1 == words { last_len } else { 8 });
        }
        for (i, q) in queries.chunks_exact(words).enumerate() {
          out[i * n + r] = q.iter().zip(&rw).map(|(a, b)| (a ^ b).count_ones()).sum();
        }
      }
    }
  }

  fn hamming_tile_portable<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    hamming_tile_body::<W>(queries, rows, cl, out)
  }

  #[cfg(target_arch = "x86_64")]
  #[target_feature(enable = "popcnt")]
  fn hamming_tile_popcnt_impl<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    hamming_tile_body::<W>(queries, rows, cl, out)
  }

  #[cfg(target_arch = "x86_64")]
  fn hamming_tile_popcnt<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    // SAFETY: `hamming_tile_kernel` hands this out only after detecting POPCNT on this CPU.
    unsafe { hamming_tile_popcnt_impl::<W>(queries, rows, cl, out) }
  }

  #[cfg(target_arch = "x86_64")]
  #[target_feature(enable = "avx2,popcnt")]
  fn hamming_tile_avx2_impl<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    hamming_tile_body::<W>(queries, rows, cl, out)
  }

  #[cfg(target_arch = "x86_64")]
  fn hamming_tile_avx2<const W: usize>(queries: &[u64], rows: &[u8], cl: usize, out: &mut [u32]) {
    // SAFETY: `hamming_tile_kernel` hands this out only after detecting AVX2 and POPCNT.
    unsafe { hamming_tile_avx2_impl::<W>(queries, rows, cl, out) }
  }

  /// The [`HammingTile`] kernel for codes of `code_len` bytes: compiled for AVX2 + POPCNT or POPCNT
  /// alone when the CPU has them, and specialised for every length up to 128 bytes (1024 dims) so
  /// a row's words live in registers; longer codes use the looping form.
  pub fn hamming_tile_kernel(code_len: usize) -> HammingTile {
    macro_rules! pick {
      ($f:ident) => {
        match code_len.div_ceil(8) {
          1 => $f::<1>,
          2 => $f::<2>,
          3 => $f::<3>,
          4 => $f::<4>,
          5 => $f::<5>,
          6 => $f::<6>,
          7 => $f::<7>,
          8 => $f::<8>,
          9 => $f::<9>,
          10 => $f::<10>,
          11 => $f::<11>,
          12 => $f::<12>,
          13 => $f::<13>,
          14 => $f::<14>,
          15 => $f::<15>,
          16 => $f::<16>,
          _ => $f::<0>,
        }
      };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
      // The same loop compiled for AVX2 as well: LLVM then counts the words of longer codes
      // with vector byte lookups alongside POPCNT; measured 10–20 % faster batches at 100 and
      // 512 dims (bench/ANALYSIS.md).
      if std::arch::is_x86_feature_detected!("avx2") {
        return pick!(hamming_tile_avx2);
      }
      return pick!(hamming_tile_popcnt);
    }
    pick!(hamming_tile_portable)
  }

  /// The portable [`HammingTile`] for `code_len` (tests compare it with the dispatched one).
  pub fn hamming_tile_portable_kernel(code_len: usize) -> HammingTile {
    match code_len.div_ceil(8) {
      1 => hamming_tile_portable::<1>,
      2 => hamming_tile_portable::<2>,
      8 => hamming_tile_portable::<8>,
      13 => hamming_tile_portable::<13>,
      _ => hamming_tile_portable::<0>,
    }
  }

  /// Most queries one [`DotI8Tile`] call scores.
  pub const I8_TILE: usize = 4;

  /// Query codes are padded to this many bytes so the SIMD loop has no tail.
  pub const I8_PAD: usize = 32;

  /// Raw inner products of up to [`I8_TILE`] signed 8-bit queries against a run of code rows:
  /// row `r` is the `dim` bytes at `rows[r * stride..]` (`n = rows.len() / stride` rows; the bytes
  /// after `dim` are ignored), query `i` is `queries[i * padded..][..dim]` with
  /// `padded = dim.next_multiple_of(I8_PAD)` and zeros after `dim`, and `out[i * n + r]` =
  /// `Σⱼ query[i][j] · row[r][j]`, exact in `i32` (|Σ| ≤ 128·127·65536 < 2³¹).
  pub type DotI8Tile = fn(queries: &[i8], dim: usize, rows: &[u8], stride: usize, out: &mut [i32]);

  #[inline(always)]
  fn dot_i8_tile_body<const NQ: usize>(
    queries: &[i8],
    dim: usize,
    rows: &[u8],
    stride: usize,
    out: &mut [i32],
  ) {
    let padded = dim.next_multiple_of(I8_PAD);
    if stride == 0 || padded == 0 {
      return;
    }
    let n = rows.len() / stride;
    let out = &mut out[..NQ * n];
    let qs: [&[i8]; NQ] = std::array::from_fn(|i| &queries[i * padded..i * padded + dim]);
    for r in 0..n {
      let row: &[i8] = bytemuck::cast_slice(&rows[r * stride..r * stride + dim]);
      for (i, q) in qs.iter().enumerate() {
        out[i * n + r] = q
          .iter()
          .zip(row)
          .map(|(a, b)| i32::from(*a) * i32::from(*b))
          .sum();
      }
    }
  }

  fn dot_i8_tile_portable<const NQ: usize>(
    queries: &[i8],
    dim: usize,
    rows: &[u8],
    stride: usize,
    out: &mut [i32],
  ) {
    dot_i8_tile_body::<NQ>(queries, dim, rows, stride, out)
  }

  #[cfg(target_arch = "x86_64")]
  mod i8_avx2 {
    use std::arch::x86_64::*;

    use super::I8_PAD;

    /// One row chunk of 32 codes against `NQ` queries: `|x|` (unsigned) times `q·sign(x)` (signed)
    /// is `q·x` per byte, which `maddubs` sums in pairs into i16 (|pair| ≤ 2·128·127 < 2¹⁵, so it
    /// never saturates: query codes are clamped to ±127, and even a stray −128 in a row is exact)
    /// and `madd` by ones widens into i32 lanes.
    #[target_feature(enable = "avx2")]
    fn tile<const NQ: usize>(queries: &[i8], dim: usize, rows: &[u8], stride: usize, out: &mut [i32]) {
      let padded = dim.next_multiple_of(I8_PAD);
      if stride == 0 || padded == 0 || queries.len() < NQ * padded {
        return;
      }
      let n = rows.len() / stride;
      if out.len() < NQ * n {
        return;
      }
      let ones = _mm256_set1_epi16(1);
      // The last rows may end less than `padded` bytes before the buffer does: they are copied
      // here so the loads never leave it (bytes past `dim` meet zero query codes either way).
      let mut spare = vec![0u8; padded];
      for r in 0..n {
        let off = r * stride;
        let row: &[u8] = if off + padded <= rows.len() {
          &rows[off..off + padded]
        } else {
          spare[..dim].copy_from_slice(&rows[off..off + dim]);
          &spare
        };
        let mut acc = [_mm256_setzero_si256(); NQ];
        let mut j = 0;
        while j < padded {
          // SAFETY: `row` and every query hold at least `padded` bytes, and j + 32 <= padded.
          let x = unsafe { _mm256_loadu_si256(row.as_ptr().add(j).cast()) };
          let ax = _mm256_abs_epi8(x);
          for (i, a) in acc.iter_mut().enumerate() {
            let q = unsafe { _mm256_loadu_si256(queries.as_ptr().add(i * padded + j).cast()) };
            let p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(q, x));
            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(p, ones));
          }
          j += I8_PAD;
        }
        for (i, a) in acc.iter().enumerate() {
          let s = _mm_add_epi32(_mm256_castsi256_si128(*a), _mm256_extracti128_si256(*a, 1));
          let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
          let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
          out[i * n + r] = _mm_cvtsi128_si32(s);
        }
      }
    }

    pub(super) fn tile_safe<const NQ: usize>(
      queries: &[i8],
      dim: usize,
      rows: &[u8],
      stride: usize,
      out: &mut [i32],
    ) {
      // SAFETY: `dot_i8_tile_kernel` hands this out only after detecting AVX2 on this CPU.
      unsafe { tile::<NQ>(queries, dim, rows, stride, out) }
    }
  }

  /// The [`DotI8Tile`] kernel for `nq` (1..=[`I8_TILE`]) queries: AVX2 when the CPU has it, a
  /// portable integer loop otherwise. Both are exact, so they agree bit for bit.
  pub fn dot_i8_tile_kernel(nq: usize) -> DotI8Tile {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
      return match nq {
        1 => i8_avx2::tile_safe::<1>,
        2 => i8_avx2::tile_safe::<2>,
        3 => i8_avx2::tile_safe::<3>,
        _ => i8_avx2::tile_safe::<4>,
      };
    }
    dot_i8_tile_portable_kernel(nq)
  }

  /// The portable [`DotI8Tile`] for `nq` queries (tests compare it with the dispatched one).
  pub fn dot_i8_tile_portable_kernel(nq: usize) -> DotI8Tile {
    match nq {
      1 => dot_i8_tile_portable::<1>,
      2 => dot_i8_tile_portable::<2>,
      3 => dot_i8_tile_portable::<3>,
      _ => dot_i8_tile_portable::<4>,
    }
  }

  use simsimd::f16;

  /// An f16 kernel over raw binary16 bit patterns.
  pub type F16Kernel = fn(&[u16], &[u16]) -> f32;

  /// The binary16 bit pattern nearest to `x` (simsimd's conversion).
  #[inline]
  pub fn f16_from_f32(x: f32) -> u16 {
    f16::from_f32(x).0
  }

  /// The value of a binary16 bit pattern.
  #[inline]
  pub fn f16_to_f32(h: u16) -> f32 {
    f16(h).to_f32()
  }

  #[inline]
  fn as_f16(v: &[u16]) -> &[f16] {
    // SAFETY: `simsimd::f16` is `#[repr(transparent)]` over `u16`, so the two slices have the same
    // layout, length and alignment; the borrow's lifetime carries over unchanged.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<f16>(), v.len()) }
  }

  fn cos_f16(a: &[u16], b: &[u16]) -> f32 {
    <f16 as SpatialSimilarity>::cos(as_f16(a), as_f16(b)).map_or(f32::NAN, |d| d.clamp(0.0, 2.0) as f32)
  }

  fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    <f16 as SpatialSimilarity>::dot(as_f16(a), as_f16(b)).map_or(f32::NAN, |p| (1.0 - p) as f32)
  }

  fn l2sq_f16(a: &[u16], b: &[u16]) -> f32 {
    <f16 as SpatialSimilarity>::l2sq(as_f16(a), as_f16(b)).map_or(f32::NAN, |d| d as f32)
  }

  /// The f16 kernel of `metric`, with the same definitions as the f32 ones (smaller is closer).
  /// `hamming` never gets here (quantisation refuses it); it maps to l2sq to stay total.
  pub fn f16_kernel(metric: super::Metric) -> F16Kernel {
    match metric {
      super::Metric::Cosine => cos_f16,
      super::Metric::Dot => dot_f16,
      super::Metric::L2 | super::Metric::Hamming => l2sq_f16,
    }
  }

  /// Names of the kernels each code type runs on, for `nativeInfo()`: simsimd picks the backend at
  /// run time, so the names are the simsimd entry points plus the backends it dispatches to.
  pub fn kernel_names() -> Vec<(&'static str, &'static str)> {
    vec![
      ("f32", "simsimd cos/dot/l2sq_f32 + ferrovec tile kernels"),
      ("f16", "simsimd cos/dot/l2sq_f16"),
      (
        "int8",
        "ferrovec i8 tile kernel (AVX2 maddubs, up to 4 queries per row load; portable loop otherwise) + per-vector corrections; simsimd dot_i8 for filtered scans",
      ),
      (
        "binary",
        "ferrovec multi-query popcount tile (AVX2/POPCNT when the CPU has them) + threshold top-k",
      ),
      (
        "pq",
        "ferrovec lookup-table sum (per-query table, 256 entries per sub-vector)",
      ),
      ("truncate", "simsimd cos/l2sq_f32 on the Matryoshka prefix"),
    ]
  }
}

/// A component type that rows of an index are made of.
pub trait Element: Copy + Send + Sync + Default + fmt::Debug + 'static {
  /// Human name of the storage, for messages (`"f32"`, `"packed bits"`).
  const NAME: &'static str;

  /// Resolves the kernel for `metric`, or explains why this element type cannot use it.
  fn kernel(metric: Metric) -> Result<Kernel<Self>>;

  /// Number of stored elements for a vector of `dim` logical dimensions.
  fn row_len(dim: usize) -> Result<usize>;

  /// Checks one row's values; `Ok` for any row that is safe to index.
  fn validate(row: &[Self], context: Context) -> Result<()>;

  /// Resolves the tile kernel for `metric` (see [`TileKernel`]).
  fn tile_kernel(metric: Metric) -> Result<TileKernel<Self>>;

  /// Fills `out` with what the tile kernel expects as `norms` for a block of queries.
  fn tile_norms(queries: &[Self], row_len: usize, out: &mut [f32]);

  /// The pairwise kernel the HNSW walk scores with, and how its sum becomes the distance.
  fn walk_kernel(metric: Metric) -> Result<(RawKernel<Self>, Finish)>;

  /// `1 / ‖row‖` (0 for a zero row), stored per node so cosine costs one dot product per pair.
  fn inv_norm(row: &[Self]) -> f32;

  /// The rows as `f32` when that is what they are (quantised indexes encode only f32 vectors).
  fn as_f32(_rows: &[Self]) -> Option<&[f32]> {
    None
  }

  /// The inverse of [`Element::as_f32`] for owned rows (decoded codes).
  fn from_f32(_rows: Vec<f32>) -> Option<Vec<Self>> {
    None
  }
}

impl Element for f32 {
  const NAME: &'static str = "f32";

  fn kernel(metric: Metric) -> Result<Kernel<f32>> {
    match metric {
      Metric::Cosine => Ok(cosine_f32),
      Metric::Dot => Ok(dot_f32),
      Metric::L2 => Ok(l2sq_f32),
      Metric::Hamming => Err(Error::invalid_argument(
        "metric \"hamming\" works on bit-packed bytes (Uint8Array), not f32 vectors",
      )),
    }
  }

  fn tile_kernel(metric: Metric) -> Result<TileKernel<f32>> {
    Self::kernel(metric)?;
    Ok(crate::tile::resolve(metric))
  }

  fn tile_norms(queries: &[f32], row_len: usize, out: &mut [f32]) {
    query_norms(queries, row_len, out);
  }

  fn walk_kernel(metric: Metric) -> Result<(RawKernel<f32>, Finish)> {
    Self::kernel(metric)?;
    let (l2, dot) = crate::tile::pair_kernels().unwrap_or((l2sq_raw_f32, dot_raw_f32));
    Ok(match metric {
      Metric::L2 => (l2, Finish::Raw),
      Metric::Dot => (dot, Finish::OneMinus),
      _ => (dot, Finish::Cosine),
    })
  }

  fn as_f32(rows: &[f32]) -> Option<&[f32]> {
    Some(rows)
  }

  fn from_f32(rows: Vec<f32>) -> Option<Vec<f32>> {
    Some(rows)
  }

  fn inv_norm(row: &[f32]) -> f32 {
    let n2: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if n2 == 0.0 {
      return 0.0;
    }
    // Clamped into f32's normal range: a row of tiny components must not get an infinite inverse
    // norm (∞ · 0 is NaN), nor one of huge components a zero one (0 marks a zero row).
    (1.0 / n2.sqrt()).clamp(f64::from(f32::MIN_POSITIVE), f64::from(f32::MAX)) as f32
  }

  fn row_len(dim: usize) -> Result<usize> {
    Ok(dim)
  }

  fn validate(row: &[f32], context: Context) -> Result<()> {
    // A branch-free fold vectorises (an early-exiting `all` does not, and measured as most of the
    // cost of `distances`); the slow path only runs to name the culprit.
    if row.iter().fold(true, |ok, x| ok & x.is_finite()) {
      return Ok(());
    }
    let (i, x) = row
      .iter()
      .enumerate()
      .find(|(_, x)| !x.is_finite())
      .map_or((0, f32::NAN), |(i, x)| (i, *x));
    Err(Error::InvalidVector {
      reason: format!("component {i} is {x}; expected a finite number"),
      context,
    })
  }
}

impl Element for u8 {
  const NAME: &'static str = "packed bits";

  fn kernel(metric: Metric) -> Result<Kernel<u8>> {
    match metric {
      Metric::Hamming => Ok(hamming_u8),
      other => Err(Error::invalid_argument(format!(
        "metric {:?} works on f32 vectors; bit-packed bytes are only compared with \"hamming\"",
        other.name()
      ))),
    }
  }

  fn tile_kernel(metric: Metric) -> Result<TileKernel<u8>> {
    Self::kernel(metric)?;
    // Hamming is a popcount stream that simsimd already runs at throughput; a tile is just a loop.
    Ok(|queries, _norms, row, out| {
      for (o, q) in out.iter_mut().zip(queries.chunks_exact(row.len())) {
        *o = hamming_u8(q, row);
      }
    })
  }

  fn tile_norms(_queries: &[u8], _row_len: usize, _out: &mut [f32]) {}

  fn walk_kernel(metric: Metric) -> Result<(RawKernel<u8>, Finish)> {
    Self::kernel(metric)?;
    Ok((hamming_raw_u8, Finish::Raw))
  }

  fn inv_norm(_row: &[u8]) -> f32 {
    0.0
  }

  fn row_len(dim: usize) -> Result<usize> {
    if !dim.is_multiple_of(8) {
      return Err(Error::invalid_argument(format!(
        "dim for \"hamming\" counts bits and must be a multiple of 8, got {dim}"
      )));
    }
    Ok(dim / 8)
  }

  fn validate(_row: &[u8], _context: Context) -> Result<()> {
    Ok(())
  }
}

/// Checks two rows for a one-off distance: same non-zero length and valid values.
fn check_pair<T: Element>(a: &[T], b: &[T]) -> Result<()> {
  if a.is_empty() {
    return Err(Error::InvalidVector {
      reason: "vector is empty".into(),
      context: Context::NONE,
    });
  }
  if a.len() != b.len() {
    return Err(Error::DimensionMismatch {
      expected: a.len(),
      got: b.len(),
      context: Context::NONE,
    });
  }
  T::validate(a, Context::NONE)?;
  T::validate(b, Context::NONE)
}

/// The distance between two rows under `metric`, after validating both.
pub fn distance<T: Element>(metric: Metric, a: &[T], b: &[T]) -> Result<f32> {
  let kernel = T::kernel(metric)?;
  check_pair(a, b)?;
  Ok(kernel(a, b))
}

/// Distances from `query` to each row of `rows` (row-major, `out.len()` rows of `query.len()`),
/// written into `out`.
pub fn distances_into<T: Element>(metric: Metric, query: &[T], rows: &[T], out: &mut [f32]) -> Result<()> {
  let kernel = T::kernel(metric)?;
  let d = query.len();
  if d == 0 {
    return Err(Error::InvalidVector {
      reason: "query is empty".into(),
      context: Context::NONE,
    });
  }
  if !rows.len().is_multiple_of(d) {
    return Err(Error::DimensionMismatch {
      expected: d,
      got: rows.len() % d,
      context: Context {
        row: Some(rows.len() / d),
      },
    });
  }
  if out.len() != rows.len() / d {
    return Err(Error::invalid_argument(format!(
      "output has room for {} distances, but there are {} rows",
      out.len(),
      rows.len() / d
    )));
  }
  T::validate(query, Context::NONE)?;
  for (i, row) in rows.chunks_exact(d).enumerate() {
    T::validate(row, Context::row(i))?;
  }
  for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
    *o = kernel(query, row);
  }
  Ok(())
}

/// Which SIMD backends simsimd uses on this CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
  /// Backends available and used (e.g. `["haswell", "skylake"]`); `["serial"]` when none.
  pub backends: Vec<&'static str>,
  /// Whether simsimd was built with run-time dispatch (true for every shipped build).
  pub dynamic_dispatch: bool,
  /// The tile kernels exact batch search uses (`"avx2+fma"` or `"portable"`).
  pub tile: &'static str,
}

/// Reports the SIMD backends simsimd dispatches to on this CPU.
pub fn capabilities() -> Capabilities {
  use simsimd::capabilities as c;
  let table: [(&'static str, bool); 14] = [
    ("neon", c::uses_neon()),
    ("neon_f16", c::uses_neon_f16()),
    ("neon_bf16", c::uses_neon_bf16()),
    ("neon_i8", c::uses_neon_i8()),
    ("sve", c::uses_sve()),
    ("sve_f16", c::uses_sve_f16()),
    ("sve_bf16", c::uses_sve_bf16()),
    ("sve_i8", c::uses_sve_i8()),
    ("haswell", c::uses_haswell()),
    ("skylake", c::uses_skylake()),
    ("ice", c::uses_ice()),
    ("genoa", c::uses_genoa()),
    ("sapphire", c::uses_sapphire()),
    ("turin", c::uses_turin()),
  ];
  let mut backends: Vec<&'static str> = table.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
  if c::uses_sierra() {
    backends.push("sierra");
  }
  if backends.is_empty() {
    backends.push("serial");
  }
  Capabilities {
    backends,
    dynamic_dispatch: c::uses_dynamic_dispatch(),
    tile: crate::tile::backend(),
  }
}

/// Plain scalar implementations of every metric, computed in `f64`. They define the semantics the
/// SIMD kernels must match and are what the tests compare against; never used on a hot path.
pub mod reference {
  /// `1 − cos(a, b)`, with the zero-vector rules documented at the top of this module.
  pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
      let (x, y) = (f64::from(*x), f64::from(*y));
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    if aa == 0.0 && bb == 0.0 {
      return 0.0;
    }
    if aa == 0.0 || bb == 0.0 {
      return 1.0;
    }
    (1.0 - ab / (aa.sqrt() * bb.sqrt())).clamp(0.0, 2.0)
  }

  /// `1 − a·b`.
  pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    1.0
      - a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum::<f64>()
  }

  /// Squared Euclidean distance.
  pub fn l2sq(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
      .zip(b)
      .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
      .sum()
  }

  /// Number of differing bits.
  pub fn hamming(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
      .zip(b)
      .map(|(x, y)| f64::from((x ^ y).count_ones()))
      .sum()
  }
}
