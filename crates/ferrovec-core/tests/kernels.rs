//! Every SIMD kernel against the scalar `f64` reference.
//!
//! Tolerance: the SIMD kernels accumulate in `f32` (and cosine uses a refined reciprocal square
//! root), so the allowed error is relative to the *magnitude of the terms summed*, not to the result:
//! `|simd − reference| ≤ 1e-4 · (1 + Σ|termᵢ|)`. That bound is loose enough for any summation order
//! and still catches a wrong formula (which is off by O(1) of the terms).

mod common;

use common::*;
use ferrovec_core::metric::{self, reference, Metric};

fn tol(terms: f64) -> f64 {
  1e-4 * (1.0 + terms)
}

#[test]
fn float_kernels_match_the_reference() {
  let mut r = rng(7);
  for dim in DIMS {
    for trial in 0..20 {
      let a = random_f32(&mut r, dim);
      let mut b = random_f32(&mut r, dim);
      if trial == 0 {
        b.clone_from(&a); // identical vectors: cosine must be ~0 and never negative
      }
      let dot_terms: f64 = a.iter().zip(&b).map(|(x, y)| f64::from((x * y).abs())).sum();
      let norms = (a.iter().map(|x| f64::from(x * x)).sum::<f64>()
        * b.iter().map(|x| f64::from(x * x)).sum::<f64>())
      .sqrt();
      let cases = [
        (
          Metric::Cosine,
          reference::cosine(&a, &b),
          tol(dot_terms / norms.max(f64::MIN_POSITIVE)),
        ),
        (Metric::Dot, reference::dot(&a, &b), tol(dot_terms)),
        (Metric::L2, reference::l2sq(&a, &b), tol(reference::l2sq(&a, &b))),
      ];
      for (m, want, eps) in cases {
        let got = f64::from(
          metric::distance(m, &a, &b)
            .map_err(|e| e.to_string())
            .unwrap_or(f32::NAN),
        );
        assert!(
          (got - want).abs() <= eps,
          "{m} dim {dim} trial {trial}: simd {got}, reference {want}, tol {eps}"
        );
      }
      let cos = metric::distance(Metric::Cosine, &a, &b).unwrap_or(f32::NAN);
      assert!((0.0..=2.0).contains(&cos), "cosine out of [0, 2]: {cos}");
    }
  }
}

#[test]
fn hamming_matches_the_reference_exactly() {
  let mut r = rng(11);
  for dim in DIMS {
    let a = random_u8(&mut r, dim);
    let b = random_u8(&mut r, dim);
    let got = metric::distance(Metric::Hamming, &a, &b).unwrap_or(f32::NAN);
    assert_eq!(
      f64::from(got),
      reference::hamming(&a, &b),
      "hamming over {dim} bytes"
    );
  }
}

#[test]
fn cosine_of_zero_vectors_is_defined() {
  for dim in DIMS {
    let z = vec![0f32; dim];
    let mut x = vec![0f32; dim];
    x[dim - 1] = 0.5;
    assert_eq!(
      metric::distance(Metric::Cosine, &z, &z).ok(),
      Some(0.0),
      "both zero, dim {dim}"
    );
    assert_eq!(
      metric::distance(Metric::Cosine, &z, &x).ok(),
      Some(1.0),
      "zero vs non-zero, dim {dim}"
    );
    assert_eq!(
      metric::distance(Metric::Cosine, &x, &z).ok(),
      Some(1.0),
      "non-zero vs zero, dim {dim}"
    );
    assert_eq!(reference::cosine(&z, &z), 0.0);
    assert_eq!(reference::cosine(&z, &x), 1.0);
  }
}

#[test]
fn distances_into_matches_pairwise() {
  let mut r = rng(3);
  let dim = 96;
  let q = random_f32(&mut r, dim);
  let rows = random_f32(&mut r, dim * 50);
  for m in [Metric::Cosine, Metric::Dot, Metric::L2] {
    let mut out = vec![0f32; 50];
    assert!(metric::distances_into(m, &q, &rows, &mut out).is_ok());
    for (i, row) in rows.chunks_exact(dim).enumerate() {
      assert_eq!(Some(out[i]), metric::distance(m, &q, row).ok());
    }
  }
}

#[test]
fn bad_pairs_are_errors_not_panics() {
  let code = |r: ferrovec_core::Result<f32>| r.err().map(|e| e.code());
  assert_eq!(
    code(metric::distance(Metric::L2, &[1.0f32, 2.0], &[1.0])),
    Some("ERR_DIMENSION_MISMATCH")
  );
  assert_eq!(
    code(metric::distance::<f32>(Metric::L2, &[], &[])),
    Some("ERR_INVALID_VECTOR")
  );
  assert_eq!(
    code(metric::distance(Metric::Dot, &[f32::NAN], &[1.0])),
    Some("ERR_INVALID_VECTOR")
  );
  assert_eq!(
    code(metric::distance(Metric::Dot, &[1.0], &[f32::INFINITY])),
    Some("ERR_INVALID_VECTOR")
  );
  assert_eq!(
    code(metric::distance(Metric::Hamming, &[1.0f32], &[1.0])),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    code(metric::distance(Metric::Cosine, &[1u8], &[1u8])),
    Some("ERR_INVALID_ARGUMENT")
  );
  assert_eq!(
    "manhattan".parse::<Metric>().err().map(|e| e.code()),
    Some("ERR_UNKNOWN_METRIC")
  );
  let mut out = [0f32; 2];
  let r = metric::distances_into(Metric::L2, &[1.0f32, 2.0], &[1.0, 2.0, 3.0], &mut out);
  assert_eq!(r.err().map(|e| e.code()), Some("ERR_DIMENSION_MISMATCH"));
}

#[test]
fn capabilities_name_a_backend() {
  let caps = metric::capabilities();
  assert!(!caps.backends.is_empty());
}
