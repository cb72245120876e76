import test from 'ava'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Collection } from '../../src/collection/index.js'
import { ANIMALS, tempDir, WordsEmbedder } from './helpers.js'

const flat = { type: 'flat' } as const

test('upsert, search, get, delete and count round trip through a reopen', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder })
  t.deepEqual(await c.upsert(ANIMALS), { added: 5, updated: 0 })
  t.is(c.count(), 5)
  t.deepEqual(c.get('cat'), { id: 'cat', text: ANIMALS[0]!.text, metadata: ANIMALS[0]!.metadata })
  t.is(c.get('nope'), undefined)
  const hits = await c.search('cat on a mat', { k: 2, mode: 'vector' })
  t.is(hits[0]!.id, 'cat')
  t.true(hits[0]!.score > hits[1]!.score)
  t.deepEqual(Object.keys(hits[0]!).sort(), ['id', 'metadata', 'score', 'text'])
  // Update one, delete one.
  t.deepEqual(await c.upsert([{ id: 'cat', text: 'a lion roars in the savanna', metadata: { kind: 'wild' } }]), { added: 0, updated: 1 })
  t.is(await c.delete(['dog', 'missing']), 1)
  t.is(c.count(), 4)
  await c.close()

  const again = await Collection.open(dir, { embedder })
  t.is(again.count(), 4)
  t.is(again.get('dog'), undefined)
  t.is(again.get('cat')!.text, 'a lion roars in the savanna')
  t.is((await again.search('lion savanna', { k: 1, mode: 'vector' }))[0]!.id, 'cat')
  t.is((await again.search('lion savanna', { k: 1, mode: 'keyword' }))[0]!.id, 'cat')
  t.deepEqual(await again.search('dog chased ball', { k: 10, mode: 'keyword' }), [])
  const all = await again.search('the', { k: 10, mode: 'vector' })
  t.deepEqual(all.map((h) => h.id).sort(), ['cat', 'eagle', 'parrot', 'shark'])
  await again.close()
})

test('vector results match exact search over the stored vectors (HNSW and flat)', async (t) => {
  for (const type of ['hnsw', 'flat'] as const) {
    const dir = tempDir(t)
    const embedder = new WordsEmbedder()
    const c = await Collection.open(dir, { embedder, index: { type } })
    const docs = Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, text: `word${i % 17} word${i % 23} word${i % 31} item ${i}` }))
    await c.upsert(docs)
    const q = embedder.vector('word3 word5 word7')
    const exact = docs
      .map((d) => {
        const v = embedder.vector(d.text)
        let dot = 0
        for (let i = 0; i < v.length; i++) dot += v[i]! * q[i]!
        return { id: d.id, score: dot }
      })
      .sort((a, b) => b.score - a.score)
    const hits = await c.search(q, { k: 10 })
    t.is(hits.length, 10)
    // Scores are cosine similarities; compare the score profile (ids can tie).
    hits.forEach((h, i) => t.true(Math.abs(h.score - exact[i]!.score) < 1e-5, `${type} rank ${i}`))
    await c.close()
  }
})

test('filters return only matching documents and still fill k', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder })
  const docs = Array.from({ length: 2000 }, (_, i) => ({
    id: `d${i}`,
    text: `shared words about topic ${i % 7} and item ${i}`,
    metadata: { group: i % 100, even: i % 2 === 0, name: `n${i % 10}` },
  }))
  await c.upsert(docs)
  // 20 documents are in group 42; a rare filter must still fill k = 15 in every mode.
  for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
    const hits = await c.search('shared words topic 3', { k: 15, mode, filter: { group: 42 } })
    t.is(hits.length, 15, mode)
    t.true(hits.every((h) => h.metadata.group === 42), mode)
  }
  const cases: [Record<string, unknown>, (m: Record<string, unknown>) => boolean][] = [
    [{ group: { $in: [1, 2, 3] } }, (m) => [1, 2, 3].includes(m.group as number)],
    [{ group: { $gte: 10, $lt: 12 } }, (m) => (m.group as number) >= 10 && (m.group as number) < 12],
    [{ $or: [{ group: 5 }, { name: 'n7' }] }, (m) => m.group === 5 || m.name === 'n7'],
    [{ $and: [{ even: true }, { group: { $lte: 3 } }] }, (m) => m.even === true && (m.group as number) <= 3],
    [{ name: { $nin: ['n1', 'n2'] }, group: { $ne: 0 } }, (m) => !['n1', 'n2'].includes(m.name as string) && m.group !== 0],
    [{ $not: { even: true } }, (m) => m.even === false],
    [{ name: { $gt: 'n8' } }, (m) => (m.name as string) > 'n8'],
  ]
  for (const [filter, pred] of cases) {
    const expected = docs.filter((d) => pred(d.metadata)).length
    const hits = await c.search('shared words', { k: 1000, mode: 'vector', filter })
    t.is(hits.length, Math.min(1000, expected), JSON.stringify(filter))
    t.true(hits.every((h) => pred(h.metadata)), JSON.stringify(filter))
  }
  // JSON types are respected: the string '42' is not the number 42; a filter matching nothing gives [].
  t.deepEqual(await c.search('shared', { k: 5, filter: { group: '42' } }), [])
  t.deepEqual(await c.search('shared', { k: 5, filter: { group: { $in: [] } } }), [])
  await c.close()
})

