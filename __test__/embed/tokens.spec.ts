// Tests that load the js-tiktoken tables live here: loading takes a couple of seconds of CPU, which
// would skew the timing assertions of tests running beside them in the same process.
import test from 'ava'
import { InputTooLongError, loadTokenizer } from '../../src/embed/index.js'
import { assertVectors, openaiStack, serve } from './helpers.js'

test('should name an over-long input under the default error policy, and truncate it under truncate', async (t) => {
  const server = await serve(t)
  const tok = await loadTokenizer()
  const long = 'tokens and more tokens '.repeat(20) // ~80 tokens
  const input = ['short one', long, 'short two']
  const strict = openaiStack(server, { limits: { maxInputTokens: 16 } })
  const err = await t.throwsAsync(strict.embedMany(input), { instanceOf: InputTooLongError })
  t.is(err?.code, 'ERR_EMBEDDING_INPUT_TOO_LONG')
  t.is(err?.index, 1)
  t.is(err?.maxTokens, 16)
  t.is(err?.tokens, tok.count(long))
  t.regex(err?.message ?? '', /input 1 is \d+ tokens; text-embedding-3-small takes at most 16/)
  t.is(server.requests.length, 0)

  const lenient = openaiStack(server, { limits: { maxInputTokens: 16, overLongInputs: 'truncate' } })
  const vectors = await lenient.embedMany(input)
  t.is(vectors.length, 3)
  const sent = server.embedRequests[0]?.inputs ?? []
  t.is(sent[0], 'short one')
  t.is(tok.count(sent[1] as string), 16)
  t.true(long.startsWith(sent[1] as string))
})


test('should split batches by the token budget, counted with the real tokenizer', async (t) => {
  const server = await serve(t)
  const tok = await loadTokenizer()
  const input = Array.from({ length: 40 }, (_, i) => `passage ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(1 + (i % 5)))
  const budget = 120
  const e = openaiStack(server, { cache: false, limits: { maxBatchTokens: budget } })
  assertVectors(t, input, await e.embedMany(input), 8)
  const sums = server.embedRequests.map((r) => r.inputs.reduce((s, x) => s + tok.count(x), 0))
  t.true(sums.every((s) => s <= budget), `token sums ${sums.join(',')} must stay within ${budget}`)
  // Packed tightly: adding the next input would have broken the budget.
  const reqs = server.embedRequests
  for (let i = 0; i + 1 < reqs.length; i++) {
    const next = reqs[i + 1]?.inputs[0] as string
    t.true((sums[i] as number) + tok.count(next) > budget)
  }
})

