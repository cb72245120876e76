/**
 * One place that turns "the server answered status S with body B and headers H" into the right
 * {@link EmbeddingError}. Both the OpenAI provider (from the SDK's `APIError`) and the local HTTP
 * providers (from `fetch`) go through here, so a 429 means the same thing whoever sent it.
 */
import {
  AuthenticationError,
  EmbeddingTimeoutError,
  InputTooLongError,
  InvalidRequestError,
  QuotaExceededError,
  RateLimitError,
  ServerError,
  type EmbeddingError,
} from './errors.js'

/** Header access that works for fetch `Headers` and for plain objects. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined

export function header(headers: HeaderSource, name: string): string | undefined {
  if (headers === undefined) return undefined
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const value = (headers as Record<string, string | string[] | undefined>)[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Parses the duration strings OpenAI uses in `x-ratelimit-reset-*` headers and in "try again in …"
 * messages: `"20ms"`, `"2.8s"`, `"6m0s"`, `"1h2m3.5s"`. Returns milliseconds, or undefined when the
 * string is not such a duration.
 */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy
  let total = 0
  let m: RegExpExecArray | null
  const trimmed = text.trim()
  // Sticky matching: the units must cover the whole string, or it is not a duration.
  while ((m = re.exec(trimmed)) !== null) {
    const n = Number(m[1])
    switch (m[2]) {
      case 'h':
        total += n * 3_600_000
        break
      case 'm':
        total += n * 60_000
        break
      case 's':
        total += n * 1000
        break
      default:
        total += n
    }
    if (re.lastIndex === trimmed.length) return total
  }
  return undefined
}

/**
 * The server's hint of how long to wait, in ms: `retry-after-ms` (OpenAI, exact), then `Retry-After`
 * (seconds or an HTTP date), then "try again in 2.8s" in the message. Undefined when there is none.
 */
export function retryAfterHint(headers: HeaderSource, message: string | undefined, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms')
  if (ms !== undefined && ms.trim() !== '') {
    const n = Number(ms)
    if (Number.isFinite(n) && n >= 0) return n
  }
  const ra = header(headers, 'retry-after')
  if (ra !== undefined && ra.trim() !== '') {
    const seconds = Number(ra)
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
    const date = Date.parse(ra)
    if (Number.isFinite(date)) return Math.max(0, date - now)
  }
  if (message !== undefined) {
    const m = /try again in\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)/i.exec(message)
    if (m?.[1] !== undefined) return parseDuration(m[1])
  }
  return undefined
}

/** What a server said in an error body, whatever its dialect. */
export interface ServerErrorBody {
  message: string | undefined
  /** OpenAI `error.code` / `error.type`, TEI `error_type`, … — the most specific one present. */
  code: string | undefined
  type: string | undefined
}

/**
 * Reads an error body in each dialect we speak:
 * OpenAI `{"error":{"message","type","code"}}`, TEI native `{"error":"…","error_type":"Overloaded"}`,
 * TEI/vLLM OpenAI-compatible `{"message","type","code"}`, Ollama `{"error":"…"}`, or plain text.
 */
export function parseErrorBody(body: unknown): ServerErrorBody {
  if (typeof body === 'string') {
    const text = body.trim()
    if (text.startsWith('{')) {
      try {
        return parseErrorBody(JSON.parse(text) as unknown)
      } catch {
        // Not JSON after all: fall through and report the text itself.
      }
    }
    return { message: text === '' ? undefined : text.slice(0, 1000), code: undefined, type: undefined }
  }
  if (body === null || typeof body !== 'object') return { message: undefined, code: undefined, type: undefined }
  const o = body as Record<string, unknown>
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
  if (o.error !== null && typeof o.error === 'object') {
    const e = o.error as Record<string, unknown>
    return { message: str(e.message), code: str(e.code), type: str(e.type) }
  }
  if (typeof o.error === 'string') {
    return { message: o.error, code: str(o.error_type), type: str(o.error_type) }
  }
  return { message: str(o.message) ?? str(o.detail), code: str(o.code), type: str(o.type) }
}

// Every dialect's way of saying "this input has more tokens than the model takes".
const CONTEXT_LENGTH =
  /context[ _]length|maximum context|too many tokens|must have less than \d+ tokens|input (?:length|is too long)|exceeds? the (?:maximum|context)|token limit|maximum input length/i

export interface ClassifyInput {
  provider: string
  status: number
  headers?: HeaderSource
  body?: unknown
}

/** Builds the error for a non-2xx answer. */
export function classifyHttpError({ provider, status, headers, body }: ClassifyInput): EmbeddingError {
  const parsed = parseErrorBody(body)
  const serverMessage = parsed.message
  const serverCode = parsed.code ?? parsed.type
  const details = { provider, status, serverMessage, serverCode }
  const said = serverMessage === undefined ? '' : `: ${serverMessage}`
  const codes = [parsed.code, parsed.type].filter((c): c is string => c !== undefined)

  if (status === 401 || status === 403) {
    return new AuthenticationError(`${provider} rejected the credentials (HTTP ${status})${said}`, details)
  }
  if (status === 429) {
    if (codes.includes('insufficient_quota') || /exceeded your current quota/i.test(serverMessage ?? '')) {
      return new QuotaExceededError(`${provider} quota exhausted (HTTP 429)${said}`, details)
    }
    const wait = retryAfterHint(headers, serverMessage)
    return new RateLimitError(`${provider} rate limit (HTTP 429)${said}`, wait, details)
  }
  if (status === 408) return new EmbeddingTimeoutError(`${provider} timed out the request (HTTP 408)${said}`, details)
  if (status === 409 || status >= 500 || status === 424) {
    return new ServerError(`${provider} server error (HTTP ${status})${said}`, details)
  }
  if (codes.includes('context_length_exceeded') || CONTEXT_LENGTH.test(serverMessage ?? '')) {
    return new InputTooLongError(`${provider}: an input is longer than the model accepts (HTTP ${status})${said}`, details)
  }
  if (status === 413) {
    return new InvalidRequestError(
      `${provider} refused the batch as too large (HTTP 413)${said}; lower limits.maxBatchSize or maxBatchTokens`,
      details,
    )
  }
  return new InvalidRequestError(`${provider} refused the request (HTTP ${status})${said}`, details)
}
