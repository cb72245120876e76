// Public API of ferrovec: a curated list, so nothing internal leaks by accident.
export { FlatIndex } from './flat.js'
export type {
  AddOptions,
  BatchSearchResult,
  FlatIndexOptions,
  LoadOptions,
  MemoryUsage,
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
export { distance, distances, nativeInfo, METRICS } from './metric.js'
export type { InputOf, Metric, VectorOf } from './metric.js'
export type { NativeInfo } from './native.js'
export {
  CorruptFileError,
  DuplicateKeyError,
  FerrovecError,
  InvalidInputError,
  IoError,
  ReadOnlyError,
  StorageError,
  UnsupportedVersionError,
} from './errors.js'
export type { ErrorCode, InvalidInputCode, StorageCode } from './errors.js'
export type { BinaryVectorLike, Key, KeyFilter, KeysLike, VectorLike } from './vectors.js'
