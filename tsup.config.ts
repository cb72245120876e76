import { defineConfig } from 'tsup'

// The napi loader stays a separate CommonJS file beside the .node binary; dist/ reaches it by the
// same relative path as src/ does.
const external = [/native\/binding\.cjs$/]

export default defineConfig([
  {
    // `ferrovec/hnswlib-node` is its own entry so its module shape is hnswlib-node's alone.
    // `use-worker` is the offline embedder's worker thread, loaded by path from beside the bundles
    // (src/embed/use.ts); the CLI bundle (below) finds the same file.
    entry: { index: 'src/index.ts', 'hnswlib-node': 'src/compat/hnswlib-node.ts', 'use-worker': 'src/embed/use-worker.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    clean: true,
    sourcemap: true,
    // The data helpers use import.meta.url; tsup's shim gives CommonJS the equivalent.
    shims: true,
    external,
  },
  {
    // The CLI is an ESM executable only.
    entry: ['src/cli.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    external,
  },
])
