//! Insertion (HNSW paper, algorithm 1), level sampling, and compaction.
//!
//! Inserting runs under the index's *read* lock: the node's vector and empty lists were already
//! stored by the serial phase of `add_batch`, so linking only rewrites neighbour lists, each under its
//! own node lock. Several inserts (rayon workers) and any number of searches run at once; none of them
//! holds anything global while computing distances, except an insert that raises the top level, which
//! holds `top_lock` (as hnswlib does) so two new top nodes cannot race for the entry point.

use super::graph::{Graph, MAX_LEVEL};
use super::search::{Repr, Scorer};
use super::visited::{Cand, Scratch};
use super::{Entry, HnswIndex};
use crate::error::Result;
use crate::metric::Element;

/// SplitMix64: tiny, seedable, and good enough for level sampling. Kept in-crate so the engine has
/// no RNG dependency and the stream never changes under a dependency upgrade (levels are part of
/// what makes a seeded build reproducible).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
  pub fn new(seed: u64) -> Self {
    SplitMix64(seed)
  }

  /// The generator's state: a generator made with `new(state)` continues the same stream (so a
  /// saved and reloaded index draws the same levels as one that was never saved).
  pub fn state(&self) -> u64 {
    self.0
  }

  pub fn next_u64(&mut self) -> u64 {
    self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = self.0;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
  }

  /// Uniform in (0, 1]: never 0, so `ln` is finite.
  pub fn next_unit(&mut self) -> f64 {
    ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
  }

  /// A level from the paper's exponential distribution: ⌊−ln(U)·mL⌋ with mL = 1/ln(m).
  pub fn level(&mut self, ml: f64) -> u8 {
    let l = (-self.next_unit().ln() * ml).floor();
    if l >= f64::from(MAX_LEVEL) {
      MAX_LEVEL
    } else {
      l as u8
    }
  }
}

impl<T: Element> HnswIndex<T> {
  /// Links `q` (already stored, with its level) into the graph. Also used to re-link an upserted
  /// node: its lists are replaced, and links other nodes hold to it stay (they still lead to it).
  pub(crate) fn insert<R: Repr>(&self, g: &Graph<T>, r: &R, q: u32, s: &mut Scratch) {
    let level = g.level(q);
    let sq = Scorer::node(r, q);

    // The first node becomes the entry point; `top_lock` makes "first" well defined when several
    // workers start on an empty index.
    let mut entry = *self.entry.read();
    let mut _top_guard = None;
    if entry.is_none_or(|e| level > usize::from(e.level)) {
      _top_guard = Some(self.top_lock.lock());
      entry = *self.entry.read();
      if entry.is_none() {
        *self.entry.write() = Some(Entry {
          node: q,
          level: level as u8,
        });
        return;
      }
    }
    let Some(ep) = entry else { return };
    let top = usize::from(ep.level);

    let mut cur = Cand {
      d: sq.score(ep.node),
      id: ep.node,
    };
    for lc in (level + 1..=top).rev() {
      cur = g.greedy(&sq, cur, lc, s);
    }

    // What `q`'s lists held before this insert: empty for a new node, the old links of an upserted
    // one. Anything else found there when `q` writes its own list was added meanwhile by a
    // concurrent insert, and must be kept (see `set_own_links`).
    let before: Vec<Vec<u32>> = (0..=level)
      .map(|lc| {
        let mut v = Vec::new();
        g.neighbours_into(q, lc, &mut v);
        v
      })
      .collect();

    // Never link to a deleted node (wasted edge) or to itself (an upserted node's old position).
    let accept = |id: u32| id != q && !g.is_deleted(id);
    let mut entries = vec![cur];
    let mut found: Vec<Cand> = Vec::new();
    let mut chosen: Vec<u32> = Vec::new();
    for lc in (0..=level.min(top)).rev() {
      g.search_layer(&sq, &entries, self.ef_construction, lc, &accept, s);
      found.clear();
      found.extend(s.results.drain());
      found.sort_unstable();
      g.select_heuristic(r, &found, self.m, Some(lc), &mut chosen);
      self.set_own_links(g, r, q, lc, &found, &mut chosen, &before[lc], s);
      let mut linked = false;
      for &n in &chosen {
        linked |= self.add_link(g, r, n, q, lc, s);
      }
      if lc == 0 && !linked {
        if let Some(&nearest) = chosen.first() {
          self.force_link(g, r, nearest, q, s);
        }
      }
      if !found.is_empty() {
        entries.clear();
        entries.extend_from_slice(&found);
      }
    }

    if level > top {
      *self.entry.write() = Some(Entry {
        node: q,
        level: level as u8,
      });
    }
  }