test('metadata filters: booleans, null, $exists and nested fields', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder(), index: flat })
  await c.upsert(ANIMALS)
  await c.upsert([{ id: 'owl', text: 'an owl at night', metadata: { kind: 'wild', info: { lang: 'en', n: 3 }, note: null } }])
  const ids = async (filter: Record<string, unknown>): Promise<string[]> =>
    (await c.search('the', { k: 100, mode: 'vector', filter })).map((h) => h.id).sort()
  t.deepEqual(await ids({ fish: true }), ['shark'])
  t.deepEqual(await ids({ fish: false }), ['parrot'])
  t.deepEqual(await ids({ fish: { $exists: false } }), ['cat', 'dog', 'eagle', 'owl'])
  t.deepEqual(await ids({ note: null }), ['owl'])
  t.deepEqual(await ids({ 'info.lang': 'en' }), ['owl'])
  t.deepEqual(await ids({ 'info.n': { $gt: 2 } }), ['owl'])
  t.deepEqual(await ids({ legs: 4, kind: 'pet' }), ['cat', 'dog'])
  // $ne also matches documents without the field.
  t.deepEqual(await ids({ fish: { $ne: true } }), ['cat', 'dog', 'eagle', 'owl', 'parrot'])
  // Equality compares JSON text: awkward strings and numbers still match exactly, and only themselves.
  const odd = 'a"b\\c ü 東京 \u2028 \n end'
  await c.upsert([
    { id: 'odd', text: 'odd one', metadata: { s: odd, x: 0.1, big: 1e21, neg: -0, one: 1 } },
    { id: 'odd2', text: 'odd two', metadata: { s: `${odd} `, x: 0.2, one: true } },
  ])
  t.deepEqual(await ids({ s: odd }), ['odd'])
  t.deepEqual(await ids({ s: { $in: [odd, 'zzz'] } }), ['odd'])
  t.deepEqual(await ids({ x: 0.1 }), ['odd'])
  t.deepEqual(await ids({ big: 1e21 }), ['odd'])
  t.deepEqual(await ids({ neg: 0 }), ['odd'])
  t.deepEqual(await ids({ one: 1 }), ['odd'])
  t.deepEqual(await ids({ one: true }), ['odd2'])
  t.deepEqual(await ids({ x: { $gt: 0.15 } }), ['odd2'])
  await c.close()
})

test('bad filters throw ERR_INVALID_FILTER and change nothing', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS)
  const bad: unknown[] = [
    { legs: { $foo: 1 } },
    { $xor: [] },
    { $and: 'x' },
    { $or: [] },
    { legs: { $in: 3 } },
    { legs: { $gt: true } },
    { legs: { $gt: null } },
    { legs: { $exists: 'yes' } },
    { legs: [1, 2] },
    { legs: { a: 1 } },
    { legs: {} },
    { legs: Number.NaN },
    { 'a"b': 1 },
    { '': 1 },
    { legs: undefined },
    'legs = 4',
    [{ legs: 4 }],
    { legs: 1n },
  ]
  for (const filter of bad) {
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      const err = await t.throwsAsync(c.search('cat', { mode, filter: filter as Record<string, unknown> }))
      t.is((err as { code?: string }).code, 'ERR_INVALID_FILTER', `${mode} ${String(JSON.stringify(filter, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)))}`)
    }
  }
  t.is(c.count(), 5)
  await c.close()
})

