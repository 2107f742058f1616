import {
  type Activations,
  type Batch,
  type Dropout,
  type Engine,
  type EngineState,
  type GenerateOptions,
  type OptimizerConfig,
  type StepOptions,
  withDefaults,
} from '../engine.js';
import { CELLS, type ModelDims, type ParamSpec, type Params, type StepShape, modelOf, paramTable, toFloat64, zeroParams } from '../model.js';
import { SAMPLE_STREAM, randUniform } from '../rng.js';
import { CpuNetwork } from './network.js';

// The reference engine in float64: the network of src/cpu/network.ts (any cell, any depth,
// written from the equations and independently of the WGSL) with the carried state, the
// optimizers, evaluation and generation around it. Shapes as in src/model.ts; batches
// time-major (t*B + b).

const f64 = (n: number) => new Float64Array(n);

export class CpuEngine implements Engine {
  readonly device = 'cpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  private readonly model: ModelDims;
  private readonly table: ParamSpec[];
  private readonly net: CpuNetwork;
  private gen?: CpuNetwork; // B = 1, T = 1, for generate()
  private p: Params<Float64Array>;
  private g: Params<Float64Array>;
  private m: Params<Float64Array>; // optimizer state: momentum, squared sums, Adam's m
  private v: Params<Float64Array>; // Adam's v
  private t = 0; // optimizer steps taken
  gradNorm = NaN;
  private hprev: Float64Array; // (L, B, H) state carried to the next step
  private cprev: Float64Array; // (L, B, H) the LSTM's cell state carried likewise (empty otherwise)
  private loss = NaN;

  /** `share`: use `params` itself (float64) as this engine's parameters, e.g. an evaluator
   * reading the live weights of a training engine. */
  constructor(shape: StepShape, optimizer: OptimizerConfig, params: Params, share = false) {
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    this.model = modelOf(shape);
    this.table = paramTable(this.model);
    const { H, B, T } = shape;
    const L = this.model.layers;
    this.net = new CpuNetwork({ ...this.model, B, T });
    this.p = share ? (params as Params<Float64Array>) : toFloat64(params);
    this.g = zeroParams(shape, f64);
    this.m = zeroParams(shape, f64);
    this.v = zeroParams(shape, f64);
    this.hprev = f64(L * B * H);
    this.cprev = f64(CELLS[this.model.cell].cellState ? L * B * H : 0);
  }

  setParams(params: Params): void {
    for (const { name } of this.table) {
      this.p[name].set(params[name]);
      this.m[name].fill(0);
      this.v[name].fill(0);
    }
    this.hprev.fill(0);
    this.cprev.fill(0);
    this.t = 0;
  }

  async getParams(): Promise<Params<Float64Array>> {
    return toFloat64(this.p);
  }

  async getState(): Promise<EngineState> {
    const s: EngineState = { params: toFloat64(this.p), m: toFloat64(this.m), v: toFloat64(this.v), hprev: this.hprev.slice(), t: this.t };
    if (this.cprev.length) s.cprev = this.cprev.slice();
    return s;
  }

  setState(s: EngineState): void {
    for (const { name } of this.table) {
      this.p[name].set(s.params[name]);
      this.m[name].set(s.m[name]);
      this.v[name].set(s.v[name]);
    }
    this.hprev.set(s.hprev);
    if (s.cprev) this.cprev.set(s.cprev);
    else this.cprev.fill(0);
    this.t = s.t;
  }

  async evaluator(T: number): Promise<CpuEngine> {
    return new CpuEngine({ ...this.shape, B: 1, T }, this.optimizer, this.p, true);
  }

  async evaluate(data: Uint8Array | Uint16Array | Uint32Array): Promise<{ loss: number; count: number }> {
    const { T, B } = this.shape;
    if (B !== 1) throw new Error('evaluate needs an engine with B = 1 (see evaluator())');
    const n = data.length - 1;
    const batch = { inputs: new Uint32Array(T), targets: new Uint32Array(T) };
    this.hprev.fill(0);
    this.cprev.fill(0);
    let sum = 0;
    for (let start = 0; start < n; start += T) {
      const len = Math.min(T, n - start);
      batch.inputs.fill(0);
      batch.targets.fill(0);
      batch.inputs.set(data.subarray(start, start + len));
      batch.targets.set(data.subarray(start + 1, start + 1 + len));
      this.forward(batch, false);
      for (let t = 0; t < len; t++) sum += this.net.losses[t];
      // a partial last chunk leaves hprev after padding: unused, the data ends there
    }
    return { loss: n > 0 ? sum / n : NaN, count: n };
  }

