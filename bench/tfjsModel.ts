import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Batch, OptimizerConfig } from '../src/engine.js';
import { CELLS, CELL_NAMES, type CellName, type ModelDims, type Params, type StepShape, modelOf, paramTable } from '../src/model.js';
import { type TfBackendName, useBackend } from './tfjs.js';

// The TensorFlow.js baseline: the model a TF.js user writes for a character-level RNN, LSTM or
// GRU, trained and sampled the way a TF.js user does it (bench/tfjs.ts sets up the backends).
//
//   one-hot (B, T, V) -> L x {simpleRNN | lstm | gru}(H, returnSequences, stateful)
//                        [-> dropout(p) after each] -> timeDistributed(dense(V))
//   loss: softmax cross-entropy from the logits (tf.losses.softmaxCrossEntropy)
//
// stateful: each layer carries its state (h, and c for the LSTM) from one chunk of T to the
// next, as this project's engines do; resetStates() starts from zeros. The weights are this
// project's initParams(), moved into Keras's layout (kerasWeights below), so every engine
// starts from the same numbers and the first step's loss can be compared across engines. The
// loss is scaled by T so its gradient is the project's (summed over time, mean over streams):
// the same learning rate then means the same update (SGD, clipping), not one T times smaller.
// Training uses tf.variableGrads + optimizer.applyGradients rather than model.fit: tfjs-layers
// has no gradient clipping (min-char-rnn clips to [-5, 5]), so a custom step is what a TF.js
// user writes for it; the forward pass is still the layers model (model.apply).

/** Keras's gate block k of a cell is this project's (PyTorch's) block gateOrder(cell)[k]: the
 * record's tfjs.gates name Keras's blocks as ours (lstm i f c o = PyTorch's i f g o; gru z r h
 * against PyTorch's r z n). */
const gateOrder = (cell: CellName): number[] => CELLS[cell].tfjs.gates.map((g) => CELLS[cell].gateNames.indexOf(g));

/** Cells whose TF.js layer is a different model from this project's, and why (the record's
 * tfjs.differs): its loss is not expected to agree (the report says so instead of flagging it). */
export const TFJS_OTHER_MODEL: Partial<Record<CellName, string>> = Object.fromEntries(
  CELL_NAMES.flatMap((c) => (CELLS[c].tfjs.differs ? [[c, CELLS[c].tfjs.differs]] : [])),
);

/** The model as a TF.js user writes it, and its recurrent layers (bottom first). The
 * initializers are zeros because the weights are set from the project's initParams right after
 * (the default orthogonal initializer of the recurrent kernel would run a slow QR decomposition
 * for nothing); the gates use the logistic sigmoid, as PyTorch does (tfjs-layers' default for
 * lstm and gru is hardSigmoid). */
function buildModel(m: ModelDims, B: number, T: number, dropout: number): { model: tfl.Sequential; rnns: tfl.RNN[] } {
  const { V, H, cell, layers } = m;
  const model = tfl.sequential();
  const rnns: tfl.RNN[] = [];
  for (let l = 0; l < layers; l++) {
    const args = {
      units: H,
      activation: CELLS[cell].tfjs.activation,
      returnSequences: true,
      stateful: true,
      ...(l === 0 ? { batchInputShape: [B, T, V] } : {}),
      kernelInitializer: 'zeros' as const,
      recurrentInitializer: 'zeros' as const,
    };
    const layer = CELLS[cell].tfjs.layer;
    const rnn =
      layer === 'lstm' ? tfl.layers.lstm({ ...args, recurrentActivation: 'sigmoid' })
      : layer === 'gru' ? tfl.layers.gru({ ...args, recurrentActivation: 'sigmoid' })
      : tfl.layers.simpleRNN(args);
    model.add(rnn);
    rnns.push(rnn);
    if (dropout > 0) model.add(tfl.layers.dropout({ rate: dropout }));
  }
  model.add(tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: V, kernelInitializer: 'zeros' }) }));
  return { model, rnns };
}

