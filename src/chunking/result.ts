/** Turning spans into the public {@link Chunk} objects. */
import type { Tokenizer } from '../embed/tokens.js'
import type { Measure } from './measure.js'
import type { Span } from './pack.js'
import type { Chunk } from './types.js'

/** Counts come from the token measure when sizes were in tokens: it has counted most spans already. */
export function toChunks(text: string, spans: readonly Span[], measure: Measure, tokenizer: Tokenizer | undefined): Chunk[] {
  return spans.map((s, index) => {
    const chunkText = text.slice(s.start, s.end)
    const chunk: Chunk = { text: chunkText, start: s.start, end: s.end, index }
    if (measure.unit === 'tokens') chunk.tokenCount = measure.size(s.start, s.end)
    else if (tokenizer !== undefined) chunk.tokenCount = tokenizer.count(chunkText)
    return chunk
  })
}