test('keyword search escapes user text: quotes and FTS5 operators are plain words', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert([
    { id: 'a', text: 'cancer AND tumour growth near the NOT gate' },
    { id: 'b', text: 'the OR operator in logic "quoted" text' },
    { id: 'c', text: 'colonies of bacteria* grow' },
  ])
  const nasty = ['"cancer', 'cancer AND', 'NOT', 'OR', 'NEAR(cancer tumour)', 'text: quoted', '"quoted"', 'bacteria*', '^cancer', '(', ')', 'a - b + c', "it's", 'col:umn', '{}[]', '\\"', 'NEAR/2']
  for (const q of nasty) {
    // Must not throw an FTS5 syntax error, in keyword or hybrid mode.
    await t.notThrowsAsync(c.search(q, { mode: 'keyword' }), q)
    await t.notThrowsAsync(c.search(q, { mode: 'hybrid' }), q)
  }
  t.deepEqual((await c.search('NOT', { mode: 'keyword' })).map((h) => h.id), ['a'])
  t.deepEqual((await c.search('"quoted', { mode: 'keyword' })).map((h) => h.id), ['b'])
  t.deepEqual((await c.search('bacteria*', { mode: 'keyword' })).map((h) => h.id), ['c'])
  t.deepEqual((await c.search('OR', { mode: 'keyword' })).map((h) => h.id), ['b'])
  // No word token at all: nothing matches by keyword (hybrid still answers by vector).
  t.deepEqual(await c.search('"" *** ()', { mode: 'keyword' }), [])
  t.true((await c.search('"" *** ()', { mode: 'hybrid', k: 3 })).length > 0)
  await c.close()
})

test('hybrid fuses both rankings; alpha and rrfK change the fusion; modes validate', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS)
  const h = await c.search('parrot mat', { k: 3 })
  t.is(h[0]!.id, 'parrot')
  const pureVec = await c.search('parrot mat', { k: 5, alpha: 1 })
  const vec = await c.search('parrot mat', { k: 5, mode: 'vector' })
  t.deepEqual(pureVec.map((x) => x.id), vec.map((x) => x.id))
  // RRF is one option away: rrfK alone selects it, with the keyword and vector ranks of the candidates.
  const kwAll = await c.search('parrot mat', { k: 50, mode: 'keyword' })
  const vecAll = await c.search('parrot mat', { k: 50, mode: 'vector' })
  const rrfScore = (id: string) => {
    const i = kwAll.findIndex((x) => x.id === id)
    const j = vecAll.findIndex((x) => x.id === id)
    return (i < 0 ? 0 : 1 / (10 + i + 1)) + (j < 0 ? 0 : 1 / (10 + j + 1))
  }
  for (const opts of [{ rrfK: 10 }, { fusion: 'rrf', rrfK: 10 }] as const) {
    const fused = await c.search('parrot mat', { k: 5, ...opts })
    t.is(fused.length, 5)
    for (const h of fused) t.true(Math.abs(h.score - rrfScore(h.id)) < 1e-12, `${JSON.stringify(opts)} ${h.id}`)
  }
  const pureKw = await c.search('parrot mat', { k: 2, alpha: 0 })
  const kw = await c.search('parrot mat', { k: 2, mode: 'keyword' })
  t.deepEqual(pureKw.map((x) => x.id), kw.map((x) => x.id))
  for (const [opts, code] of [
    [{ k: 0 }, 'ERR_INVALID_ARGUMENT'],
    [{ k: 1.5 }, 'ERR_INVALID_ARGUMENT'],
    [{ mode: 'fuzzy' }, 'ERR_INVALID_ARGUMENT'],
    [{ alpha: 2 }, 'ERR_INVALID_ARGUMENT'],
    [{ rrfK: -1 }, 'ERR_INVALID_ARGUMENT'],
    [{ vector: [1, 2, 3] }, 'ERR_DIMENSION_MISMATCH'],
  ] as const) {
    const err = await t.throwsAsync(c.search('parrot', opts as never))
    t.is((err as { code?: string }).code, code, JSON.stringify(opts))
  }
  const err = await t.throwsAsync(c.search(new Float32Array(32), { mode: 'keyword' }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  const err2 = await t.throwsAsync(c.search(new Float32Array(5)))
  t.is((err2 as { code?: string }).code, 'ERR_DIMENSION_MISMATCH')
  await c.close()
})

test('any k the API accepts works in every mode: k above 5,000 no longer trips the default candidate depth', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS)
  for (const k of [5001, 10_000]) {
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      const hits = await c.search('cat on a mat', { k, mode })
      // Keyword search finds the two documents with "mat" (and "cat"); the others rank everything.
      t.is(hits.length, mode === 'keyword' ? 2 : ANIMALS.length, `${mode} k=${k}`)
    }
  }
  const err = await t.throwsAsync(c.search('cat on a mat', { k: 10_001 }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  await c.close()
})

