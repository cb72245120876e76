import test from 'ava'
import { distance, distances, nativeInfo, type FerrovecError, type Metric } from '../src/index.js'
import { randomBytes, randomVectors, refDistance } from './helpers.js'

const DIMS = [1, 3, 8, 127, 128, 384, 768, 1536]

// SIMD kernels accumulate in float32 in a different order than the float64 reference, so the allowed
// error scales with the magnitude of what is summed: |simd − ref| ≤ 1e-4 · (1 + Σ|termᵢ|). A wrong
// formula is off by O(Σ|termᵢ|) and still fails.
function tolerance(metric: Metric, a: Float32Array, b: Float32Array): number {
  let terms = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    terms += metric === 'l2' ? (a[i] - b[i]) ** 2 : Math.abs(a[i] * b[i])
    aa += a[i] * a[i]
    bb += b[i] * b[i]
  }
  if (metric === 'cosine') terms /= Math.sqrt(aa * bb) || 1
  return 1e-4 * (1 + terms)
}

for (const metric of ['cosine', 'dot', 'l2'] as const) {
  test(`${metric} kernel matches the float64 reference at dims ${DIMS.join(', ')}`, (t) => {
    for (const dim of DIMS) {
      for (let trial = 0; trial < 10; trial++) {
        const seed = dim * 100 + trial
        const a = randomVectors(seed, 1, dim)
        const b = trial === 0 ? a.slice() : randomVectors(seed + 50_000, 1, dim)
        const got = distance(a, b, metric)
        const want = refDistance(metric, a, b)
        const tol = tolerance(metric, a, b)
        t.true(Math.abs(got - want) <= tol, `${metric} dim ${dim} seed ${seed}: got ${got}, want ${want} ± ${tol}`)
        // number[] input takes the same path and gives the same answer.
        t.is(distance(Array.from(a), Array.from(b), metric), got)
      }
    }
  })
}

test('hamming counts differing bits exactly', (t) => {
  for (const dim of DIMS) {
    const a = randomBytes(dim, dim)
    const b = randomBytes(dim + 1, dim)
    t.is(distance(a, b, 'hamming'), refDistance('hamming', a, b), `${dim} bytes`)
  }
  t.is(distance([0b1010], [0b0110], 'hamming'), 2)
})

test('cosine with zero vectors is defined: 0 between two zeros, 1 against anything else', (t) => {
  for (const dim of DIMS) {
    const zero = new Float32Array(dim)
    const x = new Float32Array(dim).fill(0.25)
    t.is(distance(zero, zero, 'cosine'), 0)
    t.is(distance(zero, x, 'cosine'), 1)
    t.is(distance(x, zero, 'cosine'), 1)
  }
})

test('distances() fills one distance per row, into a given buffer or a new one', (t) => {
  const dim = 97
  const q = randomVectors(1, 1, dim)
  const rows = randomVectors(2, 40, dim)
  for (const metric of ['cosine', 'dot', 'l2'] as const) {
    const out = new Float32Array(40)
    const returned = distances(q, rows, metric, out)
    t.is(returned, out)
    for (let i = 0; i < 40; i++) t.is(out[i], distance(q, rows.subarray(i * dim, (i + 1) * dim), metric))
    const nested = Array.from({ length: 40 }, (_, i) => rows.subarray(i * dim, (i + 1) * dim))
    t.deepEqual(distances(q, nested, metric), out)
  }
  const bits = randomBytes(3, 16 * 5)
  const d = distances(bits.subarray(0, 16), bits, 'hamming')
  t.deepEqual(Array.from(d), [0, ...[1, 2, 3, 4].map((i) => refDistance('hamming', bits.subarray(0, 16), bits.subarray(i * 16, i * 16 + 16)))])
})

test('kernel errors carry codes', (t) => {
  t.is(t.throws<FerrovecError>(() => distance([1, 2], [1], 'l2'))?.code, 'ERR_DIMENSION_MISMATCH')
  t.is(t.throws<FerrovecError>(() => distance([], [], 'l2'))?.code, 'ERR_INVALID_VECTOR')
  t.is(t.throws<FerrovecError>(() => distance([NaN], [1], 'dot'))?.code, 'ERR_INVALID_VECTOR')
  t.is(t.throws<FerrovecError>(() => distance([1], [Infinity], 'dot'))?.code, 'ERR_INVALID_VECTOR')
  t.is(t.throws<FerrovecError>(() => distance([1, 'x' as unknown as number], [1, 2], 'l2'))?.code, 'ERR_INVALID_VECTOR')
  t.is(t.throws<FerrovecError>(() => distance([1], [1], 'manhattan' as Metric))?.code, 'ERR_UNKNOWN_METRIC')
  t.is(t.throws<FerrovecError>(() => distance([1.5], [1], 'hamming'))?.code, 'ERR_INVALID_VECTOR')
  t.is(t.throws<FerrovecError>(() => distances([1, 2], new Float32Array(5), 'l2'))?.code, 'ERR_DIMENSION_MISMATCH')
  t.is(t.throws<FerrovecError>(() => distances([1, 2], new Float32Array(4), 'l2', new Float32Array(3)))?.code, 'ERR_INVALID_ARGUMENT')
})

test('nativeInfo reports the SIMD backends and threads in use', (t) => {
  const info = nativeInfo()
  t.true(info.backends.length > 0)
  t.true(info.threads >= 1)
  t.regex(info.version, /^\d+\.\d+\.\d+/)
  t.is(typeof info.dynamicDispatch, 'boolean')
  t.true(['avx2+fma', 'portable'].includes(info.tileKernels))
})