/** Row-major (G*H, n), gate-major rows in PyTorch's order -> Keras's (n, G*H): transposed,
 * gate blocks in Keras's order. */
function kerasKernel(W: ArrayLike<number>, G: number, H: number, n: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(n * G * H);
  for (let k = 0; k < G; k++)
    for (let i = 0; i < H; i++) {
      const row = (order[k] * H + i) * n;
      for (let j = 0; j < n; j++) out[j * G * H + k * H + i] = W[row + j];
    }
  return out;
}

/** (G*H) gate-major, PyTorch's order -> Keras's order. */
function kerasBias(b: ArrayLike<number>, G: number, H: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(G * H);
  for (let k = 0; k < G; k++) for (let i = 0; i < H; i++) out[k * H + i] = b[order[k] * H + i];
  return out;
}

/** The project's parameters in the model's weight order: per layer l, kernel (in, G*H) =
 * W_xh.l^T, recurrentKernel (H, G*H) = W_hh.l^T, bias = b_h.l (gate blocks in Keras's order);
 * then the dense kernel (H, V) = W_hy^T and bias b_y. The GRU's b_hn has no Keras counterpart
 * (see TFJS_OTHER_MODEL). */
function setWeights(model: tfl.Sequential, p: Params, m: ModelDims): void {
  const G = CELLS[m.cell].gates;
  const order = gateOrder(m.cell);
  const w: tf.Tensor[] = [];
  for (const s of paramTable(m)) {
    const [rows, cols] = s.shape;
    if (s.role === 'W_xh' || s.role === 'W_hh') w.push(tf.tensor2d(kerasKernel(p[s.name], G, m.H, cols, order), [cols, rows]));
    else if (s.role === 'b_h') w.push(tf.tensor1d(kerasBias(p[s.name], G, m.H, order)));
    else if (s.role === 'W_hy') w.push(tf.tensor2d(kerasKernel(p[s.name], 1, rows, cols, [0]), [cols, rows]));
    else if (s.role === 'b_y') w.push(tf.tensor1d(Float32Array.from(p[s.name])));
  }
  model.setWeights(w);
  tf.dispose(w);
}

function makeOptimizer(o: OptimizerConfig): tf.Optimizer {
  const eps = o.eps ?? 1e-8;
  if (o.clipNorm) throw new Error('global-norm clipping is not implemented in the TF.js baseline');
  switch (o.name) {
    case 'sgd':
      return o.momentum ? tf.train.momentum(o.lr, o.momentum) : tf.train.sgd(o.lr);
    case 'adagrad':
      // min-char-rnn's memory starts at 0 and adds 1e-8; TF.js needs a positive start value
      // (it adds its own epsilon too: w -= lr*g/sqrt(acc + 1e-7)).
      return tf.train.adagrad(o.lr, eps);
    case 'rmsprop':
      return tf.train.rmsprop(o.lr, o.alpha ?? 0.99, 0, eps);
    case 'adam':
      return tf.train.adam(o.lr, o.beta1 ?? 0.9, o.beta2 ?? 0.999, eps);
    default:
      throw new Error(`optimizer ${o.name} has no TF.js counterpart here`);
  }
}

/** (rows, cols) indices -> (rows, cols, V) float32 one-hot, as rows of the identity matrix `eye`
 * (tf.gather). Not tf.oneHot, which TF.js 4.22 gets wrong in two ways here: its int32 result
 * cast to float32 is a no-op on the webgpu backend that leaves an i32 buffer behind, so the RNN
 * layer's 3-D Transpose then fails WGSL validation on Dawn and silently computes garbage
 * (tensorflow/tfjs issue 8638); and tf.oneHot(..., 'float32') on the wasm backend writes the
 * integer bits (1 reads back as 1.4e-45). The first step's loss, compared across engines by the
 * harness, catches both. */
