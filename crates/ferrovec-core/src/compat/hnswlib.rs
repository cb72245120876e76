//! The binary index format of hnswlib (`HierarchicalNSW::saveIndex` / `loadIndex`), as written by
//! hnswlib-node and Python `hnswlib`, read into and written from an [`HnswIndex<f32>`] with the
//! graph kept as it is: the same nodes, levels, neighbour lists, entry point and deleted marks.
//!
//! ```text
//!  all little-endian; size_t = u64, tableint = u32; n = cur_element_count
//!  header (96 bytes)
//!    offsetLevel0 u64 (0) │ max_elements u64 │ cur_element_count u64 │ size_data_per_element u64
//!    label_offset u64 │ offsetData u64 │ maxlevel i32 (−1 when empty) │ enterpoint_node u32
//!    maxM u64 (= M) │ maxM0 u64 (= 2·M) │ M u64 │ mult f64 (1 / ln M) │ ef_construction u64
//!  level 0: n blocks of size_data_per_element bytes, one per internal id
//!    [count u16 │ flags u8 (bit 0 = deleted) │ u8 │ maxM0 × u32 ids] [dim × f32] [label u64]
//!     └──────────── offsetData = 4 + 4·maxM0 ───────────┘ └ label_offset = offsetData + 4·dim
//!  upper levels: n records, one per internal id
//!    size u32 (= level × (4 + 4·maxM), 0 on level 0) then `level` blocks [count u32 │ maxM × u32 ids]
//! ```
//!
//! The format records neither the space nor the dimension: the reader supplies them, and the
//! dimension is checked against `size_data_per_element` (hnswlib itself does not, and reads a file
//! of another dimension as garbage). Unused words of a list may hold stale ids in hnswlib's memory;
//! only the first `count` are read, and zeros are written.
//!
//! Everything in a file is untrusted: every header field, count, id, level and value is checked
//! (here, then by the same graph validation as ferrovec's own files, `HnswIndex::from_bytes`), and
//! any violation is an `ERR_CORRUPT_FILE` (or `ERR_DIMENSION_MISMATCH`), never a panic.

use std::path::Path;

use crate::error::{Error, Result};
use crate::flat_file::LoadOptions;
use crate::format::{self, kind, Container, Tag, Writer};
use crate::hnsw::{HnswIndex, MAX_M};
use crate::keys::MAX_KEY;
use crate::metric::Metric;

/// Bytes of the header.
pub const HEADER_LEN: usize = 96;
/// hnswlib's default level seed; level sampling of an imported index continues from it.
pub const DEFAULT_SEED: u64 = 100;
/// The highest level ferrovec stores (hnswlib has no cap; a level above this is refused).
const MAX_LEVEL: usize = 30;
const DELETE_MARK: u8 = 0x01;

const PARAMS: Tag = Tag(*b"PARM");
const KEYS: Tag = Tag(*b"KEYS");
const TOMBSTONES: Tag = Tag(*b"TOMB");
const LEVELS: Tag = Tag(*b"LEVL");
const LINKS0: Tag = Tag(*b"LNK0");
const LINKS_UP: Tag = Tag(*b"LNKU");
const VECTORS: Tag = Tag(*b"VECS");

/// What an hnswlib file says beyond the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswlibInfo {
  /// Capacity recorded in the file (hnswlib refuses inserts past it until `resizeIndex`).
  pub max_elements: usize,
  /// Elements (internal ids), live and deleted.
  pub count: usize,
  pub m: usize,
  pub ef_construction: usize,
}

fn corrupt(field: &str, detail: impl Into<String>) -> Error {
  Error::corrupt(format!("hnswlib index: {field}"), detail)
}

struct Cursor<'a> {
  bytes: &'a [u8],
  at: usize,
}

