//! The graph walks shared by search and insert (HNSW paper, Malkov & Yashunin 2018, algorithms 2 and 4),
//! and [`Scorer`], the one place where the walks turn (query, node) into a distance.

use std::cmp::Reverse;

use super::graph::Graph;
use super::visited::{Cand, Scratch};
use crate::metric::{cosine_from_dot, Element, Finish, Kernel, Metric, RawKernel};
use crate::quant::Quantizer;
use crate::topk::{Neighbor, TopK};
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

/// What the walks score on: a representation of every node (the stored rows, or quantised codes)
/// and how a query is prepared against it. Resolved once per search or batch (never per pair), so
/// each walk is compiled once per representation and the f32 path is the same code it always was.
pub(crate) trait Repr: Sync {
  /// The element type of queries (the index's row type).
  type Elem: Element;
  /// A query prepared for scoring (a borrowed row plus its norm, a quantised copy, a lookup table…).
  type Query<'a>
  where
    Self: 'a;

  /// Prepares an external query (a validated row).
  fn prepare<'a>(&'a self, q: &'a [Self::Elem]) -> Self::Query<'a>;

  /// Prepares node `slot` as a query against the other nodes (insert, the heuristic, compaction).
  fn prepare_node(&self, slot: u32) -> Self::Query<'_>;

  /// The distance (or code score: smaller is closer) from a prepared query to node `slot`.
  fn score(&self, q: &Self::Query<'_>, slot: u32) -> f32;

  /// Starts loading what [`Repr::score`] will read for `slot`.
  fn prefetch(&self, slot: u32);

  /// Whether three nodes at exactly score `d` from each other are copies (see [`Space::copies_at`]).
  fn copies_at(&self, d: f32) -> bool;

  /// A search's results from the walk's `found` candidates (slots with their scores): the nearest
  /// `k` by key. `query` is the raw query, for representations that rescore exactly.
  fn results(
    &self,
    query: &[Self::Elem],
    found: &mut dyn Iterator<Item = Cand>,
    keys: &[u64],
    k: usize,
  ) -> Vec<Neighbor>;

  /// [`Repr::results`] for candidates already ranked by key (exact fallback): `found` holds at most
  /// [`Repr::candidates`] `(key, score)` pairs, nearest first; `slot_of` finds a key's slot.
  fn results_keyed(
    &self,
    query: &[Self::Elem],
    found: Vec<Neighbor>,
    slot_of: &dyn Fn(u64) -> Option<u32>,
    k: usize,
  ) -> Vec<Neighbor>;

  /// How many walk candidates [`Repr::results`] wants for `k` results (the beam is widened to hold
  /// them).
  fn candidates(&self, k: usize) -> usize {
    k
  }
}

/// The stored rows themselves, scored with the metric's kernel: the unquantised representation.
pub(crate) struct Exact<'g, T: Element> {
  g: &'g Graph<T>,
  space: Space<T>,
}

impl<'g, T: Element> Exact<'g, T> {
  pub fn new(g: &'g Graph<T>, space: Space<T>) -> Self {
    Exact { g, space }
  }
}