  /** The carried states (hprev, cprev) as per-layer (B, H) views. */
  private views(a: Float64Array): Float64Array[] {
    const n = this.shape.B * this.shape.H;
    return Array.from({ length: this.model.layers }, (_, l) => (a.length ? a.subarray(l * n, (l + 1) * n) : a));
  }

  /** Every layer's h_t (and c_t) and p_t for every position from the carried state, which
   * moves on to the states at T; returns the mean loss. */
  private forward(batch: Batch, reset: boolean, dropout?: Dropout): number {
    const { B, H, T } = this.shape;
    if (reset) {
      this.hprev.fill(0);
      this.cprev.fill(0);
    }
    const loss = this.net.forward(this.p, batch, this.views(this.hprev), this.views(this.cprev), dropout);
    for (let l = 0; l < this.model.layers; l++) {
      this.hprev.set(this.net.hs[l].subarray(T * B * H), l * B * H);
      if (this.cprev.length) this.cprev.set(this.net.cs[l].subarray(T * B * H), l * B * H);
    }
    return (this.loss = loss);
  }

  /** BPTT of the last forward: gradients summed over time, averaged over streams. */
  private backward(batch: Batch): void {
    this.net.backward(this.p, batch, this.g);
  }

  private update(lr: number): void {
    const o = this.optimizer;
    this.t++;
    let norm = 0;
    for (const { name } of this.table) for (const x of this.g[name]) norm += x * x;
    this.gradNorm = norm = Math.sqrt(norm);
    const scale = o.clipNorm > 0 && norm > o.clipNorm ? o.clipNorm / norm : 1;
    const bc1 = 1 - Math.pow(o.beta1, this.t);
    const bc2 = 1 - Math.pow(o.beta2, this.t);
    for (const { name, kind } of this.table) {
      const w = this.p[name];
      const g = this.g[name];
      const m = this.m[name];
      const v = this.v[name];
      const decay = o.name === 'adamw' && kind === 'matrix' ? o.weightDecay : 0;
      for (let n = 0; n < w.length; n++) {
        let gn = g[n] * scale;
        if (o.clip > 0) gn = Math.min(o.clip, Math.max(-o.clip, gn));
        switch (o.name) {
          case 'sgd':
            if (o.momentum > 0) {
              m[n] = o.momentum * m[n] + gn;
              w[n] -= lr * m[n];
            } else w[n] -= lr * gn;
            break;
          case 'adagrad':
            m[n] += gn * gn;
            w[n] -= (lr * gn) / Math.sqrt(m[n] + o.eps);
            break;
          case 'rmsprop':
            m[n] = o.alpha * m[n] + (1 - o.alpha) * gn * gn;
            w[n] -= (lr * gn) / (Math.sqrt(m[n]) + o.eps);
            break;
          default: // adam, adamw
            w[n] -= lr * decay * w[n];
            m[n] = o.beta1 * m[n] + (1 - o.beta1) * gn;
            v[n] = o.beta2 * v[n] + (1 - o.beta2) * gn * gn;
            w[n] -= (lr * (m[n] / bc1)) / (Math.sqrt(v[n] / bc2) + o.eps);
        }
      }
    }
  }

  async step(batch: Batch, opts: StepOptions = {}): Promise<number | undefined> {
    const loss = this.forward(batch, opts.reset ?? false, opts.dropout);
    this.backward(batch);
    this.update(opts.lr ?? this.optimizer.lr);
    if (opts.wantLoss) opts.onGradNorm?.(this.gradNorm);
    return opts.wantLoss ? loss : undefined;
  }

  /** One optimizer update from given gradients instead of this engine's own (src/check.ts
   * recomputes the GPU's last update from its gradients). */
  applyGradients(g: Params, lr = this.optimizer.lr): void {
    for (const { name } of this.table) this.g[name].set(g[name]);
    this.update(lr);
  }

  async forwardBackward(batch: Batch, opts: { reset?: boolean; dropout?: Dropout } = {}): Promise<number> {
    const loss = this.forward(batch, opts.reset ?? false, opts.dropout);
    this.backward(batch);
    return loss;
  }

  async inspect(): Promise<Activations> {
    const { cell, layers } = this.model;
    const cat = (a: Float64Array[]) => {
      const out = f64(a.reduce((n, x) => n + x.length, 0));
      a.reduce((at, x) => (out.set(x, at), at + x.length), 0);
      return out;
    };
    const a: Activations = { hs: cat(this.net.hs), ps: this.net.ps.slice(), grads: toFloat64(this.g), dpre: cat(this.net.dpre), gates: cat(this.net.act), loss: this.loss };
    if (CELLS[cell].cellState) a.cs = cat(this.net.cs);
    return a;
  }

