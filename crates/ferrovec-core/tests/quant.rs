//! Quantisers (int8, binary, PQ, f16) and the quantised flat index: error bounds, rank agreement
//! with exact distances, seeded determinism, rescoring, file round trips and every bad input.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ferrovec_core::metric::reference;
use ferrovec_core::quant::{AnyQuantizer, QuantOptions, QuantSpec, QuantizedFlatIndex, Quantizer};
use ferrovec_core::{with_quantizer, AnyFlatIndex, Error, FlatIndex, LoadOptions, Metric};
use rand::Rng;

const NO_EXPECT: LoadOptions = LoadOptions {
  dim: None,
  metric: None,
};

/// Embedding-like data: vectors near a 24-dimensional subspace (real embeddings have a low
/// intrinsic dimension), around a common offset (the "cone" real models produce), with small
/// isotropic noise and per-dimension scales that differ by up to 4×. `seed` picks the points;
/// the subspace, offset and scales are the same for every seed, so queries and data match.
fn embeddings(seed: u64, n: usize, dim: usize, _clusters: usize) -> Vec<f32> {
  fn gauss(r: &mut rand_chacha::ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (r.random_range(1e-12..1.0), r.random_range(0.0..1.0));
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
  }
  const LATENT: usize = 24;
  let mut world = rng(1234);
  let basis: Vec<f32> = (0..dim * LATENT)
    .map(|_| gauss(&mut world) / (LATENT as f32).sqrt())
    .collect();
  let offset: Vec<f32> = (0..dim).map(|_| 0.5 * gauss(&mut world)).collect();
  let scale: Vec<f32> = (0..dim)
    .map(|j| 0.5 + 1.5 * ((j * 7919) % 101) as f32 / 100.0)
    .collect();
  let mut r = rng(seed);
  let mut out = Vec::with_capacity(n * dim);
  for _ in 0..n {
    let z: Vec<f32> = (0..LATENT).map(|_| gauss(&mut r)).collect();
    for j in 0..dim {
      let b = &basis[j * LATENT..(j + 1) * LATENT];
      let x: f32 = b.iter().zip(&z).map(|(a, b)| a * b).sum();
      out.push((offset[j] + x + 0.05 * gauss(&mut r)) * scale[j]);
    }
  }
  out
}

fn exact(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
  match metric {
    Metric::Cosine => reference::cosine(a, b),
    Metric::Dot => reference::dot(a, b),
    _ => reference::l2sq(a, b),
  }
}

fn ranks(v: &[f64]) -> Vec<f64> {
  let mut idx: Vec<usize> = (0..v.len()).collect();
  idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
  let mut r = vec![0.0; v.len()];
  for (rank, &i) in idx.iter().enumerate() {
    r[i] = rank as f64;
  }
  r
}

/// Spearman rank correlation.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
  let (ra, rb) = (ranks(a), ranks(b));
  let n = a.len() as f64;
  let mean = (n - 1.0) / 2.0;
  let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
  for (x, y) in ra.iter().zip(&rb) {
    num += (x - mean) * (y - mean);
    da += (x - mean) * (x - mean);
    db += (y - mean) * (y - mean);
  }
  num / (da * db).sqrt()
}

