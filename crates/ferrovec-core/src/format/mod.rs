//! ferrovec's file format: one generic, versioned, checksummed container that every index kind
//! (flat, hnsw, …) stores itself in.
//!
//! # Layout
//!
//! All integers are little-endian whatever the machine. Offsets are from the start of the file.
//!
//! ```text
//!  offset  size
//!  ┌──────────────────────────────── header (64 bytes) ─────────────────────────────────┐
//!  │ 0       8   magic           89 'F' 'R' 'V' 0D 0A 1A 0A                             │
//!  │ 8       2   major (u16)     incompatible changes                                   │
//!  │ 10      2   minor (u16)     compatible additions                                   │
//!  │ 12      4   kind            four ASCII bytes: "FLAT", "HNSW", …                    │
//!  │ 16      4   flags (u32)     bits 0–15 must be understood, bits 16–31 may be ignored│
//!  │ 20      4   section count n (u32, ≤ MAX_SECTIONS)                                  │
//!  │ 24      8   file length     (u64, the exact size of the whole file)                │
//!  │ 32     16   reserved        written as zero, ignored by readers                    │
//!  │ 48      8   table checksum  xxh3-64 of the n table entries                         │
//!  │ 56      8   header checksum xxh3-64 of bytes 0..56                                 │
//!  ├──────────────────────────── section table (n × 32 bytes) ──────────────────────────┤
//!  │ 0       4   id              four ASCII bytes: "PARM", "KEYS", "VECS", …            │
//!  │ 4       4   flags (u32)     bit 0 REQUIRED: a reader that does not know `id` must  │
//!  │                             refuse the file instead of skipping the section        │
//!  │ 8       8   offset (u64)    multiple of 64, sections in increasing offset order    │
//!  │ 16      8   length (u64)    bytes (no padding included)                            │
//!  │ 24      8   checksum        xxh3-64 of the section's bytes                         │
//!  ├────────────── zero padding to the next multiple of 64 ─────────────────────────────┤
//!  │ section 0 bytes │ zero padding to 64 │ section 1 bytes │ … │ section n−1 bytes     │
//!  └────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Every byte of a valid file is covered by a check: the header by its checksum, the table by the
//! table checksum, each section by its own checksum, and all padding must be zero; the header's file
//! length catches truncation and appended bytes. So any single flipped or lost byte is reported.
//!
//! Sections start on 64-byte boundaries (a cache line, and a multiple of every element size), so a
//! memory-mapped `f32` or `u64` section can be viewed in place without copying ([`read::map_file`],
//! [`codec::LeCodec::view_le`]).
//!
//! # Versioning
//!
//! - **major**: a reader accepts only [`MAJOR`]; any other value is `ERR_UNSUPPORTED_VERSION`. A new
//!   major may change anything after the first 12 bytes, which is why the version is checked before
//!   the header checksum: a file from a future major is reported as such, not as corrupt.
//! - **minor**: a reader accepts any minor. Newer minors only *add* things: new sections (which
//!   older readers skip unless marked `REQUIRED`), new ignorable flag bits (16–31), or new uses of
//!   the reserved bytes. A newer-minor file whose section marked `REQUIRED` or whose must-understand
//!   flag (bits 0–15) this build does not know is `ERR_UNSUPPORTED_VERSION`, as is a field value
//!   (a metric code, say) that an older reader does not know in a file of a newer minor.
//!
//! # Choices
//!
//! - Checksums are xxh3-64 (`xxhash-rust`): it hashes at memory bandwidth (tens of GB/s), so
//!   validating every section of a multi-gigabyte index on load costs little next to reading it, and
//!   64 bits leave a 2⁻⁶⁴ chance of a damaged section passing, against 2⁻³² for CRC-32. CRC's
//!   guarantee of catching every short burst matters less here than speed on large vector sections.
//! - Writes go to a temp file in the target's directory that is fsynced, renamed over the target, and
//!   the directory fsynced ([`write::Writer::save`]): a crash at any point leaves either the previous
//!   file or the new one, never a mix.

