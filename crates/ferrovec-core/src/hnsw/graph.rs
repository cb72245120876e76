//! Graph storage: vectors, keys and neighbour lists in flat, slot-indexed arrays.
//!
//! Every node has a dense `u32` slot. All per-node data lives in parallel arrays indexed by slot, and
//! the neighbour lists are fixed-stride blocks inside two flat `u32` arrays, never `Vec<Vec<_>>`:
//!
//! ```text
//!  slot:          0            1            2            3     ...   (capacity slots allocated)
//!  vectors:  [ row 0      | row 1      | row 2      | row 3      | ... ]   row_len elements each
//!  keys:     [ k0         | k1         | k2         | k3         | ... ]   user key per slot
//!  levels:   [ 0          | 2          | 0          | 1          | ... ]   top level per slot
//!
//!  links0 (level 0, stride 1 + m0 = 1 + 2m):
//!  [ n | id id id .. id ][ n | id id .. id ][ n | id .. id ][ n | id .. id ] ...
//!    ^ count   slot 0         slot 1           slot 2          slot 3
//!
//!  upper: [ (1, 0) | (3, 2(m+1)) | ... ]    (slot, first block in links_up) of the nodes that have
//!                                           upper levels, in slot order (binary-searched)
//!  links_up (stride 1 + m, one block per level above 0, levels 1..=L in order):
//!  [ n | id .. id ][ n | id .. id ][ n | id .. id ] ...
//!    slot 1, lvl 1   slot 1, lvl 2   slot 3, lvl 1
//! ```
//!
//! Why this layout: level 0 holds almost every edge and every search ends there, so its lists are one
//! contiguous fixed-stride array addressed by `slot * (1 + m0)` (one multiply, no pointer chase, no
//! per-node allocation). Only about 1/m of the nodes have upper levels, so those get variable-size
//! blocks appended to a second array instead of reserving `max_level * (1 + m)` for everyone, and only
//! those get an entry in `upper` (8 bytes per upper node, ~0.5 B per node, instead of a 4-byte start
//! for every node; a binary search per upper-level list read costs nothing measurable, as searches
//! read a few dozen upper lists against a thousand level-0 rows). Ids are `u32` (half the bytes of
//! `usize`, and 4 billion nodes is far past what fits in memory here).
//!
//! Link words are `AtomicU32` so that lists can be rewritten through a shared reference while other
//! threads search: a writer holds the node's lock (`locks[slot]`) while it changes the node's lists.
//! Insert's own bookkeeping reads lists under that lock too ([`Graph::neighbours_into`]), but the
//! graph walks do not ([`Graph::walk_neighbours`]): the lock cost 7–10% of search and build time.
//! That is safe because a writer stores the ids first and the count last (Release), and a walker
//! loads the count (Acquire) and then the ids: a list read while it is rewritten can mix old and new
//! ids, but every word is some slot id written earlier (or the initial 0), so the walk only ever
//! sees real nodes and checks `id < len` anyway. hnswlib's search reads its lists the same way.
//! Growth (reallocating these arrays) happens only under the index's write lock, see `mod.rs`.
//!
//! Cosine indexes also keep `inv_norms[slot] = 1/‖row‖` (4 B per node), so the walk scores cosine
//! with one dot product per pair. It is derived from the rows (recomputed on load), never saved.

use std::sync::atomic::{
  AtomicBool, AtomicU32,
  Ordering::{Acquire, Relaxed, Release},
};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::metric::Element;
use crate::quant::AnyQuantizer;
pub(crate) use crate::storage::Vectors;

/// Most bytes of a row [`Graph::prefetch_vector`] asks for. Measured on the walk's access pattern
/// (`bench/rust`, ANALYSIS.md): prefetching whole rows pays up to ~1 KB; past that the hardware
/// prefetcher follows the row on its own once the first lines are in flight.
pub(crate) const PREFETCH_BYTES: usize = 1024;