fn train(spec: &QuantSpec, dim: usize, metric: Metric, sample: &[f32], seed: u64) -> AnyQuantizer {
  AnyQuantizer::train(spec, dim, metric, sample, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn pq(m: usize) -> QuantSpec {
  QuantSpec::Pq {
    m,
    iterations: 10,
    sample: 4096,
  }
}

fn int8() -> QuantSpec {
  QuantSpec::Int8 {
    quantile: QuantSpec::INT8_QUANTILE,
  }
}

#[test]
fn int8_components_decode_within_half_a_step() {
  let (n, dim) = (2000, 64);
  let data = embeddings(1, n, dim, 20);
  for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
    let AnyQuantizer::Int8(q) = train(&int8(), dim, metric, &data, 7) else {
      panic!("int8 spec gave another quantizer")
    };
    let (step, range) = (q.step(), q.range());
    let mut code = vec![0u8; q.code_len()];
    let mut back = vec![0f32; dim];
    let (mut clipped, mut total) = (0usize, 0usize);
    for row in data.chunks_exact(dim) {
      let x: Vec<f32> = if metric == Metric::Cosine {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter().map(|v| v / n).collect()
      } else {
        row.to_vec()
      };
      q.encode(row, &mut code);
      q.decode(&code, &mut back);
      for ((x, y), o) in x.iter().zip(&back).zip(q.offsets()) {
        total += 1;
        // Half a step, plus f32 rounding of the reconstruction.
        if (x - o).abs() <= range {
          assert!(
            (x - y).abs() <= step / 2.0 + 1e-6 * (1.0 + x.abs()),
            "{metric}: {x} decoded as {y}, step {step}"
          );
        } else {
          clipped += 1;
          assert!(
            (y - o).abs() <= range * (1.0 + 1e-6),
            "{metric}: a clipped component must saturate at the range"
          );
        }
      }
    }
    // The range is the 0.999 quantile of the sample's deviations, and the sample is the data.
    assert!(
      clipped as f64 <= 0.0015 * total as f64,
      "{metric}: {clipped} of {total} clipped"
    );
  }
}

#[test]
fn code_scores_track_exact_distances() {
  // Floors (Spearman over 1500 rows, per query, 128-d synthetic embeddings) below the lowest
  // measured per query: f16 1.000, int8 ≥ 0.999, pq ≥ 0.965, binary ≥ 0.83 (cosine and dot).
  let (n, dim) = (1500, 128);
  let data = embeddings(2, n, dim, 30);
  let queries = embeddings(3, 8, dim, 30);
  let cases: [(QuantSpec, Metric, f64); 9] = [
    (QuantSpec::F16, Metric::Cosine, 0.999),
    (QuantSpec::F16, Metric::L2, 0.999),
    (int8(), Metric::Cosine, 0.995),
    (int8(), Metric::Dot, 0.995),
    (int8(), Metric::L2, 0.995),
    (QuantSpec::Binary { center: true }, Metric::Cosine, 0.8),
    (QuantSpec::Binary { center: true }, Metric::Dot, 0.8),
    (pq(16), Metric::Cosine, 0.95),
    (pq(16), Metric::L2, 0.95),
  ];
  for (spec, metric, floor) in cases {
    let q = train(&spec, dim, metric, &data, 11);
    let codes = q.encode_rows(&data, dim);
    let cl = q.code_len();
    with_quantizer!(&q, |qz| {
      for query in queries.chunks_exact(dim) {
        let p = qz.prepare(query);
        let approx: Vec<f64> = codes
          .chunks_exact(cl)
          .map(|c| f64::from(qz.score(&p, c)))
          .collect();
        let truth: Vec<f64> = data.chunks_exact(dim).map(|r| exact(metric, query, r)).collect();
        let rho = spearman(&approx, &truth);
        assert!(
          rho >= floor,
          "{} / {metric}: Spearman {rho:.4} below {floor}",
          spec.name()
        );
      }
    });
  }
}

// Graph builds prepare nodes from their codes (`Quantizer::prepare_code`); that must score exactly
// as preparing the node's raw row does, or a quantised build would walk differently.
#[test]
fn preparing_from_a_code_scores_exactly_as_preparing_the_row() {
  let (n, dim) = (400, 96);
  let data = embeddings(5, n, dim, 12);
  let cases: [(QuantSpec, Metric, bool); 10] = [
    (QuantSpec::F16, Metric::Cosine, true),
    (QuantSpec::F16, Metric::L2, true),
    (int8(), Metric::Cosine, true),
    (int8(), Metric::Dot, true),
    (int8(), Metric::L2, true),
    (QuantSpec::Binary { center: true }, Metric::Cosine, true),
    (QuantSpec::Binary { center: false }, Metric::Dot, true),
    (QuantSpec::Truncate { dims: 32 }, Metric::Cosine, true),
    (QuantSpec::Truncate { dims: 48 }, Metric::L2, true),
    (pq(16), Metric::L2, false),
  ];
  for (spec, metric, from_code) in cases {
    let q = train(&spec, dim, metric, &data, 7);
    let codes = q.encode_rows(&data, dim);
    let cl = q.code_len();
    with_quantizer!(&q, |qz| {
      for (row, code) in data.chunks_exact(dim).zip(codes.chunks_exact(cl)).take(40) {
        let Some(pc) = qz.prepare_code(code) else {
          assert!(!from_code, "{} / {metric}: no query from a code", spec.name());
          continue;
        };
        assert!(
          from_code,
          "{} / {metric}: PQ cannot prepare from a code",
          spec.name()
        );
        let pr = qz.prepare(row);
        for other in codes.chunks_exact(cl) {
          let (a, b) = (qz.score(&pc, other), qz.score(&pr, other));
          assert_eq!(a.to_bits(), b.to_bits(), "{} / {metric}: {a} vs {b}", spec.name());
        }
      }
    });
  }
}

#[test]
fn training_is_deterministic_for_a_seed() {
  let (n, dim) = (600, 32);
  let data = embeddings(4, n, dim, 10);
  for spec in [int8(), QuantSpec::Binary { center: true }, pq(8), QuantSpec::F16] {
    let a = train(&spec, dim, Metric::L2.max_for(&spec), &data, 5).params_bytes();
    let b = train(&spec, dim, Metric::L2.max_for(&spec), &data, 5).params_bytes();
    assert_eq!(a, b, "{}: same seed, same parameters", spec.name());
  }
  let a = train(&pq(8), dim, Metric::L2, &data, 5).params_bytes();
  let b = train(&pq(8), dim, Metric::L2, &data, 6).params_bytes();
  assert_ne!(a, b, "pq: another seed starts k-means elsewhere");
  // Subsampling is seeded too: a sample larger than the cap trains the same twice.
  let big = embeddings(5, 700, dim, 10);
  let spec = QuantSpec::Pq {
    m: 4,
    iterations: 3,
    sample: 300,
  };
  assert_eq!(
    train(&spec, dim, Metric::L2, &big, 9).params_bytes(),
    train(&spec, dim, Metric::L2, &big, 9).params_bytes()
  );
}

/// Binary codes refuse l2; everything else trains on l2 (the test helper picks cosine for binary).
trait MaxFor {
  fn max_for(self, spec: &QuantSpec) -> Metric;
}
impl MaxFor for Metric {
  fn max_for(self, spec: &QuantSpec) -> Metric {
    if matches!(spec, QuantSpec::Binary { .. }) {
      Metric::Cosine
    } else {
      self
    }
  }
}

fn code_of<T>(r: Result<T, Error>) -> &'static str {
  match r {
    Ok(_) => "ok",
    Err(e) => e.code(),
  }
}

