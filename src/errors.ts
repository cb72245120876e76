/**
 * Every error ferrovec throws is a {@link FerrovecError} with a stable `code`. Codes are API: new
 * ones may be added, existing ones never change meaning. Subclasses group codes by what the caller
 * can do about them.
 */

/** Codes of errors about the caller's input. */
export type InvalidInputCode =
  | 'ERR_DIMENSION_MISMATCH'
  | 'ERR_INVALID_VECTOR'
  | 'ERR_INVALID_KEY'
  | 'ERR_UNKNOWN_METRIC'
  | 'ERR_INVALID_ARGUMENT'
  // A collection's metadata filter is malformed (unknown operator, wrong operand type).
  | 'ERR_INVALID_FILTER'

/**
 * Codes of errors about files and buffers being saved or loaded, and about writing to an index that
 * is opened read-only from its file.
 */
export type StorageCode = 'ERR_CORRUPT_FILE' | 'ERR_UNSUPPORTED_VERSION' | 'ERR_IO' | 'ERR_READ_ONLY' | 'ERR_NOT_FOUND'

/** Every code a {@link FerrovecError} can carry. */
export type ErrorCode =
  | InvalidInputCode
  | StorageCode
  | 'ERR_DUPLICATE_KEY'
  | 'ERR_NOT_TRAINED'
  | 'ERR_NATIVE'
  | 'ERR_ABORTED'
  // The embedding layer (src/embed/errors.ts): one code per thing the caller can do something about.
  | 'ERR_EMBEDDING_AUTH'
  | 'ERR_EMBEDDING_RATE_LIMIT'
  | 'ERR_EMBEDDING_QUOTA'
  | 'ERR_EMBEDDING_INPUT_TOO_LONG'
  | 'ERR_EMBEDDING_INVALID_REQUEST'
  | 'ERR_EMBEDDING_TIMEOUT'
  | 'ERR_EMBEDDING_CONNECTION'
  | 'ERR_EMBEDDING_BAD_RESPONSE'
  | 'ERR_EMBEDDING_SERVER'
  | 'ERR_EMBEDDING_ABORTED'
  // Collections (src/collection).
  | 'ERR_MODEL_MISMATCH'
  | 'ERR_CLOSED'
  | 'ERR_BUSY'
  | 'ERR_NO_EMBEDDER'

const INVALID_INPUT = new Set<string>([
  'ERR_DIMENSION_MISMATCH',
  'ERR_INVALID_VECTOR',
  'ERR_INVALID_KEY',
  'ERR_UNKNOWN_METRIC',
  'ERR_INVALID_ARGUMENT',
  'ERR_INVALID_FILTER',
])

/** Base class of all ferrovec errors. */
export class FerrovecError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  override get name(): string {
    return this.constructor.name
  }
}

/** The input was malformed: wrong dimension, NaN/Infinity, bad key, bad `k`, unknown metric, … */
export class InvalidInputError extends FerrovecError {
  declare readonly code: InvalidInputCode
  constructor(code: InvalidInputCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** A key was added that is already present (pass `{ upsert: true }` to replace), or repeated in one batch. */
export class DuplicateKeyError extends FerrovecError {
  declare readonly code: 'ERR_DUPLICATE_KEY'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DUPLICATE_KEY', message, options)
  }
}

/** A long operation (such as `HnswIndex.tune`) was stopped through its `AbortSignal`; nothing was changed. */
export class AbortedError extends FerrovecError {
  declare readonly code: 'ERR_ABORTED'
  constructor(what: string, reason?: unknown) {
    super('ERR_ABORTED', `${what} was aborted`, reason === undefined ? undefined : { cause: reason })
  }
}

/**
 * A quantised index was searched before its quantiser was trained, or given vectors while automatic
 * training is off and `train()` has not run. Nothing was changed: add more vectors (it trains itself
 * at `trainAfter`) or call `train(sample)`.
 */
export class NotTrainedError extends FerrovecError {
  declare readonly code: 'ERR_NOT_TRAINED'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_TRAINED', message, options)
  }
}

/**
 * Saving or loading failed. The subclass says what the caller can do: a {@link CorruptFileError}
 * file is damaged or not a ferrovec file (restore it or rebuild the index), an
 * {@link UnsupportedVersionError} file needs a newer ferrovec, an {@link IoError} is the
 * operating system refusing (missing file, permissions, full disk), and a {@link ReadOnlyError} is a
 * write to an index opened read-only from its file. A failed save never damages the previous file.
 */