  /// Writes `q`'s own list on `level`: the `chosen` neighbours, plus any link another insert added to
  /// `q` since this insert began. Overwriting those would be a lost update: a node inserted
  /// concurrently can reach `q` through an upper level, find `q`'s lower list still empty, link to
  /// `q` alone and rely on the reverse link `q → it` for being reachable; dropping that link orphans
  /// it (measured: a handful of unreachable nodes per few thousand in parallel builds before this).
  /// If the union exceeds the level's capacity it is pruned with the same heuristic.
  #[allow(clippy::too_many_arguments)]
  fn set_own_links<R: Repr>(
    &self,
    g: &Graph<T>,
    r: &R,
    q: u32,
    level: usize,
    found: &[Cand],
    chosen: &mut Vec<u32>,
    before: &[u32],
    s: &mut Scratch,
  ) {
    let _lock = g.locks[q as usize].lock();
    g.neighbours_locked(q, level, &mut s.buf);
    let extra: Vec<u32> = s
      .buf
      .iter()
      .copied()
      .filter(|id| !before.contains(id) && !chosen.contains(id) && *id != q)
      .collect();
    if extra.is_empty() {
      g.set_neighbours_locked(q, level, chosen);
      return;
    }
    let cap = g.cap_at(level);
    if chosen.len() + extra.len() <= cap {
      chosen.extend_from_slice(&extra);
      g.set_neighbours_locked(q, level, chosen);
      return;
    }
    let sq = Scorer::node(r, q);
    let mut cands: Vec<Cand> = chosen
      .iter()
      .map(|&id| {
        found
          .iter()
          .find(|c| c.id == id)
          .copied()
          .unwrap_or_else(|| Cand { d: sq.score(id), id })
      })
      .chain(extra.iter().map(|&id| Cand { d: sq.score(id), id }))
      .collect();
    cands.sort_unstable();
    g.select_heuristic(r, &cands, cap, None, chosen);
    g.set_neighbours_locked(q, level, chosen);
  }

  /// Adds the reverse link `n → q` on `level`; returns whether `n` links to `q` afterwards.
  ///
  /// When `n`'s list is full, the heuristic picks the links to keep among the old ones and `q`, and
  /// the list is then topped back up to capacity with the nearest candidates it passed over (the
  /// paper's keepPrunedConnections). hnswlib instead shrinks the list to whatever the heuristic
  /// kept, which can drop many links at once and orphan nodes whose last incoming link was one of
  /// them; topping up drops exactly one candidate, the farthest one the heuristic did not pick.
  /// Distances are computed under `n`'s lock only (a per-node lock, never a global one).
  fn add_link<R: Repr>(&self, g: &Graph<T>, r: &R, n: u32, q: u32, level: usize, s: &mut Scratch) -> bool {
    let cap = g.cap_at(level);
    let _lock = g.locks[n as usize].lock();
    g.neighbours_locked(n, level, &mut s.buf);
    if s.buf.contains(&q) {
      return true;
    }
    if s.buf.len() < cap {
      s.buf.push(q);
      g.set_neighbours_locked(n, level, &s.buf);
      return true;
    }
    let sn = Scorer::node(r, n);
    let mut cands: Vec<Cand> = s
      .buf
      .iter()
      .chain(std::iter::once(&q))
      .map(|&id| Cand { d: sn.score(id), id })
      .collect();
    cands.sort_unstable();
    let mut chosen = Vec::with_capacity(cap);
    g.select_heuristic(r, &cands, cap, None, &mut chosen);
    for c in &cands {
      if chosen.len() >= cap {
        break;
      }
      if !chosen.contains(&c.id) {
        chosen.push(c.id);
      }
    }
    g.set_neighbours_locked(n, level, &chosen);
    chosen.contains(&q)
  }

  /// Links `n → q` on level 0 even though `n`'s list is full, by replacing `n`'s farthest neighbour.
  /// Used when no neighbour of a freshly linked node kept the reverse link: without one incoming
  /// link the node could never be found.
  fn force_link<R: Repr>(&self, g: &Graph<T>, r: &R, n: u32, q: u32, s: &mut Scratch) {
    let _lock = g.locks[n as usize].lock();
    g.neighbours_locked(n, 0, &mut s.buf);
    if s.buf.contains(&q) {
      return;
    }
    if s.buf.len() < g.m0 {
      s.buf.push(q);
    } else {
      let sn = Scorer::node(r, n);
      let far = s
        .buf
        .iter()
        .enumerate()
        .map(|(i, &w)| (sn.score(w), i))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
      match far {
        Some((_, i)) => s.buf[i] = q,
        None => return,
      }
    }
    g.set_neighbours_locked(n, 0, &s.buf);
  }
}

