import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  target: 'node20',
  platform: 'node',
  clean: true,
  sourcemap: true,
  splitting: false,
  // The napi loader stays a separate CommonJS file beside the .node binary; dist/ reaches it by the
  // same relative path as src/ does.
  external: [/native\/binding\.cjs$/],
})