impl<T: Element> Repr for Exact<'_, T> {
  type Elem = T;
  /// The row and (cosine) its inverse norm.
  type Query<'a>
    = (&'a [T], f32)
  where
    Self: 'a;

  /// Cosine is scored as one dot product times the two inverse norms (the query's computed here
  /// once, the node's stored at insert), not simsimd's `cos`, which computes three products per pair.
  #[inline]
  fn prepare<'a>(&'a self, q: &'a [T]) -> (&'a [T], f32) {
    let q_inv = if self.space.finish == Finish::Cosine {
      T::inv_norm(q)
    } else {
      0.0
    };
    (q, q_inv)
  }

  #[inline]
  fn prepare_node(&self, slot: u32) -> (&[T], f32) {
    (self.g.vector(slot), self.g.inv_norm(slot))
  }

  #[inline]
  fn score(&self, q: &(&[T], f32), slot: u32) -> f32 {
    let r = (self.space.raw)(q.0, self.g.vector(slot));
    match self.space.finish {
      Finish::Raw => r as f32,
      Finish::OneMinus => (1.0 - r) as f32,
      Finish::Cosine => cosine_from_dot(r, q.1, self.g.inv_norm(slot)),
    }
  }

  #[inline]
  fn prefetch(&self, slot: u32) {
    self.g.prefetch_vector(slot);
  }

  #[inline]
  fn copies_at(&self, d: f32) -> bool {
    self.space.copies_at(d)
  }

  fn results(
    &self,
    _query: &[T],
    found: &mut dyn Iterator<Item = Cand>,
    keys: &[u64],
    k: usize,
  ) -> Vec<Neighbor> {
    let mut top = TopK::new(k);
    for c in found {
      top.push(keys[c.id as usize], c.d);
    }
    top.into_sorted()
  }

  fn results_keyed(
    &self,
    _q: &[T],
    mut found: Vec<Neighbor>,
    _slot_of: &dyn Fn(u64) -> Option<u32>,
    k: usize,
  ) -> Vec<Neighbor> {
    found.truncate(k);
    found
  }
}

/// Quantised codes stored per slot beside the graph (`Graph::codes`), scored with the quantiser;
/// results are rescored exactly from the originals when the options ask for it and they are kept.
pub(crate) struct Coded<'g, T: Element, Q: Quantizer> {
  q: &'g Q,
  codes: &'g [u8],
  cl: usize,
  dim: usize,
  /// The originals, when kept (for rescoring and for preparing nodes without decoding).
  rows: Option<&'g [f32]>,
  /// Code scores are integers (binary Hamming): only 0 marks copies.
  integer_scores: bool,
  /// Exact rescoring: the f32 kernel and how many candidates per result; `None`: code distances.
  rescore: Option<(Kernel<f32>, f32)>,
  _t: std::marker::PhantomData<T>,
}

impl<'g, T: Element, Q: Quantizer> Coded<'g, T, Q> {
  /// `oversample`: the options' rescoring factor (ignored without originals).
  pub fn new(q: &'g Q, g: &'g Graph<T>, integer_scores: bool, rescore: Option<(Kernel<f32>, f32)>) -> Self {
    let rows = if g.rows_kept {
      T::as_f32(g.vectors.as_slice())
    } else {
      None
    };
    Coded {
      q,
      codes: &g.codes,
      cl: q.code_len(),
      dim: q.dim(),
      rescore: rescore.filter(|_| rows.is_some()),
      rows,
      integer_scores,
      _t: std::marker::PhantomData,
    }
  }

  #[inline]
  fn code(&self, slot: u32) -> &[u8] {
    let s = slot as usize * self.cl;
    &self.codes[s..s + self.cl]
  }
}