/// Builds a graph holding only the live nodes of `old`, in slot order, with every list that pointed
/// at a deleted node repaired: its candidates become its live neighbours plus the live neighbours of
/// its deleted neighbours (the nodes the deleted one was routing to), pruned with the heuristic.
/// Lists without deleted neighbours are kept as they are (renumbered).
///
/// Returns the new graph and the map old slot → new slot (`u32::MAX` for dropped slots).
pub(crate) fn compact_graph<T: Element, R: Repr>(
  old: &Graph<T>,
  r: &R,
  threads_one: bool,
) -> Result<(Graph<T>, Vec<u32>)> {
  use rayon::prelude::*;

  let mut remap = vec![u32::MAX; old.len];
  let mut live = Vec::new();
  for slot in 0..old.len as u32 {
    if !old.is_deleted(slot) {
      remap[slot as usize] = live.len() as u32;
      live.push(slot);
    }
  }
  // The old graph already holds more than this, so failing here means memory is nearly gone; the
  // error leaves the index as it was.
  let mut new = Graph::new(old.row_len, old.m, 0, old.cosine)?;
  new.code_len = old.code_len;
  new.quantizer = old.quantizer.clone();
  new.rows_kept = old.rows_kept;
  new.reserve_slots(live.len().max(16))?;
  for &slot in &live {
    new.push_copy(old, slot);
  }

  // Each node's new lists depend only on `old`, so the repair is parallel and still deterministic.
  let repair = |&slot: &u32| -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut buf2 = Vec::new();
    for level in 0..=old.level(slot) {
      old.neighbours_into(slot, level, &mut buf);
      let mut list: Vec<u32>;
      if buf.iter().all(|&n| !old.is_deleted(n)) {
        list = buf.iter().map(|&n| remap[n as usize]).collect();
      } else {
        // Candidates: the live neighbours, plus live nodes reached through deleted ones, following
        // chains of deleted nodes up to two hops (with many deletes, deleted nodes often neighbour
        // each other, and one hop would lose the region behind them).
        let mut ids: Vec<u32> = Vec::new();
        let mut frontier: Vec<u32> = Vec::new();
        for &n in &buf {
          if old.is_deleted(n) {
            frontier.push(n);
          } else {
            ids.push(n);
          }
        }
        let mut seen_deleted: Vec<u32> = frontier.clone();
        for _hop in 0..2 {
          let mut next = Vec::new();
          for &d in &frontier {
            old.neighbours_into(d, level, &mut buf2);
            for &x in &buf2 {
              if x == slot {
                continue;
              }
              if !old.is_deleted(x) {
                ids.push(x);
              } else if !seen_deleted.contains(&x) {
                seen_deleted.push(x);
                next.push(x);
              }
            }
          }
          frontier = next;
        }
        ids.sort_unstable();
        ids.dedup();
        let ss = Scorer::node(r, slot);
        let mut cands: Vec<Cand> = ids.into_iter().map(|id| Cand { d: ss.score(id), id }).collect();
        cands.sort_unstable();
        list = Vec::new();
        let cap = old.cap_at(level);
        old.select_heuristic(r, &cands, cap, None, &mut list);
        // Keep pruned connections (the paper's keepPrunedConnections): a repaired list has just lost
        // the routes its deleted neighbours provided, so it is topped up with the nearest remaining
        // candidates rather than left short.
        for c in &cands {
          if list.len() >= cap {
            break;
          }
          if !list.contains(&c.id) {
            list.push(c.id);
          }
        }
        for id in &mut list {
          *id = remap[*id as usize];
        }
      }
      list.retain(|&id| id != u32::MAX);
      out.push(list);
    }
    out
  };
  let lists: Vec<Vec<Vec<u32>>> = if threads_one {
    live.iter().map(repair).collect()
  } else {
    live.par_iter().map(repair).collect()
  };
  for (new_slot, per_level) in lists.iter().enumerate() {
    for (level, ids) in per_level.iter().enumerate() {
      new.set_neighbours_locked(new_slot as u32, level, ids);
    }
  }
  Ok((new, remap))
}

