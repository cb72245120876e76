// The only importer of the generated napi-rs loader. Everything else imports from here, so the
// loader's location (native/, beside the compiled .node binary) is known in one place.
import binding from '../native/binding.cjs'

export const native = binding
export type {
  BatchSearchResult as NativeBatchSearchResult,
  FlatQuantOptions,
  MemoryUsage as NativeMemoryUsage,
  NativeFlatIndex,
  NativeHnswIndex,
  NativeHnswlib,
  NativeInfo,
  QuantizationInfo as NativeQuantizationInfo,
  SearchResult as NativeSearchResult,
} from '../native/binding.cjs'
