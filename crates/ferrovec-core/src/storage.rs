//! Row storage shared by the index families: rows owned in a `Vec`, or viewed in place in a
//! read-only memory map of an index file.
//!
//! ```text
//!  Vectors::Owned(Vec<T>)          rows this process allocated (new, loaded, or added to)
//!  Vectors::Mapped(MappedRows<T>)  [ file … | VECS section: row 0 | row 1 | … | … rest of file ]
//!                                              ^ offset, len elements, viewed as &[T]
//! ```
//!
//! Both read-only opens use it: [`crate::hnsw::HnswIndex::open_read_only`] for the graph's rows,
//! [`crate::FlatIndex::open_read_only`] for the scanned rows and
//! [`crate::quant::QuantizedFlatIndex::open_read_only`] for the originals that rescoring reads. The
//! indexes read rows through [`Vectors::as_slice`] only, so a search on a mapping runs the very
//! code (and returns the very results) of a search on the loaded index.
//!
//! A mapping is shared, not copied, when an index is cloned (`Arc`): it is never written.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{Container, FileBytes, FileElement, Tag};
use crate::metric::Element;

/// Row storage: owned rows, or rows viewed in place in a read-only memory map of an index file.
pub(crate) enum Vectors<T: Element> {
  Owned(Vec<T>),
  Mapped(MappedRows<T>),
}

/// `len` elements of `T` at byte `offset` of a read-only file mapping.
pub(crate) struct MappedRows<T> {
  map: Arc<memmap2::Mmap>,
  offset: usize,
  len: usize,
  _t: std::marker::PhantomData<T>,
}

impl<T> Clone for MappedRows<T> {
  fn clone(&self) -> Self {
    MappedRows {
      map: Arc::clone(&self.map),
      offset: self.offset,
      len: self.len,
      _t: std::marker::PhantomData,
    }
  }
}

impl<T: bytemuck::Pod> MappedRows<T> {
  /// Views `len` elements at `offset` of `map`, or `None` if they are out of bounds or misaligned
  /// for `T` (never on a validated little-endian file: sections start on 64-byte boundaries of a
  /// page-aligned map).
  ///
  /// Gives the map back on failure. Big-endian machines always fail (the file is little-endian).
  pub(crate) fn new(
    map: memmap2::Mmap,
    offset: usize,
    len: usize,
  ) -> std::result::Result<Self, memmap2::Mmap> {
    let fits = cfg!(target_endian = "little")
      && len
        .checked_mul(std::mem::size_of::<T>())
        .and_then(|bytes| map.get(offset..offset.checked_add(bytes)?))
        .is_some_and(|section| bytemuck::try_cast_slice::<u8, T>(section).is_ok());
    if !fits {
      return Err(map);
    }
    Ok(MappedRows {
      map: Arc::new(map),
      offset,
      len,
      _t: std::marker::PhantomData,
    })
  }
}

impl<T> MappedRows<T> {
  #[inline]
  fn as_slice(&self) -> &[T] {
    // SAFETY: `new` checked that `offset .. offset + len * size_of::<T>()` lies inside the map and
    // is aligned for `T`, and `T: Pod` (required by `new`, the only constructor) accepts any bit
    // pattern. The map is read-only, shared only with clones of `self` (which never write it) and
    // never remapped, so the slice lives as long as `&self`. (A foreign process truncating the file
    // would make access fault: see `HnswIndex::open_read_only`.)
    unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(self.offset).cast::<T>(), self.len) }
  }
}

impl<T: Element> Clone for Vectors<T> {
  fn clone(&self) -> Self {
    match self {
      Vectors::Owned(v) => Vectors::Owned(v.clone()),
      Vectors::Mapped(m) => Vectors::Mapped(m.clone()),
    }
  }
}

impl<T: Element> Default for Vectors<T> {
  fn default() -> Self {
    Vectors::Owned(Vec::new())
  }
}

impl<T: Element> std::fmt::Debug for Vectors<T> {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      Vectors::Owned(v) => write!(f, "Vectors::Owned({} elements)", v.len()),
      Vectors::Mapped(m) => write!(f, "Vectors::Mapped({} elements)", m.len),
    }
  }
}

impl<T: Element> Vectors<T> {
  #[inline]
  pub fn as_slice(&self) -> &[T] {
    match self {
      Vectors::Owned(v) => v,
      Vectors::Mapped(m) => m.as_slice(),
    }
  }

  /// Elements stored (owned or mapped).
  #[inline]
  pub fn len(&self) -> usize {
    match self {
      Vectors::Owned(v) => v.len(),
      Vectors::Mapped(m) => m.len,
    }
  }

  /// Elements allocated by this process (0 for a mapping, which is the OS's page cache).
  pub fn capacity(&self) -> usize {
    match self {
      Vectors::Owned(v) => v.capacity(),
      Vectors::Mapped(_) => 0,
    }
  }

  /// Bytes of the file mapped (0 when owned).
  pub fn mapped_bytes(&self) -> usize {
    match self {
      Vectors::Owned(_) => 0,
      Vectors::Mapped(m) => m.len * std::mem::size_of::<T>(),
    }
  }

