/**
 * An embedding cache that is safe to put in front of any {@link Embedder}:
 *
 * - the key is a SHA-256 of the inner embedder's whole identity (provider, endpoint, model,
 *   dimensions, normalisation) and the exact text, so switching model or size can never return an
 *   old vector;
 * - an LRU bounded by entries (default 10 000) and optionally by bytes;
 * - concurrent calls for the same text share one request (in-flight de-duplication), and duplicates
 *   inside one `embedMany` are sent once;
 * - an optional persistent {@link EmbeddingStore} (SQLite) behind the LRU;
 * - results of batches that succeeded are kept even when another batch of the same call fails, so a
 *   retry only pays for what is still missing.
 */
import { hash } from 'node:crypto'
import { invalid, InvalidInputError } from '../errors.js'
import { raceAbort } from './abort.js'
import { checkTexts } from './base.js'
import { EmbeddingAbortedError, throwIfAborted } from './errors.js'
import { SqliteEmbeddingStore, type EmbeddingStore } from './store.js'
import type {
  Embedder,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbedManyOptions,
  EmbedOptions,
} from './types.js'

export interface CacheOptions {
  /** Most vectors kept in memory (default 10 000). */
  maxEntries?: number | undefined
  /** Most bytes of vectors (and keys) kept in memory; unbounded by default. */
  maxBytes?: number | undefined
  /** A persistent store, or a file path for a SQLite store (created if missing). */
  store?: EmbeddingStore | string | undefined
}

export interface CacheStats {
  /** Inputs answered without a request: memory, store, a shared in-flight call, or a duplicate. */
  hits: number
  /** Distinct texts that had to be requested. */
  misses: number
  /** Of the hits, those found in the persistent store. */
  storeHits: number
  /** Store reads or writes that failed (the cache degrades to memory-only; calls still succeed). */
  storeErrors: number
  entries: number
  bytes: number
  /** Texts being fetched right now. */
  inFlight: number
}

/** Map-ordered LRU: a read moves the entry to the back; eviction takes from the front. */
class Lru {
  private readonly map = new Map<string, Float32Array>()
  bytes = 0
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.map.size
  }

  get(key: string): Float32Array | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }

  set(key: string, v: Float32Array): void {
    const old = this.map.get(key)
    if (old !== undefined) {
      this.bytes -= cost(key, old)
      this.map.delete(key)
    }
    const c = cost(key, v)
    if (c > this.maxBytes) return // larger than the whole budget: caching it would evict everything
    this.map.set(key, v)
    this.bytes += c
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next()
      if (oldest.done === true) break
      this.bytes -= cost(oldest.value, this.map.get(oldest.value) as Float32Array)
      this.map.delete(oldest.value)
    }
  }

  clear(): void {
    this.map.clear()
    this.bytes = 0
  }
}

// Key characters (UTF-16) plus the vector; the Map's own overhead is not counted.
function cost(key: string, v: Float32Array): number {
  return v.byteLength + key.length * 2
}

interface Deferred {
  promise: Promise<Float32Array>
  resolve(v: Float32Array): void
  reject(e: unknown): void
}

