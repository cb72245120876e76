//! Per-search scratch space (visited set, heaps, buffers), pooled so a search allocates nothing.
//!
//! The visited set is an epoch-tagged array, as in hnswlib and instant-distance: a slot is visited
//! when `tags[slot] == epoch`. Starting a new search bumps the epoch instead of clearing the array, so
//! the reset is O(1); the array is wiped only when the epoch wraps. Tags are one byte, so the wipe
//! comes every 255 searches (a memset of one byte per node, small next to the ~1,000 rows a search
//! reads), and in exchange the array is a quarter of a `u32` one: the tag lookups are random
//! accesses, and with `u32` tags they were the walk's largest cost after the distances (perf, GloVe).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use parking_lot::Mutex;

/// A node and its distance to the query, ordered by distance, then slot (a total order, so heaps
/// never see an incomparable pair even if a dot product overflowed to ±∞).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand {
  pub d: f32,
  pub id: u32,
}

impl Cand {
  /// `(d, id)` as one integer with the same order as `f32::total_cmp` then id: the heaps compare
  /// candidates in their inner loops, and one `u64` compare is cheaper than two branches.
  #[inline]
  fn key(&self) -> u64 {
    let b = self.d.to_bits();
    // total_cmp's trick: flip the magnitude bits of negatives, then the sign bit, so unsigned
    // order of the bits is the numeric order (−NaN < −∞ < … < −0 < +0 < … < +∞ < NaN).
    let t = b ^ ((((b as i32) >> 31) as u32) >> 1) ^ 0x8000_0000;
    (u64::from(t) << 32) | u64::from(self.id)
  }
}

impl PartialEq for Cand {
  #[inline]
  fn eq(&self, other: &Self) -> bool {
    self.key() == other.key()
  }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
  #[inline]
  fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Cand {
  #[inline]
  fn cmp(&self, other: &Self) -> Ordering {
    self.key().cmp(&other.key())
  }
}

pub(crate) struct Visited {
  tags: Vec<u8>,
  epoch: u8,
}

impl Visited {
  fn new() -> Self {
    Visited {
      tags: Vec::new(),
      epoch: 0,
    }
  }

  /// Starts a new search over `n` slots.
  pub fn reset(&mut self, n: usize) {
    if self.tags.len() < n {
      // Grow with headroom so an index that keeps growing does not resize on every search.
      self.tags.resize(n + n / 4, 0);
    }
    self.epoch = self.epoch.wrapping_add(1);
    if self.epoch == 0 {
      self.tags.fill(0);
      self.epoch = 1;
    }
  }

  /// Marks `id` visited; returns true if it was not visited yet in this search.
  #[inline]
  pub fn insert(&mut self, id: u32) -> bool {
    match self.tags.get_mut(id as usize) {
      Some(t) if *t != self.epoch => {
        *t = self.epoch;
        true
      }
      Some(_) => false,
      // Out of range cannot happen (reset covers every slot); refusing is the safe answer.
      None => false,
    }
  }
}

/// Counters of one search, so tuning can be measured without a clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
  /// Distance computations (on every level).
  pub distances: u64,
  /// Nodes whose neighbour list was read (expanded), on every level.
  pub visited: u64,
  /// Whether the query was answered by exact search over the allowed keys instead of the graph.
  pub exact: bool,
}

/// Everything one search (or one insert) needs besides the graph.
pub(crate) struct Scratch {
  pub visited: Visited,
  /// Min-heap of nodes still to expand.
  pub candidates: BinaryHeap<Reverse<Cand>>,
  /// Max-heap of the best `ef` accepted nodes.
  pub results: BinaryHeap<Cand>,
  pub buf: Vec<u32>,
  pub stats: SearchStats,
  /// A slot the next `search_layer` call treats as already visited
  /// (never scored, expanded or returned). One-shot: that call takes it, so a pooled scratch can
  /// never carry it into a later search or an insert.
  pub skip: Option<u32>,
}

impl Scratch {
  fn new() -> Self {
    Scratch {
      visited: Visited::new(),
      candidates: BinaryHeap::new(),
      results: BinaryHeap::new(),
      buf: Vec::new(),
      stats: SearchStats::default(),
      skip: None,
    }
  }
}

/// Scratch spaces for reuse. Holds at most [`POOL_KEEP`] idle ones, so a burst of parallel searches
/// does not pin memory forever.
pub(crate) struct ScratchPool {
  free: Mutex<Vec<Scratch>>,
}

const POOL_KEEP: usize = 64;

impl ScratchPool {
  pub fn new() -> Self {
    ScratchPool {
      free: Mutex::new(Vec::new()),
    }
  }

  pub fn get(&self) -> PooledScratch<'_> {
    let s = self.free.lock().pop().unwrap_or_else(Scratch::new);
    PooledScratch {
      pool: self,
      scratch: s,
    }
  }

  /// Bytes held by idle scratch spaces (visited arrays dominate).
  pub fn bytes(&self) -> usize {
    self.free.lock().iter().map(|s| s.visited.tags.capacity()).sum()
  }
}

/// A scratch space that returns to its pool when dropped.
pub(crate) struct PooledScratch<'a> {
  pool: &'a ScratchPool,
  scratch: Scratch,
}

impl std::ops::Deref for PooledScratch<'_> {
  type Target = Scratch;
  fn deref(&self) -> &Scratch {
    &self.scratch
  }
}

impl std::ops::DerefMut for PooledScratch<'_> {
  fn deref_mut(&mut self) -> &mut Scratch {
    &mut self.scratch
  }
}

impl Drop for PooledScratch<'_> {
  fn drop(&mut self) {
    // An empty `Scratch` allocates nothing, so swapping one in is free.
    let s = std::mem::replace(&mut self.scratch, Scratch::new());
    let mut free = self.pool.free.lock();
    if free.len() < POOL_KEEP {
      free.push(s);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// The packed key orders exactly as `total_cmp` on the distance, then the slot.
  #[test]
  fn cand_order_is_total_cmp_then_id() {
    let ds = [
      f32::NAN,
      -f32::NAN,
      f32::NEG_INFINITY,
      -1.5,
      -f32::MIN_POSITIVE,
      -0.0,
      0.0,
      1e-45,
      0.5,
      2.0,
      f32::MAX,
      f32::INFINITY,
    ];
    let cands: Vec<Cand> = ds
      .iter()
      .flat_map(|&d| [0u32, 1, u32::MAX].map(|id| Cand { d, id }))
      .collect();
    for a in &cands {
      for b in &cands {
        assert_eq!(
          a.cmp(b),
          a.d.total_cmp(&b.d).then(a.id.cmp(&b.id)),
          "{a:?} vs {b:?}"
        );
      }
    }
  }
}
