//! Tiled scans for the two code types whose per-row score is a single integer kernel: binary
//! (Hamming counts) and int8 (an i8 dot product plus the correction algebra of [`super::super::int8`]).
//!
//! The generic scan in `flat.rs` calls [`Quantizer::score`] once per (query, row) and pushes every
//! score into a binary heap. Here a *tile kernel* from [`crate::metric::codes`] scores a run of rows
//! against several queries at once into a small buffer (each row is loaded once per tile, and the
//! kernel has no per-pair call), and selection runs over that buffer:
//!
//! ```text
//!   codes[lo..hi] ──► chunk of CHUNK rows ──► kernel(queries of the block, chunk) ──► scores[q][r]
//!                                                                                     │
//!            per query: skip 16 scores at once when none beats the bound, else push ◄┘
//! ```
//!
//! Binary candidates go through [`HammingTop`], a counting-free threshold buffer for integer
//! scores; int8 keeps [`TopK`] (its scores are floats and `k` is small without rescoring).
//!
//! Results are the same as the generic scan's, candidate for candidate: the kernels are exact
//! integer arithmetic, the int8 score is computed from the integer by the same f32 formula
//! ([`Int8Quantizer::score_from_dot`]), and both selections keep the `kc` smallest by
//! `(score, slot)`. Only unrestricted scans come here; an allow-list gathers rows one by one and
//! takes the generic path.

use rayon::prelude::*;

use super::{scan_ranges, QuantizedFlatIndex, QUERY_BLOCK, ROW_CHUNK_BYTES};
use crate::metric::codes::{
  dot_i8_tile_kernel, hamming_tile_kernel, hamming_words_of, DotI8Tile, I8_PAD, I8_TILE,
};
use crate::quant::{BinaryQuantizer, Int8Quantizer, Quantizer};
use crate::topk::{Neighbor, TopK};

/// Rows a binary tile scores per kernel call: the score buffer (`QUERY_BLOCK × CHUNK` u32, 16 KiB)
/// and the rows (≤ 32 KiB up to 1024 dims) stay in L1/L2 while selection reads them.
const HAMMING_CHUNK: usize = 256;

/// The `kc` smallest `(hamming, slot)` pairs of a scan that offers rows in increasing slot order.
///
/// Candidates are appended while they beat `bound`; when the buffer reaches `cap`, it is cut to
/// its `kc` best (a linear-time selection) and `bound` becomes the worst kept count. A later row
/// with that same count has a larger slot than every kept one, so it would lose the tie: from then
/// on only strictly smaller counts are taken. No heap work per row, and a rejected row costs one
/// integer comparison (sixteen at a time, see [`HammingTop::offer`]).
pub(crate) struct HammingTop {
  kc: usize,
  cap: usize,
  /// Rows are taken only when their count is below this.
  bound: u32,
  buf: Vec<(u32, usize)>,
}

impl HammingTop {
  pub(crate) fn new(kc: usize) -> Self {
    let kc = kc.max(1);
    let cap = (2 * kc).max(kc + 256);
    HammingTop {
      kc,
      cap,
      bound: u32::MAX,
      buf: Vec::with_capacity(cap),
    }
  }

  fn shrink(&mut self) {
    if self.buf.len() > self.kc {
      self.buf.select_nth_unstable(self.kc - 1);
      self.buf.truncate(self.kc);
    }
    if self.buf.len() == self.kc {
      self.bound = self.buf.iter().map(|e| e.0).max().unwrap_or(u32::MAX);
    }
  }

  /// Offers the counts of rows `first, first + 1, …` (slots must keep increasing across calls).
  #[inline]
  pub(crate) fn offer(&mut self, counts: &[u32], first: usize) {
    let mut base = first;
    for group in counts.chunks(16) {
      // The minimum of 16 counts vectorises; most groups hold nothing better than the bound.
      if group.iter().copied().min().unwrap_or(u32::MAX) < self.bound {
        for (i, &d) in group.iter().enumerate() {
          if d < self.bound {
            self.buf.push((d, base + i));
            if self.buf.len() >= self.cap {
              self.shrink();
            }
          }
        }
      }
      base += group.len();
    }
  }

  /// Joins another range's candidates (no further offers may follow).
  pub(crate) fn merge(&mut self, other: HammingTop) {
    self.buf.extend(other.buf);
    if self.buf.len() >= self.cap {
      self.shrink();
    }
  }

