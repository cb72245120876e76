//! Bounded selection of the k nearest candidates.
//!
//! Order is by distance, then by key, so results are deterministic when distances tie (Fashion-MNIST
//! and WordNet both contain exact duplicates). `f32::total_cmp` gives a total order even if an
//! overflowing dot product produced ±Infinity, so sorting can never panic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One result: the user's key and its distance to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
  pub key: u64,
  pub distance: f32,
}

impl Neighbor {
  fn cmp_rank(&self, other: &Self) -> Ordering {
    self
      .distance
      .total_cmp(&other.distance)
      .then(self.key.cmp(&other.key))
  }
}

// Ord by rank so the max-heap's top is the current worst of the best k.
#[derive(Debug, Clone, Copy)]
struct Ranked(Neighbor);

impl PartialEq for Ranked {
  fn eq(&self, other: &Self) -> bool {
    self.cmp(other) == Ordering::Equal
  }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
  fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Ranked {
  fn cmp(&self, other: &Self) -> Ordering {
    self.0.cmp_rank(&other.0)
  }
}

/// Keeps the `k` best neighbours seen so far.
#[derive(Debug)]
pub struct TopK {
  k: usize,
  heap: BinaryHeap<Ranked>,
  /// Distance of the current worst kept entry once the heap is full (`+∞` before), so most
  /// candidates are rejected with one float comparison.
  bound: f32,
}

impl TopK {
  pub fn new(k: usize) -> Self {
    TopK {
      k,
      heap: BinaryHeap::with_capacity(k.min(4096) + 1),
      bound: f32::INFINITY,
    }
  }

  /// Offers a candidate.
  #[inline]
  pub fn push(&mut self, key: u64, distance: f32) {
    if self.k == 0 || distance > self.bound {
      return;
    }
    let cand = Ranked(Neighbor { key, distance });
    if self.heap.len() < self.k {
      self.heap.push(cand);
    } else if let Some(mut top) = self.heap.peek_mut() {
      if cand < *top {
        *top = cand;
      }
    }
    if self.heap.len() == self.k {
      if let Some(top) = self.heap.peek() {
        self.bound = top.0.distance;
      }
    }
  }

  /// Merges another selection into this one.
  pub fn merge(&mut self, other: TopK) {
    for r in other.heap {
      self.push(r.0.key, r.0.distance);
    }
  }

  /// The kept neighbours, nearest first.
  pub fn into_sorted(self) -> Vec<Neighbor> {
    self.heap.into_sorted_vec().into_iter().map(|r| r.0).collect()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn keeps_the_k_smallest_with_key_tiebreak() {
    let mut t = TopK::new(3);
    for (k, d) in [
      (5, 1.0),
      (4, 1.0),
      (9, 0.5),
      (1, 2.0),
      (2, 1.0),
      (3, f32::INFINITY),
    ] {
      t.push(k, d);
    }
    let got: Vec<(u64, f32)> = t.into_sorted().iter().map(|n| (n.key, n.distance)).collect();
    assert_eq!(got, vec![(9, 0.5), (2, 1.0), (4, 1.0)]);
  }

  #[test]
  fn merge_equals_single_pass() {
    let (mut a, mut b, mut all) = (TopK::new(4), TopK::new(4), TopK::new(4));
    for i in 0..50u64 {
      let d = ((i * 37) % 11) as f32;
      if i % 2 == 0 {
        a.push(i, d)
      } else {
        b.push(i, d)
      }
      all.push(i, d);
    }
    a.merge(b);
    assert_eq!(a.into_sorted(), all.into_sorted());
  }

  #[test]
  fn zero_k_keeps_nothing() {
    let mut t = TopK::new(0);
    t.push(1, 0.0);
    assert!(t.into_sorted().is_empty());
  }
}
