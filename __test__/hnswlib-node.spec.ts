// `ferrovec/hnswlib-node` against the real hnswlib-node 3.x (a dev dependency), side by side in one
// process: the behaviours its README and typings document give the same results, messages and
// files; the deliberate differences are errors with codes, and leave the index unchanged.
import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import real from 'hnswlib-node'
import ours, {
  BruteforceSearch,
  HierarchicalNSW,
  InnerProductSpace,
  L2Space,
  type SearchResult,
} from '../src/compat/hnswlib-node.js'
import { rng as seededRandom } from './helpers.js'

type Lib = typeof ours
const libs: [string, Lib][] = [
  ['hnswlib-node', real as unknown as Lib],
  ['ferrovec', ours],
]
const dir = mkdtempSync(join(tmpdir(), 'ferrovec-hnswlib-'))

function data(n: number, dim: number, seed: number): number[][] {
  const rand = seededRandom(seed)
  return Array.from({ length: n }, () => Array.from({ length: dim }, () => rand() * 2 - 1))
}

/** What a call did: its value, or its error's class name and message. */
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() }
  } catch (e) {
    const err = e as Error
    return { error: err instanceof TypeError ? 'TypeError' : 'Error', message: err.message }
  }
}

function exact(points: number[][], q: number[], k: number, space: 'l2' | 'ip' | 'cosine'): number[] {
  const norm = (v: number[]) => Math.hypot(...v) || 1
  const d = points.map((p, i) => {
    let s = 0
    if (space === 'l2') for (let j = 0; j < q.length; j++) s += (p[j] - q[j]) ** 2
    else if (space === 'ip') for (let j = 0; j < q.length; j++) s -= p[j] * q[j]
    else for (let j = 0; j < q.length; j++) s -= (p[j] * q[j]) / norm(p) / norm(q)
    return [s, i] as const
  })
  return d
    .sort((a, b) => a[0] - b[0])
    .slice(0, k)
    .map((x) => x[1])
}

function recall(results: number[][], truth: number[][]): number {
  let hit = 0
  let total = 0
  results.forEach((r, i) => {
    const t = new Set(truth[i])
    hit += r.filter((x) => t.has(x)).length
    total += truth[i].length
  })
  return hit / total
}

test('module shape: default export holds the four classes, also as named exports', (t) => {
  t.deepEqual(Object.keys(ours).sort(), ['BruteforceSearch', 'HierarchicalNSW', 'InnerProductSpace', 'L2Space'])
  t.is(ours.HierarchicalNSW, HierarchicalNSW)
  t.is(ours.BruteforceSearch, BruteforceSearch)
  t.is(ours.L2Space, L2Space)
  t.is(ours.InnerProductSpace, InnerProductSpace)
  // (hnswlib-node's loader, `bindings`, also leaves the addon's file `path` on the module.)
  t.deepEqual(Object.keys(ours).sort(), Object.keys(real).filter((k) => k !== 'path').sort())
})

test('defaults and getters match hnswlib-node (ef 10, maxElements, counts, dimensions)', (t) => {
  const got = libs.map(([, lib]) => {
    const idx = new lib.HierarchicalNSW('l2', 3)
    const before = [idx.getMaxElements(), idx.getCurrentCount(), idx.getNumDimensions(), idx.getIdsList()]
    const efBefore = outcome(() => idx.getEf())
    idx.initIndex(5)
    idx.addPoint([1, 2, 3], 7)
    return { before, efBefore, after: [idx.getEf(), idx.getMaxElements(), idx.getCurrentCount(), idx.getIdsList()] }
  })
  t.deepEqual(got[1], got[0])
  t.deepEqual(got[1].after, [10, 5, 1, [7]])
})

