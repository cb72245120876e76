//! The one error type of the engine.
//!
//! Every variant has a stable string [`Error::code`]; the Node binding puts it on the JavaScript error's
//! `code` property and the TypeScript facade picks an error class from it. Codes are part of the public
//! API: add new ones, never rename or reuse one.

use std::fmt;
use std::path::{Path, PathBuf};

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

  /// A file or buffer is not a valid ferrovec file: foreign, truncated or damaged. `what` names the
  /// part (a header field or a section) and `detail` says what was expected and what was found.
  #[error("corrupt file{}: {what}: {detail}", PathNote(path.as_deref()))]
  CorruptFile {
    path: Option<PathBuf>,
    what: String,
    detail: String,
  },

  /// A ferrovec file written by a version of the format this build cannot read (a newer major
  /// version, or a newer minor version that marks a feature it relies on as required).
  #[error("unsupported file version{}: {detail}", PathNote(path.as_deref()))]
  UnsupportedVersion { path: Option<PathBuf>, detail: String },

  /// A write (add, remove, compact) on an index opened read-only from a file: its vectors are
  /// served straight from a read-only memory map. Nothing was changed.
  #[error("cannot {op}: the index was opened read-only (memory-mapped from its file); load it to get a writable copy")]
  ReadOnly { op: &'static str },

  /// A quantised index was searched (or given vectors with automatic training off) before its
  /// quantiser was trained. Nothing was changed.
  #[error("not trained: {reason}")]
  NotTrained { reason: String },

  /// The operating system refused a file operation.
  #[error("cannot {op} {}: {source}", path.display())]
  Io {
    path: PathBuf,
    op: &'static str,
    #[source]
    source: std::io::Error,
  },
}

impl Error {
  /// `Ok` for a writable index; [`Error::ReadOnly`] naming `op` for one opened read-only. The one
  /// check every index's write methods start with.
  pub(crate) fn unless_read_only(read_only: bool, op: &'static str) -> Result<()> {
    if read_only {
      Err(Error::ReadOnly { op })
    } else {
      Ok(())
    }
  }

  /// The stable, machine-readable code of this error (`ERR_…`).
  pub fn code(&self) -> &'static str {
    match self {
      Error::DimensionMismatch { .. } => "ERR_DIMENSION_MISMATCH",
      Error::InvalidVector { .. } => "ERR_INVALID_VECTOR",
      Error::InvalidKey { .. } => "ERR_INVALID_KEY",
      Error::DuplicateKey { .. } => "ERR_DUPLICATE_KEY",
      Error::UnknownMetric { .. } => "ERR_UNKNOWN_METRIC",
      Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
      Error::CorruptFile { .. } => "ERR_CORRUPT_FILE",
      Error::UnsupportedVersion { .. } => "ERR_UNSUPPORTED_VERSION",
      Error::Io { .. } => "ERR_IO",
      Error::ReadOnly { .. } => "ERR_READ_ONLY",
      Error::NotTrained { .. } => "ERR_NOT_TRAINED",
    }
  }

  /// Names the file a format error came from. Parsers work on bytes and cannot know the path; the
  /// file-level entry points add it so the message says which file is bad.
  pub fn with_path(self, file: &Path) -> Self {
    match self {
      Error::CorruptFile {
        path: None,
        what,
        detail,
      } => Error::CorruptFile {
        path: Some(file.to_owned()),
        what,
        detail,
      },
      Error::UnsupportedVersion { path: None, detail } => Error::UnsupportedVersion {
        path: Some(file.to_owned()),
        detail,
      },
      other => other,
    }
  }

  pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
    Error::CorruptFile {
      path: None,
      what: what.into(),
      detail: detail.into(),
    }
  }

  pub(crate) fn unsupported(detail: impl Into<String>) -> Self {
    Error::UnsupportedVersion {
      path: None,
      detail: detail.into(),
    }
  }

  pub(crate) fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Self + 'a {
    move |source| Error::Io {
      path: path.to_owned(),
      op,
      source,
    }
  }

  pub(crate) fn invalid_argument(msg: impl Into<String>) -> Self {
    Error::InvalidArgument(msg.into())
  }
}

/// ` "path"` after "corrupt file" when the path is known, nothing for in-memory buffers.
struct PathNote<'a>(Option<&'a Path>);

impl fmt::Display for PathNote<'_> {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self.0 {
      Some(p) => write!(f, " {:?}", p.display().to_string()),
      None => Ok(()),
    }
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