function deferred(): Deferred {
  let resolve!: (v: Float32Array) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<Float32Array>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Nobody may be waiting on it; a rejection nobody awaits must not crash the process.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/** `cache.store` names a file SQLite cannot open. */
class StoreOpenError extends InvalidInputError {
  constructor(path: string, cause: unknown) {
    super('ERR_INVALID_ARGUMENT', `cache.store: cannot open ${path} as an embedding store (${(cause as Error)?.message ?? String(cause)})`, {
      cause,
    })
  }
}

/** A text being fetched by some call; `waiters` is created only when a second caller waits for it. */
interface Flight {
  done?: boolean
  waiters?: Deferred
}

export class CachedEmbedder implements Embedder {
  readonly inner: Embedder
  private readonly lru: Lru
  private readonly prefix: string
  private readonly inflight = new Map<string, Flight>()
  private readonly storeOption: EmbeddingStore | string | undefined
  private storePromise: Promise<EmbeddingStore | undefined> | undefined
  private counts = { hits: 0, misses: 0, storeHits: 0, storeErrors: 0 }
  private writes: Promise<void> = Promise.resolve()
  /** The last store failure, for diagnosis (store errors never fail a call). */
  lastStoreError: unknown

  /** @throws InvalidInputError `ERR_INVALID_ARGUMENT` for non-positive bounds. */
  constructor(inner: Embedder, options: CacheOptions = {}) {
    this.inner = inner
    const maxEntries = options.maxEntries ?? 10_000
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw invalid('ERR_INVALID_ARGUMENT', `cache.maxEntries must be a positive integer, got ${String(maxEntries)}`)
    }
    const maxBytes = options.maxBytes ?? Infinity
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
      throw invalid('ERR_INVALID_ARGUMENT', `cache.maxBytes must be a positive number, got ${String(maxBytes)}`)
    }
    this.lru = new Lru(maxEntries, maxBytes)
    const id = inner.identity
    // Everything that changes the vector goes into the key, then a newline, then the text. JSON
    // escapes newlines, so the first raw newline always ends the identity: no text can make one
    // identity's key collide with another's.
    this.prefix = JSON.stringify([id.provider, id.baseURL, id.model, id.dimensions ?? null, id.normalize]) + '\n'
    this.storeOption = options.store
  }

  get provider(): string {
    return this.inner.provider
  }
  get model(): string {
    return this.inner.model
  }
  get dimensions(): number | undefined {
    return this.inner.dimensions
  }
  get identity(): EmbedderIdentity {
    return this.inner.identity
  }
  get usage(): EmbedderUsage {
    return { ...this.inner.usage, cacheHits: this.counts.hits, cacheMisses: this.counts.misses }
  }
  get stats(): CacheStats {
    return { ...this.counts, entries: this.lru.size, bytes: this.lru.bytes, inFlight: this.inflight.size }
  }

  /** The cache key of `text` under this embedder's identity (SHA-256, base64url). */
  key(text: string): string {
    // One-shot hashing is 2–3× faster than a Hash object per text, which matters at 10⁴–10⁶ texts.
    return hash('sha256', this.prefix + text, 'base64url')
  }

  health(options?: EmbedOptions): Promise<EmbedderHealth> {
    return this.inner.health(options)
  }

  /** Empties the in-memory LRU (the persistent store is kept). */
  clear(): void {
    this.lru.clear()
  }

  /** Writes what is pending, then closes the persistent store, if one was opened. */
  async close(): Promise<void> {
    await this.flush()
    const store = await this.storePromise?.catch(() => undefined)
    await store?.close()
    this.storePromise = undefined
  }

  async embed(text: string, options: EmbedOptions = {}): Promise<Float32Array> {
    const [v] = await this.embedMany([text], options)
    return v as Float32Array
  }

  async embedMany(texts: readonly string[], options: EmbedManyOptions = {}): Promise<Float32Array[]> {
    const { signal, onProgress, onBatch } = options
    throwIfAborted(signal, this.provider)
    checkTexts(texts, this.provider)
    const n = texts.length
    const results = new Array<Float32Array>(n)
    // Distinct texts first (a Map on the string itself), so duplicates are hashed, looked up and
    // requested once, and all their positions are filled from one answer.
    const byText = new Map<string, number[]>()
    for (let i = 0; i < n; i++) {
      const text = texts[i] as string
      const list = byText.get(text)
      if (list === undefined) byText.set(text, [i])
      else list.push(i)
    }
    const uniqTexts = [...byText.keys()]
    const uniqPos = [...byText.values()]
    const uniqKeys = uniqTexts.map((t) => this.key(t))
    let done = 0
    // Each position gets its own array; the cache keeps its own copy, so no caller can corrupt it.
    // Deliveries are collected and reported to onBatch once per group (all hits, each inner batch).
    let outIdx: number[] = []
    let outVec: Float32Array[] = []
    const deliver = (u: number, v: Float32Array, fresh: boolean): void => {
      const list = uniqPos[u] as number[]
      for (let j = 0; j < list.length; j++) {
        const p = list[j] as number
        const vec = j === 0 && fresh ? v : v.slice()
        results[p] = vec
        if (onBatch !== undefined) {
          outIdx.push(p)
          outVec.push(vec)
        }
      }
      done += list.length
    }
    const report = (): void => {
      if (outIdx.length > 0) {
        const [idx, vec] = [outIdx, outVec]
        outIdx = []
        outVec = []
        onBatch?.(idx, vec)
      }
      onProgress?.({ done, total: n })
    }
    const hit = (u: number): void => {
      this.counts.hits += (uniqPos[u] as number[]).length
    }

    // 1. Memory, then requests already in flight, then the persistent store.
    const pending: number[] = []
    const waits: [number, Flight][] = []
    for (let u = 0; u < uniqKeys.length; u++) {
      const k = uniqKeys[u] as string
      const cached = this.lru.get(k)
      if (cached !== undefined) {
        hit(u)
        deliver(u, cached, false)
        continue
      }
      const flight = this.inflight.get(k)
      if (flight !== undefined) {
        hit(u)
        waits.push([u, flight])
        continue
      }
      pending.push(u)
    }
    const misses = await this.fromStore(pending, uniqKeys, (u, v) => {
      hit(u)
      this.counts.storeHits += (uniqPos[u] as number[]).length
      this.lru.set(uniqKeys[u] as string, v)
      deliver(u, v, false)
    })
    if (done > 0) report()

    // 2. What is left goes to the inner embedder once per distinct text, registered as in flight so
    //    concurrent callers wait for it instead of sending it again.
    const own: number[] = []
    const flights: Flight[] = []
    for (const u of misses) {
      const k = uniqKeys[u] as string
      // Another caller may have started it while we read the store.
      const other = this.inflight.get(k)
      if (other !== undefined) {
        hit(u)
        waits.push([u, other])
        continue
      }
      const flight: Flight = {}
      this.inflight.set(k, flight)
      own.push(u)
      flights.push(flight)
      this.counts.misses += 1
      this.counts.hits += (uniqPos[u] as number[]).length - 1
    }
    const request =
      own.length === 0
        ? Promise.resolve()
        : this.inner
            .embedMany(
              own.map((u) => uniqTexts[u] as string),
              {
                signal,
                onBatch: (indices, vectors) => {
                  const toStore: [string, Float32Array][] = []
                  for (let j = 0; j < indices.length; j++) {
                    const o = indices[j] as number
                    const u = own[o] as number
                    const k = uniqKeys[u] as string
                    const v = vectors[j] as Float32Array
                    const kept = v.slice()
                    this.lru.set(k, kept)
                    toStore.push([k, kept])
                    const flight = flights[o] as Flight
                    flight.done = true
                    if (this.inflight.get(k) === flight) this.inflight.delete(k)
                    flight.waiters?.resolve(kept)
                    deliver(u, v, true)
                  }
                  this.toStore(toStore)
                  report()
                },
              },
            )
            .then(
              () => undefined,
              (err: unknown) => {
                // Whatever did not arrive fails for everyone waiting on it, and is no longer in flight.
                for (let o = 0; o < own.length; o++) {
                  const flight = flights[o] as Flight
                  if (flight.done === true) continue
                  const k = uniqKeys[own[o] as number] as string
                  if (this.inflight.get(k) === flight) this.inflight.delete(k)
                  flight.waiters?.reject(err)
                }
                throw err
              },
            )

    // 3. Wait for our own request and for the ones we share.
    const shared = waits.map(async ([u, flight]) => {
      // The promise is made only when someone waits: most in-flight texts never get a second caller.
      flight.waiters ??= deferred()
      let v: Float32Array
      try {
        v = await raceAbort(flight.waiters.promise, signal, this.provider)
      } catch (err) {
        // The caller who owned that request aborted it; that is not our failure, so fetch it ourselves.
        if (err instanceof EmbeddingAbortedError && !signal?.aborted) {
          v = await this.embed(uniqTexts[u] as string, { signal })
        } else throw err
      }
      deliver(u, v, false)
      report()
    })
    const settled = await Promise.allSettled([request, ...shared])
    if (signal?.aborted) throw new EmbeddingAbortedError(signal.reason, this.provider)
    for (const s of settled) if (s.status === 'rejected') throw s.reason
    return results
  }

  private openStore(): Promise<EmbeddingStore | undefined> {
    if (this.storeOption === undefined) return Promise.resolve(undefined)
    if (this.storePromise === undefined) {
      const option = this.storeOption
      this.storePromise =
        typeof option === 'string'
          ? SqliteEmbeddingStore.open(option).catch((err: unknown) => {
              // A store that cannot even be opened is a configuration mistake (a missing directory,
              // a file that is not a database): say so instead of silently running memory-only.
              this.storePromise = undefined
              throw new StoreOpenError(option, err)
            })
          : Promise.resolve(option)
    }
    return this.storePromise
  }

  /** Looks the distinct texts `us` up in the store; calls `found` for each hit and returns the misses. */
  private async fromStore(
    us: number[],
    keys: readonly string[],
    found: (u: number, v: Float32Array) => void,
  ): Promise<number[]> {
    if (us.length === 0 || this.storeOption === undefined) return us
    let vectors: (Float32Array | undefined)[]
    try {
      const store = await this.openStore()
      if (store === undefined) return us
      vectors = await store.getMany(us.map((u) => keys[u] as string))
    } catch (err) {
      if (err instanceof StoreOpenError) throw err
      this.storeFailed(err)
      return us
    }
    const misses: number[] = []
    const dims = this.inner.dimensions
    for (let i = 0; i < us.length; i++) {
      const v = vectors[i]
      // A stored vector of another length than the embedder now returns is stale or damaged.
      if (v !== undefined && (dims === undefined || v.length === dims)) found(us[i] as number, v)
      else misses.push(us[i] as number)
    }
    return misses
  }

  private toStore(entries: [string, Float32Array][]): void {
    if (this.storeOption === undefined || entries.length === 0) return
    // Writes are chained, so flush() can wait for all of them and they land in arrival order.
    this.writes = this.writes
      .then(() => this.openStore())
      .then((store) => store?.setMany(entries))
      .catch((err: unknown) => this.storeFailed(err))
  }

  /** Resolves when every vector handed to the persistent store so far has been written. */
  async flush(): Promise<void> {
    await this.writes
  }

  private storeFailed(err: unknown): void {
    this.counts.storeErrors++
    this.lastStoreError = err
    // A broken store must not break embedding; forget it so the next call can reopen it.
    if (typeof this.storeOption === 'string') this.storePromise = undefined
  }
}