test('named and positional initIndex; argument and type errors carry hnswlib-node messages', (t) => {
  const scenarios: [string, (lib: Lib) => unknown][] = [
    ['named', (lib) => {
      const i = new lib.HierarchicalNSW('ip', 2)
      i.initIndex({ maxElements: 3, m: 8, efConstruction: 50, randomSeed: 1 })
      i.addPoint([1, 0], 1)
      return [i.getMaxElements(), i.getEf(), i.searchKnn([1, 0], 1)]
    }],
    ['missing maxElements', (lib) => new lib.HierarchicalNSW('l2', 2).initIndex({} as never)],
    ['bad m', (lib) => new lib.HierarchicalNSW('l2', 2).initIndex({ maxElements: 3, m: '8' } as never)],
    ['bad positional', (lib) => new lib.HierarchicalNSW('l2', 2).initIndex(3, 'x' as never)],
    ['bad fifth', (lib) => new lib.HierarchicalNSW('l2', 2).initIndex(3, 16, 200, 100, 1 as never)],
    ['no args', (lib) => (new lib.HierarchicalNSW('l2', 2).initIndex as (...a: unknown[]) => void)()],
    ['bad space', (lib) => new lib.HierarchicalNSW('hamming' as never, 2)],
    ['space arity', (lib) => new (lib.HierarchicalNSW as unknown as new (...a: unknown[]) => unknown)('l2')],
    ['before init', (lib) => new lib.HierarchicalNSW('l2', 2).addPoint([1, 2], 1)],
    ['search before init', (lib) => new lib.HierarchicalNSW('l2', 2).searchKnn([1, 2], 1)],
    ['wrong length', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(2)
      i.addPoint([1, 2, 3], 1)
    }],
    ['label type', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(2)
      i.addPoint([1, 2], '1' as never)
    }],
    ['capacity', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(1)
      i.addPoint([1, 2], 1)
      i.addPoint([2, 2], 2)
    }],
    ['k above maxElements', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(2)
      i.addPoint([1, 2], 1)
      return i.searchKnn([1, 2], 3)
    }],
    ['k zero and k above count', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(5)
      i.addPoint([1, 2], 1)
      i.addPoint([1, 3], 2)
      return [i.searchKnn([1, 2], 0), i.searchKnn([1, 2], 4)]
    }],
    ['filter not a function', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(2)
      i.searchKnn([1, 2], 1, 3 as never)
    }],
    ['resize below count', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(3)
      i.addPoint([1, 2], 1)
      i.addPoint([1, 3], 2)
      i.resizeIndex(1)
    }],
    ['resize then add', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(1)
      i.addPoint([1, 2], 1)
      i.resizeIndex(3)
      i.addPoint([1, 3], 2)
      return [i.getMaxElements(), i.getCurrentCount()]
    }],
    ['getPoint unknown', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(2)
      return i.getPoint(4)
    }],
    ['getPoint before init', (lib) => new lib.HierarchicalNSW('l2', 2).getPoint(4)],
    ['write before init', (lib) => new lib.HierarchicalNSW('l2', 2).writeIndexSync(join(dir, 'never.index'))],
    ['read missing', (lib) => new lib.HierarchicalNSW('l2', 2).readIndexSync(join(dir, 'missing.index'))],
    ['update existing label', (lib) => {
      const i = new lib.HierarchicalNSW('l2', 2)
      i.initIndex(1)
      i.addPoint([1, 2], 1)
      i.addPoint([5, 5], 1)
      return [i.getCurrentCount(), i.getPoint(1), i.searchKnn([5, 5], 1)]
    }],
  ]
  for (const [name, run] of scenarios) {
    const [theirs, mine] = libs.map(([, lib]) => outcome(() => run(lib)))
    t.deepEqual(mine, theirs, name)
  }
})