/// Prefetches `bytes` from `p` into all cache levels, one request per 64-byte line.
#[inline]
pub(crate) fn prefetch(p: *const i8, bytes: usize) {
  #[cfg(target_arch = "x86_64")]
  {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let mut off = 0;
    while off < bytes {
      // SAFETY: a prefetch is a hint that never faults, whatever the address; `wrapping_add`
      // keeps the pointer arithmetic itself defined.
      unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
      off += 64;
    }
  }
  #[cfg(not(target_arch = "x86_64"))]
  let _ = (p, bytes);
}

/// What a list read finds for a level a node does not have (callers never ask; this keeps a wrong
/// call an empty list rather than a panic).
static NO_LIST: [AtomicU32; 1] = [AtomicU32::new(0)];

/// The highest level a node may get. With m ≥ 2 the chance of drawing a level above 30 is below
/// 2^-30 per node, so the cap never matters in practice but bounds the storage of any one node.
pub(crate) const MAX_LEVEL: u8 = 30;

pub(crate) struct Graph<T: Element> {
  pub row_len: usize,
  /// Links per node on levels above 0.
  pub m: usize,
  /// Links per node on level 0 (2·m).
  pub m0: usize,
  /// Slots allocated for (`links0`, `deleted`, `locks` have this many entries; the Vecs reserve it).
  pub cap: usize,
  /// Slots in use (live or deleted).
  pub len: usize,
  pub vectors: Vectors<T>,
  pub keys: Vec<u64>,
  pub levels: Vec<u8>,
  pub deleted: Vec<AtomicBool>,
  pub links0: Vec<AtomicU32>,
  /// `(slot, first block in links_up)` of every node with upper levels, in slot order.
  pub upper: Vec<(u32, u32)>,
  pub links_up: Vec<AtomicU32>,
  pub locks: Vec<Mutex<()>>,
  /// Whether `inv_norms` is kept (cosine indexes only).
  pub cosine: bool,
  /// `1/‖row‖` per slot (0 for a zero row) when `cosine`, else empty.
  pub inv_norms: Vec<f32>,
  /// Quantised indexes, once trained: the quantiser, and `code_len` bytes of code per slot (removed
  /// slots too: they still route). Kept with the rows under the same lock, so a walk always sees a
  /// quantiser and codes that belong together.
  pub quantizer: Option<AnyQuantizer>,
  pub code_len: usize,
  pub codes: Vec<u8>,
  /// Whether `vectors` holds the rows. `false` once a quantised index with `keepOriginals: false`
  /// has trained: `vectors` is then empty and only the codes remain.
  pub rows_kept: bool,
}

impl<T: Element> Graph<T> {
  /// An empty graph with room for `cap` nodes, or an error if that much memory is not available.
  pub fn new(row_len: usize, m: usize, cap: usize, cosine: bool) -> Result<Self> {
    let mut g = Graph {
      row_len,
      m,
      m0: 2 * m,
      cap: 0,
      len: 0,
      vectors: Vectors::Owned(Vec::new()),
      keys: Vec::new(),
      levels: Vec::new(),
      deleted: Vec::new(),
      links0: Vec::new(),
      upper: Vec::new(),
      links_up: Vec::new(),
      locks: Vec::new(),
      cosine,
      inv_norms: Vec::new(),
      quantizer: None,
      code_len: 0,
      codes: Vec::new(),
      rows_kept: true,
    };
    g.reserve_slots(cap)?;
    Ok(g)
  }