test('an empty collection (new, or emptied by delete) answers every mode with no results', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder })
  const check = async (label: string) => {
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      t.deepEqual(await c.search('cat on a mat', { mode }), [], `${label} ${mode}`)
      t.deepEqual(await c.search('cat on a mat', { mode, k: 3, filter: { kind: 'pet' } }), [], `${label} ${mode} filtered`)
    }
    t.deepEqual(await c.search(embedder.vector('cat'), { k: 3 }), [], `${label} vector query`)
  }
  await check('new')
  await c.upsert(ANIMALS)
  t.is(await c.delete(ANIMALS.map((a) => a.id)), ANIMALS.length)
  await check('emptied')
  await c.close()
  const again = await Collection.open(dir, { embedder })
  t.is(again.count(), 0)
  t.deepEqual(await again.search('cat', { mode: 'hybrid' }), [])
  await again.close()
})

test('bad upserts throw coded errors and write nothing', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS.slice(0, 2))
  const before = await c.search('the', { k: 10, mode: 'vector' })
  const cases: [unknown, string, unknown?][] = [
    [[{ id: 'x', text: 'a' }, { id: 'x', text: 'b' }], 'ERR_DUPLICATE_KEY'],
    [[{ id: 'y', text: 'ok' }, { id: 'z' }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: '' }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: '   ' }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: '', text: 'a' }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 5, text: 'a' }], 'ERR_INVALID_ARGUMENT'],
    [[{ text: 'a' }], 'ERR_INVALID_ARGUMENT'],
    [[null], 'ERR_INVALID_ARGUMENT'],
    [{ id: 'y', text: 'a' }, 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: 'x' }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { n: 1n } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', vector: [1, 2, 3] }], 'ERR_DIMENSION_MISMATCH'],
    [[{ id: 'y', text: 'a', vector: new Float32Array(32).fill(Number.NaN) }], 'ERR_INVALID_VECTOR'],
    [[{ id: 'y', text: 'a', vector: 'v' }], 'ERR_INVALID_VECTOR'],
    // Metadata JSON cannot hold exactly: stored, it would come back (and filter) as something else.
    [[{ id: 'y', text: 'a', metadata: { n: Number.NaN } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { n: { deep: [1, Infinity] } } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { when: new Date(0) } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { m: new Map([[1, 2]]) } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { f: () => 1 } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: { list: [1, undefined] } }], 'ERR_INVALID_ARGUMENT'],
    // eslint-disable-next-line no-sparse-arrays
    [[{ id: 'y', text: 'a', metadata: { list: [1, , 3] } }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a', metadata: circular() }], 'ERR_INVALID_ARGUMENT'],
    // Deeper than SQLite's JSON functions go (1,000 levels).
    [[{ id: 'y', text: 'a', metadata: nested(1001) }], 'ERR_INVALID_ARGUMENT'],
    [[{ id: 'y', text: 'a' }], 'ERR_INVALID_ARGUMENT', null],
    [[{ id: 'y', text: 'a' }], 'ERR_INVALID_ARGUMENT', { onProgress: 5 }],
    [[{ id: 'y', text: 'a' }], 'ERR_INVALID_ARGUMENT', { signal: 'stop' }],
  ]
  for (const [i, [docs, code, options]] of cases.entries()) {
    const err = await t.throwsAsync(c.upsert(docs as never, options as never))
    t.is((err as { code?: string }).code, code, `case ${i}: ${(err as Error).message.slice(0, 100)}`)
  }
  const nan = await t.throwsAsync(c.upsert([{ id: 'y', text: 'a', metadata: { a: { b: [0, Number.NaN] } } }]))
  t.regex(nan!.message, /document "y": metadata\.a\.b\[1\] is NaN/)
  t.is(c.count(), 2)
  t.is(c.get('y'), undefined)
  t.is(c.get('x'), undefined)
  t.deepEqual(await c.search('the', { k: 10, mode: 'vector' }), before)
  for (const ids of [[''], [3], 'cat']) {
    const err = await t.throwsAsync(c.delete(ids as never))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  }
  t.is(c.count(), 2)
  await c.close()
  const err = await t.throwsAsync(c.search('cat'))
  t.is((err as { code?: string }).code, 'ERR_CLOSED')
})

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 }
  o.self = o
  return o
}

function nested(depth: number): Record<string, unknown> {
  let o: Record<string, unknown> = { leaf: true }
  for (let i = 1; i < depth; i++) o = { a: o }
  return o
}

