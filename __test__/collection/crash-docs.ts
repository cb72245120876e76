// The documents of the crash-recovery test, shared by the test and its child process.
export function crashDocs() {
  const word = (i: number): string => `w${i.toString(36)}x`
  const doc = (i: number, tag = '') => ({ id: `d${i}`, text: `${word(i)} ${word(i * 7 + 1000)} ${tag}common`, metadata: { i } })
  const base = Array.from({ length: 120 }, (_, i) => doc(i))
  const extra = Array.from({ length: 40 }, (_, i) => doc(120 + i))
  const updates = [3, 4, 5].map((i) => ({ id: `d${i}`, text: `updated${i} replaced text`, metadata: { i, updated: true } }))
  const deletions = ['d10', 'd11', 'd12', 'd13']
  return { base, extra, updates, deletions }
}
