//! Tombstone reversal for drop-in layers whose model of deletion is a mark rather than a removal
//! (hnswlib's `markDelete` / `unmarkDelete` / `replaceDeleted`, see `crate::compat`).
//!
//! A removed node keeps its vector and its lists until [`HnswIndex::compact`] (it still routes
//! searches), so clearing its tombstone brings it back exactly as it was. Both calls hold the writer
//! lock, so they never interleave with a batch linking or with compaction renumbering the slots.

use std::sync::atomic::Ordering::Relaxed;

use super::HnswIndex;
use crate::error::{Error, Result};
use crate::keys::MAX_KEY;
use crate::metric::Element;

impl<T: Element> HnswIndex<T> {
  /// The most recent removed slot holding `key`, if `key` is not live.
  fn removed_slot(&self, key: u64) -> Option<u32> {
    let g = self.graph.read();
    if self.keymap.read().contains_key(&key) {
      return None;
    }
    (0..g.len as u32)
      .rev()
      .find(|&s| g.keys[s as usize] == key && g.is_deleted(s))
  }

  /// Brings back the removed node of `key` with its vector and links as they were; returns whether
  /// there was one (`false` when `key` is live or was never added, or its slot was compacted away).
  pub fn restore(&self, key: u64) -> Result<bool> {
    self.restore_as(key, key)
  }

  /// Brings back the removed node of `old` under the key `new` (which must not be live), keeping
  /// its vector and links; the caller then replaces the vector with an upsert. Returns whether
  /// `old` had a removed node.
  pub fn restore_as(&self, old: u64, new: u64) -> Result<bool> {
    self.check_writable("restore")?;
    if new > MAX_KEY {
      return Err(Error::invalid_argument(format!(
        "keys are at most 2^53 − 1 = {MAX_KEY}, got {new}"
      )));
    }
    let _writer = self.writer.lock();
    if old != new && self.keymap.read().contains_key(&new) {
      return Err(Error::DuplicateKey {
        key: new,
        reason: "it is already in the index",
      });
    }
    let Some(slot) = self.removed_slot(old) else {
      return Ok(false);
    };
    let mut g = self.graph.write();
    let mut km = self.keymap.write();
    km.try_reserve(1)
      .map_err(|_| Error::invalid_argument("not enough memory for one more key"))?;
    g.keys[slot as usize] = new;
    g.deleted[slot as usize].store(false, Relaxed);
    km.insert(new, slot);
    self.live.fetch_add(1, Relaxed);
    Ok(true)
  }

  /// Keys of removed nodes still held in the graph (not yet compacted), in slot order, without
  /// the ones whose key is live again.
  pub fn removed_keys(&self) -> Vec<u64> {
    let g = self.graph.read();
    let km = self.keymap.read();
    (0..g.len as u32)
      .filter(|&s| g.is_deleted(s) && !km.contains_key(&g.keys[s as usize]))
      .map(|s| g.keys[s as usize])
      .collect()
  }

  /// Slots in use, live and removed.
  pub fn slots(&self) -> usize {
    self.graph.read().len
  }
}
