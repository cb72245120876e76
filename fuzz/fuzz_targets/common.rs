//! Shared by the fuzz targets: load, and if the bytes load, prove the index is usable and that it
//! survives another round trip unchanged.

use ferrovec_core::{AnyFlatIndex, LoadOptions};

// Each target compiles this file as its own module and uses only some of it.
#[allow(dead_code)]
pub fn check(data: &[u8]) {
  let Ok(index) = AnyFlatIndex::from_bytes(data, &LoadOptions::default()) else {
    return;
  };
  let again = index
    .to_bytes()
    .and_then(|b| AnyFlatIndex::from_bytes(&b, &LoadOptions::default()));
  assert!(again.is_ok(), "a loaded index must save and load again");
  match &index {
    AnyFlatIndex::F32(i) => {
      let q = vec![0.25f32; i.dim()];
      assert!(i.search(&q, 5, None).is_ok());
    }
    AnyFlatIndex::Bits(i) => {
      let q = vec![0x5au8; i.row_len()];
      assert!(i.search(&q, 5, None).is_ok());
    }
    AnyFlatIndex::Quant(i) => {
      let q = vec![0.25f32; i.dim()];
      // An untrained index answers ERR_NOT_TRAINED; either way it must not panic.
      let _ = i.search(&q, 5, None);
    }
  }
}

/// The HNSW loader: load, and if the bytes load, search (walking every level), save and load again,
/// insert, compact and search again.
#[allow(dead_code)]
pub fn check_hnsw(data: &[u8]) {
  use ferrovec_core::hnsw::{AnyHnswIndex, SearchOptions};
  let Ok(index) = AnyHnswIndex::from_bytes(data, &LoadOptions::default()) else {
    return;
  };
  let again = index
    .to_bytes()
    .and_then(|b| AnyHnswIndex::from_bytes(&b, &LoadOptions::default()));
  assert!(again.is_ok(), "a loaded index must save and load again");
  macro_rules! exercise {
    ($i:expr, $q:expr) => {{
      let i = $i;
      let q = $q;
      assert!(i.search(&q, 5, SearchOptions::default()).is_ok());
      let key = (1u64 << 53) - 2;
      if !i.contains(key) {
        assert!(i.add(key, &q, false).is_ok());
      }
      assert!(i.compact().is_ok());
      assert!(i.search(&q, 5, SearchOptions::default()).is_ok());
    }};
  }
  match &index {
    AnyHnswIndex::F32(i) => exercise!(i, vec![0.25f32; i.row_len()]),
    AnyHnswIndex::Bits(i) => exercise!(i, vec![0x5au8; i.row_len()]),
  }
}

/// Recomputes every checksum and the recorded length, so mutations reach the checks behind them
/// (libFuzzer cannot solve a 64-bit hash by itself).
// Only `load_flat_sealed` uses it; each target compiles this file as its own module.
#[allow(dead_code)]
pub fn reseal(b: &mut [u8]) {
  use ferrovec_core::format::{checksum, MAGIC};
  if b.len() < 64 || b[..8] != MAGIC {
    return;
  }
  let len = b.len() as u64;
  b[24..32].copy_from_slice(&len.to_le_bytes());
  let n = u32::from_le_bytes([b[20], b[21], b[22], b[23]]) as usize;
  if n > 1024 || 64 + n * 32 > b.len() {
    return;
  }
  for i in 0..n {
    let e = 64 + i * 32;
    let field = |at: usize| {
      let mut a = [0u8; 8];
      a.copy_from_slice(&b[at..at + 8]);
      u64::from_le_bytes(a)
    };
    let (off, l) = (field(e + 8), field(e + 16));
    if let Some(end) = off.checked_add(l).filter(|&end| end <= len) {
      let sum = checksum(&b[off as usize..end as usize]);
      b[e + 24..e + 32].copy_from_slice(&sum.to_le_bytes());
    }
  }
  let t = checksum(&b[64..64 + n * 32]);
  b[48..56].copy_from_slice(&t.to_le_bytes());
  let h = checksum(&b[..56]);
  b[56..64].copy_from_slice(&h.to_le_bytes());
}
