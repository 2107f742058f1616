import { OPTIMIZERS, type OptimizerConfig, type OptimizerName } from './engine.js';
import { UsageError } from './errors.js';
import { INIT_SCALES, type InitScale } from './init.js';
import { CELL_NAMES, type CellName } from './model.js';

/** One training run's settings. The CLI fills it from argv, the page from its controls. */
export interface TrainConfig {
  /** The recurrent cell (src/model.ts): 'rnn' (tanh, the tutorial's), 'lstm' or 'gru', as
   * PyTorch defines them. */
  cell: CellName;
  /** L, stacked layers, each reading the one below's h (1 = the tutorial's model). */
  layers: number;
  /** Inverted dropout probability on every layer's output during training (src/dropout.ts);
   * 0 = none. Never in evaluation or sampling. */
  dropout: number;
  /** H, hidden units (per layer). */
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
  /** Learning-rate schedule: 'constant', 'step' (decay), 'cosine' (with warm-up). */
  schedule: Schedule;
  /** cosine: warm-up steps (linear from lr/warmup to lr). */
  warmup: number;
  /** step: multiply the rate by decayRate every decayEvery steps. */
  decayEvery: number;
  decayRate: number;
  /** cosine: the rate at the last step. */
  minLr: number;
  /** Global-norm gradient clipping (0 = off), applied before `clip`. */
  clipNorm: number;
  /** sgd momentum (0 = plain SGD). */
  momentum: number;
  /** rmsprop decay. */
  alpha: number;
  /** adam / adamw moment decays. */
  beta1: number;
  beta2: number;
  /** denominator epsilon of adagrad, rmsprop, adam, adamw. */
  eps: number;
  /** adamw decoupled weight decay (matrices only). */
  weightDecay: number;
  /** The last fraction of the text held out for validation, never trained on (0 = none). */
  valFraction: number;
  /** Validate every this many steps and at the end (0 = only at the end). */
  evalEvery: number;
  /** Initial weight matrices (src/init.ts): 'auto' randn*min(0.1, 1/sqrt(H)), 'uniform'
   * (PyTorch's +-1/sqrt(H)), or a number s for randn*s. Checkpoints without it used 0.1. */
  initScale: InitScale;
}

export const SCHEDULES = ['constant', 'step', 'cosine'] as const;
export type Schedule = (typeof SCHEDULES)[number];

export const DEFAULT_CONFIG: TrainConfig = {
  cell: 'rnn',
  layers: 1,
  dropout: 0,
  hidden: 100,
  steps: 1000,
  lr: 0.1,
  optimizer: 'adagrad',
  clip: 5,
  seed: 42,
  seqLen: 25,
  batch: 1,
  logEvery: 10,
  schedule: 'constant',
  warmup: 100,
  decayEvery: 1000,
  decayRate: 0.5,
  minLr: 0,
  clipNorm: 0,
  momentum: 0,
  alpha: 0.99,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  valFraction: 0.05,
  evalEvery: 200,
  initScale: 'auto',
};

/** Learning rate and clipping defaults per optimizer, used where the user gave none. */
export const OPTIMIZER_LR: Record<OptimizerName, { lr: number; clip: number }> = {
  sgd: { lr: 0.01, clip: 0 }, // the tutorial
  adagrad: { lr: 0.1, clip: 5 }, // min-char-rnn
  rmsprop: { lr: 0.002, clip: 5 }, // char-rnn
  adam: { lr: 0.002, clip: 0 },
  adamw: { lr: 0.002, clip: 0 },
};

export function optimizerOf(c: TrainConfig): OptimizerConfig {
  return {
    name: c.optimizer, lr: c.lr, clip: c.clip, clipNorm: c.clipNorm, momentum: c.momentum, alpha: c.alpha,
    beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay,
  };
}

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

/** The most layers a model may stack. */
export const MAX_LAYERS = 8;

/** The most steps a run may ask for: more is a typo, not a plan. */
export const MAX_STEPS = 1_000_000_000;

