//! The graph walks shared by search and insert (HNSW paper, Malkov & Yashunin 2018, algorithms 2 and 4),
//! and [`Scorer`], the one place where the walks turn (query, node) into a distance.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::graph::Graph;
use super::visited::{Cand, Scratch};
use crate::metric::{cosine_from_dot, Element, Finish, Kernel, Metric, RawKernel};
use crate::quant::Quantizer;
use crate::tile::BeyondKernel;
use crate::topk::{Neighbor, TopK};
use crate::Result;

/// How an index scores pairs: resolved once per index from the metric.
#[derive(Clone, Copy)]
pub(crate) struct Space<T: Element> {
  raw: RawKernel<T>,
  finish: Finish,
  /// The early-abandoning check, for cosine f32 rows ([`Repr::beyond`]).
  beyond: Option<BeyondKernel>,
}

impl<T: Element> Space<T> {
  pub fn new(metric: Metric) -> Result<Self> {
    let (raw, finish) = T::walk_kernel(metric)?;
    // Cosine only. `dot` has no bound a partial sum could prove. `l2` has one (the partial sum of
    // squared differences) and the same code would check it, but on Fashion-MNIST (784-d pixels,
    // whose first stretch is mostly identical background) the check cost 5–25% per query at ef 64
    // in three interleaved runs and never paid.
    let beyond = (finish == Finish::Cosine)
      .then(crate::tile::beyond_kernel)
      .flatten();
    Ok(Space { raw, finish, beyond })
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

  /// Whether node `slot` is provably farther than `bound` from the query, found out from as
  /// little of its row as possible. `false` means "not proven": score it. Never `true` for a node
  /// [`Repr::score`] would put at `bound` or nearer, so the walks' decisions do not change.
  #[inline]
  fn beyond(&self, _q: &Self::Query<'_>, _slot: u32, _bound: f32) -> bool {
    false
  }

  /// Whether three nodes at exactly score `d` from each other are copies (see [`Space::copies_at`]).
  fn copies_at(&self, d: f32) -> bool;

  /// Whether [`Repr::prepare_node`] is costly enough that the neighbour heuristic should prepare
  /// the few neighbours it keeps rather than every candidate it weighs (see `select_heuristic`).
  fn costly_node_queries(&self) -> bool {
    false
  }

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

  /// Only rows of [`BEYOND_MIN_DIM`] or more are checked.
  ///
  /// Cosine (the only space [`Space::new`] gives a check): of the rows scaled by their inverse
  /// norms, `‖q̂ − r̂‖² = 2 − 2·q̂·r̂ = 2·d`, so the partial sum of squared differences bounds twice
  /// the distance (zero rows, whose distances are fixed by rule, are just scored).
  /// The limit carries slack for the different rounding of the two computations (≤ ~1e-5 at
  /// 1,536 dims): a node within it is scored exactly, which costs only time.
  #[inline]
  fn beyond(&self, q: &(&[T], f32), slot: u32, bound: f32) -> bool {
    const REL: f32 = 1e-3;
    const ABS: f32 = 1e-4;
    let Some(check) = self.space.beyond else {
      return false;
    };
    let (Some(a), Some(b)) = (T::as_f32(q.0), T::as_f32(self.g.vector(slot))) else {
      return false;
    };
    if a.len() < BEYOND_MIN_DIM {
      return false;
    }
    let (qi, ri) = (q.1, self.g.inv_norm(slot));
    qi != 0.0 && ri != 0.0 && check(a, qi, b, ri, 2.0 * bound * (1.0 + REL) + ABS)
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
    if let Some(q) = self.q.prepare_code(self.code(slot)) {
      return q;
    }
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

  fn costly_node_queries(&self) -> bool {
    Q::COSTLY_PREPARE
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

/// Rows shorter than this are always scored whole. Measured in `bench/rust` (single-thread CPU time
/// per query; bench/ANALYSIS.md has the table): on clustered 10k cosine the check paid at 768 dims
/// (ef 64: 93–107 µs against 147–197 µs), on GloVe-100 it cost (ef 10: 20–21 µs against 15), and
/// at 384 it hinted at ~15% on clustered data only, through noise as large. A short row is a few
/// cache lines, where the arithmetic done twice (check, then the exact score) outweighs the memory
/// left unread.
const BEYOND_MIN_DIM: usize = 512;

/// A query prepared for scoring against the nodes of one graph: every distance the walks, the
/// heuristic and exact fallback compute goes through [`Scorer::score`], which asks the
/// representation ([`Repr`]: rows or quantised codes).
pub(crate) struct Scorer<'a, R: Repr + 'a> {
  r: &'a R,
  q: R::Query<'a>,
  /// Whether the walks may skip rows [`Repr::beyond`] proves too far: for searches only. A build's
  /// beam (efConstruction) keeps more of what it scores, so the check would mostly be paid for
  /// nothing (measured on 10k 768-d rows: single-thread builds 3.7–4.1 s with it, 3.5–3.6 s without).
  bounded: bool,
}

impl<'a, R: Repr + 'a> Scorer<'a, R> {
  /// Scores `q` (a row of `row_len` elements, validated by the caller) against the nodes.
  #[inline]
  pub fn query(r: &'a R, q: &'a [R::Elem]) -> Self {
    Scorer {
      r,
      q: r.prepare(q),
      bounded: true,
    }
  }

  /// Scores node `slot` against the other nodes.
  #[inline]
  pub fn node(r: &'a R, slot: u32) -> Self {
    Scorer {
      r,
      q: r.prepare_node(slot),
      bounded: false,
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
  ///
  /// `bound`: a distance beyond which the caller discards a node (∞: none yet); `each` returns the
  /// bound after taking its node. Nodes [`Repr::beyond`] proves farther are skipped unscored: the
  /// caller would have discarded them.
  #[inline(always)]
  fn score_each(&self, slots: &[u32], mut bound: f32, mut each: impl FnMut(u32, f32) -> f32) {
    for &n in slots.iter().take(PREFETCH_AHEAD) {
      self.prefetch(n);
    }
    for (i, &n) in slots.iter().enumerate() {
      if let Some(&next) = slots.get(i + PREFETCH_AHEAD) {
        self.prefetch(next);
      }
      if self.bounded && bound < f32::INFINITY && self.r.beyond(&self.q, n, bound) {
        continue;
      }
      bound = each(n, self.score(n));
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
      // A node farther than the current one is never taken.
      sc.score_each(&s.buf, cur.d, |n, d| {
        // Ties move to the smaller slot, so the walk is deterministic and cannot cycle.
        let c = Cand { d, id: n };
        if c < cur {
          cur = c;
          changed = true;
        }
        cur.d
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
      // Once `ef` results are held, a node farther than the worst of them is discarded.
      let bound = |r: &BinaryHeap<Cand>| match r.peek() {
        Some(w) if r.len() >= ef => w.d,
        _ => f32::INFINITY,
      };
      let start = bound(results);
      sc.score_each(&s.buf, start, |n, d| {
        let full = results.len() >= ef;
        if full && results.peek().is_some_and(|w| d > w.d) {
          return bound(results);
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
        bound(results)
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
    // The distance between a candidate and a kept neighbour can be scored from either side. Scoring
    // from the candidate prepares every candidate weighed (up to efConstruction of them); when
    // preparing is costly (PQ: a 10k × 512 build took 134 s, 30 s with this), each kept neighbour
    // (at most `m`) is prepared once instead. Either side is the same distance for exact rows; for
    // PQ both are the same kind of estimate. Other representations keep the candidate's side, so
    // their graphs stay as they were, bit for bit.
    let mut kept_scorers: Vec<Scorer<'_, R>> = Vec::new();
    let flip = r.costly_node_queries();
    for &c in sorted {
      if kept.len() >= m {
        break;
      }
      let sc = (!flip).then(|| Scorer::node(r, c.id));
      // The first kept neighbour that covers `c`, and whether it is an exact-tie copy of `c`.
      let cover = kept.iter().enumerate().find_map(|(i, k)| {
        let between = match (&sc, kept_scorers.get(i)) {
          (Some(sc), _) => sc.score(k.id),
          (None, Some(ks)) => ks.score(c.id),
          (None, None) => return None,
        };
        if between < c.d {
          Some((i, false))
        } else if between == c.d && k.d == c.d && r.copies_at(c.d) {
          Some((i, true))
        } else {
          None
        }
      });
      match cover {
        None => {
          kept.push(c);
          if flip {
            kept_scorers.push(Scorer::node(r, c.id));
          }
        }
        Some((i, true)) => {
          if let Some(level) = room {
            if self.degree(c.id, level) < self.degree(kept[i].id, level) {
              kept[i] = c;
              if let Some(ks) = kept_scorers.get_mut(i) {
                *ks = Scorer::node(r, c.id);
              }
            }
          }
        }
        Some((_, false)) => {}
      }
    }
    out.extend(kept.iter().map(|c| c.id));
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::hnsw::{HnswIndex, HnswParams};
  use rand::{Rng, SeedableRng};
  use rand_chacha::ChaCha8Rng;

  /// Seeded clustered rows (16 centres, Gaussian spread), the shape on which the check skips most.
  fn clustered(r: &mut ChaCha8Rng, n: usize, dim: usize) -> Vec<f32> {
    let centres: Vec<f32> = (0..16 * dim).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
      let c = r.random_range(0..16usize);
      for j in 0..dim {
        out.push(centres[c * dim + j] + r.random_range(-0.3f32..0.3));
      }
    }
    out
  }

  /// One level-0 walk from the entry point, with or without the early-abandoning check.
  fn walk(idx: &HnswIndex<f32>, q: &[f32], ef: usize, bounded: bool) -> (Vec<Cand>, u64) {
    let g = idx.graph.read();
    let r = Exact::new(&g, idx.space);
    let mut sc = Scorer::query(&r, q);
    sc.bounded = bounded;
    let mut s = idx.pool.get();
    s.stats = Default::default();
    let Some(ep) = *idx.entry.read() else {
      return (Vec::new(), 0);
    };
    let mut cur = Cand {
      d: sc.score(ep.node),
      id: ep.node,
    };
    for lc in (1..=usize::from(ep.level)).rev() {
      cur = g.greedy(&sc, cur, lc, &mut s);
    }
    g.search_layer(&sc, &[cur], ef, 0, &|_| true, &mut s);
    let mut out: Vec<Cand> = s.results.drain().collect();
    out.sort_unstable();
    (out, s.stats.visited)
  }

  /// The check only skips rows the walk would have discarded: with and without it, every walk
  /// expands the same nodes and keeps the same results, bit for bit.
  #[test]
  fn early_abandoning_changes_no_walk() {
    let dim = 768;
    let mut r = ChaCha8Rng::seed_from_u64(41);
    let data = clustered(&mut r, 1500, dim);
    let mut p = HnswParams::new(dim, Metric::Cosine);
    p.build_threads = 1;
    p.seed = 41;
    let idx = HnswIndex::<f32>::new(p).unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<u64> = (0..1500).collect();
    idx
      .add_batch(&keys, &data, false)
      .unwrap_or_else(|e| panic!("{e}"));
    let queries = clustered(&mut r, 40, dim);
    for (qi, q) in queries.chunks_exact(dim).enumerate() {
      for ef in [1, 10, 64, 300] {
        assert_eq!(
          walk(&idx, q, ef, true),
          walk(&idx, q, ef, false),
          "query {qi}, ef {ef}"
        );
      }
    }
  }

  /// The check never proves a row farther than a bound it is within (over every row and a spread
  /// of bounds around its distance), and it does prove the clearly farther ones.
  #[test]
  fn early_abandoning_is_safe_and_fires() {
    let Some(check) = crate::tile::beyond_kernel() else {
      return; // no AVX2+FMA: walks never check
    };
    let dim = 1536;
    let mut r = ChaCha8Rng::seed_from_u64(43);
    let rows = clustered(&mut r, 300, dim);
    let q = &rows[..dim];
    let inv = |x: &[f32]| f32::inv_norm(x);
    let (qi, space) = (
      inv(q),
      Space::<f32>::new(Metric::Cosine).unwrap_or_else(|e| panic!("{e}")),
    );
    let mut fired = 0;
    for row in rows.chunks_exact(dim).skip(1) {
      let d = cosine_from_dot((space.raw)(q, row), qi, inv(row));
      for scale in [0.5f32, 0.9, 0.999, 1.0, 1.001, 1.1, 2.0] {
        let bound = d * scale;
        let proven = check(q, qi, row, inv(row), 2.0 * bound * 1.001 + 1e-4);
        assert!(!(proven && d <= bound), "row at {d} proven beyond {bound}");
        fired += usize::from(proven && scale <= 0.5);
      }
    }
    assert!(
      fired > 100,
      "the check proved only {fired} of 299 rows beyond half their distance"
    );
  }
}