test('markDelete / unmarkDelete / replaceDeleted / getIdsList / getCurrentCount follow hnswlib', (t) => {
  const run = (lib: Lib) => {
    const log: unknown[] = []
    const i = new lib.HierarchicalNSW('l2', 2)
    i.initIndex({ maxElements: 4, allowReplaceDeleted: true })
    for (let k = 0; k < 4; k++) i.addPoint([k, k], k * 10)
    i.markDelete(10)
    log.push(outcome(() => i.markDelete(10)))
    log.push(outcome(() => i.markDelete(99)))
    log.push(outcome(() => i.unmarkDelete(20)))
    log.push(outcome(() => i.unmarkDelete(99)))
    log.push(i.getCurrentCount(), i.getIdsList().sort((a, b) => a - b), i.searchKnn([1, 1], 3))
    log.push(outcome(() => i.getPoint(10)))
    log.push(outcome(() => i.addPoint([9, 9], 10)))
    log.push(outcome(() => i.addPoint([9, 9], 50)))
    i.addPoint([9, 9], 50, true)
    log.push(i.getCurrentCount(), i.getIdsList().sort((a, b) => a - b), i.searchKnn([9, 9], 2))
    i.markDelete(20)
    i.unmarkDelete(20)
    log.push(i.searchKnn([2, 2], 1))
    const j = new lib.HierarchicalNSW('l2', 2)
    j.initIndex(3)
    j.addPoint([0, 0], 1)
    log.push(outcome(() => j.addPoint([1, 1], 2, true)))
    j.markDelete(1)
    j.addPoint([1, 1], 1)
    log.push(j.getCurrentCount(), j.searchKnn([1, 1], 1), j.getPoint(1))
    return log
  }
  t.deepEqual(run(ours), run(real as unknown as Lib))
})

test('cosine normalises on insert and on query; getPoint returns the normalised vector', (t) => {
  const [theirs, mine] = libs.map(([, lib]) => {
    const i = new lib.HierarchicalNSW('cosine', 3)
    i.initIndex(3)
    i.addPoint([3, 0, 4], 1)
    i.addPoint([0, 2, 1], 2)
    i.addPoint([0, 0, 0], 3)
    return { p: i.getPoint(1), z: i.getPoint(3), r: i.searchKnn([6, 0, 8], 2) }
  })
  t.deepEqual(mine.p.map((x) => Math.fround(x)), [0.6, 0, 0.8].map(Math.fround))
  t.deepEqual(mine.p, theirs.p)
  t.deepEqual(mine.z, theirs.z)
  t.deepEqual(mine.r.neighbors, theirs.r.neighbors)
  mine.r.distances.forEach((d, k) => t.true(Math.abs(d - theirs.r.distances[k]) < 1e-6))
  t.true(Math.abs(mine.r.distances[0]) < 1e-6)
})

test('spaces: L2Space and InnerProductSpace distances and errors match', (t) => {
  const a = [0.5, -1, 2, 0.25]
  const b = [1, 1, -0.5, 3]
  for (const [Space, RealSpace] of [
    [L2Space, real.L2Space],
    [InnerProductSpace, real.InnerProductSpace],
  ] as const) {
    const mine = new Space(4)
    const theirs = new RealSpace(4)
    t.is(mine.distance(a, b), theirs.distance(a, b))
    t.is(mine.getNumDimensions(), 4)
    t.deepEqual(outcome(() => mine.distance(a, [1])), outcome(() => theirs.distance(a, [1])))
    t.deepEqual(outcome(() => mine.distance(1 as never, b)), outcome(() => theirs.distance(1 as never, b)))
  }
})

test('BruteforceSearch: same results, counts and removal as hnswlib-node', (t) => {
  const points = data(60, 5, 3)
  const queries = data(10, 5, 4)
  const [theirs, mine] = libs.map(([, lib]) => {
    const i = new lib.BruteforceSearch('ip', 5)
    i.initIndex(80)
    points.forEach((p, k) => i.addPoint(p, k + 100))
    i.removePoint(105)
    i.removePoint(999)
    const out: unknown[] = [i.getCurrentCount(), i.getMaxElements(), i.getNumDimensions()]
    for (const q of queries) out.push(i.searchKnn(q, 5).neighbors)
    out.push(i.searchKnn(queries[0], 3, (l) => l % 2 === 0).neighbors)
    out.push(outcome(() => i.searchKnn(queries[0], 0)))
    return out
  })
  t.deepEqual(mine, theirs)
})

