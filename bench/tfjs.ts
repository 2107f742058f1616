import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Batch, OptimizerConfig } from '../src/engine.js';
import type { Params, StepShape } from '../src/model.js';

// The TensorFlow.js baseline: the model a TF.js user writes for a character-level RNN, trained
// and sampled the way a TF.js user does it, on TF.js's `webgpu` backend (on the same Dawn
// adapter as this project's GPU engine) and on its `wasm` backend.
//
//   one-hot (B, T, V) -> simpleRNN(H, tanh, returnSequences, stateful) -> timeDistributed(dense(V))
//   loss: softmax cross-entropy from the logits (tf.losses.softmaxCrossEntropy)
//
// The weights are this project's initParams(), transposed into TF.js's layout, so every engine
// starts from the same numbers and the first step's loss can be compared across engines. The
// loss is scaled by T so its gradient is the project's (summed over time, mean over streams):
// the same learning rate then means the same update (SGD, clipping), not one T times smaller.
// Training uses tf.variableGrads + optimizer.applyGradients rather than model.fit: tfjs-layers
// has no gradient clipping (min-char-rnn clips to [-5, 5]), so a custom step is what a TF.js
// user writes for it; the forward pass is still the layers model (model.apply).

export type TfBackendName = 'webgpu' | 'wasm';

/** What the benchmark reports about the two TF.js backends. */
export interface TfjsInfo {
  /** tfjs-core, tfjs-layers, tfjs-backend-webgpu, tfjs-backend-wasm versions */
  versions: Record<string, string>;
  /** Adapter the webgpu backend got from navigator.gpu.requestAdapter(), or why it has none. */
  webgpuAdapter?: string;
  webgpuError?: string;
  /** tf.getBackend() right after setBackend('webgpu') */
  webgpuBackend?: string;
  wasmError?: string;
  wasmSimd?: boolean;
  wasmThreads?: boolean;
  wasmThreadCount?: number;
}

const require = createRequire(import.meta.url);
const TF_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'];

/** Kept for the whole run: the adapter TF.js got, and through the shim the GPU object that
 * Dawn needs alive while the backend's device lives (dawn-gpu/node-webgpu issue 18). */
let shimmedGpu: GPU | undefined;
let tfAdapter: GPUAdapter | undefined;
const initialized = new Set<TfBackendName>();
/** Uncaptured errors of the TF.js webgpu device since the last takeWebgpuErrors(). */
const webgpuErrors: string[] = [];

/** The TF.js webgpu device's errors since the last call (and forgets them). */
export function takeWebgpuErrors(): string[] {
  return webgpuErrors.splice(0);
}

function describeAdapter(a: GPUAdapter): string {
  const i = a.info;
  const name = i.description || i.device || 'unknown';
  return `${name} (${[i.vendor, i.architecture].filter(Boolean).join(', ')})`;
}

/** Registers and initializes both TF.js backends; a backend that fails is reported in the
 * returned info (its cells then fail with that reason), never thrown.
 *
 * webgpu: Node 20 has no `navigator`, and tfjs-backend-webgpu registers itself only when it
 * sees `navigator.gpu` at import time, then calls navigator.gpu.requestAdapter() itself. So
 * `globalThis.navigator.gpu` is set to a thin wrapper around `gpu` (the GPU object of this
 * project's Dawn context, `webgpu`'s create([]); its globals are already installed) that records
 * the adapter TF.js gets, and only then is the backend package imported. TF.js creates its own
 * device on that adapter with its own feature and limit requests, exactly as in a browser.
 *
 * wasm: the .wasm files are read from bench/node_modules (setWasmPaths). TF.js turns threads off
 * under Node (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE: tensorflow/tfjs issue 3830;
 * forcing it fails, its pthread workers are blob: URLs), so it runs the SIMD build on 1 thread. */
