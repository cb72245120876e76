/**
 * Token counting for batching and the over-long-input policy, with js-tiktoken (pure JS, ships its
 * BPE tables, so it works offline).
 *
 * Loading a table takes a second or two and encoding runs at roughly a megabyte per second, so the
 * tokenizer is loaded lazily and used only where a count changes a decision. The cheap test comes
 * first: a byte-level BPE token always covers at least one UTF-8 byte, so `tokens <= bytes`, and a
 * text whose byte length is within a limit is within it in tokens too without being encoded.
 */
import type { Tiktoken } from 'js-tiktoken/lite'

/** Counts and cuts text in a model's tokens. */
export interface Tokenizer {
  count(text: string): number
  /** The longest prefix of `text` that is at most `maxTokens` tokens. */
  truncate(text: string, maxTokens: number): string
}

/** The BPE encodings js-tiktoken ships that embedding models use. */
export type EncodingName = 'cl100k_base' | 'o200k_base'

const loaded = new Map<EncodingName, Promise<Tokenizer>>()

/**
 * Loads (once per process) a tiktoken encoding. `cl100k_base` is the encoding of every OpenAI
 * embedding model (ada-002 and text-embedding-3-*).
 */
export function loadTokenizer(name: EncodingName = 'cl100k_base'): Promise<Tokenizer> {
  let p = loaded.get(name)
  if (p === undefined) {
    p = (async () => {
      const { Tiktoken } = await import('js-tiktoken/lite')
      const ranks =
        name === 'cl100k_base'
          ? (await import('js-tiktoken/ranks/cl100k_base')).default
          : (await import('js-tiktoken/ranks/o200k_base')).default
      return tiktokenTokenizer(new Tiktoken(ranks))
    })()
    // A failed load must not be cached forever: the next call tries again.
    p.catch(() => loaded.delete(name))
    loaded.set(name, p)
  }
  return p
}

function tiktokenTokenizer(enc: Tiktoken): Tokenizer {
  // js-tiktoken throws on text containing "<|endoftext|>" unless told otherwise; the embeddings API
  // treats such strings as plain text, so encode them as plain text too.
  const encode = (text: string): number[] => enc.encode(text, [], [])
  return {
    count: (text) => encode(text).length,
    truncate: (text, maxTokens) => {
      const tokens = encode(text)
      if (tokens.length <= maxTokens) return text
      // Decoding a cut token list can end inside a multi-byte character; drop the U+FFFD it decodes
      // to so the server is not sent a replacement character that was never in the text.
      return enc.decode(tokens.slice(0, maxTokens)).replace(/\uFFFD+$/u, '')
    },
  }
}

/** UTF-8 length of `text`: an upper bound of its token count under any byte-level BPE. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
