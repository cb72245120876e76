/**
 * Persistent embedding storage, so a restart does not pay for the corpus again. The SQLite store
 * (better-sqlite3, a real embedded database: crash-safe writes, one file, concurrent readers under
 * WAL) keeps each vector as its raw little-endian float32 bytes under the cache key, which already
 * covers provider, endpoint, model, dimensions, normalisation and the exact text.
 */
import type BetterSqlite3 from 'better-sqlite3'

/** Where {@link CachedEmbedder} keeps vectors beyond its in-memory LRU. */
export interface EmbeddingStore {
  /** Vectors for `keys`, `undefined` where absent; same order as `keys`. */
  getMany(keys: readonly string[]): (Float32Array | undefined)[] | Promise<(Float32Array | undefined)[]>
  setMany(entries: readonly (readonly [string, Float32Array])[]): void | Promise<void>
  close(): void | Promise<void>
}

const SCHEMA_VERSION = 1
// SQLite's default limit on bound parameters is 32766 (older builds: 999); stay well under both.
const CHUNK = 500

/** {@link EmbeddingStore} in one SQLite file. */
export class SqliteEmbeddingStore implements EmbeddingStore {
  readonly path: string
  private readonly db: BetterSqlite3.Database
  private readonly selects = new Map<number, BetterSqlite3.Statement<string[], { key: string; vector: Buffer }>>()
  private readonly insert: BetterSqlite3.Statement<[string, Buffer, number]>
  private readonly insertMany: (entries: readonly (readonly [string, Float32Array])[]) => void

  private constructor(db: BetterSqlite3.Database, path: string) {
    this.db = db
    this.path = path
    // WAL: readers never block the writer, and a crash mid-write leaves the last commit intact.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec(`CREATE TABLE IF NOT EXISTS ferrovec_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS embeddings (
        key TEXT PRIMARY KEY,
        vector BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;`)
    const row = db.prepare('SELECT value FROM ferrovec_meta WHERE name = ?').get('schema_version') as
      | { value: string }
      | undefined
    if (row === undefined) {
      db.prepare('INSERT INTO ferrovec_meta (name, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION))
    } else if (Number(row.value) > SCHEMA_VERSION) {
      db.close()
      throw new Error(
        `${path} was written by a newer ferrovec (embedding store schema ${row.value}; this version reads ${SCHEMA_VERSION})`,
      )
    }
    this.insert = db.prepare('INSERT OR REPLACE INTO embeddings (key, vector, created_at) VALUES (?, ?, ?)')
    this.insertMany = db.transaction((entries: readonly (readonly [string, Float32Array])[]) => {
      const now = Date.now()
      for (const [key, v] of entries) this.insert.run(key, Buffer.from(v.buffer, v.byteOffset, v.byteLength), now)
    })
  }

  /**
   * Opens (creating if needed) the store at `path`. better-sqlite3 is loaded here, not at import
   * time, so programs that never persist embeddings never load the native module.
   */
  static async open(path: string): Promise<SqliteEmbeddingStore> {
    const mod = (await import('better-sqlite3')) as unknown as {
      default: new (file: string) => BetterSqlite3.Database
    }
    return new SqliteEmbeddingStore(new mod.default(path), path)
  }

  getMany(keys: readonly string[]): (Float32Array | undefined)[] {
    const found = new Map<string, Float32Array>()
    for (let at = 0; at < keys.length; at += CHUNK) {
      const chunk = keys.slice(at, at + CHUNK) as string[]
      let stmt = this.selects.get(chunk.length)
      if (stmt === undefined) {
        stmt = this.db.prepare(
          `SELECT key, vector FROM embeddings WHERE key IN (${chunk.map(() => '?').join(',')})`,
        ) as BetterSqlite3.Statement<string[], { key: string; vector: Buffer }>
        this.selects.set(chunk.length, stmt)
      }
      for (const row of stmt.all(...chunk)) {
        // A blob that is not whole float32s is damage, not a vector: treat it as absent.
        if (row.vector.byteLength === 0 || row.vector.byteLength % 4 !== 0) continue
        // Copy into fresh memory: the Buffer may not be 4-byte aligned, which Float32Array requires.
        const bytes = new Uint8Array(row.vector)
        found.set(row.key, new Float32Array(bytes.buffer, 0, bytes.byteLength / 4))
      }
    }
    return keys.map((k) => found.get(k))
  }

  setMany(entries: readonly (readonly [string, Float32Array])[]): void {
    if (entries.length > 0) this.insertMany(entries)
  }

  /** Number of stored vectors. */
  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM embeddings').get() as { n: number }).n
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}