test('metadata is stored exactly: nested values, arrays, and undefined properties left out as JSON does', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder(), index: flat })
  const metadata = { tags: ['a', 'b'], n: -0.5, nested: { ok: true, none: null, list: [{ x: 1 }] }, missing: undefined, deep: nested(999) }
  await c.upsert([{ id: 'm', text: 'metadata round trip', metadata }])
  const { missing: _missing, ...expected } = metadata
  t.deepEqual(c.get('m')!.metadata, expected)
  t.false('missing' in c.get('m')!.metadata)
  t.deepEqual((await c.search('metadata', { mode: 'keyword', filter: { 'nested.ok': true } })).map((h) => h.id), ['m'])
  await c.close()
})

test('open, search and migrate refuse malformed options and embedders with ERR_INVALID_ARGUMENT', async (t) => {
  const dir = tempDir(t)
  for (const embedder of [{}, 'use', { identity: { provider: 'x', model: 'y' } }, { embed() {}, embedMany() {} }]) {
    const err = await t.throwsAsync(Collection.open(join(dir, 'never'), { embedder: embedder as never }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', JSON.stringify(embedder))
    t.regex((err as Error).message, /options\.embedder must be an Embedder/)
  }
  t.false(existsSync(join(dir, 'never')))
  const c = await Collection.open(join(dir, 'c'), { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS)
  for (const options of [null, 'k=3', [3]]) {
    const err = await t.throwsAsync(c.search('cat', options as never))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', String(options))
  }
  for (const [embedder, options] of [
    [null, {}],
    [{ embedMany() {} }, {}],
    [new WordsEmbedder('words-v2'), { onProgress: 'yes' }],
    [new WordsEmbedder('words-v2'), { signal: true }],
  ] as const) {
    const err = await t.throwsAsync(c.migrate(embedder as never, options as never))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', (err as Error).message)
  }
  t.is(c.model.model, 'words-v1')
  t.is(c.info().migration, undefined)
  await c.close()
})

test('precomputed vectors are stored as given; unchanged text is not re-embedded', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder, index: flat })
  const v = new Float32Array(32)
  v[3] = 1
  await c.upsert([{ id: 'v', text: 'custom vector doc', vector: v }, ...ANIMALS])
  t.is(embedder.calls, 5)
  const hit = (await c.search(v, { k: 1 }))[0]!
  t.is(hit.id, 'v')
  t.true(Math.abs(hit.score - 1) < 1e-6)
  await c.upsert(ANIMALS.map((a) => ({ ...a, metadata: { changed: true } })))
  t.is(embedder.calls, 5, 'same texts: stored vectors reused')
  t.deepEqual(c.get('cat')!.metadata, { changed: true })
  await c.close()
})

