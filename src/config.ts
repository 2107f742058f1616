import { type Schedule } from './bounds.js';
import { FIELDS } from './configSchema.js';
import type { OptimizerConfig, OptimizerName } from './engine.js';
import { UsageError } from './errors.js';
import type { InitScale } from './init.js';
import type { CellName } from './model.js';

export { MAX_BATCH, MAX_HIDDEN, MAX_LAYERS, MAX_STEPS, SCHEDULES, type Schedule } from './bounds.js';

/** One training run's settings. The CLI fills it from argv, the page from its controls;
 * checkpoints store it as their `config` metadata. Its schema, field by field, with the values
 * each takes in words, is src/configSchema.ts. */
export interface TrainConfig {
  /** The recurrent cell: one of the records of src/cells.ts (CELL_NAMES), each as PyTorch
   * defines it ('rnn' is the tutorial's tanh RNN). */
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
  /** 'sgd' (the tutorial), 'adagrad' (min-char-rnn), 'rmsprop', 'adam' or 'adamw'. */
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

/** Throws UsageError naming the first bad value, by its option, and the values it takes. The
 * one rule across fields: minLr is at most lr. */
export function validateConfig(c: TrainConfig): TrainConfig {
  for (const [k, { schema, title, option, expected }] of Object.entries(FIELDS)) {
    const v = (c as unknown as Record<string, unknown>)[k];
    const aboveLr = k === 'minLr' && typeof v === 'number' && v > c.lr;
    if (!schema.safeParse(v).success || aboveLr)
      throw new UsageError(`Bad ${title} (${option}): ${String(v)}. It must be ${expected}${k === 'minLr' ? ` ${c.lr}` : ''}.`);
  }
  return c;
}