test('BruteforceSearch files: written by hnswlib-node, read by ferrovec, and back', async (t) => {
  const points = data(30, 4, 8)
  const q = points[3]
  const theirs = new real.BruteforceSearch('l2', 4)
  theirs.initIndex(40)
  points.forEach((p, k) => theirs.addPoint(p, k))
  const f1 = join(dir, 'bf-real.index')
  t.true(await theirs.writeIndex(f1))
  const mine = new BruteforceSearch('l2', 4)
  t.true(await mine.readIndex(f1))
  t.deepEqual(mine.searchKnn(q, 5), theirs.searchKnn(q, 5))
  t.is(mine.getMaxElements(), 40)
  const f2 = join(dir, 'bf-ours.index')
  mine.writeIndexSync(f2)
  // Byte for byte up to the unused slots (hnswlib writes whatever its allocation held there).
  const used = 24 + 30 * (4 * 4 + 8)
  t.deepEqual(readFileSync(f2).subarray(0, used), readFileSync(f1).subarray(0, used))
  t.is(readFileSync(f2).length, readFileSync(f1).length)
  const wrong = new BruteforceSearch('l2', 5)
  t.is((t.throws(() => wrong.readIndexSync(f1)) as { code?: string }).code, 'ERR_DIMENSION_MISMATCH')
  writeFileSync(join(dir, 'bf-short.index'), readFileSync(f1).subarray(0, 100))
  t.is((t.throws(() => mine.readIndexSync(join(dir, 'bf-short.index'))) as { code?: string }).code, 'ERR_CORRUPT_FILE')
  t.is(mine.getCurrentCount(), 30, 'a refused file changes nothing')
})

const N = 2000
const DIM = 24
const points = data(N, DIM, 11)
const queries = data(100, DIM, 12)

function fill(idx: { addPoint(p: number[], l: number): void }) {
  points.forEach((p, k) => idx.addPoint(p, k))
}

function searchAll(idx: { searchKnn(q: number[], k: number): SearchResult }, k = 10): number[][] {
  return queries.map((q) => idx.searchKnn(q, k).neighbors)
}

for (const space of ['l2', 'ip', 'cosine'] as const) {
  test(`${space}: a file written by hnswlib-node loads in ferrovec and answers the same queries`, async (t) => {
    const theirs = new real.HierarchicalNSW(space, DIM)
    theirs.initIndex(N + 100)
    fill(theirs)
    for (let k = 0; k < N; k += 97) theirs.markDelete(k)
    const file = join(dir, `real-${space}.index`)
    t.true(await theirs.writeIndex(file))

    const mine = new HierarchicalNSW(space, DIM)
    t.true(await mine.readIndex(file))
    t.is(mine.getCurrentCount(), theirs.getCurrentCount())
    t.is(mine.getMaxElements(), theirs.getMaxElements())
    t.is(mine.getEf(), 10)
    t.deepEqual(mine.getIdsList().sort((a, b) => a - b), theirs.getIdsList().sort((a, b) => a - b))
    t.deepEqual(mine.getPoint(5), theirs.getPoint(5))
    for (const ef of [10, 50]) {
      theirs.setEf(ef)
      mine.setEf(ef)
      const a = searchAll(theirs)
      const b = searchAll(mine)
      // Same graph, same entry point, same beam: the same answers (allowing float ties).
      const same = a.filter((r, i) => r.join() === b[i].join()).length
      t.true(same >= 97, `ef ${ef}: ${same}/100 identical`)
      const truth = queries.map((q) => exact(points, q, 10, space).filter((x) => x % 97 !== 0))
      t.true(Math.abs(recall(b, truth) - recall(a, truth)) < 0.01)
    }
  })

  test(`${space}: a file written by ferrovec loads in hnswlib-node and answers the same queries`, async (t) => {
    const mine = new HierarchicalNSW(space, DIM)
    mine.initIndex(N)
    fill(mine)
    mine.markDelete(3)
    const file = join(dir, `ours-${space}.index`)
    t.true(await mine.writeIndex(file))
    const theirs = new real.HierarchicalNSW(space, DIM)
    t.true(await theirs.readIndex(file))
    t.is(theirs.getCurrentCount(), N)
    t.is(theirs.getMaxElements(), N)
    t.throws(() => theirs.getPoint(3), { message: 'Hnswlib Error: Label not found' })
    for (const ef of [10, 40]) {
      theirs.setEf(ef)
      mine.setEf(ef)
      const a = searchAll(theirs)
      const b = searchAll(mine)
      const same = a.filter((r, i) => r.join() === b[i].join()).length
      t.true(same >= 97, `ef ${ef}: ${same}/100 identical`)
    }
    // hnswlib-node can keep building on it.
    theirs.resizeIndex(N + 1)
    theirs.addPoint(points[0].map((x) => -x), N)
    t.is(theirs.searchKnn(points[0].map((x) => -x), 1).neighbors[0], N)
  })
}