/** Throws UsageError naming the first bad value and the accepted range. */
export function validateConfig(c: TrainConfig): TrainConfig {
  const bad = (what: string, v: unknown, want: string) =>
    new UsageError(`Bad ${what}: ${String(v)}. It must be ${want}.`);
  if (!CELL_NAMES.includes(c.cell)) throw bad('cell (--cell)', c.cell, `one of ${CELL_NAMES.join(', ')}`);
  if (!isInt(c.layers) || c.layers < 1 || c.layers > MAX_LAYERS) throw bad('layer count (--layers)', c.layers, `an integer from 1 to ${MAX_LAYERS}`);
  if (!Number.isFinite(c.dropout) || c.dropout < 0 || c.dropout >= 1) throw bad('dropout (--dropout)', c.dropout, 'a number in [0, 1): the probability of dropping a unit, 0 = none');
  if (!isInt(c.hidden) || c.hidden < 1 || c.hidden > 4096) throw bad('hidden size (--hidden)', c.hidden, 'an integer from 1 to 4096');
  if (!isInt(c.steps) || c.steps < 0 || c.steps > MAX_STEPS)
    throw bad('step count (--steps)', c.steps, `an integer from 0 to ${MAX_STEPS.toLocaleString('en-US')} (at 10,000 steps a second, more than a day)`);
  if (!Number.isFinite(c.lr) || c.lr <= 0) throw bad('learning rate (--lr)', c.lr, 'a finite number > 0, e.g. 0.01 for sgd, 0.1 for adagrad');
  if (!OPTIMIZERS.includes(c.optimizer)) throw bad('optimizer (--optimizer)', c.optimizer, `one of ${OPTIMIZERS.join(', ')}`);
  if (!Number.isFinite(c.clip) || c.clip < 0) throw bad('clip (--clip)', c.clip, 'a finite number >= 0 (0 turns clipping off)');
  if (!isInt(c.seed) || c.seed < 0 || c.seed > 0xffffffff) throw bad('seed (--seed)', c.seed, 'an integer from 0 to 4294967295');
  if (!isInt(c.seqLen) || c.seqLen < 0) throw bad('sequence length (--seq-len)', c.seqLen, 'an integer >= 1, or 0 for the whole text');
  if (!isInt(c.batch) || c.batch < 1 || c.batch > 65535) throw bad('batch (--batch)', c.batch, 'an integer from 1 to 65535');
  if (!isInt(c.logEvery) || c.logEvery < 1) throw bad('log interval (--log-every)', c.logEvery, 'an integer >= 1');
  if (!SCHEDULES.includes(c.schedule)) throw bad('schedule (--schedule)', c.schedule, `one of ${SCHEDULES.join(', ')}`);
  if (!isInt(c.warmup) || c.warmup < 0) throw bad('warm-up (--warmup)', c.warmup, 'an integer >= 0');
  if (!isInt(c.decayEvery) || c.decayEvery < 1) throw bad('decay interval (--decay-every)', c.decayEvery, 'an integer >= 1');
  const unit = (what: string, x: number, open = false) => {
    if (!Number.isFinite(x) || x < 0 || x > 1 || (open && x === 1)) throw bad(what, x, open ? 'a number in [0, 1)' : 'a number in [0, 1]');
  };
  unit('decay rate (--decay-rate)', c.decayRate);
  if (!Number.isFinite(c.minLr) || c.minLr < 0 || c.minLr > c.lr) throw bad('minimum rate (--min-lr)', c.minLr, `a number from 0 to the learning rate ${c.lr}`);
  if (!Number.isFinite(c.clipNorm) || c.clipNorm < 0) throw bad('norm clip (--clip-norm)', c.clipNorm, 'a finite number >= 0 (0 turns it off)');
  unit('momentum (--momentum)', c.momentum, true);
  unit('rmsprop decay (--alpha)', c.alpha, true);
  unit('beta1 (--beta1)', c.beta1, true);
  unit('beta2 (--beta2)', c.beta2, true);
  if (!Number.isFinite(c.eps) || c.eps <= 0) throw bad('epsilon (--eps)', c.eps, 'a finite number > 0');
  if (!Number.isFinite(c.weightDecay) || c.weightDecay < 0) throw bad('weight decay (--weight-decay)', c.weightDecay, 'a finite number >= 0');
  unit('validation fraction (--val-fraction)', c.valFraction, true);
  if (!isInt(c.evalEvery) || c.evalEvery < 0) throw bad('validation interval (--eval-every)', c.evalEvery, 'an integer >= 0');
  if (!(INIT_SCALES as readonly unknown[]).includes(c.initScale) && !(typeof c.initScale === 'number' && Number.isFinite(c.initScale) && c.initScale > 0)) throw bad('initial scale (--init-scale)', c.initScale, `${INIT_SCALES.join(', ')} or a finite number > 0`);
  return c;
}
