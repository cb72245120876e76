/** Abort plumbing shared by the retry sleep, the rate limiter and the request timeout. */
import { EmbeddingAbortedError } from './errors.js'

/**
 * Resolves after `ms`, or rejects with {@link EmbeddingAbortedError} as soon as `signal` aborts — a
 * 30 s backoff must not keep a cancelled call alive. The timer stays ref'd: a sleeping retry is real
 * pending work the process should wait for; aborting is how a caller ends it early.
 */
export function sleep(ms: number, signal?: AbortSignal, provider?: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(new EmbeddingAbortedError(signal.reason, provider))
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new EmbeddingAbortedError(signal?.reason, provider))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Races `promise` against `signal`: rejects with {@link EmbeddingAbortedError} when the signal aborts
 * even if `promise` (work shared with other callers) keeps running for them.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, provider?: string): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(new EmbeddingAbortedError(signal.reason, provider))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new EmbeddingAbortedError(signal.reason, provider))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/** `AbortSignal.any` over the signals that are defined. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined)
  if (present.length === 0) return undefined
  if (present.length === 1) return present[0]
  return AbortSignal.any(present)
}
