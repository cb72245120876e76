// Shared fixtures and the invariant check every chunking test applies.
import { readFileSync } from 'node:fs'
import type { ExecutionContext } from 'ava'
import type { Chunk } from '../../src/chunking/index.js'
import type { Tokenizer } from '../../src/embed/tokens.js'

const dir = new URL('./fixtures/', import.meta.url)
export const fixture = (name: string): string => readFileSync(new URL(name, dir), 'utf8')

/** The shipped fixtures, plus a CRLF copy of the Markdown (generated, so git cannot normalise it). */
export function fixtures(): Record<string, string> {
  const markdown = fixture('markdown.md')
  return {
    markdown,
    markdownCrlf: markdown.replace(/\n/g, '\r\n'),
    prose: fixture('prose.txt'),
    cjk: fixture('cjk.txt'),
    emoji: fixture('emoji.txt'),
    longWords: fixture('long-words.txt'),
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export interface Expect {
  unit: 'characters' | 'tokens'
  max: number
  tokenizer?: Tokenizer
  /** Most units two consecutive chunks may share (measured on the shared text). */
  overlapMax?: number
  /** Starts must strictly increase (the boundary strategies); fixed windows may share a start after trimming. */
  strictStarts?: boolean
}

/**
 * The properties every chunk list must have, whatever the strategy: exact offsets, trimmed, in
 * order, covering every non-whitespace character, within the size (measured with the real
 * tokenizer for tokens), no split surrogate pairs, overlap within budget. Collects all problems
 * and asserts once, so a sweep of hundreds of configurations stays fast and its failures readable.
 */
export function checkChunks(t: ExecutionContext, label: string, doc: string, chunks: Chunk[], e: Expect): void {
  const problems: string[] = []
  const say = (i: number, what: string): void => {
    if (problems.length < 8) problems.push(`chunk ${i}: ${what}`)
  }
  const size = (s: string): number => (e.unit === 'tokens' ? (e.tokenizer as Tokenizer).count(s) : s.length)
  let covered = 0
  chunks.forEach((c, i) => {
    if (doc.slice(c.start, c.end) !== c.text) say(i, `doc.slice(${c.start}, ${c.end}) !== text`)
    if (c.index !== i) say(i, `index ${c.index}`)
    if (c.text.length === 0 || c.text.trim() !== c.text) say(i, `not trimmed or empty: ${JSON.stringify(c.text.slice(0, 20))}`)
    if (LONE_SURROGATE.test(c.text)) say(i, 'splits a surrogate pair')
    const units = size(c.text)
    const oneCodePoint = [...c.text].length === 1
    if (units > e.max && !oneCodePoint) say(i, `${units} ${e.unit} > ${e.max}: ${JSON.stringify(c.text.slice(0, 40))}`)
    if (e.tokenizer !== undefined && c.tokenCount !== e.tokenizer.count(c.text)) say(i, `tokenCount ${c.tokenCount}`)
    if (e.tokenizer === undefined && c.tokenCount !== undefined) say(i, 'tokenCount without a tokenizer')
    if (/\S/u.test(doc.slice(covered, c.start))) say(i, `text before ${c.start} is in no chunk`)
    covered = Math.max(covered, c.end)
    const prev = chunks[i - 1]
    if (prev !== undefined) {
      if (c.end <= prev.end) say(i, `ends at ${c.end}, not after the previous chunk's ${prev.end}`)
      if (c.start < prev.start || (e.strictStarts === true && c.start === prev.start)) say(i, `starts at ${c.start}, before ${prev.start}`)
      if (c.start < prev.end) {
        const shared = size(doc.slice(c.start, prev.end))
        if (e.overlapMax === undefined || shared > e.overlapMax) say(i, `shares ${shared} ${e.unit} with the previous chunk, allowed ${e.overlapMax ?? 0}`)
      }
    }
  })
  if (/\S/u.test(doc.slice(covered))) problems.push(`text after ${covered} is in no chunk`)
  if (/\S/u.test(doc) && chunks.length === 0) problems.push('no chunks for a non-blank document')
  t.deepEqual(problems, [], label)
}