function oneHot(eye: tf.Tensor2D, idx: Int32Array, shape: [number, number]): tf.Tensor {
  return tf.gather(eye, tf.tensor2d(idx, shape, 'int32'));
}

/** Time-major (t*B + b, the project's batches) -> batch-major (b*T + t, TF.js's (B, T)). */
function toBatchMajor(a: Uint32Array, B: number, T: number): Int32Array {
  const out = new Int32Array(B * T);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out[b * T + t] = a[t * B + b];
  return out;
}

/** Forget the states the stateful layers hold and dispose them (the model's dispose() does not). */
function dropStates(model: tfl.Sequential, rnns: tfl.RNN[]): void {
  model.resetStates(); // disposes the states kept for BPTT, sets zeros
  for (const rnn of rnns) tf.dispose(rnn.states.filter((t): t is tf.Tensor => t != null));
}

/** Training, with the step contract of the project's engines (src/engine.ts): `reset` starts
 * every stream from zero state; a step with `wantLoss` reads the loss back, which waits for the
 * device to finish all queued work. One difference: a TF.js step also waits when `syncEvery`
 * steps have passed without a wait. On Dawn, TF.js's webgpu backend holds about 1 MB of host
 * memory per step that is not awaited (released when the queue is waited on) and the process
 * segfaults after some 450 such steps of the tiny hello model, so it cannot run a 1000-step
 * rep unsynced as this project's engine does. `dropout`: a dropout layer after each recurrent
 * layer, active in training steps (its masks are TF.js's own, not the project's). */
export class TfjsTrainer {
  readonly backend: TfBackendName;
  readonly shape: StepShape;
  private readonly dims: ModelDims;
  private readonly model: tfl.Sequential;
  private readonly rnns: tfl.RNN[];
  private readonly vars: tf.Variable[];
  private readonly eye: tf.Tensor2D;
  private readonly optimizerConfig: OptimizerConfig;
  private optimizer: tf.Optimizer;
  private readonly syncEvery: number;
  private unsynced = 0;

  private constructor(backend: TfBackendName, shape: StepShape, optimizer: OptimizerConfig, params: Params, syncEvery: number, dropout: number) {
    const { V, B, T } = shape;
    this.backend = backend;
    this.shape = { ...shape };
    this.dims = modelOf(shape);
    this.syncEvery = syncEvery;
    ({ model: this.model, rnns: this.rnns } = buildModel(this.dims, B, T, dropout));
    this.vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.eye = tf.eye(V) as tf.Tensor2D;
    setWeights(this.model, params, this.dims);
    this.optimizerConfig = optimizer;
    this.optimizer = makeOptimizer(optimizer);
  }

  /** `syncEvery`: wait for the device at least every this many steps (1 = every step). */
  static async create(
    backend: TfBackendName, shape: StepShape, optimizer: OptimizerConfig, params: Params, syncEvery = 16, dropout = 0,
  ): Promise<TfjsTrainer> {
    await useBackend(backend);
    return new TfjsTrainer(backend, shape, optimizer, params, Math.max(1, syncEvery), dropout);
  }

  async step(batch: Batch, opts: { reset?: boolean; wantLoss?: boolean } = {}): Promise<number | undefined> {
    const { B, T } = this.shape;
    if (tf.getBackend() !== this.backend) await useBackend(this.backend);
    if (opts.reset) this.model.resetStates();
    const clip = this.optimizerConfig.clip;
    const loss = tf.tidy(() => {
      const x = oneHot(this.eye, toBatchMajor(batch.inputs, B, T), [B, T]);
      const y = oneHot(this.eye, toBatchMajor(batch.targets, B, T), [B, T]);
      const { value, grads } = tf.variableGrads(() => {
        const logits = this.model.apply(x, { training: true }) as tf.Tensor;
        // mean over the B*T positions, times T: summed over time, mean over streams
        return tf.mul(tf.losses.softmaxCrossEntropy(y, logits), T) as tf.Scalar;
      }, this.vars);
      if (clip > 0) for (const k of Object.keys(grads)) grads[k] = tf.clipByValue(grads[k], -clip, clip);
      this.optimizer.applyGradients(grads);
      return value;
    });
    if (!opts.wantLoss && ++this.unsynced < this.syncEvery) {
      loss.dispose();
      return undefined;
    }
    this.unsynced = 0;
    const v = (await loss.data())[0] / T;
    loss.dispose();
    return opts.wantLoss ? v : undefined;
  }

