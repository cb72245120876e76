//! Building a container and writing it crash-safely.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::SECTION_REQUIRED;
use super::{align_up, checksum, Tag, ALIGN, ENTRY_LEN, HEADER_LEN, MAGIC, MAJOR, MAX_SECTIONS, MINOR};
use crate::error::{Error, Result};

/// One section waiting to be written. Data is borrowed where possible so saving a large index does
/// not hold a second copy of its vectors in memory.
struct Pending<'a> {
  id: Tag,
  flags: u32,
  data: Cow<'a, [u8]>,
}

/// Where each section goes, computed once before anything is written.
struct Layout {
  header_and_table: Vec<u8>,
  /// (offset, length) per section, in order.
  placed: Vec<(u64, u64)>,
  file_len: u64,
}

/// Builds a ferrovec file from sections, then writes it atomically ([`Writer::save`]) or returns its
/// bytes ([`Writer::to_bytes`]).
///
/// ```
/// use ferrovec_core::format::{kind, Container, Tag, Writer};
/// # fn main() -> ferrovec_core::Result<()> {
/// let mut w = Writer::new(kind::FLAT);
/// w.section(Tag(*b"DATA"), vec![1u8, 2, 3]);
/// let bytes = w.to_bytes()?;
/// let c = Container::parse(&bytes[..])?;
/// assert_eq!(c.section(Tag(*b"DATA")), Some(&[1u8, 2, 3][..]));
/// # Ok(())
/// # }
/// ```
pub struct Writer<'a> {
  kind: Tag,
  major: u16,
  minor: u16,
  flags: u32,
  sections: Vec<Pending<'a>>,
}

impl<'a> Writer<'a> {
  /// An empty file of `kind` at the current version.
  pub fn new(kind: Tag) -> Self {
    Writer {
      kind,
      major: MAJOR,
      minor: MINOR,
      flags: 0,
      sections: Vec::new(),
    }
  }

  /// Writes a different version or header flags. Only for tests and migration tools that need to
  /// produce files of other versions; normal writers keep the current one.
  #[doc(hidden)]
  pub fn with_version(mut self, major: u16, minor: u16, flags: u32) -> Self {
    self.major = major;
    self.minor = minor;
    self.flags = flags;
    self
  }

  /// Adds a section that readers must understand (see the module docs on versioning).
  pub fn section(&mut self, id: Tag, data: impl Into<Cow<'a, [u8]>>) -> &mut Self {
    self.section_with_flags(id, SECTION_REQUIRED, data)
  }

  /// Adds a section that readers which do not know `id` may skip.
  pub fn optional_section(&mut self, id: Tag, data: impl Into<Cow<'a, [u8]>>) -> &mut Self {
    self.section_with_flags(id, 0, data)
  }

  /// Adds a section with explicit flags (for tests of future-format handling).
  #[doc(hidden)]
  pub fn section_with_flags(&mut self, id: Tag, flags: u32, data: impl Into<Cow<'a, [u8]>>) -> &mut Self {
    self.sections.push(Pending {
      id,
      flags,
      data: data.into(),
    });
    self
  }