#[test]
fn bad_training_input_is_a_clear_error() {
  let dim = 16;
  let few = embeddings(6, 100, dim, 4);
  let r = AnyQuantizer::train(&pq(4), dim, Metric::L2, &few, 0);
  assert_eq!(code_of(r), "ERR_INVALID_ARGUMENT");
  let msg = AnyQuantizer::train(&pq(4), dim, Metric::L2, &few, 0)
    .err()
    .map(|e| e.to_string());
  assert!(msg.is_some_and(|m| m.contains("at least 256 training vectors, got 100")));
  assert_eq!(
    code_of(AnyQuantizer::train(&int8(), dim, Metric::L2, &few[..10 * dim], 0)),
    "ERR_INVALID_ARGUMENT"
  );
  let data = embeddings(6, 300, dim, 4);
  let r = AnyQuantizer::train(&pq(5), dim, Metric::L2, &data, 0);
  assert!(r
    .as_ref()
    .err()
    .is_some_and(|e| e.to_string().contains("m must divide dim (16)")));
  assert_eq!(code_of(r), "ERR_INVALID_ARGUMENT");
  let r = AnyQuantizer::train(&QuantSpec::Binary { center: true }, dim, Metric::L2, &data, 0);
  assert!(r.as_ref().err().is_some_and(|e| e.to_string().contains("l2")));
  assert_eq!(code_of(r), "ERR_INVALID_ARGUMENT");
  assert_eq!(
    code_of(AnyQuantizer::train(&int8(), dim, Metric::Hamming, &data, 0)),
    "ERR_INVALID_ARGUMENT"
  );
  assert_eq!(
    code_of(AnyQuantizer::train(
      &int8(),
      dim,
      Metric::L2,
      &data[..data.len() - 1],
      0
    )),
    "ERR_DIMENSION_MISMATCH"
  );
  let mut nan = data.clone();
  nan[5 * dim + 3] = f32::NAN;
  assert_eq!(
    code_of(AnyQuantizer::train(&int8(), dim, Metric::L2, &nan, 0)),
    "ERR_INVALID_VECTOR"
  );
  let bad_q = QuantSpec::Int8 { quantile: 0.3 };
  assert_eq!(
    code_of(AnyQuantizer::train(&bad_q, dim, Metric::L2, &data, 0)),
    "ERR_INVALID_ARGUMENT"
  );
  // The same checks guard index construction, before any vector arrives.
  assert_eq!(
    code_of(QuantizedFlatIndex::new(
      dim,
      Metric::L2,
      QuantOptions::new(QuantSpec::Binary { center: true })
    )),
    "ERR_INVALID_ARGUMENT"
  );
  assert_eq!(
    code_of(QuantizedFlatIndex::new(dim, Metric::L2, QuantOptions::new(pq(3)))),
    "ERR_INVALID_ARGUMENT"
  );
  let mut o = QuantOptions::new(int8());
  o.train_after = Some(5);
  assert_eq!(
    code_of(QuantizedFlatIndex::new(dim, Metric::L2, o)),
    "ERR_INVALID_ARGUMENT"
  );
  let mut o = QuantOptions::new(int8());
  o.oversample = f32::NAN;
  assert_eq!(
    code_of(QuantizedFlatIndex::new(dim, Metric::L2, o)),
    "ERR_INVALID_ARGUMENT"
  );
}