  /** Between reps (not timed): a stateful RNN trained with training=true keeps every past state
   * tensor until the next resetStates() (tfjs-layers keeps them for BPTT); this frees them and
   * carries the current states on, so live tensors stay flat from rep to rep. */
  settle(): void {
    for (const rnn of this.rnns) {
      const s = rnn.states.map((t) => t.clone());
      rnn.resetStates(); // disposes the kept states
      rnn.resetStates(s); // the carried states, as before
      tf.dispose(s);
    }
  }

  /** Fresh weights, optimizer and state (the hello case times whole runs from the start). */
  restart(params: Params): void {
    setWeights(this.model, params, this.dims);
    this.optimizer.dispose();
    this.optimizer = makeOptimizer(this.optimizerConfig);
    this.model.resetStates();
    this.unsynced = 0;
  }

  destroy(): void {
    this.optimizer.dispose();
    this.eye.dispose();
    dropStates(this.model, this.rnns);
    this.model.dispose();
  }
}

/** Sampling as a TF.js user does it: a stateful copy of the model with batch size S and T = 1,
 * fed one character per call; tf.multinomial draws from softmax(logits / temperature) on the
 * backend, and the S indices are read back (one readback per character) to build the next
 * one-hot input. */
export class TfjsSampler {
  readonly backend: TfBackendName;
  private readonly model: tfl.Sequential;
  private readonly rnns: tfl.RNN[];
  private readonly eye: tf.Tensor2D;
  private readonly V: number;
  private readonly S: number;

  private constructor(backend: TfBackendName, m: ModelDims, S: number, params: Params) {
    this.backend = backend;
    this.V = m.V;
    this.S = S;
    ({ model: this.model, rnns: this.rnns } = buildModel(m, S, 1, 0));
    this.eye = tf.eye(m.V) as tf.Tensor2D;
    setWeights(this.model, params, m);
  }

  static async create(backend: TfBackendName, m: ModelDims, streams: number, params: Params): Promise<TfjsSampler> {
    await useBackend(backend);
    return new TfjsSampler(backend, m, streams, params);
  }

  /** `length` characters after `prime` in each of the S streams (all streams start from zero
   * state and the same prime); returns them stream by stream. */
  async generate(prime: Uint32Array, length: number, temperature = 1): Promise<Int32Array[]> {
    const { V, S } = this;
    if (tf.getBackend() !== this.backend) await useBackend(this.backend);
    this.model.resetStates();
    const step = (x: Int32Array) => this.model.predictOnBatch(oneHot(this.eye, x, [S, 1])) as tf.Tensor;
    // the prime: every character but the last only advances the state
    for (let i = 0; i < prime.length - 1; i++) tf.tidy(() => void step(new Int32Array(S).fill(prime[i])));
    let x = new Int32Array(S).fill(prime[prime.length - 1]);
    const out = Array.from({ length: S }, () => new Int32Array(length));
    for (let k = 0; k < length; k++) {
      const drawn = tf.tidy(() => tf.multinomial(tf.div(tf.reshape(step(x), [S, V]), temperature) as tf.Tensor2D, 1));
      x = Int32Array.from(await drawn.data());
      drawn.dispose();
      for (let s = 0; s < S; s++) out[s][k] = x[s];
    }
    return out;
  }

  destroy(): void {
    this.eye.dispose();
    dropStates(this.model, this.rnns);
    this.model.dispose();
  }
}
