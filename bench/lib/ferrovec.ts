// ferrovec as the benchmarks see it: the package built in the repository root (dist/ + native/), imported
// by relative path. A `file:` dependency would re-run the Rust build on every `npm install` in bench/,
// and benchmarking the built artefact is what users get anyway.

import { readFileSync } from 'node:fs'

export * from '../../dist/index.js'

/** Version in the root package.json (the TypeScript package; nativeInfo() has the native crate's). */
export const FERROVEC_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