fn index(dim: usize, metric: Metric, options: QuantOptions) -> QuantizedFlatIndex {
  QuantizedFlatIndex::new(dim, metric, options).unwrap_or_else(|e| panic!("{e}"))
}

fn keys(n: usize) -> Vec<u64> {
  (0..n as u64).map(|i| i * 3 + 1).collect()
}

#[test]
fn untrained_index_refuses_search_and_trains_itself_at_the_stated_count() {
  let (dim, n) = (32, 1200);
  let data = embeddings(7, n, dim, 12);
  let ks = keys(n);
  let mut idx = index(dim, Metric::Cosine, QuantOptions::new(int8()));
  assert_eq!(idx.options().train_after, Some(QuantOptions::TRAIN_AFTER));
  idx.add_batch(&ks[..999], &data[..999 * dim], false).unwrap();
  assert!(!idx.is_trained());
  let e = idx.search(&data[..dim], 5, None).err().unwrap();
  assert_eq!(e.code(), "ERR_NOT_TRAINED");
  assert!(
    e.to_string()
      .contains("once 1000 vectors have been added (999 so far)"),
    "{e}"
  );
  idx.add_batch(&ks[999..], &data[999 * dim..], false).unwrap();
  assert!(idx.is_trained());
  assert_eq!(idx.codes().len(), n * idx.quantizer().unwrap().code_len());
  assert_eq!(idx.search(&data[..dim], 1, None).unwrap()[0].key, ks[0]);

  // Manual training: adds are refused (nothing stored) until train() runs.
  let mut o = QuantOptions::new(int8());
  o.train_after = None;
  let mut idx = index(dim, Metric::Cosine, o);
  let e = idx.add_batch(&ks[..10], &data[..10 * dim], false).err().unwrap();
  assert_eq!(e.code(), "ERR_NOT_TRAINED");
  assert_eq!(idx.len(), 0);
  assert_eq!(code_of(idx.train(&data[..10 * dim])), "ERR_INVALID_ARGUMENT");
  assert!(!idx.is_trained());
  idx.train(&data[..500 * dim]).unwrap();
  assert_eq!(
    code_of(idx.train(&data[..500 * dim])),
    "ERR_INVALID_ARGUMENT",
    "trains once"
  );
  idx.add_batch(&ks, &data, false).unwrap();
  assert_eq!(idx.len(), n);

  // f16 needs no training.
  let mut idx = index(dim, Metric::L2, QuantOptions::new(QuantSpec::F16));
  assert!(idx.is_trained());
  idx.add_batch(&ks[..3], &data[..3 * dim], false).unwrap();
  assert_eq!(idx.search(&data[dim..2 * dim], 1, None).unwrap()[0].key, ks[1]);
}

