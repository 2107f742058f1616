import { OPTIMIZERS, type OptimizerName } from './engine.js';
import { UsageError } from './errors.js';

/** One training run's settings. The CLI fills it from argv, the page from its controls. */
export interface TrainConfig {
  /** H, hidden units. */
  hidden: number;
  /** Optimizer steps to run. */
  steps: number;
  /** Learning rate. */
  lr: number;
  /** 'sgd' (the tutorial) or 'adagrad' (min-char-rnn). */
  optimizer: OptimizerName;
  /** Element-wise gradient clip to [-clip, clip]; 0 = off. */
  clip: number;
  /** Seed of the weight initialisation (and of sampling unless given there). */
  seed: number;
  /** T, timesteps per step (truncated BPTT; the hidden state carries across chunks).
   * 0 = the whole stream in one step, as the tutorial trains "hello". */
  seqLen: number;
  /** B, streams the text is cut into, trained side by side. */
  batch: number;
  /** Read the loss back every this many steps (and at the last step). */
  logEvery: number;
}

export const DEFAULT_CONFIG: TrainConfig = {
  hidden: 100,
  steps: 1000,
  lr: 0.1,
  optimizer: 'adagrad',
  clip: 5,
  seed: 42,
  seqLen: 25,
  batch: 1,
  logEvery: 10,
};

/** The tutorial's settings for "hello". */
export const TUTORIAL_CONFIG: TrainConfig = {
  ...DEFAULT_CONFIG,
  hidden: 3,
  steps: 1000,
  lr: 0.01,
  optimizer: 'sgd',
  clip: 0,
  seqLen: 0,
};

const isInt = (x: number) => Number.isInteger(x);

/** Throws UsageError naming the first bad value and the accepted range. */
export function validateConfig(c: TrainConfig): TrainConfig {
  const bad = (what: string, v: unknown, want: string) =>
    new UsageError(`Bad ${what}: ${String(v)}. It must be ${want}.`);
  if (!isInt(c.hidden) || c.hidden < 1 || c.hidden > 4096) throw bad('hidden size (--hidden)', c.hidden, 'an integer from 1 to 4096');
  if (!isInt(c.steps) || c.steps < 0) throw bad('step count (--steps)', c.steps, 'an integer >= 0');
  if (!Number.isFinite(c.lr) || c.lr <= 0) throw bad('learning rate (--lr)', c.lr, 'a finite number > 0, e.g. 0.01 for sgd, 0.1 for adagrad');
  if (!OPTIMIZERS.includes(c.optimizer)) throw bad('optimizer (--optimizer)', c.optimizer, `one of ${OPTIMIZERS.join(', ')}`);
  if (!Number.isFinite(c.clip) || c.clip < 0) throw bad('clip (--clip)', c.clip, 'a finite number >= 0 (0 turns clipping off)');
  if (!isInt(c.seed) || c.seed < 0 || c.seed > 0xffffffff) throw bad('seed (--seed)', c.seed, 'an integer from 0 to 4294967295');
  if (!isInt(c.seqLen) || c.seqLen < 0) throw bad('sequence length (--seq-len)', c.seqLen, 'an integer >= 1, or 0 for the whole text');
  if (!isInt(c.batch) || c.batch < 1 || c.batch > 65535) throw bad('batch (--batch)', c.batch, 'an integer from 1 to 65535');
  if (!isInt(c.logEvery) || c.logEvery < 1) throw bad('log interval (--log-every)', c.logEvery, 'an integer >= 1');
  return c;
}