test('recall with default ef matches hnswlib-node on the same data', (t) => {
  const truth = queries.map((q) => exact(points, q, 10, 'cosine'))
  const r = libs.map(([, lib]) => {
    const i = new lib.HierarchicalNSW('cosine', DIM)
    i.initIndex(N)
    fill(i)
    return recall(searchAll(i), truth)
  })
  t.log(`recall@10, ef 10: hnswlib-node ${r[0].toFixed(3)}, ferrovec ${r[1].toFixed(3)}`)
  t.true(r[1] >= r[0] - 0.03, `ferrovec ${r[1]} vs hnswlib-node ${r[0]}`)
})

test('filter: same results as hnswlib-node; a throwing filter is a thrown error', async (t) => {
  const [theirs, mine] = libs.map(([, lib]) => {
    const i = new lib.HierarchicalNSW('l2', DIM)
    i.initIndex(N)
    fill(i)
    i.setEf(200)
    return i
  })
  const even = (l: number) => l % 2 === 0
  for (const q of queries.slice(0, 20)) {
    const truth = exact(points, q, 200, 'l2').filter(even).slice(0, 5)
    t.deepEqual(mine.searchKnn(q, 5, even).neighbors, truth)
    t.deepEqual(theirs.searchKnn(q, 5, even).neighbors, truth)
  }
  // Any truthy value keeps a label, as hnswlib-node's ToBoolean().
  const truthy = ((l: number) => (l % 3 === 0 ? 'yes' : 0)) as unknown as (l: number) => boolean
  t.deepEqual(mine.searchKnn(queries[2], 5, truthy).neighbors, theirs.searchKnn(queries[2], 5, truthy).neighbors)
  const boom = new Error('boom')
  t.is(
    t.throws(() =>
      mine.searchKnn(queries[0], 5, () => {
        throw boom
      }),
    ),
    boom,
  )
  await t.throwsAsync(
    mine.searchKnnAsync(queries[0], 5, () => {
      throw boom
    }),
    { is: boom },
  )
  t.deepEqual(await mine.searchKnnAsync(queries[1], 5, even), mine.searchKnn(queries[1], 5, even))
  t.deepEqual(await mine.searchKnnAsync(queries[1], 7), mine.searchKnn(queries[1], 7))
})