/// The scan's candidates by hand: every code scored, best `kc` by (score, slot) as the index ranks.
fn scan_candidates(idx: &QuantizedFlatIndex, query: &[f32], kc: usize) -> Vec<usize> {
  let q = idx.quantizer().unwrap();
  let cl = q.code_len();
  let mut scored: Vec<(f32, usize)> = with_quantizer!(q, |qz| {
    let p = qz.prepare(query);
    idx
      .codes()
      .chunks_exact(cl)
      .enumerate()
      .map(|(s, c)| (qz.score(&p, c), s))
      .collect()
  });
  scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
  scored.truncate(kc);
  scored.into_iter().map(|(_, s)| s).collect()
}

#[test]
fn rescoring_returns_the_exact_order_among_its_candidates() {
  let (dim, n, k) = (64, 3000, 10);
  let data = embeddings(8, n, dim, 40);
  let queries = embeddings(9, 12, dim, 40);
  let ks = keys(n);
  for (spec, metric) in [
    (QuantSpec::Binary { center: true }, Metric::Cosine),
    (pq(16), Metric::L2),
    (int8(), Metric::Dot),
  ] {
    let mut o = QuantOptions::new(spec.clone());
    o.oversample = 3.0;
    let mut idx = index(dim, metric, o);
    idx.add_batch(&ks, &data, false).unwrap();
    let kc = idx.candidates_for(k);
    assert_eq!(kc, 30);
    let batch = idx.search_batch(&queries, k, None).unwrap();
    for (qi, query) in queries.chunks_exact(dim).enumerate() {
      let cands = scan_candidates(&idx, query, kc);
      let mut want: Vec<(f32, u64)> = cands
        .iter()
        .map(|&s| (exact(metric, query, &data[s * dim..(s + 1) * dim]) as f32, ks[s]))
        .collect();
      want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
      let got_keys = &batch.keys[qi * k..(qi + 1) * k];
      let got_d = &batch.distances[qi * k..(qi + 1) * k];
      for j in 0..k {
        assert!(
          (got_d[j] - want[j].0).abs() <= 1e-4 * (1.0 + want[j].0.abs()),
          "{}: rank {j} distance",
          spec.name()
        );
        let tie = want
          .iter()
          .any(|w| w.1 != want[j].1 && (w.0 - want[j].0).abs() <= 1e-4);
        if !tie {
          assert_eq!(got_keys[j], want[j].1, "{}: rank {j} key", spec.name());
        }
      }
    }
  }
}

#[test]
fn rescoring_everything_is_exact_search_and_filters_apply() {
  let (dim, n, k) = (32, 1100, 7);
  let data = embeddings(10, n, dim, 10);
  let ks = keys(n);
  let mut o = QuantOptions::new(QuantSpec::Binary { center: true });
  o.oversample = (n as f32 / k as f32).ceil();
  let mut idx = index(dim, Metric::Cosine, o);
  idx.add_batch(&ks, &data, false).unwrap();
  let mut exact_idx = FlatIndex::<f32>::new(dim, Metric::Cosine).unwrap();
  exact_idx.add_batch(&ks, &data, false).unwrap();
  let query = &data[17 * dim..18 * dim];
  let allow: Vec<u64> = ks.iter().copied().filter(|k| k % 2 == 0).collect();
  for filter in [None, Some(&allow[..])] {
    let got = idx.search(query, k, filter).unwrap();
    let want = exact_idx.search(query, k, filter).unwrap();
    assert_eq!(
      got.iter().map(|n| n.key).collect::<Vec<_>>(),
      want.iter().map(|n| n.key).collect::<Vec<_>>()
    );
  }
}

