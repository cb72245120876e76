// Public API of ferrovec: a curated list, so nothing internal leaks by accident.
export { FlatIndex } from './flat.js'
export type {
  AddOptions,
  BatchSearchResult,
  FlatIndexOptions,
  LoadOptions,
  MemoryUsage,
  Quantization,
  QuantizationInfo,
  QuantizationOptions,
  SearchOptions,
  SearchResult,
} from './flat.js'
export { HnswIndex } from './hnsw.js'
export type {
  BatchSearchStats,
  BuildProgress,
  HnswAddOptions,
  HnswBatchSearchResult,
  HnswIndexOptions,
  HnswMemoryUsage,
  HnswOpenOptions,
  HnswParams,
  HnswSearchOptions,
  HnswSearchResult,
  SearchStats,
} from './hnsw.js'
export { formatTuneReport } from './tune.js'
export type {
  BaseTuneOptions,
  FlatTuneOptions,
  FlatTuneResult,
  FlatTuneTrial,
  TuneOutcome,
  TuneOptions,
  TuneProgress,
  TuneResult,
  TuneSetting,
  TuneTrial,
} from './tune.js'
export { distance, distances, nativeInfo, METRICS } from './metric.js'
export type { InputOf, Metric, VectorOf } from './metric.js'
export type { NativeInfo } from './native.js'
export {
  AbortedError,
  BusyError,
  NoEmbedderError,
  ClosedError,
  CorruptFileError,
  DuplicateKeyError,
  FerrovecError,
  ModelMismatchError,
  NotFoundError,
  InvalidInputError,
  IoError,
  NotTrainedError,
  ReadOnlyError,
  StorageError,
  UnsupportedVersionError,
} from './errors.js'
export type { ErrorCode, InvalidInputCode, StorageCode } from './errors.js'
export type { BinaryVectorLike, Key, KeyFilter, KeysLike, VectorLike } from './vectors.js'

// Embedding layer (src/embed): text → Float32Array through Retry( Cache( Provider )).
export {
  AuthenticationError,
  BadResponseError,
  CachedEmbedder,
  ConnectionError,
  createEmbedder,
  EmbedderStack,
  EmbeddingAbortedError,
  EmbeddingError,
  EmbeddingTimeoutError,
  InputTooLongError,
  InvalidRequestError,
  isRetryable,
  loadTokenizer,
  LocalEmbedder,
  UseEmbedder,
  USE_DIMENSIONS,
  USE_MODEL,
  normalize,
  OPENAI_LIMITS,
  OPENAI_MODELS,
  OpenAIEmbedder,
  QuotaExceededError,
  RateLimitError,
  RetryEmbedder,
  ServerError,
  SqliteEmbeddingStore,
  truncate,
} from './embed/index.js'
export type {
  CacheOptions,
  CacheStats,
  Embedder,
  EmbedderConfig,
  EmbedderHealth,
  EmbedderIdentity,
  EmbedderUsage,
  EmbeddingErrorCode,
  EmbeddingErrorDetails,
  EmbeddingStore,
  EmbedLimits,
  EmbedManyOptions,
  EmbedOptions,
  EmbedProgress,
  EncodingName,
  LocalApi,
  LocalEmbedderOptions,
  OpenAIEmbedderOptions,
  OpenAIModelInfo,
  OverLongPolicy,
  ProviderName,
  ProviderOptions,
  RateLimits,
  RetryInfo,
  RetryOptions,
  TeiInfo,
  Tokenizer,
  UseEmbedderOptions,
} from './embed/index.js'

// Chunking (src/chunking): long documents → chunks with exact source offsets, in characters or tokens.
export {
  chunk,
  chunkFixed,
  chunkFixedSync,
  chunkRecursive,
  chunkRecursiveSync,
  chunkSentences,
  chunkSentencesSync,
  chunkSync,
  DEFAULT_CHUNK_SEPARATORS,
} from './chunking/index.js'
export type {
  Chunk,
  ChunkOptions,
  ChunkStrategy,
  ChunkUnit,
  ChunkUnitOptions,
  FixedChunkOptions,
  RecursiveChunkOptions,
  SentenceChunkOptions,
} from './chunking/index.js'

// Collections (src/collection): documents + metadata in SQLite, FTS5 keyword, vector and hybrid search.
export { Collection, DEFAULT_ALPHA } from './collection/index.js'
export type {
  ChunkInfo,
  CollectionDocument,
  CollectionHit,
  CollectionIndexInfo,
  CollectionIndexOptions,
  CollectionIndexType,
  CollectionInfo,
  CollectionMetric,
  CollectionOpenOptions,
  CollectionSearchOptions,
  FieldCondition,
  HybridFusion,
  MetadataFilter,
  MigrateOptions,
  MigrateProgress,
  MigrateResult,
  PinnedModel,
  SearchMode,
  StoredDocument,
  UpsertOptions,
  UpsertProgress,
  UpsertResult,
} from './collection/index.js'