export async function initTfjs(gpu: GPU | undefined): Promise<TfjsInfo> {
  const info: TfjsInfo = { versions: {} };
  for (const p of TF_PACKAGES) info.versions[p] = (require(`${p}/package.json`) as { version: string }).version;

  if (!gpu) info.webgpuError = 'no Dawn GPU object (this project\'s GPU context failed)';
  else {
    try {
      shimmedGpu = gpu;
      const shim = {
        requestAdapter: async (o?: GPURequestAdapterOptions) => {
          const a = await gpu.requestAdapter(o);
          if (a) tfAdapter = a;
          return a;
        },
        getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
        get wgslLanguageFeatures() {
          return gpu.wgslLanguageFeatures;
        },
      };
      const g = globalThis as { navigator?: { gpu?: unknown; userAgent?: string } };
      g.navigator ??= { userAgent: `Node.js ${process.version}` };
      g.navigator.gpu = shim;
      // Imported by name at run time, after the shim (static imports would run before it).
      // The name is not a literal so that TypeScript does not load the package's own
      // @webgpu/types 0.1.38, whose globals would clash with the project's 0.1.74.
      const webgpuBackend = '@tensorflow/tfjs-backend-webgpu';
      await import(webgpuBackend);
      if (!tf.findBackendFactory('webgpu')) throw new Error('tfjs-backend-webgpu did not register (navigator.gpu not seen)');
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed (see the messages above)');
      initialized.add('webgpu');
      info.webgpuBackend = tf.getBackend();
      // TF.js does not check its shaders' compilation: a WGSL or validation error only shows as
      // an uncaptured device error (and wrong numbers). Record it so the cell fails instead.
      const device = (tf.backend() as unknown as { device: GPUDevice }).device;
      device.addEventListener('uncapturederror', (ev) => {
        const msg = (ev as GPUUncapturedErrorEvent).error.message;
        webgpuErrors.push(msg);
        if (webgpuErrors.length <= 3) console.error(`TF.js webgpu device error: ${msg}`);
      });
      info.webgpuAdapter = tfAdapter ? describeAdapter(tfAdapter) : 'unknown (requestAdapter was not called through the shim)';
    } catch (e) {
      info.webgpuError = (e as Error).message;
    }
  }

  try {
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed (see the messages above)');
    initialized.add('wasm');
    info.wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    info.wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    info.wasmThreadCount = getThreadsCount();
  } catch (e) {
    info.wasmError = (e as Error).message;
  }
  return info;
}

async function useBackend(name: TfBackendName): Promise<void> {
  if (!initialized.has(name)) throw new Error(`TF.js ${name} backend is not available`);
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
}

/** Live tensors of all TF.js backends (checked after every rep: must stay flat). */
export function tfTensorCount(): number {
  return tf.memory().numTensors;
}

/** The model as a TF.js user writes it; the initializers are zeros because the weights are set
 * from the project's initParams right after (the default orthogonal initializer of the
 * recurrent kernel would run a slow QR decomposition for nothing). */
function buildModel(V: number, H: number, B: number, T: number): tfl.Sequential {
  const model = tfl.sequential();
  model.add(
    tfl.layers.simpleRNN({
      units: H,
      activation: 'tanh',
      returnSequences: true,
      stateful: true,
      batchInputShape: [B, T, V],
      kernelInitializer: 'zeros',
      recurrentInitializer: 'zeros',
    }),
  );
  model.add(tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: V, kernelInitializer: 'zeros' }) }));
  return model;
}

/** Row-major (rows, cols) -> its transpose, (cols, rows). */
function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** The project's parameters in the model's weight order: simpleRNN kernel (V, H) = W_xh^T,
 * recurrentKernel (H, H) = W_hh^T, bias b_h; dense kernel (H, V) = W_hy^T, bias b_y. */
