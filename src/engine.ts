import type { Params, StepShape, Tensor } from './model.js';

// The one interface both engines implement: CpuEngine (src/cpu/engine.ts, float64, the
// reference) and GpuEngine (src/gpu/engine.ts, float32 WGSL). Tests, `char-rnn check`, the
// trainer and the page drive either through it.

export const OPTIMIZERS = ['sgd', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  /** 'sgd': w -= lr*g (the tutorial). 'adagrad': m += g*g; w -= lr*g/sqrt(m + 1e-8) (min-char-rnn). */
  name: OptimizerName;
  /** Learning rate, > 0. */
  lr: number;
  /** Element-wise gradient clipping to [-clip, clip] before the update; 0 turns it off. */
  clip: number;
}

export const ADAGRAD_EPS = 1e-8;

/** One step's data: B streams x T timesteps, stored time-major (index t*B + b). */
export interface Batch {
  inputs: Uint32Array;
  targets: Uint32Array;
}

export interface StepOptions {
  /** Start every stream from h_0 = 0 instead of the state carried from the previous step. */
  reset?: boolean;
  /** Resolve the step's loss (mean over the T*B positions of -log p[target]). */
  wantLoss?: boolean;
}

/** What one forward + backward pass computed, for comparisons and the page's views. */
export interface Activations {
  /** (T+1, B, H): hs[0] is the state the step started from, hs[t+1] = h_t. */
  hs: Tensor;
  /** (T, B, V) softmax probabilities. */
  ps: Tensor;
  /** dW_xh ... db_y, keyed by parameter name: summed over time, mean over streams. */
  grads: Params;
  loss: number;
}

export interface GenerateOptions {
  /** Characters fed in first (at least one); generation continues after the last. */
  prime: Uint32Array;
  /** Characters to generate after the prime. */
  length: number;
  /** Independent streams generated together; stream s draws from counter stream s. */
  streams?: number;
  /** Pick the most likely character (the tutorial's predict) instead of sampling. */
  greedy?: boolean;
  /** Softmax temperature for sampling, > 0. */
  temperature?: number;
  seed?: number;
}

export interface Engine {
  readonly device: 'cpu' | 'gpu';
  readonly shape: StepShape;
  readonly optimizer: OptimizerConfig;
  /** Replaces the parameters; optimizer state and carried hidden state are reset to zero. */
  setParams(p: Params): void;
  getParams(): Promise<Params>;
  /** Forward over the batch, BPTT, optimizer update. */
  step(batch: Batch, opts?: StepOptions): Promise<number | undefined>;
  /** Forward and backward only (no update); the results stay readable through inspect(). */
  forwardBackward(batch: Batch, opts?: { reset?: boolean }): Promise<number>;
  inspect(): Promise<Activations>;
  /** Generated indices, one array per stream, prime excluded. */
  generate(opts: GenerateOptions): Promise<Uint32Array[]>;
  destroy(): void;
}