  /// The owned rows, copying a mapping out first. Read-only indexes refuse every write before it
  /// gets here; this keeps an index correct (never unsound) if one ever did not.
  pub fn owned_mut(&mut self) -> Result<&mut Vec<T>> {
    if let Vectors::Mapped(m) = self {
      let src = m.as_slice();
      let mut v: Vec<T> = Vec::new();
      v.try_reserve_exact(src.len())
        .map_err(|_| Error::invalid_argument("not enough memory to copy the mapped vectors"))?;
      v.extend_from_slice(src);
      *self = Vectors::Owned(v);
    }
    match self {
      Vectors::Owned(v) => Ok(v),
      Vectors::Mapped(_) => Err(Error::invalid_argument("mapped vectors cannot be modified")),
    }
  }

  pub fn extend_from_slice(&mut self, row: &[T]) {
    if let Ok(v) = self.owned_mut() {
      v.extend_from_slice(row);
    }
  }
}

impl<T: FileElement> Vectors<T> {
  /// The `len` elements of section `id` of a validated file, served from the mapping when the file
  /// is mapped and the section is aligned for `T` on a little-endian machine (always, for a file
  /// ferrovec wrote), copied otherwise. Consumes the container: a mapping stays alive in the rows.
  ///
  /// The caller has checked the section's length against `len` (as the loaders do before this).
  pub(crate) fn from_section(c: Container<FileBytes>, id: Tag, len: usize) -> Result<Self> {
    let offset = c
      .entries()
      .iter()
      .find(|e| e.id == id)
      .and_then(|e| usize::try_from(e.offset).ok())
      .unwrap_or(0);
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    let end = offset.saturating_add(bytes);
    if len == 0 {
      // Nothing to serve (an empty index, or originals dropped): don't keep the file mapped.
      return Ok(Vectors::default());
    }
    Ok(match c.into_bytes() {
      FileBytes::Mapped(map) => match MappedRows::new(map, offset, len) {
        Ok(rows) => Vectors::Mapped(rows),
        // Big-endian (or, never for a valid file, misaligned): the rows must be converted, so
        // they are copied.
        Err(map) => Vectors::Owned(T::decode_le(map.get(offset..end).unwrap_or_default())?),
      },
      owned @ FileBytes::Owned { .. } => {
        Vectors::Owned(T::decode_le(owned.as_ref().get(offset..end).unwrap_or_default())?)
      }
    })
  }
}

/// Asks the kernel to back `v`'s allocation (its whole capacity) with 2 MiB pages.
///
/// Why: a graph walk reads rows and neighbour lists scattered over the whole index, so with 4 KiB
/// pages nearly every row costs a TLB miss once an index outgrows the TLB's reach (~8 MiB on the
/// machines measured: 2,048 entries); transparent huge pages cut that by 512×. Most Linux
/// distributions ship THP in `madvise` mode, where memory gets huge pages only when asked, so
/// without this call the index never gets them. It must come before the spare capacity is first
/// written: pages faulted in afterwards are huge, earlier ones wait for `khugepaged`. Advice only:
/// small buffers (under two huge pages) are left alone and a refusal is ignored.
pub(crate) fn advise_huge_pages<T>(v: &Vec<T>) {
  #[cfg(target_os = "linux")]
  {
    const HUGE: usize = 2 << 20;
    const PAGE: usize = 4096;
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes < 2 * HUGE {
      return;
    }
    let start = v.as_ptr() as usize;
    let (lo, hi) = (start.next_multiple_of(PAGE), (start + bytes) / PAGE * PAGE);
    if hi > lo {
      // SAFETY: madvise only changes how the kernel backs pages of this process's own mapping
      // (`lo..hi` lies inside `v`'s allocation); MADV_HUGEPAGE never changes their contents.
      unsafe {
        libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
      }
    }
  }
  #[cfg(not(target_os = "linux"))]
  let _ = v;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

  /// The `VmFlags` line of the mapping of this process that holds `addr`, from /proc/self/smaps.
  fn vm_flags(addr: usize) -> Option<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
      let head = line.split_whitespace().next().unwrap_or("");
      if let Some((lo, hi)) = head.split_once('-') {
        if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
          inside = (lo..hi).contains(&addr);
          continue;
        }
      }
      if inside {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
          return Some(flags.to_string());
        }
      }
    }
    None
  }

  // The kernel may or may not find free 2 MiB pages, so what is checked is the advice itself: the
  // `hg` flag (MADV_HUGEPAGE) on the buffer's mapping, which the kernel sets whatever THP mode it runs.
  #[test]
  fn large_buffers_are_advised_small_ones_are_not() {
    let mut big: Vec<f32> = Vec::with_capacity(4 << 20);
    super::advise_huge_pages(&big);
    big.resize(4 << 20, 1.0);
    let Some(flags) = vm_flags(big.as_ptr() as usize + (8 << 20)) else {
      return; // no /proc (a sandbox): nothing to check
    };
    assert!(flags.split_whitespace().any(|f| f == "hg"), "VmFlags:{flags}");
    assert!(big.iter().all(|&x| x == 1.0));

    let small: Vec<f32> = Vec::with_capacity(1 << 10);
    super::advise_huge_pages(&small);
    let flags = vm_flags(small.as_ptr() as usize).unwrap_or_default();
    assert!(!flags.split_whitespace().any(|f| f == "hg"), "VmFlags:{flags}");
  }
}