test('progress is reported and an aborted upsert writes nothing', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder })
  const docs = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` }))
  const seen: number[] = []
  await c.upsert(docs.slice(0, 20), { onProgress: (p) => seen.push(p.done) })
  t.true(seen.length >= 2)
  t.is(seen[seen.length - 1], 20)
  t.deepEqual([...seen].sort((a, b) => a - b), seen)
  const ac = new AbortController()
  embedder.beforeBatch = (done) => {
    if (done >= 8) ac.abort()
  }
  const err = await t.throwsAsync(c.upsert(docs.slice(20), { signal: ac.signal }))
  t.is((err as { code?: string }).code, 'ERR_ABORTED')
  t.is(c.count(), 20)
  t.is(c.get('d25'), undefined)
  await c.close()
})

test('the pinned model: another embedder is refused with ERR_MODEL_MISMATCH naming both', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder('words-v1') })
  await c.upsert(ANIMALS)
  await c.close()
  for (const other of [new WordsEmbedder('words-v2'), new WordsEmbedder('words-v1', 64)]) {
    const err = await t.throwsAsync(Collection.open(dir, { embedder: other }))
    t.is((err as { code?: string }).code, 'ERR_MODEL_MISMATCH')
    t.regex((err as Error).message, /test-words\/words-v1 \(32-d/)
    t.regex((err as Error).message, new RegExp(`test-words/${other.model} \\(${other.dimensions}-d`))
  }
  // The default embedder (offline USE) is another model too; the check happens before it is loaded.
  const err = await t.throwsAsync(Collection.open(dir))
  t.is((err as { code?: string }).code, 'ERR_MODEL_MISMATCH')
  t.regex((err as Error).message, /use\/universal-sentence-encoder-lite/)
  // Index settings are fixed at creation (efSearch may change).
  const err2 = await t.throwsAsync(Collection.open(dir, { embedder: new WordsEmbedder(), index: { type: 'flat' } }))
  t.is((err2 as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  const c2 = await Collection.open(dir, { embedder: new WordsEmbedder(), index: { efSearch: 128 } })
  t.is(c2.info().index.efSearch, 128)
  t.is(c2.count(), 5)
  await c2.close()
})

test('embedder: null opens a collection of any model for keyword search and precomputed vectors', async (t) => {
  const dir = tempDir(t)
  const words = new WordsEmbedder('words-v1')
  const c = await Collection.open(dir, { embedder: words })
  await c.upsert(ANIMALS)
  await c.close()

  const bare = await Collection.open(dir, { embedder: null })
  t.is(bare.embedder, null)
  t.deepEqual(bare.model, c.model)
  t.is((await bare.search('cat mat', { k: 1, mode: 'keyword' }))[0]!.id, 'cat')
  // A query vector from the pinned model still searches; text that must be embedded cannot.
  const q = words.vector('cat on a mat')
  t.is((await bare.search(q, { k: 1 }))[0]!.id, 'cat')
  for (const mode of ['vector', 'hybrid'] as const) {
    const err = await t.throwsAsync(bare.search('cat on a mat', { k: 1, mode }))
    t.is((err as { code?: string }).code, 'ERR_NO_EMBEDDER')
    t.regex((err as Error).message, /test-words\/words-v1 \(32-d/)
  }
  // Upserts: with a vector they are stored, without one they fail and write nothing.
  await bare.upsert([{ id: 'lynx', text: 'a lynx hunts in the snow', vector: words.vector('a lynx hunts in the snow') }])
  const err = await t.throwsAsync(bare.upsert([{ id: 'wolf', text: 'a wolf howls' }]))
  t.is((err as { code?: string }).code, 'ERR_NO_EMBEDDER')
  t.is(bare.count(), ANIMALS.length + 1)
  t.is(bare.get('wolf'), undefined)
  await bare.close()

  // The pin is untouched: the model's own embedder still opens it and finds the new document.
  const again = await Collection.open(dir, { embedder: words })
  t.is((await again.search('lynx snow', { k: 1, mode: 'vector' }))[0]!.id, 'lynx')
  await again.close()
  // A new collection needs an embedder to pin.
  const fresh = tempDir(t)
  const err2 = await t.throwsAsync(Collection.open(fresh, { embedder: null }))
  t.is((err2 as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
  t.false(existsSync(join(fresh, 'collection.sqlite')))
})

test('flush saves the index only when something changed since the last save', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  await c.upsert(ANIMALS)
  await c.flush()
  const file = () => readdirSync(dir).find((f) => /^index-\d+\.hnsw$/.test(f))!
  const first = statSync(join(dir, file()))
  // Saves go through a temporary file and a rename, so a rewrite would show as a new inode.
  await c.flush()
  t.is(statSync(join(dir, file())).ino, first.ino)
  await c.delete(['cat'])
  await c.flush()
  t.not(statSync(join(dir, file())).ino, first.ino)
  await c.close()
})

test('open options: create: false, bad index options, readInfo', async (t) => {
  const dir = tempDir(t)
  const missing = join(dir, 'nothing-here')
  const err = await t.throwsAsync(Collection.open(missing, { create: false, embedder: new WordsEmbedder() }))
  t.is((err as { code?: string }).code, 'ERR_NOT_FOUND')
  t.false(existsSync(missing))
  const err2 = await t.throwsAsync(Collection.readInfo(missing))
  t.is((err2 as { code?: string }).code, 'ERR_NOT_FOUND')
  for (const [index, code] of [
    [{ type: 'ivf' }, 'ERR_INVALID_ARGUMENT'],
    [{ metric: 'hamming' }, 'ERR_UNKNOWN_METRIC'],
    [{ m: 1 }, 'ERR_INVALID_ARGUMENT'],
    [{ quantization: 'int4' }, 'ERR_INVALID_ARGUMENT'],
    [{ quantization: 'binary', metric: 'l2' }, 'ERR_INVALID_ARGUMENT'],
    // The embedder's 32 dimensions are known at creation: pq's m must divide them.
    [{ quantization: { type: 'pq', m: 5 } }, 'ERR_INVALID_ARGUMENT'],
  ] as const) {
    const e = await t.throwsAsync(Collection.open(join(dir, 'c'), { embedder: new WordsEmbedder(), index: index as never }))
    t.is((e as { code?: string }).code, code)
    t.false(existsSync(join(dir, 'c', 'collection.sqlite')))
  }
  const path = join(dir, 'c')
  const c = await Collection.open(path, { embedder: new WordsEmbedder(), index: { type: 'hnsw', m: 8, metric: 'cosine' } })
  await c.upsert(ANIMALS)
  const live = c.info()
  t.is(live.count, 5)
  t.is(live.dim, 32)
  t.deepEqual(live.model, { provider: 'test-words', model: 'words-v1', dimensions: 32, normalize: true })
  t.is(live.index.m, 8)
  await c.close()
  const read = await Collection.readInfo(path)
  t.is(read.count, 5)
  t.deepEqual(read.model, live.model)
  t.truthy(read.indexPath && existsSync(read.indexPath))
  t.true(read.sizes.index > 0 && read.sizes.db > 0)
})

test('open and readInfo: a file where the directory should be, a damaged or foreign database give coded errors and change nothing', async (t) => {
  const { writeFileSync, readFileSync, mkdirSync } = await import('node:fs')
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const file = join(dir, 'notes.txt')
  writeFileSync(file, 'not a directory')
  const err = await t.throwsAsync(Collection.open(file, { embedder }))
  t.is((err as { code?: string }).code, 'ERR_IO')
  t.regex((err as Error).message, /notes\.txt is a file, not a collection directory/)
  t.is(readFileSync(file, 'utf8'), 'not a directory')

  const garbage = join(dir, 'garbage')
  mkdirSync(garbage)
  const bytes = 'this is not a SQLite database, only text long enough to fill a header page'
  writeFileSync(join(garbage, 'collection.sqlite'), bytes)
  for (const open of [() => Collection.open(garbage, { embedder }), () => Collection.open(garbage, { embedder: null }), () => Collection.readInfo(garbage)]) {
    const e = await t.throwsAsync(open())
    t.is((e as { code?: string }).code, 'ERR_CORRUPT_FILE')
    t.regex((e as Error).message, /garbage\/collection\.sqlite: not a readable collection database/)
  }
  t.is(readFileSync(join(garbage, 'collection.sqlite'), 'utf8'), bytes)
  t.deepEqual(readdirSync(garbage), ['collection.sqlite'])

  // Another program's SQLite database under our file name: refused, never written into.
  const foreign = join(dir, 'foreign')
  mkdirSync(foreign)
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(join(foreign, 'collection.sqlite'))
  db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')")
  db.close()
  for (const open of [() => Collection.open(foreign, { embedder }), () => Collection.readInfo(foreign)]) {
    const e = await t.throwsAsync(open())
    t.is((e as { code?: string }).code, 'ERR_CORRUPT_FILE')
    t.regex((e as Error).message, /not a ferrovec collection/)
  }
  const check = new Database(join(foreign, 'collection.sqlite'), { readonly: true })
  t.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), ['notes'])
  check.close()

  // A collection whose records were damaged: ERR_CORRUPT_FILE naming the record.
  const damaged = join(dir, 'damaged')
  const c = await Collection.open(damaged, { embedder })
  await c.upsert(ANIMALS)
  await c.close()
  const raw = new Database(join(damaged, 'collection.sqlite'))
  raw.prepare("UPDATE meta SET value = '{broken' WHERE name = 'index'").run()
  raw.close()
  for (const open of [() => Collection.open(damaged, { embedder }), () => Collection.readInfo(damaged)]) {
    const e = await t.throwsAsync(open())
    t.is((e as { code?: string }).code, 'ERR_CORRUPT_FILE')
    t.regex((e as Error).message, /the collection's index record is not valid JSON/)
  }
})

test('quantised collections: exact until the codes train, then search on codes; settings pinned on reopen', async (t) => {
  const embedder = new WordsEmbedder('words-v1', 64)
  const vocab = Array.from({ length: 60 }, (_, i) => `w${i}`)
  const text = (i: number) => `${vocab[i % 60]} ${vocab[(i * 7) % 60]} ${vocab[(i * 13 + 5) % 60]} ${vocab[(i * 31 + 11) % 60]} doc${i}`
  const exactTop = (docs: { id: string; text: string }[], q: Float32Array, k: number) =>
    docs
      .map((d) => {
        const v = embedder.vector(d.text)
        let dot = 0
        for (let i = 0; i < v.length; i++) dot += v[i]! * q[i]!
        return dot
      })
      .sort((a, b) => b - a)
      .slice(0, k)
  for (const [type, quantization] of [
    ['flat', 'int8'],
    ['hnsw', 'int8'],
    ['hnsw', 'binary'],
  ] as const) {
    const dir = tempDir(t)
    const c = await Collection.open(dir, { embedder, index: { type, quantization } })
    // 50 documents: fewer than the codes need to train, so vector search is exact over the database.
    const few = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: text(i) }))
    await c.upsert(few)
    const q = embedder.vector('w3 w7 w21')
    let hits = await c.search(q, { k: 5 })
    exactTop(few, q, 5).forEach((s, i) => t.true(Math.abs(hits[i]!.score - s) < 1e-5, `${type} ${quantization} before training, rank ${i}`))
    // Past the threshold (1,000) the index trains itself and searches its codes.
    const many = Array.from({ length: 1200 }, (_, i) => ({ id: `d${i}`, text: text(i) }))
    await c.upsert(many)
    hits = await c.search(q, { k: 10 })
    const want = exactTop(many, q, 10)
    // Rescored (binary) or 8-bit (int8) scores on a 64-d bag of words: the top 10 holds at least 8
    // of the exact top-10 scores (measured: all 10 for int8, 9–10 for binary).
    const kth = want[9]! - 1e-3
    t.true(hits.filter((h) => h.score >= kth).length >= 8, `${type} ${quantization}: ${hits.map((h) => h.score.toFixed(3)).join(' ')} vs ${want.map((x) => x.toFixed(3)).join(' ')}`)
    t.deepEqual(c.info().index.quantization, quantization)
    await c.close()
    const again = await Collection.open(dir, { embedder })
    t.is((await again.search(q, { k: 1 }))[0]!.id, hits[0]!.id)
    const err = await t.throwsAsync(Collection.open(dir, { embedder, index: { quantization: 'none' } }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
    await again.close()
  }
})

test('chunked upserts store chunks that map back to the source text', async (t) => {
  const dir = tempDir(t)
  const c = await Collection.open(dir, { embedder: new WordsEmbedder() })
  const text = 'First paragraph about cats.\n\nSecond paragraph about dogs and parks.\n\nThird one about sharks in the ocean.'
  await c.upsert([{ id: 'doc', text, metadata: { src: 'x' } }], { chunk: { strategy: 'recursive', maxSize: 45 } })
  t.true(c.count() >= 3)
  const hits = await c.search('sharks ocean', { k: 1, mode: 'keyword' })
  const h = hits[0]!
  t.is(h.chunk!.parent, 'doc')
  t.is(text.slice(h.chunk!.start, h.chunk!.end), h.text)
  t.deepEqual(h.metadata, { src: 'x' })
  // Re-chunking replaces the old chunks; deleting the parent id removes them all.
  await c.upsert([{ id: 'doc', text: 'Only one short chunk now.' }], { chunk: { strategy: 'recursive', maxSize: 100 } })
  t.is(c.count(), 1)
  t.is(c.get('doc#0')!.text, 'Only one short chunk now.')
  t.deepEqual(await c.search('sharks', { mode: 'keyword' }), [])
  t.is(await c.delete(['doc']), 1)
  t.is(c.count(), 0)
  // Upserted whole after being chunked: the chunks go, the whole document stays.
  await c.upsert([{ id: 'doc', text: 'Chunk one. Chunk two is here.' }], { chunk: { strategy: 'sentence', maxSize: 12 } })
  t.true(c.count() >= 2)
  await c.upsert([{ id: 'doc', text: 'Whole again.' }])
  t.is(c.count(), 1)
  t.is(c.get('doc')!.text, 'Whole again.')
  t.is(c.get('doc#0'), undefined)
  await c.close()
})

test('a damaged or missing index file is rebuilt from the database on open', async (t) => {
  const dir = tempDir(t)
  const embedder = new WordsEmbedder()
  const c = await Collection.open(dir, { embedder })
  await c.upsert(ANIMALS)
  const q = embedder.vector('mat')
  const before = await c.search(q, { k: 5 })
  const indexPath = c.info().indexPath!
  await c.close()
  const { writeFileSync, rmSync } = await import('node:fs')
  writeFileSync(indexPath, 'garbage')
  const c2 = await Collection.open(dir, { embedder })
  t.deepEqual(await c2.search(q, { k: 5 }), before)
  await c2.close()
  rmSync(indexPath)
  const c3 = await Collection.open(dir, { embedder })
  t.deepEqual(await c3.search(q, { k: 5 }), before)
  t.is(embedder.calls, 5, 'recovery never re-embeds')
  await c3.close()
  t.true(readdirSync(dir).filter((f) => f.startsWith('index-')).length === 1)
})