#[test]
fn code_only_search_reports_code_distances_and_get_reconstructs() {
  let (dim, n) = (32, 1000);
  let data = embeddings(11, n, dim, 10);
  let ks = keys(n);
  let mut o = QuantOptions::new(int8());
  o.keep_originals = false;
  let mut idx = index(dim, Metric::L2, o);
  idx.add_batch(&ks, &data, false).unwrap();
  assert!(idx.originals().is_empty(), "originals dropped once trained");
  let m = idx.memory_usage();
  assert_eq!(m.originals, 0);
  assert!(m.codes >= n * (dim + 8));
  let got = idx.get(ks[5]).unwrap();
  let err = got
    .iter()
    .zip(&data[5 * dim..6 * dim])
    .map(|(a, b)| (a - b).abs())
    .fold(0f32, f32::max);
  let AnyQuantizer::Int8(q) = idx.quantizer().unwrap() else {
    panic!()
  };
  assert!(err <= q.range(), "reconstruction error {err}");
  let r = idx.search(&data[5 * dim..6 * dim], 3, None).unwrap();
  assert_eq!(r[0].key, ks[5]);
  assert!(r[0].distance < r[1].distance);
  // Removing moves the last code into the hole; the moved key is still found.
  assert!(idx.remove(ks[5]));
  assert!(!idx.remove(ks[5]));
  let last = ks[n - 1];
  assert_eq!(idx.search(&data[(n - 1) * dim..], 1, None).unwrap()[0].key, last);
  // Upsert re-encodes in place.
  idx.add_batch(&[last], &data[..dim], true).unwrap();
  assert_eq!(idx.len(), n - 1);
  let top2: Vec<u64> = idx
    .search(&data[..dim], 2, None)
    .unwrap()
    .iter()
    .map(|n| n.key)
    .collect();
  assert!(top2.contains(&last) && top2.contains(&ks[0]));
}

#[test]
fn binary_recovers_recall_with_rescoring() {
  // Recall@10 against exact search on 256-d synthetic embeddings: codes alone vs the default
  // rescoring (16×).
  let (dim, n, k) = (256, 4000, 10);
  let data = embeddings(12, n, dim, 50);
  let queries = embeddings(13, 30, dim, 50);
  let ks = keys(n);
  let mut exact_idx = FlatIndex::<f32>::new(dim, Metric::Cosine).unwrap();
  exact_idx.add_batch(&ks, &data, false).unwrap();
  let truth = exact_idx.search_batch(&queries, k, None).unwrap();
  let recall = |idx: &QuantizedFlatIndex| {
    let got = idx.search_batch(&queries, k, None).unwrap();
    let mut hits = 0;
    for q in 0..queries.len() / dim {
      let t = &truth.keys[q * k..(q + 1) * k];
      hits += got.keys[q * k..(q + 1) * k]
        .iter()
        .filter(|x| t.contains(x))
        .count();
    }
    hits as f64 / truth.keys.len() as f64
  };
  let mut o = QuantOptions::new(QuantSpec::Binary { center: true });
  o.oversample = 1.0;
  let mut codes_only = index(dim, Metric::Cosine, o);
  codes_only.add_batch(&ks, &data, false).unwrap();
  let mut rescored = index(
    dim,
    Metric::Cosine,
    QuantOptions::new(QuantSpec::Binary { center: true }),
  );
  rescored.add_batch(&ks, &data, false).unwrap();
  let (r0, r1) = (recall(&codes_only), recall(&rescored));
  // The ≥ 0.95 target is for real ≥ 384-d embeddings (bench/); this 256-d synthetic set measured
  // 0.52 with codes only and 0.94 at 8× rescoring.
  assert!(
    r1 >= 0.9 && r1 > r0 + 0.3,
    "binary recall@10: codes only {r0:.3}, rescored ×16 {r1:.3}"
  );
}

fn round_trip(idx: &QuantizedFlatIndex) -> QuantizedFlatIndex {
  let bytes = idx.to_bytes().unwrap();
  match AnyFlatIndex::from_bytes(&bytes, &NO_EXPECT) {
    Ok(AnyFlatIndex::Quant(q)) => q,
    Ok(_) => panic!("a quantised file loaded as another kind"),
    Err(e) => panic!("{e}"),
  }
}