export class StorageError extends FerrovecError {
  declare readonly code: StorageCode
  constructor(code: StorageCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** The file or buffer is not a valid ferrovec file: foreign, truncated or damaged. The message names the part. */
export class CorruptFileError extends StorageError {
  declare readonly code: 'ERR_CORRUPT_FILE'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CORRUPT_FILE', message, options)
  }
}

/** The file was written by a newer (or different major) version of ferrovec's format. */
export class UnsupportedVersionError extends StorageError {
  declare readonly code: 'ERR_UNSUPPORTED_VERSION'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNSUPPORTED_VERSION', message, options)
  }
}

/** The operating system refused a file operation; the message names the path and the reason. */
export class IoError extends StorageError {
  declare readonly code: 'ERR_IO'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IO', message, options)
  }
}

/**
 * A write (`add`, `addBatch`, `remove`, `train`, and on HNSW `compact`) on an index opened read-only
 * from its file (`HnswIndex.open` or `FlatIndex.open`, `readOnly: true` by default). Nothing was
 * changed; load the file instead to get a writable copy.
 */
export class ReadOnlyError extends StorageError {
  declare readonly code: 'ERR_READ_ONLY'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_READ_ONLY', message, options)
  }
}

/** A collection, or the file an operation needs, does not exist (and `create: false` was asked for). */
export class NotFoundError extends StorageError {
  declare readonly code: 'ERR_NOT_FOUND'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_FOUND', message, options)
  }
}

/**
 * A collection was opened with (or asked to take vectors from) another embedding model than the one
 * it was built with. `pinned` and `given` describe both; re-open with the pinned embedder, or move
 * the collection to the new one with `collection.migrate(embedder)`.
 */
export class ModelMismatchError extends FerrovecError {
  declare readonly code: 'ERR_MODEL_MISMATCH'
  readonly pinned: unknown
  readonly given: unknown
  constructor(message: string, pinned: unknown, given: unknown, options?: { cause?: unknown }) {
    super('ERR_MODEL_MISMATCH', message, options)
    this.pinned = pinned
    this.given = given
  }
}

/** The object was used after `close()`. */
export class ClosedError extends FerrovecError {
  declare readonly code: 'ERR_CLOSED'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CLOSED', message, options)
  }
}

/** The operation cannot run while another one is in progress (a second `migrate`, say). */
export class BusyError extends FerrovecError {
  declare readonly code: 'ERR_BUSY'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BUSY', message, options)
  }
}

/**
 * Text had to be embedded, but the collection was opened without an embedder (`embedder: null`, for
 * keyword search and vector work with precomputed vectors). Re-open it with its pinned embedder.
 */
export class NoEmbedderError extends FerrovecError {
  declare readonly code: 'ERR_NO_EMBEDDER'
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NO_EMBEDDER', message, options)
  }
}

/** Builds the error class that belongs to `code`. */
export function errorFor(code: string, message: string, cause?: unknown): FerrovecError {
  const options = cause === undefined ? undefined : { cause }
  if (INVALID_INPUT.has(code)) return new InvalidInputError(code as InvalidInputCode, message, options)
  if (code === 'ERR_DUPLICATE_KEY') return new DuplicateKeyError(message, options)
  if (code === 'ERR_NOT_TRAINED') return new NotTrainedError(message, options)
  if (code === 'ERR_CORRUPT_FILE') return new CorruptFileError(message, options)
  if (code === 'ERR_UNSUPPORTED_VERSION') return new UnsupportedVersionError(message, options)
  if (code === 'ERR_IO') return new IoError(message, options)
  if (code === 'ERR_READ_ONLY') return new ReadOnlyError(message, options)
  return new FerrovecError('ERR_NATIVE', `${code}: ${message}`, options)
}

/**
 * Re-throws an error from the native binding as the matching {@link FerrovecError} subclass. The
 * binding already puts the core's code on `err.code`; this gives it a class and a clean stack.
 * Errors without an `ERR_` code (a user's own filter throwing, say) pass through untouched.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof FerrovecError) return err
  if (err instanceof Error) {
    const code: unknown = (err as Error & { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('ERR_')) return errorFor(code, err.message)
  }
  return err
}

/** Runs a synchronous native call, translating its errors. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Awaits an asynchronous native call, translating its errors. */
export async function awaitNative<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise
  } catch (err) {
    throw fromNative(err)
  }
}

/** Shorthand for the most common throw. */
export function invalid(code: InvalidInputCode, message: string): InvalidInputError {
  return new InvalidInputError(code, message)
}