  /// Makes room for `cap` slots in total (never shrinks). Every allocation is fallible
  /// (`try_reserve`), so a huge `capacity` option or batch is an error rather than an abort of the
  /// host process; on error the graph is unchanged apart from spare capacity.
  pub fn reserve_slots(&mut self, cap: usize) -> Result<()> {
    if cap <= self.cap {
      return Ok(());
    }
    let oom = |what: &str| {
      Error::invalid_argument(format!(
        "cannot allocate {what} for {cap} nodes: not enough memory (lower `capacity` or the batch size)"
      ))
    };
    let extra = cap - self.len;
    let link_words = cap
      .checked_mul(1 + self.m0)
      .ok_or_else(|| oom("neighbour lists"))?;
    let vector_elems = extra.checked_mul(self.row_len).ok_or_else(|| oom("vectors"))?;
    if self.rows_kept {
      self
        .vectors
        .owned_mut()
        .map_err(|_| oom("vectors"))?
        .try_reserve_exact(vector_elems)
        .map_err(|_| oom("vectors"))?;
      if let Vectors::Owned(v) = &self.vectors {
        crate::storage::advise_huge_pages(v);
      }
    }
    let code_bytes = extra.checked_mul(self.code_len).ok_or_else(|| oom("codes"))?;
    self
      .codes
      .try_reserve_exact(code_bytes)
      .map_err(|_| oom("codes"))?;
    crate::storage::advise_huge_pages(&self.codes);
    self.keys.try_reserve_exact(extra).map_err(|_| oom("keys"))?;
    self.levels.try_reserve_exact(extra).map_err(|_| oom("levels"))?;
    if self.cosine {
      self
        .inv_norms
        .try_reserve_exact(extra)
        .map_err(|_| oom("norms"))?;
    }
    self
      .deleted
      .try_reserve_exact(cap - self.deleted.len())
      .map_err(|_| oom("tombstones"))?;
    self
      .locks
      .try_reserve_exact(cap - self.locks.len())
      .map_err(|_| oom("locks"))?;
    self
      .links0
      .try_reserve_exact(link_words - self.links0.len())
      .map_err(|_| oom("neighbour lists"))?;
    crate::storage::advise_huge_pages(&self.links0);
    // Capacity is reserved: these resizes cannot reallocate.
    self.deleted.resize_with(cap, || AtomicBool::new(false));
    self.locks.resize_with(cap, || Mutex::new(()));
    self.links0.resize_with(link_words, || AtomicU32::new(0));
    self.cap = cap;
    Ok(())
  }

  /// Makes room in the upper-level arrays for nodes of the given `levels` (a batch about to be
  /// pushed).
  ///
  /// Why: `push` grows `links_up` one node at a time, and `Vec`'s doubling then leaves up to half of
  /// it spare: measured 3–4 B per node on a 50,000-row build, ~40% over the ~5 B/node the upper levels
  /// need at m = 16, which put the graph a hair over hnswlib-node's. Reserving a batch's exact need up
  /// front leaves no slack for a first batch and the usual amortised growth for later ones.
  pub fn reserve_upper(&mut self, levels: &[u8]) -> Result<()> {
    let oom = || {
      Error::invalid_argument(
        "cannot allocate upper-level neighbour lists: not enough memory (lower the batch size)".to_string(),
      )
    };
    let (nodes, words) = levels
      .iter()
      .filter(|&&l| l > 0)
      .fold((0usize, 0usize), |(n, w), &l| {
        (n + 1, w + usize::from(l) * (1 + self.m))
      });
    // `try_reserve` is `Vec`'s amortised growth: exact into an empty array, at least double after.
    self.upper.try_reserve(nodes).map_err(|_| oom())?;
    self.links_up.try_reserve(words).map_err(|_| oom())?;
    Ok(())
  }

  /// Appends a node (its lists empty) and returns its slot. The caller has reserved room. `code`:
  /// the row's code, once the index's quantiser is trained (`code_len` bytes).
  pub fn push(&mut self, key: u64, row: &[T], level: u8, code: Option<&[u8]>) -> u32 {
    let inv = self.cosine.then(|| T::inv_norm(row));
    self.push_parts(key, Some(row), inv, code, level)
  }

  /// Appends node `slot` of `old` (a graph with the same set-up), its lists empty.
  pub fn push_copy(&mut self, old: &Graph<T>, slot: u32) -> u32 {
    let s = slot as usize;
    let row = old.rows_kept.then(|| old.vector(slot));
    let inv = self.cosine.then(|| old.inv_norm(slot));
    let code = (old.code_len > 0).then(|| &old.codes[s * old.code_len..(s + 1) * old.code_len]);
    self.push_parts(old.keys[s], row, inv, code, old.levels[s])
  }

