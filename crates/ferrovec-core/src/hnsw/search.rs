//! The graph walks shared by search and insert (HNSW paper, Malkov & Yashunin 2018, algorithms 2 and 4).

use std::cmp::Reverse;

use super::graph::Graph;
use super::visited::{Cand, Scratch};
use crate::metric::{Element, Kernel};

impl<T: Element> Graph<T> {
  /// Greedy descent on one upper level (the paper's SEARCH-LAYER with ef = 1): moves to the closest
  /// neighbour until no neighbour is closer. Returns the local minimum.
  pub(crate) fn greedy(
    &self,
    kernel: Kernel<T>,
    q: &[T],
    start: Cand,
    level: usize,
    s: &mut Scratch,
  ) -> Cand {
    let mut cur = start;
    loop {
      let mut changed = false;
      self.neighbours_into(cur.id, level, &mut s.buf);
      s.stats.visited += 1;
      for &n in &s.buf {
        if n as usize >= self.len {
          continue;
        }
        let d = kernel(q, self.vector(n));
        s.stats.distances += 1;
        // Ties move to the smaller slot, so the walk is deterministic and cannot cycle.
        let c = Cand { d, id: n };
        if c < cur {
          cur = c;
          changed = true;
        }
      }
      if !changed {
        return cur;
      }
    }
  }

  /// Beam search on one level (the paper's SEARCH-LAYER, algorithm 2) from `entries`, keeping the
  /// best `ef` nodes for which `accept` holds in `s.results`.
  ///
  /// Nodes that are not accepted (deleted, filtered out, or the node being inserted) are still
  /// expanded, so they keep routing the walk; they are just never results. The walk stops when the
  /// closest unexpanded candidate is farther than the worst of `ef` accepted results, so with a
  /// selective filter it goes on until it has found `ef` accepted nodes or run out of graph.
  // The walk needs all of these and they differ per call; bundling them would only rename them.
  #[allow(clippy::too_many_arguments)]
  pub(crate) fn search_layer(
    &self,
    kernel: Kernel<T>,
    q: &[T],
    entries: &[Cand],
    ef: usize,
    level: usize,
    accept: &dyn Fn(u32) -> bool,
    s: &mut Scratch,
  ) {
    s.visited.reset(self.len);
    s.candidates.clear();
    s.results.clear();
    for &e in entries {
      if !s.visited.insert(e.id) {
        continue;
      }
      s.candidates.push(Reverse(e));
      if accept(e.id) {
        s.results.push(e);
        if s.results.len() > ef {
          s.results.pop();
        }
      }
    }
    while let Some(Reverse(c)) = s.candidates.pop() {
      if s.results.len() >= ef && s.results.peek().is_some_and(|w| c.d > w.d) {
        break;
      }
      self.neighbours_into(c.id, level, &mut s.buf);
      s.stats.visited += 1;
      for i in 0..s.buf.len() {
        let n = s.buf[i];
        if n as usize >= self.len || !s.visited.insert(n) {
          continue;
        }
        let d = kernel(q, self.vector(n));
        s.stats.distances += 1;
        let full = s.results.len() >= ef;
        if full && s.results.peek().is_some_and(|w| d > w.d) {
          continue;
        }
        let cand = Cand { d, id: n };
        s.candidates.push(Reverse(cand));
        if accept(n) {
          s.results.push(cand);
          if s.results.len() > ef {
            s.results.pop();
          }
        }
      }
    }
  }

  /// Neighbour selection by the paper's heuristic (algorithm 4, without extending candidates or
  /// keeping pruned ones, as hnswlib does): walking `sorted` from nearest to farthest, keep a
  /// candidate only if it is closer to the base than to every neighbour kept so far. This spreads
  /// links across directions instead of spending them all on one tight cluster, which is what keeps
  /// the graph navigable on clustered data.
  pub(crate) fn select_heuristic(&self, kernel: Kernel<T>, sorted: &[Cand], m: usize, out: &mut Vec<u32>) {
    out.clear();
    if sorted.len() <= m {
      // Everything fits; pruning would only throw links away.
      out.extend(sorted.iter().map(|c| c.id));
      return;
    }
    let mut kept: Vec<Cand> = Vec::with_capacity(m);
    for &c in sorted {
      if kept.len() >= m {
        break;
      }
      let vc = self.vector(c.id);
      if kept.iter().all(|k| kernel(vc, self.vector(k.id)) >= c.d) {
        kept.push(c);
      }
    }
    out.extend(kept.iter().map(|c| c.id));
  }
}
