/**
 * The one HTTP call the self-hosted providers make: JSON in, JSON out, with a timeout that covers
 * the whole exchange (headers and body), and every transport failure mapped to an
 * {@link EmbeddingError}: the caller's abort, our timeout, a refused or dropped connection, or a
 * non-2xx status classified by {@link classifyHttpError}.
 */
import { anySignal } from './abort.js'
import { classifyHttpError } from './classify.js'
import { ConnectionError, EmbeddingAbortedError, EmbeddingTimeoutError } from './errors.js'

export interface HttpRequest {
  provider: string
  method: 'GET' | 'POST'
  url: string
  body?: unknown
  headers?: Record<string, string> | undefined
  signal?: AbortSignal | undefined
  timeout: number
}

export interface HttpResponse {
  status: number
  headers: Headers
  /** Parsed JSON, or the text when the body is not JSON. */
  body: unknown
}

/** Sends the request; resolves only for 2xx answers, otherwise throws the classified error. */
export async function requestJson(req: HttpRequest): Promise<HttpResponse> {
  const { provider } = req
  const deadline = AbortSignal.timeout(req.timeout)
  const signal = anySignal(req.signal, deadline)
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers }
  let payload: string | undefined
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(req.body)
  }
  let status: number
  let resHeaders: Headers
  let text: string
  try {
    // Headers and body are read under the same signal, so a server that stalls after the headers
    // is cut off by the same timeout.
    const res = await fetch(req.url, { method: req.method, headers, body: payload, signal })
    status = res.status
    resHeaders = res.headers
    text = await res.text()
  } catch (err) {
    if (req.signal?.aborted) throw new EmbeddingAbortedError(req.signal.reason, provider)
    if (deadline.aborted) {
      throw new EmbeddingTimeoutError(`${provider}: no response from ${req.url} within ${req.timeout} ms`, {
        provider,
        cause: err,
      })
    }
    throw new ConnectionError(`${provider}: request to ${req.url} failed (${describe(err)})`, { provider, cause: err })
  }
  let body: unknown = text
  if (text !== '') {
    try {
      body = JSON.parse(text) as unknown
    } catch {
      // Kept as text: error pages from proxies are HTML or plain text, and say what went wrong.
    }
  }
  if (status < 200 || status > 299) throw classifyHttpError({ provider, status, headers: resHeaders, body })
  return { status, headers: resHeaders, body }
}

/** "fetch failed: ECONNREFUSED" rather than undici's bare "fetch failed". */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = (err as { cause?: unknown }).cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return `${err.message}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`
  }
  return err.message
}