  fn layout(&self) -> Result<Layout> {
    let n = self.sections.len();
    if n > MAX_SECTIONS as usize {
      return Err(Error::invalid_argument(format!(
        "a file holds at most {MAX_SECTIONS} sections, got {n}"
      )));
    }
    for (i, s) in self.sections.iter().enumerate() {
      if self.sections[..i].iter().any(|o| o.id == s.id) {
        return Err(Error::invalid_argument(format!("section {} added twice", s.id)));
      }
    }
    let table_end = (HEADER_LEN + n * ENTRY_LEN) as u64;
    let mut pos = table_end;
    let mut placed = Vec::with_capacity(n);
    let mut table = Vec::with_capacity(n * ENTRY_LEN);
    for s in &self.sections {
      let offset = align_up(pos).ok_or_else(too_large)?;
      let len = s.data.len() as u64;
      pos = offset.checked_add(len).ok_or_else(too_large)?;
      placed.push((offset, len));
      table.extend_from_slice(&s.id.0);
      table.extend_from_slice(&s.flags.to_le_bytes());
      table.extend_from_slice(&offset.to_le_bytes());
      table.extend_from_slice(&len.to_le_bytes());
      table.extend_from_slice(&checksum(&s.data).to_le_bytes());
    }
    // With no sections the file ends at the table; otherwise at the last section's last byte.
    let file_len = pos;

    let mut h = Vec::with_capacity(HEADER_LEN + table.len());
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&self.major.to_le_bytes());
    h.extend_from_slice(&self.minor.to_le_bytes());
    h.extend_from_slice(&self.kind.0);
    h.extend_from_slice(&self.flags.to_le_bytes());
    h.extend_from_slice(&(n as u32).to_le_bytes());
    h.extend_from_slice(&file_len.to_le_bytes());
    h.extend_from_slice(&[0u8; 16]);
    h.extend_from_slice(&checksum(&table).to_le_bytes());
    let header_sum = checksum(&h);
    h.extend_from_slice(&header_sum.to_le_bytes());
    h.extend_from_slice(&table);
    Ok(Layout {
      header_and_table: h,
      placed,
      file_len,
    })
  }

  fn write_layout(&self, layout: &Layout, out: &mut impl Write) -> io::Result<()> {
    const ZEROS: [u8; ALIGN] = [0; ALIGN];
    out.write_all(&layout.header_and_table)?;
    let mut pos = layout.header_and_table.len() as u64;
    for (s, &(offset, _)) in self.sections.iter().zip(&layout.placed) {
      // The gap is below ALIGN by construction of the layout.
      let gap = usize::try_from(offset.saturating_sub(pos))
        .unwrap_or(0)
        .min(ALIGN);
      out.write_all(&ZEROS[..gap])?;
      out.write_all(&s.data)?;
      pos = offset + s.data.len() as u64;
    }
    Ok(())
  }

  /// Total size of the file this writer produces.
  pub fn file_len(&self) -> Result<u64> {
    Ok(self.layout()?.file_len)
  }

  /// Writes the file to any sink (not atomically: see [`Writer::save`] for files).
  pub fn write_to(&self, out: &mut impl Write) -> Result<()> {
    let layout = self.layout()?;
    self
      .write_layout(&layout, out)
      .map_err(Error::io("write", Path::new("<stream>")))
  }

  /// The whole file as bytes.
  pub fn to_bytes(&self) -> Result<Vec<u8>> {
    let layout = self.layout()?;
    let len = usize::try_from(layout.file_len).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(len);
    self
      .write_layout(&layout, &mut out)
      .map_err(Error::io("write", Path::new("<memory>")))?;
    Ok(out)
  }

  /// Writes the file to `path` so that a crash at any moment leaves either the previous file or the
  /// complete new one:
  ///
  /// 1. write everything to a new temp file in the same directory (same file system, so the rename
  ///    below is atomic), then fsync it so its bytes are on disk before its name is;
  /// 2. rename it over `path`, which atomically replaces the directory entry;
  /// 3. fsync the directory so the rename itself survives a power cut.
  ///
  /// On any error the temp file is removed and `path` is untouched. If `path` is a symlink, the link
  /// itself is replaced by the new file (rename semantics), not the file it pointed to. A process killed between 1 and 2
  /// leaves its temp file (`.NAME.PID-N.tmp`) behind; it is never mistaken for the target.
  pub fn save(&self, path: &Path) -> Result<()> {
    replace_file(path, |file, tmp| {
      let layout = self.layout()?;
      let mut w = BufWriter::with_capacity(1 << 20, file);
      self
        .write_layout(&layout, &mut w)
        .and_then(|()| w.flush())
        .map_err(Error::io("write", tmp))
    })
  }
}

/// Writes `bytes` to `path` as [`Writer::save`] does (temp file beside it, fsync, rename, fsync
/// of the directory), for files in formats other than ferrovec's own (`crate::compat`).
pub(crate) fn save_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
  replace_file(path, |file, tmp| {
    file.write_all(bytes).map_err(Error::io("write", tmp))
  })
}

/// The crash-safe replacement both savers share: `write` fills a fresh temp file beside `path`,
/// which is fsynced, renamed over `path`, and made durable by an fsync of the directory. On any
/// error the temp file is removed and `path` is untouched.
fn replace_file(path: &Path, write: impl FnOnce(&mut File, &Path) -> Result<()>) -> Result<()> {
  let (dir, tmp) = temp_path(path)?;
  let mut file = OpenOptions::new()
    .write(true)
    .create_new(true)
    .open(&tmp)
    .map_err(Error::io("create", &tmp))?;
  let written = write(&mut file, &tmp).and_then(|()| file.sync_all().map_err(Error::io("sync", &tmp)));
  drop(file);
  if let Err(e) = written {
    let _ = fs::remove_file(&tmp);
    return Err(e);
  }
  if let Err(e) = fs::rename(&tmp, path) {
    let _ = fs::remove_file(&tmp);
    return Err(Error::io("replace", path)(e));
  }
  sync_dir(&dir).map_err(Error::io("sync the directory of", path))
}

fn too_large() -> Error {
  Error::invalid_argument("the file would be larger than this platform can address")
}

/// Distinguishes temp files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory of `path` and a fresh temp file name beside it.
fn temp_path(path: &Path) -> Result<(PathBuf, PathBuf)> {
  let Some(name) = path.file_name() else {
    return Err(Error::invalid_argument(format!(
      "cannot save to {:?}: the path names no file",
      path.display().to_string()
    )));
  };
  let dir = match path.parent() {
    Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
    _ => PathBuf::from("."),
  };
  let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
  let mut tmp_name = std::ffi::OsString::from(".");
  tmp_name.push(name);
  tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
  Ok((dir.clone(), dir.join(tmp_name)))
}

/// Makes a rename in `dir` durable. Windows has no directory fsync (and `MoveFileEx` is durable on
/// its own terms), so there it is a no-op.
fn sync_dir(dir: &Path) -> io::Result<()> {
  if cfg!(unix) {
    File::open(dir)?.sync_all()
  } else {
    Ok(())
  }
}
