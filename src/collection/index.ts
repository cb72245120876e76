// Collections: documents + metadata in SQLite, FTS5 keyword search, a vector index, hybrid fusion.
export { Collection, DEFAULT_ALPHA } from './collection.js'
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
  HybridFusion,
  MigrateOptions,
  MigrateProgress,
  MigrateResult,
  PinnedModel,
  SearchMode,
  StoredDocument,
  UpsertOptions,
  UpsertProgress,
  UpsertResult,
} from './collection.js'
export { compileFilter } from './filter.js'
export type { FieldCondition, MetadataFilter, Scalar } from './filter.js'
export { ftsQuery, queryTokens, MAX_QUERY_TOKENS } from './fts.js'