#[test]
fn save_and_load_keep_quantizer_codes_and_results() {
  let (dim, n) = (32, 1100);
  let data = embeddings(14, n, dim, 10);
  let queries = embeddings(15, 5, dim, 10);
  let ks = keys(n);
  let specs = [
    QuantSpec::F16,
    int8(),
    QuantSpec::Binary { center: true },
    QuantSpec::Binary { center: false },
    pq(8),
  ];
  for spec in specs {
    for keep in [true, false] {
      let metric = Metric::Cosine;
      let mut o = QuantOptions::new(spec.clone());
      o.keep_originals = keep;
      o.seed = 77;
      let mut idx = index(dim, metric, o);
      idx.add_batch(&ks, &data, false).unwrap();
      let back = round_trip(&idx);
      assert_eq!(back.options(), idx.options());
      assert_eq!(back.codes(), idx.codes());
      assert_eq!(back.originals(), idx.originals());
      assert_eq!(back.keys(), idx.keys());
      assert_eq!(
        back.quantizer().unwrap().params_bytes(),
        idx.quantizer().unwrap().params_bytes()
      );
      assert_eq!(
        back.search_batch(&queries, 5, None).unwrap(),
        idx.search_batch(&queries, 5, None).unwrap()
      );
      // The file is a quantised one: the typed f32 loader says so instead of misreading it.
      let typed = FlatIndex::<f32>::from_bytes(&idx.to_bytes().unwrap(), &NO_EXPECT);
      assert_eq!(code_of(typed), "ERR_INVALID_ARGUMENT");
    }
  }
  // An index still waiting for training keeps its pending vectors and trains at the same count.
  let mut idx = index(dim, Metric::L2, QuantOptions::new(int8()));
  idx.add_batch(&ks[..600], &data[..600 * dim], false).unwrap();
  let mut back = round_trip(&idx);
  assert!(!back.is_trained());
  assert_eq!(back.originals(), idx.originals());
  back.add_batch(&ks[600..], &data[600 * dim..], false).unwrap();
  idx.add_batch(&ks[600..], &data[600 * dim..], false).unwrap();
  assert!(back.is_trained());
  assert_eq!(back.codes(), idx.codes());
}

#[test]
fn plain_flat_files_of_format_1_0_still_load() {
  let mut f = FlatIndex::<f32>::new(4, Metric::L2).unwrap();
  f.add_batch(&[1, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], false)
    .unwrap();
  let w = f.writer().with_version(1, 0, 0);
  let bytes = w.to_bytes().unwrap();
  match AnyFlatIndex::from_bytes(&bytes, &NO_EXPECT) {
    Ok(AnyFlatIndex::F32(g)) => assert_eq!(g.data(), f.data()),
    other => panic!("{:?}", other.map(|_| ())),
  }
}

/// A quantised file with one section replaced (or dropped), re-checksummed so only the content is
/// wrong.
fn with_section(idx: &QuantizedFlatIndex, tag: &[u8; 4], data: Option<Vec<u8>>) -> Vec<u8> {
  let bytes = idx.to_bytes().unwrap();
  common::rewritten(
    &bytes,
    |id, body| if &id.0 == tag { data.clone() } else { Some(body) },
  )
}

#[test]
fn damaged_quantization_sections_are_corrupt_file_errors() {
  let (dim, n) = (16, 300);
  let data = embeddings(16, n, dim, 5);
  let ks = keys(n);
  let mut o = QuantOptions::new(int8());
  o.train_after = Some(300);
  let mut idx = index(dim, Metric::L2, o);
  idx.add_batch(&ks, &data, false).unwrap();
  let bytes = idx.to_bytes().unwrap();
  let c = ferrovec_core::format::Container::parse(&bytes[..]).unwrap();
  let qopt = c.section(ferrovec_core::format::Tag(*b"QOPT")).unwrap().to_vec();
  let qprm = c.section(ferrovec_core::format::Tag(*b"QPRM")).unwrap().to_vec();
  let qcod = c.section(ferrovec_core::format::Tag(*b"QCOD")).unwrap().to_vec();
  let load = |b: Vec<u8>| AnyFlatIndex::from_bytes(&b, &NO_EXPECT).map(|_| ());
  let expect = |b: Vec<u8>, needle: &str| {
    let e = load(b).err().unwrap_or_else(|| panic!("loaded despite {needle}"));
    assert_eq!(e.code(), "ERR_CORRUPT_FILE", "{e}");
    assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
  };
  let mut bad = qopt.clone();
  bad[0] = 99;
  expect(
    with_section(&idx, b"QOPT", Some(bad)),
    "unknown quantization type code 99",
  );
  expect(
    with_section(&idx, b"QOPT", Some(qopt[..40].to_vec())),
    "expected 48",
  );
  let mut bad = qopt.clone();
  bad[4] |= 0x40;
  expect(with_section(&idx, b"QOPT", Some(bad)), "unknown flag bits");
  let mut bad = qopt.clone();
  bad[12..16].copy_from_slice(&f32::NAN.to_le_bytes());
  expect(with_section(&idx, b"QOPT", Some(bad)), "oversample");
  let mut bad = qprm.clone();
  bad[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes());
  expect(with_section(&idx, b"QPRM", Some(bad)), "expected a finite number");
  expect(
    with_section(&idx, b"QPRM", Some(qprm[..qprm.len() - 4].to_vec())),
    "int8 parameters",
  );
  let mut bad = qprm.clone();
  bad[0] = 4;
  expect(with_section(&idx, b"QPRM", Some(bad)), "QPRM");
  expect(with_section(&idx, b"QPRM", None), "is missing");
  expect(
    with_section(&idx, b"QCOD", Some(qcod[1..].to_vec())),
    "codes of 24 bytes",
  );
  let mut bad = qcod.clone();
  bad[dim..dim + 4].copy_from_slice(&f32::NAN.to_le_bytes());
  expect(with_section(&idx, b"QCOD", Some(bad)), "non-finite correction");
  expect(with_section(&idx, b"VECS", Some(Vec::new())), "rows of 16 f32");
  // The quantisation sections are REQUIRED, so a format-1.0 reader refuses the file as too new.
  for e in c.entries().iter().filter(|e| e.id.0[0] == b'Q') {
    assert_eq!(
      e.flags & ferrovec_core::format::SECTION_REQUIRED,
      1,
      "{} must be required",
      e.id
    );
  }
}