test('deliberate differences: Float32Array accepted, big labels and NaN refused, nothing changed', (t) => {
  const i = new HierarchicalNSW('l2', 3)
  i.initIndex(10)
  i.addPoint(new Float32Array([1, 2, 3]), 1)
  t.deepEqual(i.searchKnn(new Float32Array([1, 2, 3]), 1).neighbors, [1])
  const ids = () => i.getIdsList()
  for (const label of [2 ** 32, -1, 1.5, Number.NaN]) {
    const err = t.throws(() => i.addPoint([1, 1, 1], label))
    t.is((err as { code?: string }).code, 'ERR_INVALID_KEY', String(label))
  }
  for (const bad of [[1, Number.NaN, 1], [Infinity, 0, 0], [1, 'x', 2]]) {
    const err = t.throws(() => i.addPoint(bad as number[], 2))
    t.is((err as { code?: string }).code, 'ERR_INVALID_VECTOR')
    t.is((t.throws(() => i.searchKnn(bad as number[], 1)) as { code?: string }).code, 'ERR_INVALID_VECTOR')
  }
  t.deepEqual(ids(), [1])
  t.is(i.getCurrentCount(), 1)
  t.is((t.throws(() => i.markDelete(2 ** 40)) as { code?: string }).code, 'ERR_INVALID_KEY')
})

test('deliberate difference: a file of another dimension or a damaged file is refused, index unchanged', async (t) => {
  const theirs = new real.HierarchicalNSW('l2', 8)
  theirs.initIndex(50)
  data(40, 8, 5).forEach((p, k) => theirs.addPoint(p, k))
  const file = join(dir, 'dim8.index')
  theirs.writeIndexSync(file)

  const mine = new HierarchicalNSW('l2', 4)
  mine.initIndex(5)
  mine.addPoint([1, 2, 3, 4], 9)
  const err = await t.throwsAsync(mine.readIndex(file))
  t.is((err as { code?: string }).code, 'ERR_DIMENSION_MISMATCH')
  t.regex(err!.message, /expected 4, got 8/)
  t.is((t.throws(() => mine.readIndexSync(file)) as { code?: string }).code, 'ERR_DIMENSION_MISMATCH')

  const bytes = readFileSync(file)
  const damaged = join(dir, 'damaged.index')
  writeFileSync(damaged, bytes.subarray(0, bytes.length - 3))
  const m8 = new HierarchicalNSW('l2', 8)
  t.is((await t.throwsAsync(m8.readIndex(damaged)) as { code?: string }).code, 'ERR_CORRUPT_FILE')
  const flipped = Buffer.from(bytes)
  flipped.writeUInt32LE(4000, 96 + 4) // a neighbour id past the end
  writeFileSync(damaged, flipped)
  t.is((t.throws(() => m8.readIndexSync(damaged)) as { code?: string }).code, 'ERR_CORRUPT_FILE')
  t.deepEqual(mine.getIdsList(), [9])
  t.deepEqual(mine.searchKnn([1, 2, 3, 4], 1).neighbors, [9])
})

test('package: import() default, named ESM exports and require() are the same module shape', async (t) => {
  const esm = await import('ferrovec/hnswlib-node')
  const { default: { HierarchicalNSW: H } } = esm
  t.is(H, esm.HierarchicalNSW)
  for (const name of ['L2Space', 'InnerProductSpace', 'BruteforceSearch', 'HierarchicalNSW'] as const) {
    t.is(typeof esm[name], 'function', name)
    t.is(esm.default[name], esm[name], name)
  }
  const cjs = createRequire(import.meta.url)('ferrovec/hnswlib-node')
  for (const name of ['L2Space', 'InnerProductSpace', 'BruteforceSearch', 'HierarchicalNSW']) {
    t.is(typeof cjs[name], 'function', name)
  }
  const idx = new cjs.HierarchicalNSW('cosine', 2)
  idx.initIndex(2)
  idx.addPoint([3, 4], 1)
  t.deepEqual(idx.getPoint(1).map((x: number) => Math.fround(x)), [0.6, 0.8].map(Math.fround))
  const idx2 = new H('l2', 2)
  idx2.initIndex(1)
  idx2.addPoint([1, 1], 5)
  t.deepEqual(idx2.searchKnn([1, 1], 1), { distances: [0], neighbors: [5] })
})