  /// The kept candidates, nearest first, slots as keys and counts as distances (as the generic
  /// scan's `TopK` of `BinaryQuantizer::score` values would hold them).
  pub(crate) fn into_sorted(mut self) -> Vec<Neighbor> {
    self.buf.sort_unstable();
    self.buf.truncate(self.kc);
    self
      .buf
      .into_iter()
      .map(|(d, s)| Neighbor {
        key: s as u64,
        distance: d as f32,
      })
      .collect()
  }
}

impl QuantizedFlatIndex {
  /// Binary scan of every row for each query (row-major `queries`): each query's `kc` best slots by
  /// Hamming count, finished (rescored or converted) to its `k` results.
  pub(super) fn search_binary(
    &self,
    q: &BinaryQuantizer,
    queries: &[f32],
    k: usize,
    kc: usize,
  ) -> Vec<Vec<Neighbor>> {
    let cl = q.code_len();
    let kernel = hamming_tile_kernel(cl);
    let words = cl.div_ceil(8);
    let n = self.len();
    // All rows in [lo, hi) against the queries of `qw` (words × queries), chunk by chunk.
    let scan = |qw: &[u64], lo: usize, hi: usize| -> Vec<HammingTop> {
      let nq = qw.len() / words.max(1);
      let mut tops: Vec<HammingTop> = (0..nq).map(|_| HammingTop::new(kc)).collect();
      let mut out = vec![0u32; nq * HAMMING_CHUNK];
      let mut at = lo;
      while at < hi {
        let end = (at + HAMMING_CHUNK).min(hi);
        let m = end - at;
        kernel(qw, &self.codes[at * cl..end * cl], cl, &mut out[..nq * m]);
        for (i, top) in tops.iter_mut().enumerate() {
          top.offer(&out[i * m..(i + 1) * m], at);
        }
        at = end;
      }
      tops
    };
    let prepared = |x: &[f32]| hamming_words_of(&q.prepare(x));
    let found: Vec<Vec<Neighbor>> = if queries.len() == self.dim {
      let qw = prepared(queries);
      let top = scan_ranges(
        n,
        |lo, hi| scan(&qw, lo, hi).pop().unwrap_or_else(|| HammingTop::new(kc)),
        |mut a, b| {
          a.merge(b);
          a
        },
        || HammingTop::new(kc),
      );
      vec![top.into_sorted()]
    } else {
      let per = block_size(queries.len() / self.dim);
      queries
        .par_chunks(per * self.dim)
        .flat_map_iter(|block| {
          let qw: Vec<u64> = block.chunks_exact(self.dim).flat_map(prepared).collect();
          scan(&qw, 0, n).into_iter().map(HammingTop::into_sorted)
        })
        .collect()
    };
    queries
      .chunks_exact(self.dim)
      .zip(found)
      .map(|(query, f)| self.finish_sorted(q, query, f, k))
      .collect()
  }