  fn push_parts(
    &mut self,
    key: u64,
    row: Option<&[T]>,
    inv: Option<f32>,
    code: Option<&[u8]>,
    level: u8,
  ) -> u32 {
    if self.len == self.cap {
      // Callers reserve first; this only keeps the invariant if one ever does not (and an
      // allocation failure here is the same abort any Vec::push would give).
      let _ = self.reserve_slots((self.cap * 2).max(16));
    }
    let slot = self.len as u32;
    if self.rows_kept {
      if let Some(row) = row {
        self.vectors.extend_from_slice(row);
      }
    }
    if let Some(inv) = inv {
      self.inv_norms.push(inv);
    }
    if let Some(code) = code {
      self.codes.extend_from_slice(code);
    }
    self.keys.push(key);
    self.levels.push(level);
    if level > 0 {
      let start = self.links_up.len() as u32;
      let words = usize::from(level) * (1 + self.m);
      self
        .links_up
        .resize_with(self.links_up.len() + words, || AtomicU32::new(0));
      // Slots only grow, so pushing keeps `upper` sorted.
      self.upper.push((slot, start));
    }
    self.len += 1;
    slot
  }

  /// Installs a trained quantiser: encodes every stored row (removed ones too) and, when
  /// `keep_rows` is false, drops the rows. The caller holds the write lock.
  pub fn install_quantizer(&mut self, q: AnyQuantizer, keep_rows: bool) -> Result<()> {
    let cl = q.code_len();
    let rows = T::as_f32(self.vectors.as_slice()).unwrap_or_default();
    let n = self.len;
    let dim = self.row_len;
    let codes = q.encode_rows(rows.get(..n * dim).unwrap_or_default(), dim);
    let mut held = Vec::new();
    held
      .try_reserve_exact(self.cap.max(n) * cl)
      .map_err(|_| Error::invalid_argument("not enough memory for the codes"))?;
    held.extend_from_slice(&codes);
    self.codes = held;
    self.code_len = cl;
    self.quantizer = Some(q);
    if !keep_rows {
      self.vectors = Vectors::Owned(Vec::new());
      self.rows_kept = false;
    }
    Ok(())
  }

  /// Overwrites the code of an existing slot (upsert; caller holds the write lock).
  pub fn set_code(&mut self, slot: u32, code: &[u8]) {
    let s = slot as usize * self.code_len;
    if let Some(c) = self.codes.get_mut(s..s + self.code_len) {
      c.copy_from_slice(code);
    }
  }

  /// The stored row of `slot`: the original when kept, else the code's reconstruction (f32
  /// indexes), else `None`.
  pub fn row(&self, slot: u32) -> Option<Vec<T>> {
    if self.rows_kept {
      return Some(self.vector(slot).to_vec());
    }
    let q = self.quantizer.as_ref()?;
    let s = slot as usize * self.code_len;
    let code = self.codes.get(s..s + self.code_len)?;
    let mut out = vec![0f32; self.row_len];
    crate::with_quantizer!(q, |q| crate::quant::Quantizer::decode(q, code, &mut out));
    T::from_f32(out)
  }

  #[inline]
  pub fn vector(&self, slot: u32) -> &[T] {
    let s = slot as usize * self.row_len;
    &self.vectors.as_slice()[s..s + self.row_len]
  }

  /// Overwrites the vector of an existing slot (upsert; caller holds the write lock).
  pub fn set_vector(&mut self, slot: u32, row: &[T]) {
    let s = slot as usize * self.row_len;
    if self.rows_kept {
      if let Ok(v) = self.vectors.owned_mut() {
        v[s..s + self.row_len].copy_from_slice(row);
      }
    }
    if let Some(n) = self.inv_norms.get_mut(slot as usize) {
      *n = T::inv_norm(row);
    }
  }

  /// `1/‖row‖` of `slot` (cosine indexes; 0 otherwise).
  #[inline]
  pub fn inv_norm(&self, slot: u32) -> f32 {
    self.inv_norms.get(slot as usize).copied().unwrap_or(0.0)
  }

  /// Asks the CPU to start loading `slot`'s row (up to [`PREFETCH_BYTES`]) into cache, so that
  /// scoring it a few nodes later does not wait on memory. A hint only: it never faults.
  #[inline]
  pub fn prefetch_vector(&self, slot: u32) {
    let bytes = (self.row_len * std::mem::size_of::<T>()).min(PREFETCH_BYTES);
    let at = slot as usize * self.row_len;
    if let Some(row) = self.vectors.as_slice().get(at..) {
      prefetch(row.as_ptr().cast(), bytes);
    }
  }

