// The README's TypeScript examples run as tests, so the documentation cannot drift from the code.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
const tsx = createRequire(import.meta.url).resolve('tsx/cli')

test('the README has TypeScript examples', (t) => {
  t.true(blocks.length > 0)
})

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs`, (t) => {
    // Written inside the repository so `import … from 'ferrovec'` resolves to this package.
    const dir = mkdtempSync(join(root, '.readme-'))
    try {
      const file = join(dir, `example-${i + 1}.mts`)
      writeFileSync(file, code)
      const out = execFileSync(process.execPath, [tsx, file], { cwd: root, encoding: 'utf8' })
      t.log(out.trim())
      t.pass()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