#[test]
fn truncation_scores_the_prefix_and_rescores_at_full_dimension() {
  let (dim, n, k) = (48, 500, 5);
  let data = embeddings(17, n, dim, 5);
  let queries = embeddings(18, 4, dim, 5);
  let ks = keys(n);
  for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
    let q = train(&QuantSpec::Truncate { dims: 16 }, dim, metric, &[], 0);
    let codes = q.encode_rows(&data, dim);
    with_quantizer!(&q, |qz| {
      let p = qz.prepare(&queries[..dim]);
      for (row, code) in data.chunks_exact(dim).zip(codes.chunks_exact(qz.code_len())) {
        // Cosine and dot compare prefixes by angle; l2 by raw squared distance.
        let want = if metric == Metric::L2 {
          reference::l2sq(&queries[..16], &row[..16])
        } else {
          reference::cosine(&queries[..16], &row[..16])
        };
        let got = f64::from(qz.score(&p, code));
        assert!(
          (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
          "{metric}: {got} vs {want}"
        );
      }
    });
    // Rescoring everything gives exact full-dimension search.
    let mut o = QuantOptions::new(QuantSpec::Truncate { dims: 16 });
    o.oversample = n as f32;
    let mut idx = index(dim, metric, o);
    assert!(idx.is_trained(), "truncation needs no training");
    idx.add_batch(&ks, &data, false).unwrap();
    let mut exact_idx = FlatIndex::<f32>::new(dim, metric).unwrap();
    exact_idx.add_batch(&ks, &data, false).unwrap();
    assert_eq!(
      idx.search_batch(&queries, k, None).unwrap().keys,
      exact_idx.search_batch(&queries, k, None).unwrap().keys,
      "{metric}"
    );
  }
  let r = QuantizedFlatIndex::new(
    dim,
    Metric::Cosine,
    QuantOptions::new(QuantSpec::Truncate { dims: 49 }),
  );
  assert!(r.as_ref().err().is_some_and(|e| e
    .to_string()
    .contains("truncate dims must be an integer in 1..=48")));
  assert_eq!(code_of(r), "ERR_INVALID_ARGUMENT");
}

#[test]
fn binary_scan_kernel_counts_like_the_reference() {
  let kernel = ferrovec_core::metric::codes::hamming_kernel();
  let mut r = rng(19);
  for len in [1, 7, 8, 9, 16, 63, 64, 65, 192] {
    let (a, b) = (random_u8(&mut r, len), random_u8(&mut r, len));
    assert_eq!(
      f64::from(kernel(&a, &b)),
      reference::hamming(&a, &b),
      "{len} bytes"
    );
    assert_eq!(kernel(&a, &a), 0.0);
  }
}
