//! The graph walks shared by search and insert (HNSW paper, Malkov & Yashunin 2018, algorithms 2 and 4),
//! and [`Scorer`], the one place where the walks turn (query, node) into a distance.

use std::cmp::Reverse;

use super::graph::Graph;
use super::visited::{Cand, Scratch};
use crate::metric::{cosine_from_dot, Element, Finish, Metric, RawKernel};
use crate::Result;

/// How an index scores pairs: resolved once per index from the metric.
#[derive(Clone, Copy)]
pub(crate) struct Space<T: Element> {
  raw: RawKernel<T>,
  finish: Finish,
}

impl<T: Element> Space<T> {
  pub fn new(metric: Metric) -> Result<Self> {
    let (raw, finish) = T::walk_kernel(metric)?;
    Ok(Space { raw, finish })
  }

  /// Whether the graph must keep per-node inverse norms for this space.
  pub fn needs_norms(&self) -> bool {
    self.finish == Finish::Cosine
  }

  /// Whether three nodes at exactly distance `d` from each other are copies of one vector. For
  /// `l2` and `hamming` a copy is at 0 exactly, and `hamming`'s integer distances tie often between
  /// different rows, so only 0 counts. `cosine` and `dot` compute d(x, x) with rounding or as
  /// 1 − ‖x‖², so any exact three-way tie counts (between distinct float rows it has measure zero).
  #[inline]
  pub fn copies_at(&self, d: f32) -> bool {
    self.finish != Finish::Raw || d == 0.0
  }
}

/// A query prepared for scoring against the nodes of one graph: every distance the walks, the
/// heuristic and exact fallback compute goes through [`Scorer::score`]. This is the seam where
/// another representation (quantised codes, a different kernel) plugs in.
///
/// Cosine is scored as one dot product times the two inverse norms (the query's computed here once,
/// the node's stored at insert), not simsimd's `cos`, which computes three products per pair.
pub(crate) struct Scorer<'a, T: Element> {
  g: &'a Graph<T>,
  space: Space<T>,
  q: &'a [T],
  q_inv: f32,
}

impl<'a, T: Element> Scorer<'a, T> {
  /// Scores `q` (a row of `g.row_len` elements, validated by the caller) against `g`'s nodes.
  pub fn query(g: &'a Graph<T>, space: Space<T>, q: &'a [T]) -> Self {
    let q_inv = if space.finish == Finish::Cosine {
      T::inv_norm(q)
    } else {
      0.0
    };
    Scorer { g, space, q, q_inv }
  }

  /// Scores node `slot` of `g` against the other nodes (its norm is already stored).
  pub fn node(g: &'a Graph<T>, space: Space<T>, slot: u32) -> Self {
    Scorer {
      g,
      space,
      q: g.vector(slot),
      q_inv: g.inv_norm(slot),
    }
  }

  /// The distance from the query to node `slot`.
  #[inline]
  pub fn score(&self, slot: u32) -> f32 {
    let r = (self.space.raw)(self.q, self.g.vector(slot));
    match self.space.finish {
      Finish::Raw => r as f32,
      Finish::OneMinus => (1.0 - r) as f32,
      Finish::Cosine => cosine_from_dot(r, self.q_inv, self.g.inv_norm(slot)),
    }
  }

  /// Starts loading what [`Scorer::score`] will read for `slot`.
  #[inline]
  pub fn prefetch(&self, slot: u32) {
    self.g.prefetch_vector(slot);
  }

  /// Scores `slots` in order, handing each `(slot, distance)` to `each`, with the rows
  /// [`PREFETCH_AHEAD`] places ahead already loading: the one loop both walks score neighbours with.
  #[inline(always)]
  fn score_each(&self, slots: &[u32], mut each: impl FnMut(u32, f32)) {
    for &n in slots.iter().take(PREFETCH_AHEAD) {
      self.prefetch(n);
    }
    for (i, &n) in slots.iter().enumerate() {
      if let Some(&next) = slots.get(i + PREFETCH_AHEAD) {
        self.prefetch(next);
      }
      each(n, self.score(n));
    }
  }
}

/// How many nodes ahead of the one being scored the walk prefetches rows. Measured in `bench/rust`
/// (ANALYSIS.md): far enough for a row to arrive while ~2–4 others are scored, near enough that it
/// is still in L1 when its turn comes.
const PREFETCH_AHEAD: usize = 2;

