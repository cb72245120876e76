//! Reading and validating a container. Nothing in a file is trusted: every size, offset, count and
//! checksum is checked (with overflow-checked arithmetic) before any section is handed out, and every
//! failure is an [`Error`], never a panic.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::codec::LeReader;
use super::{checksum, Tag, ALIGN, ENTRY_LEN, FLAGS_MUST_UNDERSTAND, HEADER_LEN, MAGIC, MAJOR, MINOR};
use super::{MAX_SECTIONS, SECTION_REQUIRED};
use crate::error::{Error, Result};

/// Header flags (bits 0–15) this build understands. None are defined in format 1.0.
const KNOWN_FLAGS: u32 = 0;

/// One row of the section table, as validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionEntry {
  pub id: Tag,
  pub flags: u32,
  pub offset: u64,
  pub len: u64,
  pub checksum: u64,
}

/// A validated ferrovec file over some bytes (a slice, a read buffer, or a memory map).
///
/// [`Container::parse`] checks the whole structure and every checksum; afterwards every section it
/// hands out is known to be intact. What the bytes of a section *mean* is the owning index's job.
#[derive(Debug)]
pub struct Container<B> {
  bytes: B,
  kind: Tag,
  major: u16,
  minor: u16,
  flags: u32,
  entries: Vec<SectionEntry>,
}

fn mismatch(stored: u64, computed: u64) -> String {
  format!("checksum mismatch: stored 0x{stored:016x}, computed 0x{computed:016x}")
}

impl<B: AsRef<[u8]>> Container<B> {
  /// Validates `bytes` as a ferrovec file (of any kind).
  pub fn parse(bytes: B) -> Result<Self> {
    let b = bytes.as_ref();
    let n = b.len().min(MAGIC.len());
    if b[..n] != MAGIC[..n] {
      return Err(Error::corrupt(
        "magic",
        format!(
          "not a ferrovec file: expected it to start with {:02x?}, found {:02x?}",
          MAGIC,
          &b[..n]
        ),
      ));
    }
    let Some(header) = b.get(..HEADER_LEN) else {
      return Err(Error::corrupt(
        "header",
        format!(
          "truncated: the file has {} bytes, the header alone needs {HEADER_LEN}",
          b.len()
        ),
      ));
    };
    let mut r = LeReader::new(&header[MAGIC.len()..]);
    let major = r.u16();
    let minor = r.u16();
    let kind = Tag(r.take::<4>());
    let flags = r.u32();
    let count = r.u32();
    let file_len = r.u64();
    let _reserved = r.take::<16>();
    let table_sum = r.u64();
    let header_sum = r.u64();

    // Before the checksum: a future major may lay out (and checksum) its header differently.
    if major != MAJOR {
      return Err(Error::unsupported(format!(
        "the file is format version {major}.{minor}; this build reads version {MAJOR}.x \
         (written by a {} ferrovec)",
        if major > MAJOR { "newer" } else { "different" }
      )));
    }
    let computed = checksum(&header[..HEADER_LEN - 8]);
    if computed != header_sum {
      return Err(Error::corrupt("header", mismatch(header_sum, computed)));
    }
    let unknown = flags & FLAGS_MUST_UNDERSTAND & !KNOWN_FLAGS;
    if unknown != 0 {
      return Err(Error::unsupported(format!(
        "the file (format {major}.{minor}) uses features 0x{unknown:04x} that this build \
         (format {MAJOR}.{MINOR}) does not know"
      )));
    }
    let actual = b.len() as u64;
    if actual < file_len {
      return Err(Error::corrupt(
        "file length",
        format!("truncated: the header records {file_len} bytes, the file has {actual}"),
      ));
    }
    if actual > file_len {
      return Err(Error::corrupt(
        "file length",
        format!(
          "{} unexpected bytes after the end: the header records {file_len} bytes, the file has {actual}",
          actual - file_len
        ),
      ));
    }
    if count > MAX_SECTIONS {
      return Err(Error::corrupt(
        "header",
        format!("section count {count} is above the limit of {MAX_SECTIONS}"),
      ));
    }
    // count ≤ MAX_SECTIONS, so this cannot overflow.
    let table_end = HEADER_LEN + count as usize * ENTRY_LEN;
    let Some(table) = b.get(HEADER_LEN..table_end) else {
      return Err(Error::corrupt(
        "section table",
        format!("{count} entries need {table_end} bytes, the file has {}", b.len()),
      ));
    };
    let computed = checksum(table);
    if computed != table_sum {
      return Err(Error::corrupt("section table", mismatch(table_sum, computed)));
    }

    let mut entries: Vec<SectionEntry> = Vec::with_capacity(count as usize);
    let mut pos = table_end as u64;
    for (i, raw) in table.chunks_exact(ENTRY_LEN).enumerate() {
      let mut r = LeReader::new(raw);
      let e = SectionEntry {
        id: Tag(r.take::<4>()),
        flags: r.u32(),
        offset: r.u64(),
        len: r.u64(),
        checksum: r.u64(),
      };
      let what = format!("section {} (table entry {i})", e.id);
      if entries.iter().any(|o| o.id == e.id) {
        return Err(Error::corrupt(what, "the same section id appears twice"));
      }
      if !e.offset.is_multiple_of(ALIGN as u64) {
        return Err(Error::corrupt(
          what,
          format!("offset {} is not a multiple of {ALIGN}", e.offset),
        ));
      }
      if e.offset < pos {
        return Err(Error::corrupt(
          what,
          format!(
            "offset {} overlaps what comes before it (which ends at byte {pos}); sections must be in order",
            e.offset
          ),
        ));
      }
      let Some(end) = e.offset.checked_add(e.len).filter(|&end| end <= file_len) else {
        return Err(Error::corrupt(
          what,
          format!(
            "offset {} + length {} runs past the end of the file ({file_len} bytes)",
            e.offset, e.len
          ),
        ));
      };
      // pos ≤ offset ≤ end ≤ file_len = b.len(), so these ranges are in bounds and fit usize.
      check_zero(b, pos, e.offset, || format!("padding before section {}", e.id))?;
      let data = slice(b, e.offset, end)?;
      let computed = checksum(data);
      if computed != e.checksum {
        return Err(Error::corrupt(what, mismatch(e.checksum, computed)));
      }
      entries.push(e);
      pos = end;
    }
    check_zero(b, pos, file_len, || "padding after the last section".to_owned())?;
    Ok(Container {
      bytes,
      kind,
      major,
      minor,
      flags,
      entries,
    })
  }