  /// Asks the CPU to start loading `slot`'s level-0 list (the next node the walk will expand).
  #[inline]
  pub fn prefetch_links0(&self, slot: u32) {
    if let Some(list) = self.links0.get(slot as usize * (1 + self.m0)..) {
      prefetch(list.as_ptr().cast(), (1 + self.m0) * 4);
    }
  }

  #[inline]
  pub fn is_deleted(&self, slot: u32) -> bool {
    self.deleted[slot as usize].load(Relaxed)
  }

  #[inline]
  pub fn level(&self, slot: u32) -> usize {
    usize::from(self.levels[slot as usize])
  }

  /// Capacity of a list on `level`.
  #[inline]
  pub fn cap_at(&self, level: usize) -> usize {
    if level == 0 {
      self.m0
    } else {
      self.m
    }
  }

  /// The words of `slot`'s list on `level`: `[count, id, id, …]`.
  #[inline]
  fn list(&self, slot: u32, level: usize) -> &[AtomicU32] {
    if level == 0 {
      let s = slot as usize * (1 + self.m0);
      &self.links0[s..s + 1 + self.m0]
    } else {
      let Ok(i) = self.upper.binary_search_by_key(&slot, |&(s, _)| s) else {
        return &NO_LIST;
      };
      let s = self.upper[i].1 as usize + (level - 1) * (1 + self.m);
      self.links_up.get(s..s + 1 + self.m).unwrap_or(&NO_LIST)
    }
  }

  /// Copies `slot`'s neighbours on `level` into `out` (cleared first), under the node's lock: a
  /// consistent snapshot, for insert's bookkeeping, compaction and fingerprints.
  #[inline]
  pub fn neighbours_into(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
    out.clear();
    let list = self.list(slot, level);
    let _guard = self.locks[slot as usize].lock();
    let n = (list[0].load(Relaxed) as usize).min(list.len() - 1);
    out.extend(list[1..=n].iter().map(|w| w.load(Relaxed)));
  }

  /// Copies `slot`'s neighbours on `level` into `out` (cleared first) without the lock, for the
  /// graph walks: while a writer rewrites the list, the copy may mix old and new ids (module docs).
  #[inline]
  pub fn walk_neighbours(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
    out.clear();
    let list = self.list(slot, level);
    let n = (list[0].load(Acquire) as usize).min(list.len() - 1);
    out.extend(list[1..=n].iter().map(|w| w.load(Relaxed)));
  }

  /// How many neighbours `slot` has on `level` (a racy snapshot while others link).
  #[inline]
  pub fn degree(&self, slot: u32, level: usize) -> usize {
    let list = self.list(slot, level);
    (list[0].load(Acquire) as usize).min(list.len() - 1)
  }

  /// Replaces `slot`'s list on `level`. The caller holds `locks[slot]`. Ids first, count last
  /// (Release), for [`Graph::walk_neighbours`].
  pub fn set_neighbours_locked(&self, slot: u32, level: usize, ids: &[u32]) {
    let list = self.list(slot, level);
    let n = ids.len().min(list.len() - 1);
    for (w, &id) in list[1..=n].iter().zip(ids) {
      w.store(id, Relaxed);
    }
    list[0].store(n as u32, Release);
  }

  /// Reads `slot`'s list on `level` without taking the lock. The caller holds `locks[slot]`.
  pub fn neighbours_locked(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
    out.clear();
    let list = self.list(slot, level);
    let n = (list[0].load(Relaxed) as usize).min(list.len() - 1);
    out.extend(list[1..=n].iter().map(|w| w.load(Relaxed)));
  }

