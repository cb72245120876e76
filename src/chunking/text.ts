/**
 * Small, allocation-free helpers over UTF-16 strings shared by every strategy.
 */

/**
 * Whether the code unit is whitespace in the sense of `String.prototype.trim` (ECMAScript
 * WhiteSpace and LineTerminator), so trimming by offsets here agrees exactly with `text.trim()`.
 */
export function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d)
  if (c < 0xa0) return false
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/**
 * `pos` moved back by one when it falls between the two halves of a surrogate pair, so a cut
 * there never separates them (a lone half would be an invalid string for any encoder).
 */
export function safeCut(text: string, pos: number): number {
  if (pos <= 0 || pos >= text.length) return pos
  return isHigh(text.charCodeAt(pos - 1)) && isLow(text.charCodeAt(pos)) ? pos - 1 : pos
}

/** Length in code units (1 or 2) of the code point starting at `pos`. */
export function codePointLength(text: string, pos: number): number {
  return pos + 1 < text.length && isHigh(text.charCodeAt(pos)) && isLow(text.charCodeAt(pos + 1)) ? 2 : 1
}

/** First index ≥ `pos` that is not whitespace (or `end`). */
export function skipWhitespace(text: string, pos: number, end = text.length): number {
  let i = pos
  while (i < end && isWhitespace(text.charCodeAt(i))) i++
  return i
}

/** One past the last non-whitespace index before `end`, not below `floor`. */
export function trimEnd(text: string, floor: number, end: number): number {
  let i = end
  while (i > floor && isWhitespace(text.charCodeAt(i - 1))) i--
  return i
}

/** Length of the longest common prefix of `a` and `b`. */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}