impl<T: Element> Graph<T> {
  /// Greedy descent on one upper level (the paper's SEARCH-LAYER with ef = 1): moves to the closest
  /// neighbour until no neighbour is closer. Returns the local minimum.
  pub(crate) fn greedy(&self, sc: &Scorer<'_, T>, start: Cand, level: usize, s: &mut Scratch) -> Cand {
    let mut cur = start;
    loop {
      let mut changed = false;
      self.walk_neighbours(cur.id, level, &mut s.buf);
      s.buf.retain(|&n| (n as usize) < self.len);
      s.stats.visited += 1;
      s.stats.distances += s.buf.len() as u64;
      sc.score_each(&s.buf, |n, d| {
        // Ties move to the smaller slot, so the walk is deterministic and cannot cycle.
        let c = Cand { d, id: n };
        if c < cur {
          cur = c;
          changed = true;
        }
      });
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
  ///
  /// `s.skip` (taken by this call) is marked visited before the walk starts: unlike a rejected
  /// node it is not even expanded, as if it were not in the graph (`SearchOptions::exclude`).
  // The walk needs all of these and they differ per call; bundling them would only rename them.
  #[allow(clippy::too_many_arguments)]
  pub(crate) fn search_layer(
    &self,
    sc: &Scorer<'_, T>,
    entries: &[Cand],
    ef: usize,
    level: usize,
    accept: &dyn Fn(u32) -> bool,
    s: &mut Scratch,
  ) {
    s.visited.reset(self.len);
    if let Some(x) = s.skip.take() {
      s.visited.insert(x);
    }
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
      // The next node to expand is probably the current best candidate: start loading its list.
      if level == 0 {
        if let Some(Reverse(next)) = s.candidates.peek() {
          self.prefetch_links0(next.id);
        }
      }
      self.walk_neighbours(c.id, level, &mut s.buf);
      s.stats.visited += 1;
      // Marking visited first leaves only the rows that will be scored, so the prefetches below
      // are never wasted on a node already seen.
      let (len, visited) = (self.len, &mut s.visited);
      s.buf.retain(|&n| (n as usize) < len && visited.insert(n));
      s.stats.distances += s.buf.len() as u64;
      let (results, candidates) = (&mut s.results, &mut s.candidates);
      sc.score_each(&s.buf, |n, d| {
        let full = results.len() >= ef;
        if full && results.peek().is_some_and(|w| d > w.d) {
          return;
        }
        let cand = Cand { d, id: n };
        candidates.push(Reverse(cand));
        if accept(n) {
          if !full {
            results.push(cand);
          } else if let Some(mut worst) = results.peek_mut() {
            // Same set as push-then-pop, with one sift instead of two.
            if cand < *worst {
              *worst = cand;
            }
          }
        }
      });
    }
  }

  /// Neighbour selection by the paper's heuristic (algorithm 4, without extending candidates or
  /// keeping pruned ones, as hnswlib does): walking `sorted` from nearest to farthest, keep a
  /// candidate only if it is closer to the base than to every neighbour kept so far. This spreads
  /// links across directions instead of spending them all on one tight cluster, which is what keeps
  /// the graph navigable on clustered data.
  ///
  /// Ties: a candidate exactly as far from a kept neighbour as from the base is kept (a neighbour
  /// that is not closer does not cover it), unless the two are also exactly as far from the base,
  /// which is what exact duplicates are. Without that exception every copy of a vector passes
  /// against every other copy, a node with `m` or more copies around it links to nothing but them,
  /// and the group becomes a pit the walks cannot leave (module doc, "Duplicates"). With it, a
  /// node keeps one copy of each vector and its other links go elsewhere, and a duplicate never
  /// hides a different vector from the base (it is as far from that vector as the base is).
  ///
  /// `room`: when selecting the links of a node being inserted on that level, the one copy kept
  /// of a group of duplicates is the one with the shortest list there (ties: the first in `sorted`),
  /// so its reverse link lands without pruning and a large group is linked as a chain instead of
  /// every newcomer competing for the slots of the group's first member.
  pub(crate) fn select_heuristic(
    &self,
    space: Space<T>,
    sorted: &[Cand],
    m: usize,
    room: Option<usize>,
    out: &mut Vec<u32>,
  ) {
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
      let sc = Scorer::node(self, space, c.id);
      // The first kept neighbour that covers `c`, and whether it is an exact-tie copy of `c`.
      let cover = kept.iter().enumerate().find_map(|(i, k)| {
        let between = sc.score(k.id);
        if between < c.d {
          Some((i, false))
        } else if between == c.d && k.d == c.d && space.copies_at(c.d) {
          Some((i, true))
        } else {
          None
        }
      });
      match cover {
        None => kept.push(c),
        Some((i, true)) => {
          if let Some(level) = room {
            if self.degree(c.id, level) < self.degree(kept[i].id, level) {
              kept[i] = c;
            }
          }
        }
        Some((_, false)) => {}
      }
    }
    out.extend(kept.iter().map(|c| c.id));
  }
}