impl<'a> Cursor<'a> {
  fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
    let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
    match end {
      Some(end) => {
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
      }
      None => Err(corrupt(
        what,
        format!(
          "the file ends at byte {} but {what} needs {n} bytes from byte {}",
          self.bytes.len(),
          self.at
        ),
      )),
    }
  }
  fn u32(&mut self, what: &str) -> Result<u32> {
    let b = self.take(4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
  }
  fn u64(&mut self, what: &str) -> Result<u64> {
    let b = self.take(8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
  }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
  b.get(at..at + 4)
    .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn to_usize(v: u64, field: &str) -> Result<usize> {
  usize::try_from(v).map_err(|_| corrupt(field, format!("{v} is out of range")))
}

/// The ferrovec metric that matches an hnswlib space name: `l2` → squared L2; `ip` and `cosine`
/// → `dot` (1 − a·b; hnswlib stores cosine vectors normalised and searches them by inner product).
pub fn metric_for_space(space: &str) -> Result<Metric> {
  match space {
    "l2" => Ok(Metric::L2),
    "ip" | "cosine" => Ok(Metric::Dot),
    other => Err(Error::UnknownMetric {
      got: format!("{other:?} (hnswlib spaces are \"l2\", \"ip\" and \"cosine\")"),
    }),
  }
}

/// Scales `v` to unit length exactly as hnswlib-node does for its `cosine` space (the squared norm
/// summed in order in f32, then each element divided by the norm), so vectors normalised here are
/// bit-identical to the ones hnswlib-node stores. A zero vector stays zero; NaN stays NaN (and is
/// then refused by the index).
pub fn normalize(v: &mut [f32]) {
  let norm = v.iter().fold(0.0f32, |s, x| s + x * x).abs().sqrt();
  if norm > 0.0 {
    for x in v.iter_mut() {
      *x /= norm;
    }
  }
}

/// Reads an hnswlib index for vectors of `dim` dimensions compared with `metric` (see
/// [`metric_for_space`]). The index's default search width is `ef_search` (hnswlib's own default
/// after loading is 10).
pub fn from_bytes(
  bytes: &[u8],
  dim: usize,
  metric: Metric,
  ef_search: usize,
) -> Result<(HnswIndex<f32>, HnswlibInfo)> {
  if dim == 0 {
    return Err(Error::invalid_argument("dim must be at least 1"));
  }
  let mut c = Cursor { bytes, at: 0 };
  let offset_level0 = c.u64("header")?;
  let max_elements = c.u64("header")?;
  let count = c.u64("header")?;
  let size_per = c.u64("header")?;
  let label_offset = c.u64("header")?;
  let offset_data = c.u64("header")?;
  let max_level = c.u32("header")? as i32;
  let entry = c.u32("header")?;
  let max_m = c.u64("header")?;
  let max_m0 = c.u64("header")?;
  let m = c.u64("header")?;
  let _mult = c.u64("header")?;
  let ef_construction = c.u64("header")?;

  if offset_level0 != 0 {
    return Err(corrupt("offsetLevel0", format!("{offset_level0}, expected 0")));
  }
  let m = to_usize(m, "M")?;
  if !(2..=MAX_M).contains(&m) {
    return Err(corrupt("M", format!("{m} is outside the supported 2..={MAX_M}")));
  }
  if max_m != m as u64 || max_m0 != 2 * m as u64 {
    return Err(corrupt(
      "maxM/maxM0",
      format!(
        "maxM {max_m} and maxM0 {max_m0}, expected M = {m} and 2·M = {}",
        2 * m
      ),
    ));
  }
  let m0 = 2 * m;
  let links0_len = 4 + 4 * m0;
  if offset_data != links0_len as u64 {
    return Err(corrupt(
      "offsetData",
      format!("{offset_data}, expected 4 + 4·maxM0 = {links0_len}"),
    ));
  }
  // The one place the dimension shows: the bytes per element.
  let data_len = dim
    .checked_mul(4)
    .ok_or_else(|| Error::invalid_argument(format!("dim {dim} is too large")))?;
  let want_size = links0_len + data_len + 8;
  if size_per != want_size as u64 {
    let stored = size_per
      .checked_sub(links0_len as u64 + 8)
      .filter(|d| d.is_multiple_of(4) && *d > 0);
    return Err(match stored {
      Some(d) => Error::DimensionMismatch {
        expected: dim,
        got: usize::try_from(d / 4).unwrap_or(usize::MAX),
        context: crate::error::Context::NONE,
      },
      None => corrupt(
        "size_data_per_element",
        format!("{size_per} bytes is no element of any dimension with maxM0 {m0}"),
      ),
    });
  }
  if label_offset != (links0_len + data_len) as u64 {
    return Err(corrupt(
      "label_offset",
      format!(
        "{label_offset}, expected offsetData + 4·dim = {}",
        links0_len + data_len
      ),
    ));
  }
  let n = to_usize(count, "cur_element_count")?;
  if n > u32::MAX as usize - 1 {
    return Err(corrupt(
      "cur_element_count",
      format!("{n} elements is above the limit"),
    ));
  }
  let max_elements = to_usize(max_elements, "max_elements")?.max(n);
  let ef_construction = to_usize(ef_construction, "ef_construction")?.clamp(1, 1 << 20);

  // Bounds every allocation below by the file's own size.
  let level0 = c.take(
    n.checked_mul(want_size)
      .ok_or_else(|| corrupt("cur_element_count", format!("{n} elements overflow")))?,
    "the level-0 block",
  )?;

  let mut keys = Vec::with_capacity(n);
  let mut tomb = vec![0u64; n.div_ceil(64)];
  let mut links0 = vec![0u32; n * (1 + m0)];
  let mut rows: Vec<u8> = Vec::with_capacity(n * data_len);
  let mut live = 0usize;
  for (s, el) in level0.chunks_exact(want_size).enumerate() {
    let cnt = usize::from(u16::from_le_bytes([el[0], el[1]]));
    if cnt > m0 {
      return Err(corrupt(
        "level-0 list",
        format!("element {s} lists {cnt} neighbours, at most maxM0 = {m0} fit"),
      ));
    }
    if el[2] & DELETE_MARK != 0 {
      tomb[s / 64] |= 1 << (s % 64);
    } else {
      live += 1;
    }
    let dst = &mut links0[s * (1 + m0)..(s + 1) * (1 + m0)];
    copy_list(s, 0, (0..cnt).map(|j| le_u32(el, 4 + 4 * j)), dst)?;
    rows.extend_from_slice(&el[links0_len..links0_len + data_len]);
    let mut lb = [0u8; 8];
    lb.copy_from_slice(&el[links0_len + data_len..]);
    let label = u64::from_le_bytes(lb);
    if label > MAX_KEY {
      return Err(corrupt(
        "label",
        format!("element {s} has label {label}, above the largest supported, 2^53 − 1"),
      ));
    }
    keys.push(label);
  }

  let per_level = 4 + 4 * m;
  let mut levels = Vec::with_capacity(n);
  let mut links_up: Vec<u32> = Vec::new();
  for s in 0..n {
    let size = c.u32("an upper-level record")? as usize;
    if !size.is_multiple_of(per_level) {
      return Err(corrupt(
        "upper-level record",
        format!("element {s}: {size} bytes is not a whole number of {per_level}-byte lists"),
      ));
    }
    let level = size / per_level;
    if level > MAX_LEVEL {
      return Err(corrupt(
        "upper-level record",
        format!("element {s} is on level {level}, above the supported {MAX_LEVEL}"),
      ));
    }
    let block = c.take(size, "an upper-level record")?;
    let base = links_up.len();
    links_up.resize(base + level * (1 + m), 0);
    for (l, list) in block.chunks_exact(per_level).enumerate() {
      let cnt = usize::from(u16::from_le_bytes([list[0], list[1]]));
      if cnt > m {
        return Err(corrupt(
          "upper-level list",
          format!(
            "element {s}, level {}: {cnt} neighbours, at most maxM = {m} fit",
            l + 1
          ),
        ));
      }
      let at = base + l * (1 + m);
      copy_list(
        s,
        l + 1,
        (0..cnt).map(|j| le_u32(list, 4 + 4 * j)),
        &mut links_up[at..at + 1 + m],
      )?;
    }
    levels.push(level as u8);
  }
  if c.at != bytes.len() {
    return Err(corrupt(
      "length",
      format!("{} bytes follow the last record", bytes.len() - c.at),
    ));
  }

  let entry = if n == 0 {
    None
  } else {
    if entry as usize >= n {
      return Err(corrupt(
        "enterpoint_node",
        format!("{entry} is not an element (there are {n})"),
      ));
    }
    let top = levels.iter().copied().max().unwrap_or(0);
    if max_level != i32::from(top) || levels[entry as usize] != top {
      return Err(corrupt(
        "maxlevel/enterpoint_node",
        format!(
          "maxlevel {max_level} with the entry point on level {}, but the highest element is on level {top}",
          levels[entry as usize]
        ),
      ));
    }
    Some(entry)
  };

  let rows_f32: Vec<f32> = rows
    .chunks_exact(4)
    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    .collect();
  let upper: usize = levels.iter().map(|&l| usize::from(l)).sum();
  let parts = Parts {
    metric,
    dim,
    m,
    ef_construction,
    ef_search,
    seed: DEFAULT_SEED,
    keys: &keys,
    tomb: &tomb,
    live,
    levels: &levels,
    links0: &links0,
    links_up: &links_up,
    upper,
    entry,
    max_level: levels.iter().copied().max().unwrap_or(0),
    rows: &rows_f32,
  };
  let index = parts.into_index()?;
  Ok((
    index,
    HnswlibInfo {
      max_elements,
      count: n,
      m,
      ef_construction,
    },
  ))
}

/// Copies a list's ids into `[count, ids…, 0…]`, dropping self-links and repeats (harmless to a
/// search, and refused by the graph validation). Ids out of range are left for that validation.
fn copy_list(s: usize, level: usize, ids: impl Iterator<Item = u32>, dst: &mut [u32]) -> Result<()> {
  let mut k = 0;
  for id in ids {
    if id as usize == s || dst[1..=k].contains(&id) {
      continue;
    }
    k += 1;
    match dst.get_mut(k) {
      Some(w) => *w = id,
      None => {
        return Err(corrupt(
          "list",
          format!("element {s}, level {level}: too many neighbours"),
        ))
      }
    }
  }
  dst[0] = k as u32;
  Ok(())
}

/// A graph in ferrovec's file layout (see `hnsw/file.rs`).
struct Parts<'a> {
  metric: Metric,
  dim: usize,
  m: usize,
  ef_construction: usize,
  ef_search: usize,
  seed: u64,
  keys: &'a [u64],
  tomb: &'a [u64],
  live: usize,
  levels: &'a [u8],
  links0: &'a [u32],
  links_up: &'a [u32],
  upper: usize,
  entry: Option<u32>,
  max_level: u8,
  rows: &'a [f32],
}

impl Parts<'_> {
  /// Builds the index through ferrovec's own loader, so the imported graph passes exactly the
  /// checks a ferrovec file does (ids in range and on their level, counts, finite values, …).
  fn into_index(self) -> Result<HnswIndex<f32>> {
    let mut p = Vec::with_capacity(80);
    p.extend_from_slice(&format::metric_code(self.metric).to_le_bytes());
    p.extend_from_slice(&<f32 as format::FileElement>::CODE.to_le_bytes());
    p.extend_from_slice(&(self.dim as u64).to_le_bytes());
    p.extend_from_slice(&(self.m as u32).to_le_bytes());
    p.extend_from_slice(&(self.ef_construction as u32).to_le_bytes());
    p.extend_from_slice(&(self.ef_search as u32).to_le_bytes());
    p.extend_from_slice(&u32::from(self.max_level).to_le_bytes());
    p.extend_from_slice(&self.seed.to_le_bytes());
    p.extend_from_slice(&self.seed.to_le_bytes());
    p.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
    p.extend_from_slice(&(self.live as u64).to_le_bytes());
    p.extend_from_slice(&self.entry.map_or(u64::MAX, u64::from).to_le_bytes());
    p.extend_from_slice(&(self.upper as u64).to_le_bytes());
    let le32 = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut w = Writer::new(kind::HNSW);
    w.section(PARAMS, p)
      .section(
        KEYS,
        self
          .keys
          .iter()
          .flat_map(|x| x.to_le_bytes())
          .collect::<Vec<u8>>(),
      )
      .section(
        TOMBSTONES,
        self
          .tomb
          .iter()
          .flat_map(|x| x.to_le_bytes())
          .collect::<Vec<u8>>(),
      )
      .section(LEVELS, self.levels)
      .section(LINKS0, le32(self.links0))
      .section(LINKS_UP, le32(self.links_up))
      .section(
        VECTORS,
        self
          .rows
          .iter()
          .flat_map(|x| x.to_le_bytes())
          .collect::<Vec<u8>>(),
      );
    let bytes = w.to_bytes()?;
    HnswIndex::<f32>::from_bytes(&bytes, &LoadOptions::default()).map_err(|e| match e {
      Error::CorruptFile { what, detail, .. } => corrupt(&format!("graph ({what})"), detail),
      other => other,
    })
  }
}