  /// The file kind (`"FLAT"`, `"HNSW"`, …).
  pub fn kind(&self) -> Tag {
    self.kind
  }

  /// `(major, minor)` the file was written with.
  pub fn version(&self) -> (u16, u16) {
    (self.major, self.minor)
  }

  /// Header flags.
  pub fn flags(&self) -> u32 {
    self.flags
  }

  /// Whether the file was written by a newer minor version than this build knows.
  pub fn is_newer_minor(&self) -> bool {
    self.minor > MINOR
  }

  /// The section table, in file order.
  pub fn entries(&self) -> &[SectionEntry] {
    &self.entries
  }

  /// The validated bytes themselves (a loader that keeps a memory map alive takes it from here).
  pub fn into_bytes(self) -> B {
    self.bytes
  }

  /// The whole file.
  pub fn bytes(&self) -> &[u8] {
    self.bytes.as_ref()
  }

  /// The bytes of section `id`, if present.
  pub fn section(&self, id: Tag) -> Option<&[u8]> {
    let e = self.entries.iter().find(|e| e.id == id)?;
    // Bounds were checked in `parse`; `get` keeps this total anyway.
    let start = usize::try_from(e.offset).ok()?;
    let end = usize::try_from(e.offset.checked_add(e.len)?).ok()?;
    self.bytes.as_ref().get(start..end)
  }

  /// The bytes of section `id`, or an `ERR_CORRUPT_FILE` saying it is missing.
  pub fn require(&self, id: Tag) -> Result<&[u8]> {
    self.section(id).ok_or_else(|| {
      Error::corrupt(
        format!("section {id}"),
        format!("missing: a {} file must have it", self.kind),
      )
    })
  }

  /// Fails unless the file is of `kind`: a file of another kind is the caller's mistake (the wrong
  /// path), not damage, so it is `ERR_INVALID_ARGUMENT`.
  pub fn expect_kind(&self, kind: Tag) -> Result<()> {
    if self.kind == kind {
      Ok(())
    } else {
      Err(Error::invalid_argument(format!(
        "the file holds an index of kind {}, but this loader reads kind {kind}",
        self.kind
      )))
    }
  }

