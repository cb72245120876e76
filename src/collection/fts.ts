/**
 * User text → an FTS5 MATCH expression that can never be read as FTS5 syntax. FTS5 gives meaning
 * to `"`, `*`, `^`, `:`, `(`, `)`, `+`, `-`, `NEAR`, `AND`, `OR` and `NOT`; a query such as
 * `cancer AND "p53` would otherwise be a syntax error or a different query. The text is cut into
 * the same word tokens the `unicode61` tokenizer indexes (letters, digits, private-use marks), each
 * is written as a double-quoted string (tokens never contain a quote, so nothing needs escaping
 * inside), and they are joined with OR: a document matching any word is a candidate and BM25 ranks
 * them, as classic BM25 engines do.
 *
 * English stop words ("the", "of", "is", …) are dropped from a query that has other words. They
 * match nearly every document, so keeping them makes FTS5 score thousands of rows for terms whose
 * IDF is close to zero: on SciFact it more than doubles keyword latency for no gain in nDCG (measured in
 * bench/collection). A query made only of stop words keeps them.
 */

/** Tokens beyond this are dropped: a pasted page must not become a 5,000-term OR. */
export const MAX_QUERY_TOKENS = 64

const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu

/** The distinct word tokens of `text`, lower-cased, in first-seen order (at most {@link MAX_QUERY_TOKENS}). */
export function queryTokens(text: string): string[] {
  const seen = new Set<string>()
  for (const m of text.matchAll(TOKEN)) {
    seen.add(m[0].toLowerCase())
    if (seen.size >= MAX_QUERY_TOKENS) break
  }
  return [...seen]
}

// A short, conventional English list (the Lucene/Elasticsearch `_english_` set plus a few
// auxiliaries and pronouns).
export const STOP_WORDS: ReadonlySet<string> = new Set(
  ('a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with ' +
    'were been being has have had do does did its from which who whom what when where why how than so can could would should may ' +
    'i me my we our you your he him his she her them those am about also any all each both more most other some own same very just')
    .split(' '),
)

/**
 * The MATCH expression for `text`, or `undefined` when it has no word token (nothing can match).
 * `stopWords: false` keeps English stop words (see the module doc).
 */
export function ftsQuery(text: string, options: { stopWords?: boolean } = {}): string | undefined {
  let tokens = queryTokens(text)
  if (tokens.length === 0) return undefined
  if (options.stopWords !== false) {
    const content = tokens.filter((t) => !STOP_WORDS.has(t))
    if (content.length > 0) tokens = content
  }
  return tokens.map((t) => `"${t}"`).join(' OR ')
}