/// Reads the hnswlib index file at `path` (see [`from_bytes`]).
pub fn load(
  path: impl AsRef<Path>,
  dim: usize,
  metric: Metric,
  ef_search: usize,
) -> Result<(HnswIndex<f32>, HnswlibInfo)> {
  let path = path.as_ref();
  let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
  from_bytes(&bytes, dim, metric, ef_search).map_err(|e| e.with_path(path))
}

fn u32s(b: &[u8]) -> Vec<u32> {
  b.chunks_exact(4)
    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    .collect()
}

fn u64s(b: &[u8]) -> Vec<u64> {
  b.chunks_exact(8)
    .map(|w| {
      let mut a = [0u8; 8];
      a.copy_from_slice(w);
      u64::from_le_bytes(a)
    })
    .collect()
}

/// The index in hnswlib's layout, with room recorded for `max_elements` (raised to the element
/// count if lower). Removed nodes still in the graph are written with hnswlib's deleted mark.
/// With `normalize`, rows are written unit-length (for an hnswlib `cosine` space, which stores
/// them so); a zero row stays zero.
pub fn to_bytes(index: &HnswIndex<f32>, max_elements: usize, normalize: bool) -> Result<Vec<u8>> {
  let own = index.to_bytes()?;
  let c = Container::parse(own.as_slice())?;
  let prm = c.require(PARAMS)?;
  let rd = |at: usize| le_u32(prm, at) as usize;
  let m = rd(16);
  let max_level = rd(28);
  let count = u64s(prm.get(48..56).unwrap_or_default())
    .first()
    .copied()
    .unwrap_or(0) as usize;
  let entry = u64s(prm.get(64..72).unwrap_or_default())
    .first()
    .copied()
    .unwrap_or(u64::MAX);
  let ef_construction = rd(20);
  let dim = index.dim();
  let keys = u64s(c.require(KEYS)?);
  let tomb = u64s(c.require(TOMBSTONES)?);
  let levels = c.require(LEVELS)?;
  let l0 = u32s(c.require(LINKS0)?);
  let lu = u32s(c.require(LINKS_UP)?);
  let rows = c.require(VECTORS)?;
  let m0 = 2 * m;
  let links0_len = 4 + 4 * m0;
  let data_len = 4 * dim;
  let size_per = links0_len + data_len + 8;
  let per_level = 4 + 4 * m;
  let max_elements = max_elements.max(count);

  let upper: usize = levels.iter().map(|&l| usize::from(l)).sum();
  let mut out = Vec::new();
  out
    .try_reserve_exact(HEADER_LEN + count * (size_per + 4) + upper * per_level)
    .map_err(|_| Error::invalid_argument("not enough memory to write the hnswlib index"))?;
  let push64 = |o: &mut Vec<u8>, v: u64| o.extend_from_slice(&v.to_le_bytes());
  push64(&mut out, 0);
  push64(&mut out, max_elements as u64);
  push64(&mut out, count as u64);
  push64(&mut out, size_per as u64);
  push64(&mut out, (links0_len + data_len) as u64);
  push64(&mut out, links0_len as u64);
  let (ml, ep) = if count == 0 {
    (-1i32, u32::MAX)
  } else {
    (max_level as i32, u32::try_from(entry).unwrap_or(u32::MAX))
  };
  out.extend_from_slice(&ml.to_le_bytes());
  out.extend_from_slice(&ep.to_le_bytes());
  push64(&mut out, m as u64);
  push64(&mut out, m0 as u64);
  push64(&mut out, m as u64);
  out.extend_from_slice(&(1.0 / (m as f64).ln()).to_le_bytes());
  push64(&mut out, ef_construction as u64);

  for s in 0..count {
    let list = &l0[s * (1 + m0)..(s + 1) * (1 + m0)];
    let cnt = list[0] as u16;
    out.extend_from_slice(&cnt.to_le_bytes());
    let deleted = tomb.get(s / 64).is_some_and(|w| w & (1 << (s % 64)) != 0);
    out.push(if deleted { DELETE_MARK } else { 0 });
    out.push(0);
    for &id in &list[1..] {
      out.extend_from_slice(&id.to_le_bytes());
    }
    let row = &rows[s * data_len..(s + 1) * data_len];
    if normalize {
      let v: Vec<f32> = row
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
      let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
      let scale = if norm > 0.0 { 1.0 / norm } else { 1.0 };
      for x in v {
        out.extend_from_slice(&(x * scale).to_le_bytes());
      }
    } else {
      out.extend_from_slice(row);
    }
    push64(&mut out, keys[s]);
  }
  let mut at = 0;
  for &l in levels {
    let l = usize::from(l);
    out.extend_from_slice(&((l * per_level) as u32).to_le_bytes());
    for _ in 0..l {
      for &w in &lu[at..at + 1 + m] {
        out.extend_from_slice(&w.to_le_bytes());
      }
      at += 1 + m;
    }
  }
  Ok(out)
}

/// Writes [`to_bytes`] to `path` crash-safely (temp file beside it, fsync, rename).
pub fn save(
  index: &HnswIndex<f32>,
  path: impl AsRef<Path>,
  max_elements: usize,
  normalize: bool,
) -> Result<()> {
  let bytes = to_bytes(index, max_elements, normalize)?;
  format::write::save_bytes(path.as_ref(), &bytes)
}