pub mod codec;
pub mod read;
pub mod write;

use std::fmt;

pub use read::{map_file, read_file, Container, FileBytes, SectionEntry};
pub use write::Writer;

/// The first eight bytes of every ferrovec file. As in PNG: the high byte catches 7-bit transfers,
/// CR LF and LF catch newline conversion, and 0x1A stops `type` on Windows.
pub const MAGIC: [u8; 8] = *b"\x89FRV\r\n\x1a\n";

/// The major version this build reads and writes.
pub const MAJOR: u16 = 1;

/// The newest minor version this build knows (it writes this one and reads every minor).
/// 1.1 added the quantisation sections of flat files (`flat_file.rs`); 1.0 files read unchanged.
pub const MINOR: u16 = 1;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 64;

/// Bytes of one section-table entry.
pub const ENTRY_LEN: usize = 32;

/// Alignment of every section's offset.
pub const ALIGN: usize = 64;

/// Most sections a file may have. Real files have a handful; the cap keeps a damaged count from
/// making the reader allocate a huge table.
pub const MAX_SECTIONS: u32 = 1024;

/// Header flag bits 0–15 must be understood by a reader; this build knows none yet.
pub const FLAGS_MUST_UNDERSTAND: u32 = 0x0000_ffff;

/// Section flag: a reader that does not know this section's id must refuse the file. Other section
/// flag bits are free for future minors and ignored by this build.
pub const SECTION_REQUIRED: u32 = 1;

/// A four-byte ASCII tag naming a file kind or a section (readable in a hex dump).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub [u8; 4]);

impl fmt::Display for Tag {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if self.0.iter().all(|b| b.is_ascii_graphic()) {
      write!(
        f,
        "\"{}\"",
        self.0.iter().map(|&b| char::from(b)).collect::<String>()
      )
    } else {
      write!(f, "0x{:08x}", u32::from_be_bytes(self.0))
    }
  }
}

impl fmt::Debug for Tag {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(self, f)
  }
}

/// File kinds. Each index kind owns the sections inside its files.
pub mod kind {
  use super::Tag;
  /// [`crate::FlatIndex`].
  pub const FLAT: Tag = Tag(*b"FLAT");
  /// The HNSW index.
  pub const HNSW: Tag = Tag(*b"HNSW");
}

/// The checksum used for the header, the table and every section.
#[inline]
pub fn checksum(bytes: &[u8]) -> u64 {
  xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Rounds `n` up to the next multiple of [`ALIGN`], or `None` on overflow.
#[inline]
pub(crate) fn align_up(n: u64) -> Option<u64> {
  let a = ALIGN as u64;
  n.checked_add(a - 1).map(|x| x / a * a)
}

/// Metric codes stored in files. Codes are part of the format: add new ones, never reuse one.
pub fn metric_code(metric: crate::Metric) -> u32 {
  use crate::Metric;
  match metric {
    Metric::Cosine => 1,
    Metric::Dot => 2,
    Metric::L2 => 3,
    Metric::Hamming => 4,
  }
}

/// The metric of a stored code, `None` for a code this build does not know.
pub fn metric_from_code(code: u32) -> Option<crate::Metric> {
  use crate::Metric;
  match code {
    1 => Some(Metric::Cosine),
    2 => Some(Metric::Dot),
    3 => Some(Metric::L2),
    4 => Some(Metric::Hamming),
    _ => None,
  }
}

/// An element type that index files store rows of, with its stored code.
pub trait FileElement: crate::metric::Element + codec::LeCodec {
  /// Code stored in files: 1 = `f32`, 2 = bit-packed `u8`. Never reused.
  const CODE: u32;
}

impl FileElement for f32 {
  const CODE: u32 = 1;
}

impl FileElement for u8 {
  const CODE: u32 = 2;
}

/// The name of an element code, for messages.
pub fn element_name(code: u32) -> Option<&'static str> {
  match code {
    1 => Some("f32"),
    2 => Some("packed bits"),
    _ => None,
  }
}
