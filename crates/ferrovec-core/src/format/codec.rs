//! Little-endian encoding of plain numeric slices, without copies where the machine allows.
//!
//! Files are little-endian on every machine. On a little-endian machine (x86-64, aarch64) a `[f32]`
//! already *is* its file bytes, so encoding borrows, and decoding a suitably aligned section borrows
//! too (a memory-mapped section is a zero-copy view). Big-endian machines convert element by element.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// The error for a decode whose copy does not fit in memory (a failed allocation would otherwise
/// abort the whole process).
pub(crate) fn out_of_memory(bytes: usize) -> Error {
  Error::invalid_argument(format!("not enough memory to load {bytes} bytes"))
}

/// A fixed-size number stored little-endian in files.
pub trait LeCodec: bytemuck::Pod {
  /// The slice as little-endian bytes (borrowed on little-endian machines).
  fn encode_le(items: &[Self]) -> Cow<'_, [u8]>;

  /// An owned copy of the items in `bytes`. Fails (never aborts) when the length is not a whole
  /// number of items or the memory for the copy cannot be had.
  fn decode_le(bytes: &[u8]) -> Result<Vec<Self>>;

  /// The items in `bytes`: borrowed when the machine is little-endian and `bytes` is aligned for
  /// `Self` (always so for sections of a mapped or [`super::read_file`] buffer), copied otherwise.
  fn view_le(bytes: &[u8]) -> Result<Cow<'_, [Self]>> {
    if cfg!(target_endian = "little") {
      if let Ok(items) = bytemuck::try_cast_slice::<u8, Self>(bytes) {
        return Ok(Cow::Borrowed(items));
      }
    }
    Self::decode_le(bytes).map(Cow::Owned)
  }
}

macro_rules! le_codec {
  ($($t:ty),*) => {$(
    impl LeCodec for $t {
      fn encode_le(items: &[Self]) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
          Cow::Borrowed(bytemuck::cast_slice(items))
        } else {
          Cow::Owned(items.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
      }

      fn decode_le(bytes: &[u8]) -> Result<Vec<Self>> {
        const N: usize = std::mem::size_of::<$t>();
        if !bytes.len().is_multiple_of(N) {
          return Err(Error::corrupt(
            "data",
            format!("{} bytes is not a whole number of {N}-byte {}", bytes.len(), stringify!($t)),
          ));
        }
        let mut out: Vec<Self> = Vec::new();
        out.try_reserve_exact(bytes.len() / N).map_err(|_| out_of_memory(bytes.len()))?;
        // Loaded rows and neighbour lists are what searches read at random.
        crate::storage::advise_huge_pages(&out);
        out.extend(bytes.chunks_exact(N).map(|c| {
          let mut a = [0u8; N];
          a.copy_from_slice(c);
          <$t>::from_le_bytes(a)
        }));
        Ok(out)
      }
    }
  )*};
}

le_codec!(u8, u16, u32, u64, i8, i32, f32, f64);

/// Little-endian cursor over a fixed-size record (the header, a table entry, a params section).
/// Callers check the record's length once; reads past the end yield zeros rather than panicking,
/// which cannot happen for a length-checked record.
pub(crate) struct LeReader<'a> {
  bytes: &'a [u8],
  pos: usize,
}

impl<'a> LeReader<'a> {
  pub(crate) fn new(bytes: &'a [u8]) -> Self {
    LeReader { bytes, pos: 0 }
  }

  pub(crate) fn take<const N: usize>(&mut self) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(src) = self.bytes.get(self.pos..self.pos.saturating_add(N)) {
      a.copy_from_slice(src);
    }
    self.pos = self.pos.saturating_add(N);
    a
  }

  pub(crate) fn u16(&mut self) -> u16 {
    u16::from_le_bytes(self.take())
  }

  pub(crate) fn u32(&mut self) -> u32 {
    u32::from_le_bytes(self.take())
  }

  pub(crate) fn u64(&mut self) -> u64 {
    u64::from_le_bytes(self.take())
  }
}
