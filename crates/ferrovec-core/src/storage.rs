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
