//! Shared by the bench binaries: CPU-time clocks (Linux; 0 elsewhere) and raw f32 files.
//! Included with `#[path]` so every binary stays one file plus this.

/// CPU time of the calling thread in ns (Linux `schedstat`), 0 elsewhere. On a shared, loaded
/// machine wall time mostly measures the neighbours; CPU time measures this process's work.
#[allow(dead_code)]
pub fn thread_cpu_ns() -> u64 {
  std::fs::read_to_string("/proc/thread-self/schedstat")
    .ok()
    .and_then(|s| s.split_whitespace().next()?.parse().ok())
    .unwrap_or(0)
}

/// CPU time of the whole process (all threads, user + system) in ns, at clock-tick resolution
/// (10 ms: time loops for at least ~1 s of CPU).
pub fn process_cpu_ns() -> u64 {
  std::fs::read_to_string("/proc/self/stat")
    .ok()
    .and_then(|s| {
      // Fields after the command name (which may hold spaces) start at ") ".
      let rest = s.rsplit_once(") ")?.1;
      let f: Vec<&str> = rest.split_whitespace().collect();
      let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
      Some(ticks * 10_000_000)
    })
    .unwrap_or(0)
}

/// A raw little-endian f32 file (as `scripts/dump-f32.ts` writes them).
pub fn read_f32(path: &str) -> Vec<f32> {
  let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
  b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
