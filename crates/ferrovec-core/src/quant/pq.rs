//! Product quantisation (Jégou, Douze, Schmid 2011): the vector is cut into `m` equal sub-vectors,
//! each replaced by the index of its nearest of 256 centroids learned by k-means on that
//! sub-space, so a code is `m` bytes.
//!
//! Scoring is *asymmetric*: the query stays exact. [`Quantizer::prepare`] fills a lookup table of
//! `m × 256` partial scores (the query's sub-vector against every centroid), and a code's score is
//! the sum of `m` table entries:
//!
//! ```text
//!   l2:          Σⱼ ‖qⱼ − C[j][cⱼ]‖²                 (squared distance to the reconstruction)
//!   dot, cosine: 1 − Σⱼ qⱼ·C[j][cⱼ]                  (cosine: q and the training/encoded rows normalised)
//! ```
//!
//! k-means is seeded (distinct sample rows as starting centroids, drawn from the seed), runs a fixed
//! number of Lloyd rounds over a bounded sample, and re-seeds an empty cluster from the point
//! farthest from its centroid, so a trained quantiser is a pure function of (sample, seed).

use rayon::prelude::*;

use super::{normalized, read_f32s, Quantizer, Rng};
use crate::error::{Error, Result};
use crate::metric::Metric;

/// Centroids per sub-space (codes are one byte each).
pub const CENTROIDS: usize = 256;

/// Largest `m` accepted (a code of more than 4096 bytes would be larger than most f32 rows).
pub const MAX_M: usize = 4096;

/// A trained product quantiser.
#[derive(Debug, Clone)]
pub struct PqQuantizer {
  dim: usize,
  metric: Metric,
  m: usize,
  sub: usize,
  /// `m × 256 × sub` values: sub-space `j`'s centroid `c` at `(j·256 + c)·sub`.
  centroids: Vec<f32>,
  /// The same values by dimension: coordinate `d` of sub-space `j`'s centroid `c` at
  /// `(j·sub + d)·256 + c`. Building a query's table then runs along 256 contiguous centroids, which
  /// the compiler vectorises (8× fewer instructions than one short sub-vector at a time; a table is
  /// built per query, and per node during builds).
  by_dim: Vec<f32>,
}

/// [`PqQuantizer::by_dim`] of `centroids`.
fn by_dim(centroids: &[f32], sub: usize) -> Vec<f32> {
  let mut out = vec![0f32; centroids.len()];
  for (i, &x) in centroids.iter().enumerate() {
    let (book, c, d) = (i / (CENTROIDS * sub), (i / sub) % CENTROIDS, i % sub);
    out[(book * sub + d) * CENTROIDS + c] = x;
  }
  out
}

#[inline]
fn l2(a: &[f32], b: &[f32]) -> f32 {
  a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the centroid of `cents` (row-major, `sub` wide) nearest to `v`, and its distance.
#[inline]
fn nearest(cents: &[f32], sub: usize, v: &[f32]) -> (usize, f32) {
  let mut best = (0, f32::INFINITY);
  for (c, cent) in cents.chunks_exact(sub).enumerate() {
    let d = l2(v, cent);
    if d < best.1 {
      best = (c, d);
    }
  }
  best
}

/// k-means over `pts` (`n × sub`) into [`CENTROIDS`] centroids; `n ≥ CENTROIDS`.
fn kmeans(pts: &[f32], sub: usize, iterations: usize, seed: u64) -> Vec<f32> {
  let n = pts.len() / sub;
  let mut rng = Rng::new(seed);
  // Distinct starting rows: a partial Fisher–Yates over the row indices.
  let mut idx: Vec<usize> = (0..n).collect();
  for i in 0..CENTROIDS.min(n) {
    let j = i + rng.below(n - i);
    idx.swap(i, j);
  }
  let mut cents: Vec<f32> = idx[..CENTROIDS.min(n)]
    .iter()
    .flat_map(|&i| pts[i * sub..(i + 1) * sub].iter().copied())
    .collect();
  cents.resize(CENTROIDS * sub, 0.0);
  let mut assign = vec![(0usize, 0f32); n];
  for _ in 0..iterations {
    for (a, p) in assign.iter_mut().zip(pts.chunks_exact(sub)) {
      *a = nearest(&cents, sub, p);
    }
    let mut sums = vec![0f64; CENTROIDS * sub];
    let mut counts = vec![0usize; CENTROIDS];
    for (&(c, _), p) in assign.iter().zip(pts.chunks_exact(sub)) {
      counts[c] += 1;
      for (s, x) in sums[c * sub..(c + 1) * sub].iter_mut().zip(p) {
        *s += f64::from(*x);
      }
    }
    for c in 0..CENTROIDS {
      if counts[c] > 0 {
        for (o, s) in cents[c * sub..(c + 1) * sub]
          .iter_mut()
          .zip(&sums[c * sub..(c + 1) * sub])
        {
          *o = (*s / counts[c] as f64) as f32;
        }
      } else {
        // An empty cluster takes over the worst-served point (deterministic: first of the maxima),
        // which then counts as served so the next empty cluster takes another.
        if let Some((far, _)) = assign
          .iter()
          .enumerate()
          .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(b.0.cmp(&a.0)))
        {
          cents[c * sub..(c + 1) * sub].copy_from_slice(&pts[far * sub..(far + 1) * sub]);
          assign[far].1 = 0.0;
        }
      }
    }
  }
  cents
}