  /// Int8 scan of every row for each query: tiles of up to [`I8_TILE`] queries share each load
  /// of a row, and each integer dot product becomes the same score `Int8Quantizer::score` gives.
  pub(super) fn search_int8(
    &self,
    q: &Int8Quantizer,
    queries: &[f32],
    k: usize,
    kc: usize,
  ) -> Vec<Vec<Neighbor>> {
    let cl = q.code_len();
    let dim = self.dim;
    let padded = dim.next_multiple_of(I8_PAD);
    let kernels: [DotI8Tile; I8_TILE] = std::array::from_fn(|i| dot_i8_tile_kernel(i + 1));
    let chunk = (ROW_CHUNK_BYTES / cl.max(1)).max(1);
    let n = self.len();
    let scan = |prepared: &[<Int8Quantizer as Quantizer>::Query], lo: usize, hi: usize| -> Vec<TopK> {
      let nq = prepared.len();
      let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(kc)).collect();
      // Query codes zero-padded to a multiple of I8_PAD, the layout the kernel reads.
      let mut padded_codes = vec![0i8; nq * padded];
      for (dst, p) in padded_codes.chunks_exact_mut(padded).zip(prepared) {
        dst[..dim].copy_from_slice(p.codes());
      }
      let mut out = vec![0i32; I8_TILE * chunk.min(hi - lo).max(1)];
      let mut at = lo;
      while at < hi {
        let end = (at + chunk).min(hi);
        let m = end - at;
        let rows = &self.codes[at * cl..end * cl];
        for (t, tile) in prepared.chunks(I8_TILE).enumerate() {
          let tq = tile.len();
          let codes = &padded_codes[t * I8_TILE * padded..(t * I8_TILE + tq) * padded];
          kernels[tq - 1](codes, dim, rows, cl, &mut out[..tq * m]);
          for (i, p) in tile.iter().enumerate() {
            let top = &mut tops[t * I8_TILE + i];
            for (r, (&dot, code)) in out[i * m..(i + 1) * m]
              .iter()
              .zip(rows.chunks_exact(cl))
              .enumerate()
            {
              top.push((at + r) as u64, q.score_from_dot(p, dot, code));
            }
          }
        }
        at = end;
      }
      tops
    };
    let tops: Vec<TopK> = if queries.len() == dim {
      let prepared = [q.prepare(queries)];
      let top = scan_ranges(
        n,
        |lo, hi| scan(&prepared, lo, hi).pop().unwrap_or_else(|| TopK::new(kc)),
        |mut a, b| {
          a.merge(b);
          a
        },
        || TopK::new(kc),
      );
      vec![top]
    } else {
      let per = block_size(queries.len() / dim);
      queries
        .par_chunks(per * dim)
        .flat_map_iter(|block| {
          let prepared: Vec<_> = block.chunks_exact(dim).map(|x| q.prepare(x)).collect();
          scan(&prepared, 0, n)
        })
        .collect()
    };
    queries
      .chunks_exact(dim)
      .zip(tops)
      .map(|(query, top)| self.finish_sorted(q, query, top.into_sorted(), k))
      .collect()
  }
}

/// Queries per block of a batch: enough blocks that every thread has work, none above QUERY_BLOCK.
fn block_size(nq: usize) -> usize {
  nq.div_ceil(rayon::current_num_threads().max(1) * 2)
    .clamp(1, QUERY_BLOCK)
}

#[cfg(test)]
mod tests {
  use super::HammingTop;

  /// The kc smallest (count, slot) pairs by sorting everything: what HammingTop must keep.
  fn by_sorting(counts: &[u32], kc: usize) -> Vec<(u64, f32)> {
    let mut all: Vec<(u32, usize)> = counts.iter().enumerate().map(|(s, &d)| (d, s)).collect();
    all.sort_unstable();
    all.truncate(kc);
    all.into_iter().map(|(d, s)| (s as u64, d as f32)).collect()
  }

  fn kept(t: HammingTop) -> Vec<(u64, f32)> {
    t.into_sorted().into_iter().map(|n| (n.key, n.distance)).collect()
  }

  #[test]
  fn keeps_the_smallest_counts_with_slot_tiebreak_across_chunks_and_merges() {
    // Seeded counts in 0..=span: small spans tie almost everywhere, large ones rarely.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |span: u32| {
      state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
      ((state >> 33) % u64::from(span + 1)) as u32
    };
    for span in [0u32, 1, 3, 8, 100, 4096] {
      for n in [1usize, 15, 16, 17, 300, 5000] {
        let counts: Vec<u32> = (0..n).map(|_| next(span)).collect();
        for kc in [1usize, 2, 10, 160, 6000] {
          let want = by_sorting(&counts, kc);
          // One pass, offered in uneven chunks (as the scan's 256-row buffers and range ends).
          let mut t = HammingTop::new(kc);
          let mut at = 0;
          for (i, len) in [7usize, 256, 1, 33].iter().cycle().enumerate() {
            if at >= n || i > 10_000 {
              break;
            }
            let end = (at + len).min(n);
            t.offer(&counts[at..end], at);
            at = end;
          }
          assert_eq!(kept(t), want, "span {span}, n {n}, kc {kc}");
          // Two ranges scanned apart and merged (a split single-query scan).
          let mid = n / 3;
          let (mut a, mut b) = (HammingTop::new(kc), HammingTop::new(kc));
          a.offer(&counts[..mid], 0);
          b.offer(&counts[mid..], mid);
          a.merge(b);
          assert_eq!(kept(a), want, "merged: span {span}, n {n}, kc {kc}");
        }
      }
    }
  }
}
