import type { Engine } from './engine.js';
import { UsageError } from './errors.js';
import type { Vocab } from './vocab.js';

export interface SampleOptions {
  /** Text fed in before generating: at least one character, each in the vocabulary. */
  prime: string;
  /** Characters to generate after the prime. */
  length: number;
  /** Most likely character each time (the tutorial's predict) instead of sampling. */
  greedy?: boolean;
  /** Softmax temperature (> 0) for sampling: below 1 is more conservative, above 1 more varied. */
  temperature?: number;
  seed?: number;
  /** Independent samples generated together. */
  num?: number;
  /** Sample among the k most likely characters only; 0 = all. */
  topK?: number;
  /** Sample among the most likely characters whose probability adds up to p; 1 = all. */
  topP?: number;
}

/** Generates text; each returned string starts with the prime, as the tutorial's predict. */
export async function sampleText(engine: Engine, vocab: Vocab, o: SampleOptions): Promise<string[]> {
  if (o.prime.length === 0) throw new UsageError('The prime is empty: give at least one character to start from (--prime).');
  if (!Number.isInteger(o.length) || o.length < 0) throw new UsageError(`Bad length: ${o.length}. It must be an integer >= 0.`);
  const t = o.temperature ?? 1;
  if (!o.greedy && !(Number.isFinite(t) && t > 0)) throw new UsageError(`Bad temperature: ${t}. It must be a finite number > 0.`);
  const num = o.num ?? 1;
  if (!Number.isInteger(num) || num < 1) throw new UsageError(`Bad number of samples: ${num}. It must be an integer >= 1.`);
  const prime = vocab.encode(o.prime, 'the prime');
  const out = await engine.generate({ prime, length: o.length, streams: num, greedy: o.greedy, temperature: t, seed: o.seed, topK: o.topK, topP: o.topP });
  return out.map((ids) => o.prime + vocab.decode(ids));
}