impl PqQuantizer {
  /// Trains `m` codebooks from `sample` (row-major, validated, at least [`CENTROIDS`] rows). The
  /// sub-spaces train in parallel, each from its own seed derived from `seed`, so the result does
  /// not depend on the thread count.
  pub fn train(
    dim: usize,
    metric: Metric,
    sample: &[f32],
    m: usize,
    iterations: usize,
    seed: u64,
  ) -> Result<Self> {
    let n = sample.len() / dim;
    if n < CENTROIDS {
      return Err(Error::invalid_argument(format!(
        "pq quantization needs at least {CENTROIDS} training vectors, got {n}"
      )));
    }
    let sub = dim / m;
    let rows: Vec<f32> = if metric == Metric::Cosine {
      sample.chunks_exact(dim).flat_map(normalized).collect()
    } else {
      sample.to_vec()
    };
    let books: Vec<Vec<f32>> = (0..m)
      .into_par_iter()
      .map(|j| {
        let pts: Vec<f32> = rows
          .chunks_exact(dim)
          .flat_map(|r| r[j * sub..(j + 1) * sub].iter().copied())
          .collect();
        kmeans(
          &pts,
          sub,
          iterations,
          seed.wrapping_add((j as u64).wrapping_mul(0x9E37_79B9)),
        )
      })
      .collect();
    let centroids = books.concat();
    Ok(PqQuantizer {
      dim,
      metric,
      m,
      sub,
      by_dim: by_dim(&centroids, sub),
      centroids,
    })
  }

  /// Bytes of the by-dimension copy of the codebooks (not in the file: rebuilt on load).
  pub fn derived_bytes(&self) -> usize {
    self.by_dim.len() * std::mem::size_of::<f32>()
  }

  /// Sub-vectors per code.
  pub fn m(&self) -> usize {
    self.m
  }

  pub(crate) fn write_params(&self, out: &mut Vec<u8>) {
    out.extend_from_slice(&(self.m as u32).to_le_bytes());
    for c in &self.centroids {
      out.extend_from_slice(&c.to_le_bytes());
    }
  }

  pub(crate) fn read_params(bytes: &[u8], dim: usize, metric: Metric) -> Result<Self, String> {
    if bytes.len() < 4 {
      return Err("pq parameters: too short for m".into());
    }
    let m = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if m == 0 || m > MAX_M || m > dim || !dim.is_multiple_of(m) {
      return Err(format!(
        "pq m is {m}; expected a divisor of dim {dim} up to {MAX_M}"
      ));
    }
    let sub = dim / m;
    let centroids = read_f32s(&bytes[4..], m * CENTROIDS * sub, "pq centroids")?;
    Ok(PqQuantizer {
      dim,
      metric,
      m,
      sub,
      by_dim: by_dim(&centroids, sub),
      centroids,
    })
  }
}

impl Quantizer for PqQuantizer {
  /// A query is a table of 256 distances per sub-vector: `256 × dim` products, as many as 256
  /// full-vector distances.
  const COSTLY_PREPARE: bool = true;

  /// The `m × 256` lookup table.
  type Query = Vec<f32>;

  fn dim(&self) -> usize {
    self.dim
  }

  fn code_len(&self) -> usize {
    self.m
  }