function setParams(model: tfl.Sequential, p: Params, V: number, H: number): void {
  const w = [
    tf.tensor2d(transpose(p.W_xh, H, V), [V, H]),
    tf.tensor2d(transpose(p.W_hh, H, H), [H, H]),
    tf.tensor1d(Float32Array.from(p.b_h)),
    tf.tensor2d(transpose(p.W_hy, V, H), [H, V]),
    tf.tensor1d(Float32Array.from(p.b_y)),
  ];
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

/** Forget the states a stateful RNN holds and dispose them (the model's dispose() does not). */
function dropStates(model: tfl.Sequential, rnn: tfl.RNN): void {
  model.resetStates(); // disposes the states kept for BPTT, sets zeros
  tf.dispose(rnn.states.filter((t): t is tf.Tensor => t != null));
}

/** Training, with the step contract of the project's engines (src/engine.ts): `reset` starts
 * every stream from h = 0; a step with `wantLoss` reads the loss back, which waits for the
 * device to finish all queued work. One difference: a TF.js step also waits when `syncEvery`
 * steps have passed without a wait. On Dawn, TF.js's webgpu backend holds about 1 MB of host
 * memory per step that is not awaited (released when the queue is waited on) and the process
 * segfaults after some 450 such steps of the tiny hello model, so it cannot run a 1000-step
 * rep unsynced as this project's engine does. */
export class TfjsTrainer {
  readonly backend: TfBackendName;
  readonly shape: StepShape;
  private readonly model: tfl.Sequential;
  private readonly rnn: tfl.RNN;
  private readonly vars: tf.Variable[];
  private readonly eye: tf.Tensor2D;
  private readonly optimizerConfig: OptimizerConfig;
  private optimizer: tf.Optimizer;
  private readonly syncEvery: number;
  private unsynced = 0;

  private constructor(backend: TfBackendName, shape: StepShape, optimizer: OptimizerConfig, params: Params, syncEvery: number) {
    const { V, H, B, T } = shape;
    this.backend = backend;
    this.shape = { ...shape };
    this.syncEvery = syncEvery;
    this.model = buildModel(V, H, B, T);
    this.rnn = this.model.layers[0] as tfl.RNN;
    this.vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.eye = tf.eye(V) as tf.Tensor2D;
    setParams(this.model, params, V, H);
    this.optimizerConfig = optimizer;
    this.optimizer = makeOptimizer(optimizer);
  }

  /** `syncEvery`: wait for the device at least every this many steps (1 = every step). */
  static async create(backend: TfBackendName, shape: StepShape, optimizer: OptimizerConfig, params: Params, syncEvery = 16): Promise<TfjsTrainer> {
    await useBackend(backend);
    return new TfjsTrainer(backend, shape, optimizer, params, Math.max(1, syncEvery));
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
   * carries the current state on, so live tensors stay flat from rep to rep. */
  settle(): void {
    const h = this.rnn.states.map((s) => s.clone());
    this.rnn.resetStates(); // disposes the kept states
    this.rnn.resetStates(h); // the carried state, as before
    tf.dispose(h);
  }

  /** Fresh weights, optimizer and state (the hello case times whole runs from the start). */
  restart(params: Params): void {
    setParams(this.model, params, this.shape.V, this.shape.H);
    this.optimizer.dispose();
    this.optimizer = makeOptimizer(this.optimizerConfig);
    this.model.resetStates();
    this.unsynced = 0;
  }

  destroy(): void {
    this.optimizer.dispose();
    this.eye.dispose();
    dropStates(this.model, this.rnn);
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
  private readonly rnn: tfl.RNN;
  private readonly eye: tf.Tensor2D;
  private readonly V: number;
  private readonly S: number;

  private constructor(backend: TfBackendName, V: number, H: number, S: number, params: Params) {
    this.backend = backend;
    this.V = V;
    this.S = S;
    this.model = buildModel(V, H, S, 1);
    this.rnn = this.model.layers[0] as tfl.RNN;
    this.eye = tf.eye(V) as tf.Tensor2D;
    setParams(this.model, params, V, H);
  }

  static async create(backend: TfBackendName, V: number, H: number, streams: number, params: Params): Promise<TfjsSampler> {
    await useBackend(backend);
    return new TfjsSampler(backend, V, H, streams, params);
  }

  /** `length` characters after `prime` in each of the S streams (all streams start from h = 0
   * and the same prime); returns them stream by stream. */
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
    dropStates(this.model, this.rnn);
    this.model.dispose();
  }
}
