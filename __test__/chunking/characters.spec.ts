// The invariant sweep over every strategy, sizes in characters.
import { registerSweep } from './sweep.js'

registerSweep('characters')