  fn encode(&self, v: &[f32], out: &mut [u8]) {
    let owned;
    let v = if self.metric == Metric::Cosine {
      owned = normalized(v);
      &owned[..]
    } else {
      v
    };
    for (j, o) in out.iter_mut().enumerate() {
      let book = &self.centroids[j * CENTROIDS * self.sub..(j + 1) * CENTROIDS * self.sub];
      *o = nearest(book, self.sub, &v[j * self.sub..(j + 1) * self.sub]).0 as u8;
    }
  }

  fn decode(&self, code: &[u8], out: &mut [f32]) {
    for (j, &c) in code.iter().enumerate() {
      let at = (j * CENTROIDS + usize::from(c)) * self.sub;
      out[j * self.sub..(j + 1) * self.sub].copy_from_slice(&self.centroids[at..at + self.sub]);
    }
  }

  fn prepare(&self, query: &[f32]) -> Vec<f32> {
    let owned;
    let q = if self.metric == Metric::Cosine {
      owned = normalized(query);
      &owned[..]
    } else {
      query
    };
    // Entry `(j, c)` sums its sub-vector's terms in dimension order, as `l2`/`dot` would.
    let mut lut = vec![0f32; self.m * CENTROIDS];
    let l2_terms = matches!(self.metric, Metric::L2 | Metric::Hamming);
    for (row, (qs, cols)) in lut.chunks_exact_mut(CENTROIDS).zip(
      q.chunks_exact(self.sub)
        .zip(self.by_dim.chunks_exact(CENTROIDS * self.sub)),
    ) {
      for (&x, col) in qs.iter().zip(cols.chunks_exact(CENTROIDS)) {
        if l2_terms {
          for (t, &c) in row.iter_mut().zip(col) {
            *t += (x - c) * (x - c);
          }
        } else {
          for (t, &c) in row.iter_mut().zip(col) {
            *t += x * c;
          }
        }
      }
    }
    lut
  }

  #[inline]
  fn score(&self, lut: &Vec<f32>, code: &[u8]) -> f32 {
    // Four independent sums so the adds pipeline instead of waiting on one accumulator.
    let mut acc = [0f32; 4];
    let mut chunks = code.chunks_exact(4);
    let mut j = 0;
    for c in &mut chunks {
      for (i, a) in acc.iter_mut().enumerate() {
        *a += lut[(j + i) * CENTROIDS + usize::from(c[i])];
      }
      j += 4;
    }
    for (i, &c) in chunks.remainder().iter().enumerate() {
      acc[i] += lut[(j + i) * CENTROIDS + usize::from(c)];
    }
    let s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    match self.metric {
      Metric::L2 | Metric::Hamming => s,
      Metric::Cosine | Metric::Dot => 1.0 - s,
    }
  }
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used)]
  use super::*;

  // The table built along `by_dim` must hold, bit for bit, each sub-vector's distance to each
  // centroid summed in dimension order (what `score` and the file's codes were measured with).
  #[test]
  fn lookup_tables_match_the_per_centroid_sums() {
    let (dim, m, n) = (24, 6, 300);
    let mut s = 0x2545f4914f6cdd1du64;
    let mut next = || {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let sample: Vec<f32> = (0..n * dim).map(|_| next()).collect();
    let query: Vec<f32> = (0..dim).map(|_| next()).collect();
    for metric in [Metric::L2, Metric::Dot, Metric::Cosine] {
      let pq = PqQuantizer::train(dim, metric, &sample, m, 4, 9).unwrap();
      let lut = pq.prepare(&query);
      let q = if metric == Metric::Cosine {
        normalized(&query)
      } else {
        query.clone()
      };
      let sub = dim / m;
      for j in 0..m {
        for c in 0..CENTROIDS {
          let cent = &pq.centroids[(j * CENTROIDS + c) * sub..(j * CENTROIDS + c + 1) * sub];
          let qs = &q[j * sub..(j + 1) * sub];
          let want = qs.iter().zip(cent).fold(0f32, |acc, (x, y)| {
            acc
              + if metric == Metric::L2 {
                (x - y) * (x - y)
              } else {
                x * y
              }
          });
          assert_eq!(
            lut[j * CENTROIDS + c].to_bits(),
            want.to_bits(),
            "{metric} j {j} c {c}"
          );
        }
      }
    }
  }
}