/// Passes of [`connect_orphans`] at most. One pass fixes every orphan it starts from, but an
/// eviction it makes can cut off a node that was reachable only through the evicted link; the next
/// pass picks those up. On the duplicate-heavy test sets two passes suffice; the bound only keeps
/// a pathological graph from looping.
const ORPHAN_PASSES: usize = 8;

/// Makes every live node reachable on level 0 from `entry` again, after a compaction.
///
/// Why: a node whose only incoming links came from removed nodes is an orphan once those are gone:
/// the repair offers it to its removed neighbour's other neighbours, but a full list may prefer
/// closer candidates (groups of copies of one vector, linked as chains, lose many this way). An
/// orphan can never be returned by a search, so each one (found by a BFS from the entry point, in
/// slot order so the result is deterministic) is linked from the nearest reachable node that can
/// take it: one with a free slot, or else one that can give up a link to a neighbour with another
/// incoming link from a reachable node. Passes repeat until none is left ([`ORPHAN_PASSES`]).
pub(crate) fn connect_orphans<T: Element, R: Repr>(
  g: &Graph<T>,
  r: &R,
  entry: u32,
  ef: usize,
  s: &mut Scratch,
) {
  let n = g.len;
  if n == 0 {
    return;
  }
  let mut buf = Vec::new();
  let mark = |from: u32, reach: &mut Vec<bool>, buf: &mut Vec<u32>| {
    let mut stack = vec![from];
    while let Some(x) = stack.pop() {
      match reach.get_mut(x as usize) {
        Some(r) if !*r => *r = true,
        _ => continue,
      }
      g.neighbours_into(x, 0, buf);
      stack.extend(
        buf
          .iter()
          .copied()
          .filter(|&y| (y as usize) < n && !reach[y as usize]),
      );
    }
  };
  let mut found: Vec<Cand> = Vec::new();
  for _pass in 0..ORPHAN_PASSES {
    let mut reach = vec![false; n];
    mark(entry, &mut reach, &mut buf);
    let orphan = |u: u32, reach: &[bool]| !reach[u as usize] && !g.is_deleted(u);
    if !(0..n as u32).any(|u| orphan(u, &reach)) {
      return;
    }
    // Incoming links from reachable nodes only: a link from an unreachable node keeps nothing
    // reachable, so it must not make its target look safe to evict.
    let mut indeg = vec![0u32; n];
    for slot in (0..n as u32).filter(|&x| reach[x as usize]) {
      g.neighbours_into(slot, 0, &mut buf);
      for &x in &buf {
        if let Some(d) = indeg.get_mut(x as usize) {
          *d += 1;
        }
      }
    }
    for u in 0..n as u32 {
      if !orphan(u, &reach) {
        continue;
      }
      let su = Scorer::node(r, u);
      let start = Cand {
        d: su.score(entry),
        id: entry,
      };
      // From the entry point the walk only ever sees reachable nodes; `u` itself is not among them.
      g.search_layer(&su, &[start], ef, 0, &|id| id != u, s);
      found.clear();
      found.extend(s.results.drain());
      found.sort_unstable();
      let linked = attach(g, r, u, &found, &mut indeg, &mut buf);
      if linked {
        mark(u, &mut reach, &mut buf);
      }
    }
  }
}

/// Links `u` on level 0 from the nearest node of `found` (sorted nearest first) that can take it:
/// one with a free slot, or else one that can give up its farthest link to a node with another
/// incoming link (`indeg` ≥ 2, counted by the caller over the links that matter), so the eviction
/// leaves nobody without a way in. Keeps `indeg` current; returns whether `u` was linked.
pub(crate) fn attach<T: Element, R: Repr>(
  g: &Graph<T>,
  r: &R,
  u: u32,
  found: &[Cand],
  indeg: &mut [u32],
  buf: &mut Vec<u32>,
) -> bool {
  for v in found.iter().map(|c| c.id) {
    let _lock = g.locks[v as usize].lock();
    g.neighbours_locked(v, 0, buf);
    if buf.len() < g.m0 {
      buf.push(u);
      g.set_neighbours_locked(v, 0, buf);
    } else {
      let sv = Scorer::node(r, v);
      let victim = buf
        .iter()
        .enumerate()
        .filter(|(_, &w)| indeg.get(w as usize).is_some_and(|&d| d >= 2))
        .map(|(i, &w)| (sv.score(w), i, w))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
      let Some((_, i, w)) = victim else { continue };
      buf[i] = u;
      g.set_neighbours_locked(v, 0, buf);
      indeg[w as usize] -= 1;
    }
    indeg[u as usize] += 1;
    return true;
  }
  false
}