  /// The neighbour lists in file order (see `hnsw/file.rs`): level 0 as `len` blocks of `1 + m0`
  /// words, then the upper levels as one block of `1 + m` words per (node, level ≥ 1) in slot and
  /// level order. Each block is `[count, ids…, 0…]`: unused words are written as zero, whatever
  /// stale ids memory holds there. The caller keeps lists from changing (holds the index's writer lock).
  pub fn export_links(&self) -> (Vec<u32>, Vec<u32>) {
    let s0 = 1 + self.m0;
    let su = 1 + self.m;
    let mut l0 = vec![0u32; self.len * s0];
    let upper: usize = self.levels[..self.len].iter().map(|&l| usize::from(l)).sum();
    let mut lu = vec![0u32; upper * su];
    let mut buf = Vec::new();
    let mut at = 0;
    for slot in 0..self.len as u32 {
      self.neighbours_locked(slot, 0, &mut buf);
      let b = slot as usize * s0;
      l0[b] = buf.len() as u32;
      l0[b + 1..b + 1 + buf.len()].copy_from_slice(&buf);
      for level in 1..=self.level(slot) {
        self.neighbours_locked(slot, level, &mut buf);
        lu[at] = buf.len() as u32;
        lu[at + 1..at + 1 + buf.len()].copy_from_slice(&buf);
        at += su;
      }
    }
    (l0, lu)
  }

  /// A graph of `keys.len()` nodes from validated file contents (see `hnsw/file.rs`, which checks
  /// every invariant the search code relies on before calling this). Capacity equals length.
  #[allow(clippy::too_many_arguments)]
  pub fn from_parts(
    row_len: usize,
    m: usize,
    vectors: Vectors<T>,
    keys: Vec<u64>,
    levels: Vec<u8>,
    deleted: impl Iterator<Item = bool>,
    links0: &[u32],
    links_up: &[u32],
    cosine: bool,
  ) -> Result<Self> {
    let len = keys.len();
    let oom = || Error::invalid_argument(format!("not enough memory to load a graph of {len} nodes"));
    let atomics = |words: &[u32]| -> Result<Vec<AtomicU32>> {
      let mut v = Vec::new();
      v.try_reserve_exact(words.len()).map_err(|_| oom())?;
      crate::storage::advise_huge_pages(&v);
      v.extend(words.iter().map(|&w| AtomicU32::new(w)));
      Ok(v)
    };
    let mut upper = Vec::new();
    let mut at: usize = 0;
    for (slot, &l) in levels.iter().enumerate() {
      if l > 0 {
        let start = u32::try_from(at).map_err(|_| oom())?;
        upper.try_reserve(1).map_err(|_| oom())?;
        upper.push((slot as u32, start));
        at += usize::from(l) * (1 + m);
      }
    }
    let mut deleted_v = Vec::new();
    deleted_v.try_reserve_exact(len).map_err(|_| oom())?;
    deleted_v.extend(deleted.take(len).map(AtomicBool::new));
    deleted_v.resize_with(len, || AtomicBool::new(false));
    let mut locks = Vec::new();
    locks.try_reserve_exact(len).map_err(|_| oom())?;
    locks.resize_with(len, || Mutex::new(()));
    let mut inv_norms = Vec::new();
    if cosine {
      // Not in the file: derived from the rows (for a mapped file this reads every row once).
      inv_norms.try_reserve_exact(len).map_err(|_| oom())?;
      inv_norms.extend(
        vectors
          .as_slice()
          .chunks_exact(row_len.max(1))
          .take(len)
          .map(T::inv_norm),
      );
      inv_norms.resize(len, 0.0);
    }
    Ok(Graph {
      row_len,
      m,
      m0: 2 * m,
      cap: len,
      len,
      vectors,
      keys,
      levels,
      deleted: deleted_v,
      links0: atomics(links0)?,
      upper,
      links_up: atomics(links_up)?,
      locks,
      cosine,
      inv_norms,
      quantizer: None,
      code_len: 0,
      codes: Vec::new(),
      rows_kept: true,
    })
  }

  /// Bytes held by the graph structure (links, levels, flags, locks, cosine norms).
  pub fn graph_bytes(&self) -> usize {
    use std::mem::size_of;
    self.links0.capacity() * size_of::<AtomicU32>()
      + self.links_up.capacity() * size_of::<AtomicU32>()
      + self.upper.capacity() * size_of::<(u32, u32)>()
      + self.levels.capacity()
      + self.deleted.capacity() * size_of::<AtomicBool>()
      + self.locks.capacity() * size_of::<Mutex<()>>()
      + self.inv_norms.capacity() * size_of::<f32>()
  }
}
