//! The one error type of the engine.
//!
//! Every variant has a stable string [`Error::code`]; the Node binding puts it on the JavaScript error's
//! `code` property and the TypeScript facade picks an error class from it. Codes are part of the public
//! API: add new ones, never rename or reuse one.

use std::fmt;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with enough detail to say what was expected and what was received.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
  /// A vector (or a flat batch) has the wrong number of components for this index.
  #[error("dimension mismatch: expected {expected}, got {got}{context}")]
  DimensionMismatch {
    expected: usize,
    got: usize,
    context: Context,
  },

  /// A vector holds a value that cannot be indexed (NaN, ±Infinity), or is empty.
  #[error("invalid vector{context}: {reason}")]
  InvalidVector { reason: String, context: Context },

  /// A key is not an integer in `0..=Number.MAX_SAFE_INTEGER`.
  #[error("invalid key: expected an integer in 0..=9007199254740991, got {got}{context}")]
  InvalidKey { got: String, context: Context },

  /// A key that is already present was added without asking for an upsert, or appears twice in one batch.
  #[error("duplicate key {key}: {reason}")]
  DuplicateKey { key: u64, reason: &'static str },

  /// A metric name that the engine does not know.
  #[error("unknown metric {got:?}: expected one of \"cosine\", \"dot\", \"l2\", \"hamming\"")]
  UnknownMetric { got: String },

  /// Any other argument out of its allowed range (k, dim, metric/element combinations, …).
  #[error("invalid argument: {0}")]
  InvalidArgument(String),
}

impl Error {
  /// The stable, machine-readable code of this error (`ERR_…`).
  pub fn code(&self) -> &'static str {
    match self {
      Error::DimensionMismatch { .. } => "ERR_DIMENSION_MISMATCH",
      Error::InvalidVector { .. } => "ERR_INVALID_VECTOR",
      Error::InvalidKey { .. } => "ERR_INVALID_KEY",
      Error::DuplicateKey { .. } => "ERR_DUPLICATE_KEY",
      Error::UnknownMetric { .. } => "ERR_UNKNOWN_METRIC",
      Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
    }
  }

  pub(crate) fn invalid_argument(msg: impl Into<String>) -> Self {
    Error::InvalidArgument(msg.into())
  }
}

/// Where in a batch an error was found (row index), printed as a suffix of the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
  pub row: Option<usize>,
}

impl Context {
  pub const NONE: Context = Context { row: None };
  pub fn row(row: usize) -> Self {
    Context { row: Some(row) }
  }
}

impl fmt::Display for Context {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self.row {
      Some(r) => write!(f, " (at row {r})"),
      None => Ok(()),
    }
  }
}
