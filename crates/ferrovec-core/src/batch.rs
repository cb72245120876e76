//! Validation shared by every index's batch insert. It all runs before anything is stored, which is
//! what makes a batch all-or-nothing.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::error::{Context, Error, Result};
use crate::keys::check_key;
use crate::metric::Element;

/// Checks that `vectors` holds one valid row of `row_len` per key, that the keys are valid and
/// distinct, and — when `present` is given (an insert that may not replace) — that none is already
/// in the index.
pub(crate) fn check_batch<T: Element>(
  row_len: usize,
  keys: &[u64],
  vectors: &[T],
  present: Option<&dyn Fn(u64) -> bool>,
) -> Result<()> {
  if !vectors.len().is_multiple_of(row_len) {
    return Err(Error::DimensionMismatch {
      expected: row_len,
      got: vectors.len() % row_len,
      context: Context::row(vectors.len() / row_len),
    });
  }
  let rows = vectors.len() / row_len;
  if rows != keys.len() {
    return Err(Error::invalid_argument(format!(
      "got {} keys for {rows} vectors; expected one key per vector",
      keys.len()
    )));
  }
  for (i, &k) in keys.iter().enumerate() {
    check_key(k, Context::row(i))?;
  }
  // Validation is the only per-row work of a flat add, so it is what the pool parallelises; the
  // first bad row (by position) is the one reported, whatever the scheduling.
  if let Some(bad) = vectors
    .par_chunks(row_len)
    .position_first(|row| T::validate(row, Context::NONE).is_err())
  {
    T::validate(&vectors[bad * row_len..(bad + 1) * row_len], Context::row(bad))?;
  }
  let mut seen = HashSet::with_capacity(keys.len());
  for &k in keys {
    if !seen.insert(k) {
      return Err(Error::DuplicateKey {
        key: k,
        reason: "it appears more than once in this batch",
      });
    }
    if present.is_some_and(|p| p(k)) {
      return Err(Error::DuplicateKey {
        key: k,
        reason: "it is already in the index (pass upsert to replace its vector)",
      });
    }
  }
  Ok(())
}

/// Checks a row-major block of queries (non-empty, whole rows, valid values); returns how many.
pub(crate) fn check_queries<T: Element>(row_len: usize, queries: &[T]) -> Result<usize> {
  if queries.is_empty() || !queries.len().is_multiple_of(row_len) {
    return Err(Error::DimensionMismatch {
      expected: row_len,
      got: if queries.is_empty() {
        0
      } else {
        queries.len() % row_len
      },
      context: if queries.is_empty() {
        Context::NONE
      } else {
        Context::row(queries.len() / row_len)
      },
    });
  }
  for (i, q) in queries.chunks_exact(row_len).enumerate() {
    T::validate(q, Context::row(i))?;
  }
  Ok(queries.len() / row_len)
}
