import test from 'ava'
import { FlatIndex } from '../src/index.js'
import { randomVectors } from './helpers.js'

test('the event loop keeps running during an async batch search over 100,000 × 128 vectors', async (t) => {
  const dim = 128
  const n = 100_000
  const index = new FlatIndex({ dim, metric: 'l2' })
  await index.addBatch(Float64Array.from({ length: n }, (_, i) => i), randomVectors(21, n, dim))
  const queries = randomVectors(22, 500, dim)

  let ticks = 0
  let settled = false
  const timer = setInterval(() => ticks++, 1)
  const started = process.hrtime.bigint()
  const pending = index.searchBatch(queries, 10).then((r) => {
    settled = true
    return r
  })
  // The search is in flight: the JS thread must be free to run timers while it is.
  await new Promise((resolve) => setTimeout(resolve, 5))
  const ticksWhileRunning = ticks
  const stillRunning = !settled
  const result = await pending
  clearInterval(timer)
  const ms = Number(process.hrtime.bigint() - started) / 1e6

  // 500 queries × 100,000 × 128 is billions of operations: it cannot finish within 5 ms, so the
  // ticks below were counted while native work was in flight. Had it run on the JS thread, no
  // timer could have fired before it finished.
  t.true(stillRunning, 'the search was still in flight after 5 ms')
  t.true(ticksWhileRunning > 0, 'a 1 ms interval fired while the search was in flight')
  t.is(result.counts.length, 500)
  t.log(`batch search took ${ms.toFixed(0)} ms; ${ticks} timer ticks; still running after 5 ms: ${stillRunning}`)
})