  /** The loss of the current parameters on a batch from the states h0 (L, B, H; default 0),
   * nothing changed (for finite differences). */
  lossOf(batch: Batch, h0?: Float64Array): number {
    const keep = [this.hprev.slice(), this.cprev.slice()];
    this.hprev.set(h0 ?? f64(this.hprev.length));
    this.cprev.fill(0);
    const l = this.forward(batch, false);
    this.hprev.set(keep[0]);
    this.cprev.set(keep[1]);
    return l;
  }

  /** Direct access to the float64 parameters (the gradient check perturbs them in place). */
  get paramsF64(): Params<Float64Array> {
    return this.p;
  }

  async generate(o: GenerateOptions): Promise<Uint32Array[]> {
    const { V, H } = this.shape;
    const L = this.model.layers;
    const streams = o.streams ?? 1;
    const temperature = o.temperature ?? 1;
    const seed = o.seed ?? 0;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    const net = (this.gen ??= new CpuNetwork({ ...this.model, B: 1, T: 1 }));
    const lstm = CELLS[this.model.cell].cellState;
    const h = Array.from({ length: L }, () => f64(H));
    const c = Array.from({ length: L }, () => f64(lstm ? H : 0));
    const one = { inputs: new Uint32Array(1), targets: new Uint32Array(1) };
    const out: Uint32Array[] = [];
    for (let s = 0; s < streams; s++) {
      for (let l = 0; l < L; l++) {
        h[l].fill(0);
        c[l].fill(0);
      }
      const gen = new Uint32Array(o.length);
      let x = o.prime[0];
      for (let n = 0; n < o.prime.length - 1 + o.length; n++) {
        one.inputs[0] = x;
        net.forward(this.p, one, h, c);
        for (let l = 0; l < L; l++) {
          h[l].set(net.hs[l].subarray(H));
          if (lstm) c[l].set(net.cs[l].subarray(H));
        }
        if (n < o.prime.length - 1) {
          x = o.prime[n + 1];
          continue;
        }
        const y = net.ys.subarray(0, V);
        const k = n - (o.prime.length - 1);
        x = o.greedy ? argmax(y) : sampleIndex(y, temperature, randUniform(seed, SAMPLE_STREAM + s, k), o.topK ?? 0, o.topP ?? 1);
        gen[k] = x;
      }
      out.push(gen);
    }
    return out;
  }

  destroy(): void {}
}

export function argmax(y: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < y.length; v++) if (y[v] > y[best]) best = v;
  return best;
}

/** Index drawn from softmax(y / temperature), restricted to the top-k characters and then to
 * the smallest most-likely set whose probability reaches topP (order: y descending, then index
 * ascending), by inverting the cumulative sum at u in [0, 1) over the kept characters in index
 * order: the first v whose running sum of exp((y_v - max)/temperature) exceeds u * total.
 * shaders/sample_draw.wgsl computes the same in float32. */
export function sampleIndex(y: ArrayLike<number>, temperature: number, u: number, topK = 0, topP = 1): number {
  const V = y.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (y[v] > max) max = y[v];
  const e = (v: number) => Math.exp((y[v] - max) / temperature);
  let total = 0;
  for (let v = 0; v < V; v++) total += e(v);
  // cutoff (cy, ci): keep v iff y[v] > cy, or y[v] == cy and v <= ci
  let cy = -Infinity;
  let ci = V;
  if ((topK > 0 && topK < V) || topP < 1) {
    let kept = 0;
    let cum = 0;
    let py = Infinity;
    let pi = -1;
    while (true) {
      // the next character in (y desc, index asc) order after (py, pi)
      let by = -Infinity;
      let bi = -1;
      for (let v = 0; v < V; v++) {
        const after = y[v] < py || (y[v] === py && v > pi);
        if (after && (bi < 0 || y[v] > by)) {
          by = y[v];
          bi = v;
        }
      }
      if (bi < 0) break;
      py = by;
      pi = bi;
      kept++;
      cum += e(bi) / total;
      if ((topK > 0 && kept >= topK) || cum >= topP) break;
    }
    cy = py;
    ci = pi;
  }
  const keep = (v: number) => y[v] > cy || (y[v] === cy && v <= ci);
  let keptTotal = 0;
  for (let v = 0; v < V; v++) if (keep(v)) keptTotal += e(v);
  const r = u * keptTotal;
  let acc = 0;
  let last = argmax(y);
  for (let v = 0; v < V; v++) {
    if (!keep(v)) continue;
    acc += e(v);
    last = v;
    if (acc > r) return v;
  }
  return last;
}
