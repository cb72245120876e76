//! User keys. JavaScript numbers are exact integers only up to 2^53 − 1, so that is the key space:
//! every key survives a round trip through a JS `number` (and a `Float64Array`) unchanged, and
//! nothing is ever truncated or wrapped.

use crate::error::{Context, Error, Result};

/// `Number.MAX_SAFE_INTEGER`.
pub const MAX_KEY: u64 = (1 << 53) - 1;

/// Converts a key received as an `f64` (a JS number) into a `u64`, rejecting anything that is not an
/// integer in `0..=MAX_KEY`.
pub fn key_from_f64(x: f64, context: Context) -> Result<u64> {
  // `x.fract() == 0.0` is false for NaN and ±Infinity, so they are rejected here too.
  if x.fract() == 0.0 && (0.0..=MAX_KEY as f64).contains(&x) {
    Ok(x as u64)
  } else {
    Err(Error::InvalidKey {
      got: format_f64(x),
      context,
    })
  }
}

/// Checks a `u64` key from Rust callers.
pub fn check_key(key: u64, context: Context) -> Result<u64> {
  if key <= MAX_KEY {
    Ok(key)
  } else {
    Err(Error::InvalidKey {
      got: key.to_string(),
      context,
    })
  }
}

/// Converts a whole batch, naming the first bad row.
pub fn keys_from_f64(xs: &[f64]) -> Result<Vec<u64>> {
  xs.iter()
    .enumerate()
    .map(|(i, x)| key_from_f64(*x, Context::row(i)))
    .collect()
}

fn format_f64(x: f64) -> String {
  // `{}` prints 1e300 as a 301-digit integer; keep messages short and JS-like.
  if x.is_finite() && x.abs() >= 1e21 {
    format!("{x:e}")
  } else {
    format!("{x}")
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn accepts_the_safe_integer_range() {
    assert_eq!(key_from_f64(0.0, Context::NONE).ok(), Some(0));
    assert_eq!(
      key_from_f64(9007199254740991.0, Context::NONE).ok(),
      Some(MAX_KEY)
    );
  }

  #[test]
  fn rejects_everything_else() {
    for x in [
      -1.0,
      0.5,
      f64::NAN,
      f64::INFINITY,
      f64::NEG_INFINITY,
      9007199254740992.0,
      1e300,
    ] {
      let err = key_from_f64(x, Context::NONE).err().map(|e| e.code());
      assert_eq!(err, Some("ERR_INVALID_KEY"), "{x}");
    }
    assert!(check_key(MAX_KEY + 1, Context::NONE).is_err());
  }
}
