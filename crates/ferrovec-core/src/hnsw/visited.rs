//! Per-search scratch space (visited set, heaps, buffers), pooled so a search allocates nothing.
//!
//! The visited set is an epoch-tagged array, as in hnswlib and instant-distance: a slot is visited
//! when `tags[slot] == epoch`. Starting a new search bumps the epoch instead of clearing the array, so
//! the reset is O(1); the array is wiped only when the `u32` epoch wraps (once per 4 billion searches).

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

impl PartialEq for Cand {
  fn eq(&self, other: &Self) -> bool {
    self.cmp(other) == Ordering::Equal
  }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
  fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Cand {
  fn cmp(&self, other: &Self) -> Ordering {
    self.d.total_cmp(&other.d).then(self.id.cmp(&other.id))
  }
}

pub(crate) struct Visited {
  tags: Vec<u32>,
  epoch: u32,
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
}

impl Scratch {
  fn new() -> Self {
    Scratch {
      visited: Visited::new(),
      candidates: BinaryHeap::new(),
      results: BinaryHeap::new(),
      buf: Vec::new(),
      stats: SearchStats::default(),
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
    self
      .free
      .lock()
      .iter()
      .map(|s| s.visited.tags.capacity() * 4)
      .sum()
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
