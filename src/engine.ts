import type { Params, StepShape, Tensor } from './model.js';

// The one interface both engines implement: CpuEngine (src/cpu/engine.ts, float64, the
// reference) and GpuEngine (src/gpu/engine.ts, float32 WGSL). Tests, `char-rnn check`, the
// trainer and the page drive either through it.

export const OPTIMIZERS = ['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Optimizer hyperparameters; formulas in shaders/optimizer.wgsl and the README. */
export interface OptimizerConfig {
  /** 'sgd' (the tutorial; with momentum), 'adagrad' (min-char-rnn), 'rmsprop', 'adam', 'adamw'. */
  name: OptimizerName;
  /** Learning rate, > 0 (a schedule may scale it per step). */
  lr: number;
  /** Element-wise gradient clipping to [-clip, clip] before the update; 0 turns it off. */
  clip: number;
  /** Global-norm clipping: gradients scaled by min(1, clipNorm/||g||); 0 turns it off. */
  clipNorm?: number;
  /** SGD momentum (PyTorch convention: m = momentum*m + g; w -= lr*m). Default 0. */
  momentum?: number;
  /** RMSprop decay of the squared-gradient average. Default 0.99. */
  alpha?: number;
  /** Adam/AdamW first and second moment decays. Defaults 0.9, 0.999. */
  beta1?: number;
  beta2?: number;
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** AdamW decoupled weight decay, applied to the matrices (not the biases). Default 0.01. */
  weightDecay?: number;
}

export const OPTIMIZER_DEFAULTS = { clipNorm: 0, momentum: 0, alpha: 0.99, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export function withDefaults(o: OptimizerConfig): Required<OptimizerConfig> {
  const r = { ...OPTIMIZER_DEFAULTS, ...o } as Required<OptimizerConfig>;
  for (const k of Object.keys(OPTIMIZER_DEFAULTS) as (keyof typeof OPTIMIZER_DEFAULTS)[]) if (o[k] === undefined) r[k] = OPTIMIZER_DEFAULTS[k];
  return r;
}

/** Everything an engine needs to continue exactly where it was (checkpoints, resume). */
export interface EngineState {
  params: Params;
  /** optimizer state, same layout as params (momentum / squared sums / first moment) */
  m: Params;
  /** second optimizer state (Adam's v), same layout */
  v: Params;
  /** (L, B, H) hidden state of every layer carried to the next step, layer-major ((B, H) for
   * one layer) */
  hprev: Tensor;
  /** (L, B, H) the LSTM's cell state carried likewise (absent for the other cells) */
  cprev?: Tensor;
  /** optimizer steps taken (Adam's t) */
  t: number;
}

/** One step's data: B streams x T timesteps, stored time-major (index t*B + b). */
export interface Batch {
  inputs: Uint32Array;
  targets: Uint32Array;
}

export interface StepOptions {
  /** Start every stream from h_0 = 0 instead of the state carried from the previous step. */
  reset?: boolean;
  /** Resolve the step's loss (mean over the T*B positions of -log p[target]); the gradient
   * norm of the step is then readable as engine.gradNorm. */
  wantLoss?: boolean;
  /** Learning rate of this step (a schedule's value); default optimizer.lr. */
  lr?: number;
  /** With wantLoss: called with this step's global gradient norm (before clipping) when its
   * loss is read back. (engine.gradNorm holds the latest one read, which may belong to a later
   * step when several losses are in flight.) */
  onGradNorm?: (norm: number) => void;
  /** Inverted dropout on every layer's output during this step (src/dropout.ts: the masks
   * come from seed, step, layer, position and unit, the same on both engines). */
  dropout?: Dropout;
}

/** The dropout of one training step: probability p, the run's seed, the step's index (the
 * optimizer steps taken before it). */
export interface Dropout {
  p: number;
  seed: number;
  step: number;
}

/** What one forward + backward pass computed, for comparisons and the page's views. */
export interface Activations {
  /** (L, T+1, B, H), layer-major ((T+1, B, H) for one layer): hs[l][0] is the state the step
   * started from, hs[l][t+1] = h_t of layer l. */
  hs: Tensor;
  /** (L, T+1, B, H) the LSTM's cell states likewise. */
  cs?: Tensor;
  /** (T, B, V) softmax probabilities. */
  ps: Tensor;
  /** dW_xh ... db_y, keyed by parameter name: summed over time, mean over streams. */
  grads: Params;
  /** (L, T, B, G*H) the loss's gradient with respect to each layer's input-side pre-activations
   * ax = W_xh x + b_h (gate-major rows, src/cpu/cells.ts); for the one-layer tanh RNN, the
   * tutorial's dtanh_t = (W_hy^T dy_t + W_hh^T dtanh_{t+1}) * (1 - h_t^2), (T, B, H). */
  dpre?: Tensor;
  /** (L, T, B, S*H) what each layer's cell saved for its backward pass, S values per unit in
   * blocks of H (the G gate values, then the cell's extra: src/cells.ts `saved`); the GPU
   * engine's, which the local comparison feeds its backward pass (src/cpu/localCells.ts). */
  act?: Tensor;
  /** (L, T, B, G*H) each layer's gate values after their nonlinearity (the LSTM's i f g o, the
   * GRU's r z n; for the tanh and ReLU RNNs h itself): the CPU engine's, for the page's view
   * of the gates. */
  gates?: Tensor;
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
  /** Sample among the k most likely characters only; 0 = all. */
  topK?: number;
  /** Sample among the most likely characters whose probabilities add up to p (nucleus); 1 = all. */
  topP?: number;
  seed?: number;
}

export interface Engine {
  readonly device: 'cpu' | 'gpu';
  readonly shape: StepShape;
  readonly optimizer: OptimizerConfig;
  /** Replaces the parameters; optimizer state and carried hidden state are reset to zero. */
  setParams(p: Params): void;
  getParams(): Promise<Params>;
  getState(): Promise<EngineState>;
  setState(s: EngineState): void;
  /** Global gradient norm of the last step that read its loss back. */
  readonly gradNorm: number;
  /** Mean -log p (nats/char) over data[1..n) given data[0..n-1), one stream from h = 0 with the
   * state carried through, forward only, in chunks of this engine's T. Needs B = 1. Any of
   * the index arrays (Uint8/16/32) works: chunks are copied into the engine's own batch. */
  evaluate(data: Uint8Array | Uint16Array | Uint32Array): Promise<{ loss: number; count: number }>;
  /** An engine of B = 1 and the given T that reads this engine's live parameters (for evaluate). */
  evaluator(T: number): Promise<Engine>;
  /** Forward over the batch, BPTT, optimizer update. */
  step(batch: Batch, opts?: StepOptions): Promise<number | undefined>;
  /** Forward and backward only (no update); the results stay readable through inspect(). */
  forwardBackward(batch: Batch, opts?: { reset?: boolean; dropout?: Dropout }): Promise<number>;
  inspect(): Promise<Activations>;
  /** Generated indices, one array per stream, prime excluded. */
  generate(opts: GenerateOptions): Promise<Uint32Array[]>;
  destroy(): void;
}