impl<T: Element, Q: Quantizer> Repr for Coded<'_, T, Q> {
  type Elem = T;
  type Query<'a>
    = Q::Query
  where
    Self: 'a;

  fn prepare<'a>(&'a self, q: &'a [T]) -> Q::Query {
    // Only f32 indexes are ever quantised (`QuantSpec::check`); the zero row is unreachable.
    match T::as_f32(q) {
      Some(x) => self.q.prepare(x),
      None => self.q.prepare(&vec![0.0; self.dim]),
    }
  }

  fn prepare_node(&self, slot: u32) -> Q::Query {
    match self.rows {
      Some(rows) => {
        let s = slot as usize * self.dim;
        self.q.prepare(&rows[s..s + self.dim])
      }
      None => {
        // Originals dropped: the node's code stands for it.
        let mut v = vec![0.0; self.dim];
        self.q.decode(self.code(slot), &mut v);
        self.q.prepare(&v)
      }
    }
  }

  #[inline]
  fn score(&self, q: &Q::Query, slot: u32) -> f32 {
    self.q.score(q, self.code(slot))
  }

  #[inline]
  fn prefetch(&self, slot: u32) {
    if let Some(code) = self.codes.get(slot as usize * self.cl..) {
      super::graph::prefetch(code.as_ptr().cast(), self.cl.min(super::graph::PREFETCH_BYTES));
    }
  }

  #[inline]
  fn copies_at(&self, d: f32) -> bool {
    !self.integer_scores || d == 0.0
  }

  fn candidates(&self, k: usize) -> usize {
    match self.rescore {
      Some((_, oversample)) => crate::quant::candidates_for(k, oversample),
      None => k,
    }
  }

  fn results(
    &self,
    query: &[T],
    found: &mut dyn Iterator<Item = Cand>,
    keys: &[u64],
    k: usize,
  ) -> Vec<Neighbor> {
    let kc = self.candidates(k);
    let mut top = TopK::new(kc);
    for c in found {
      // Slots as keys, so rescoring finds the originals without a map lookup.
      top.push(u64::from(c.id), c.d);
    }
    let found = top.into_sorted();
    let slot_key = |nb: &Neighbor| keys[nb.key as usize];
    match (self.rescore, self.rows, T::as_f32(query)) {
      (Some((kernel, _)), Some(rows), Some(query)) => crate::quant::rescore(
        kernel,
        query,
        found.iter().map(|nb| {
          let s = nb.key as usize * self.dim;
          (slot_key(nb), &rows[s..s + self.dim])
        }),
        k,
      ),
      _ => crate::quant::code_results(self.q, found.iter().map(|nb| (slot_key(nb), nb.distance)), k),
    }
  }

  fn results_keyed(
    &self,
    query: &[T],
    found: Vec<Neighbor>,
    slot_of: &dyn Fn(u64) -> Option<u32>,
    k: usize,
  ) -> Vec<Neighbor> {
    match (self.rescore, self.rows, T::as_f32(query)) {
      (Some((kernel, _)), Some(rows), Some(query)) => crate::quant::rescore(
        kernel,
        query,
        found.iter().filter_map(|nb| {
          let s = slot_of(nb.key)? as usize * self.dim;
          Some((nb.key, &rows[s..s + self.dim]))
        }),
        k,
      ),
      _ => crate::quant::code_results(self.q, found.iter().map(|nb| (nb.key, nb.distance)), k),
    }
  }
}

/// A query prepared for scoring against the nodes of one graph: every distance the walks, the
/// heuristic and exact fallback compute goes through [`Scorer::score`], which asks the
/// representation ([`Repr`]: rows or quantised codes).
pub(crate) struct Scorer<'a, R: Repr + 'a> {
  r: &'a R,
  q: R::Query<'a>,
}

impl<'a, R: Repr + 'a> Scorer<'a, R> {
  /// Scores `q` (a row of `row_len` elements, validated by the caller) against the nodes.
  #[inline]
  pub fn query(r: &'a R, q: &'a [R::Elem]) -> Self {
    Scorer { r, q: r.prepare(q) }
  }

  /// Scores node `slot` against the other nodes.
  #[inline]
  pub fn node(r: &'a R, slot: u32) -> Self {
    Scorer {
      r,
      q: r.prepare_node(slot),
    }
  }

  /// The distance from the query to node `slot`.
  #[inline]
  pub fn score(&self, slot: u32) -> f32 {
    self.r.score(&self.q, slot)
  }

  /// Starts loading what [`Scorer::score`] will read for `slot`.
  #[inline]
  pub fn prefetch(&self, slot: u32) {
    self.r.prefetch(slot);
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
  pub(crate) fn greedy<R: Repr>(
    &self,
    sc: &Scorer<'_, R>,
    start: Cand,
    level: usize,
    s: &mut Scratch,
  ) -> Cand {
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
  pub(crate) fn search_layer<R: Repr>(
    &self,
    sc: &Scorer<'_, R>,
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
  pub(crate) fn select_heuristic<R: Repr>(
    &self,
    r: &R,
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
      let sc = Scorer::node(r, c.id);
      // The first kept neighbour that covers `c`, and whether it is an exact-tie copy of `c`.
      let cover = kept.iter().enumerate().find_map(|(i, k)| {
        let between = sc.score(k.id);
        if between < c.d {
          Some((i, false))
        } else if between == c.d && k.d == c.d && r.copies_at(c.d) {
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