  /// Applies the versioning rule to sections: unknown sections are skipped unless marked
  /// `REQUIRED`, which means the file relies on a feature this build lacks.
  pub fn check_sections(&self, known: &[Tag]) -> Result<()> {
    for e in &self.entries {
      if e.flags & SECTION_REQUIRED != 0 && !known.contains(&e.id) {
        return Err(Error::unsupported(format!(
          "section {} is required to read this file (format {}.{}) but unknown to this build \
           (format {MAJOR}.{MINOR})",
          e.id, self.major, self.minor
        )));
      }
    }
    Ok(())
  }

  /// The error for a value this build does not know (a metric code, say): from a newer minor it
  /// is a feature this build lacks, otherwise the file is damaged.
  pub fn unknown_value(&self, what: impl Into<String>, detail: impl Into<String>) -> Error {
    if self.is_newer_minor() {
      Error::unsupported(format!(
        "{}: {} (the file is format {}.{}, this build reads up to {MAJOR}.{MINOR})",
        what.into(),
        detail.into(),
        self.major,
        self.minor
      ))
    } else {
      Error::corrupt(what, detail)
    }
  }
}

fn slice(b: &[u8], start: u64, end: u64) -> Result<&[u8]> {
  usize::try_from(start)
    .ok()
    .zip(usize::try_from(end).ok())
    .and_then(|(s, e)| b.get(s..e))
    .ok_or_else(|| Error::corrupt("file", format!("bytes {start}..{end} are out of range")))
}

fn check_zero(b: &[u8], start: u64, end: u64, what: impl FnOnce() -> String) -> Result<()> {
  let gap = slice(b, start, end)?;
  match gap.iter().position(|&x| x != 0) {
    None => Ok(()),
    Some(i) => Err(Error::corrupt(
      what(),
      format!(
        "byte {} is 0x{:02x}, expected zero padding",
        start + i as u64,
        gap[i]
      ),
    )),
  }
}

/// A file's bytes, read into memory or mapped.
pub enum FileBytes {
  /// Read fully into an 8-byte aligned buffer, so `f32`/`u64` sections can be viewed in place.
  Owned { words: Vec<u64>, len: usize },
  /// Mapped read-only.
  Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for FileBytes {
  fn as_ref(&self) -> &[u8] {
    match self {
      FileBytes::Owned { words, len } => {
        let all: &[u8] = bytemuck::cast_slice(words);
        all.get(..*len).unwrap_or(all)
      }
      FileBytes::Mapped(m) => m,
    }
  }
}

impl std::fmt::Debug for FileBytes {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      FileBytes::Owned { len, .. } => write!(f, "FileBytes::Owned({len} bytes)"),
      FileBytes::Mapped(m) => write!(f, "FileBytes::Mapped({} bytes)", m.len()),
    }
  }
}

/// Reads the whole file at `path` and validates it.
pub fn read_file(path: &Path) -> Result<Container<FileBytes>> {
  let mut file = File::open(path).map_err(Error::io("open", path))?;
  let len = file.metadata().map_err(Error::io("read", path))?.len();
  let len = usize::try_from(len).map_err(|_| too_big(path))?;
  let mut words: Vec<u64> = Vec::new();
  // A huge (or lying) size must fail as an error, not abort the process on allocation.
  words
    .try_reserve_exact(len.div_ceil(8))
    .map_err(|_| too_big(path))?;
  words.resize(len.div_ceil(8), 0);
  {
    let buf: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    let buf = buf.get_mut(..len).unwrap_or_default();
    file.read_exact(buf).map_err(Error::io("read", path))?;
  }
  Container::parse(FileBytes::Owned { words, len }).map_err(|e| e.with_path(path))
}

/// Maps the file at `path` read-only and validates it. Validation reads every page once (to check
/// the checksums); afterwards sections are views into the mapping.
///
/// The mapping relies on nobody truncating or rewriting the file in place while it is mapped (the
/// OS would fault on access). ferrovec's own saves never do that: they replace the file by rename,
/// which leaves an existing mapping on the old contents.
pub fn map_file(path: &Path) -> Result<Container<FileBytes>> {
  let file = File::open(path).map_err(Error::io("open", path))?;
  // SAFETY: the mapping is read-only and private to this process; see the doc comment for the
  // in-place modification caveat, which ferrovec's atomic saves never trigger.
  let map = unsafe { memmap2::Mmap::map(&file) }.map_err(Error::io("map", path))?;
  Container::parse(FileBytes::Mapped(map)).map_err(|e| e.with_path(path))
}

fn too_big(path: &Path) -> Error {
  Error::Io {
    path: path.to_owned(),
    op: "read",
    source: std::io::Error::new(
      std::io::ErrorKind::OutOfMemory,
      "the file is larger than the memory this process can allocate",
    ),
  }
}
