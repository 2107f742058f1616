import {
  type Activations,
  type Batch,
  type Engine,
  type EngineState,
  type GenerateOptions,
  type OptimizerConfig,
  type StepOptions,
  withDefaults,
} from '../engine.js';
import { PARAM_NAMES, type Params, type StepShape, toFloat64, zeroParams } from '../model.js';
import { SAMPLE_STREAM, randUniform } from '../rng.js';

// The reference engine: the tutorial's equations as plain loops in float64, written from the
// math and independently of the WGSL. Shapes as in src/model.ts; batches time-major (t*B + b).

const f64 = (n: number) => new Float64Array(n);

export class CpuEngine implements Engine {
  readonly device = 'cpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  private p: Params<Float64Array>;
  private g: Params<Float64Array>;
  private m: Params<Float64Array>; // optimizer state: momentum, squared sums, Adam's m
  private v: Params<Float64Array>; // Adam's v
  private t = 0; // optimizer steps taken
  gradNorm = NaN;
  private hprev: Float64Array; // (B, H) state carried to the next step
  private hs: Float64Array; // (T+1, B, H)
  private ps: Float64Array; // (T, B, V)
  private dtanh: Float64Array; // (T, B, H)
  private losses: Float64Array; // (T, B) -log p[target]
  private loss = NaN;

  /** `share`: use `params` itself (float64) as this engine's parameters, e.g. an evaluator
   * reading the live weights of a training engine. */
  constructor(shape: StepShape, optimizer: OptimizerConfig, params: Params, share = false) {
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    const { V, H, B, T } = shape;
    this.p = share ? (params as Params<Float64Array>) : toFloat64(params);
    this.g = zeroParams(shape, f64);
    this.m = zeroParams(shape, f64);
    this.v = zeroParams(shape, f64);
    this.hprev = f64(B * H);
    this.hs = f64((T + 1) * B * H);
    this.ps = f64(T * B * V);
    this.dtanh = f64(T * B * H);
    this.losses = f64(T * B);
  }

  setParams(params: Params): void {
    for (const k of PARAM_NAMES) {
      this.p[k].set(params[k]);
      this.m[k].fill(0);
      this.v[k].fill(0);
    }
    this.hprev.fill(0);
    this.t = 0;
  }

  async getParams(): Promise<Params<Float64Array>> {
    return toFloat64(this.p);
  }

  async getState(): Promise<EngineState> {
    return { params: toFloat64(this.p), m: toFloat64(this.m), v: toFloat64(this.v), hprev: this.hprev.slice(), t: this.t };
  }

  setState(s: EngineState): void {
    for (const k of PARAM_NAMES) {
      this.p[k].set(s.params[k]);
      this.m[k].set(s.m[k]);
      this.v[k].set(s.v[k]);
    }
    this.hprev.set(s.hprev);
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
    let sum = 0;
    for (let start = 0; start < n; start += T) {
      const len = Math.min(T, n - start);
      batch.inputs.fill(0);
      batch.targets.fill(0);
      batch.inputs.set(data.subarray(start, start + len));
      batch.targets.set(data.subarray(start + 1, start + 1 + len));
      this.forward(batch, false);
      for (let t = 0; t < len; t++) sum += this.losses[t];
      // a partial last chunk leaves hprev after padding: unused, the data ends there
    }
    return { loss: n > 0 ? sum / n : NaN, count: n };
  }

  /** h_t and p_t for every position; returns the mean loss. */
  private forward(batch: Batch, reset: boolean): number {
    const { V, H, B, T } = this.shape;
    const { W_xh, W_hh, b_h, W_hy, b_y } = this.p;
    const hs = this.hs;
    const ps = this.ps;
    if (reset) this.hprev.fill(0);
    hs.set(this.hprev, 0);
    let loss = 0;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const x = batch.inputs[t * B + b];
        const prev = t * B * H + b * H; // h_{t-1} of stream b
        const cur = (t + 1) * B * H + b * H;
        for (let i = 0; i < H; i++) {
          let a = W_xh[i * V + x] + b_h[i];
          for (let j = 0; j < H; j++) a += W_hh[i * H + j] * hs[prev + j];
          hs[cur + i] = Math.tanh(a);
        }
        const po = (t * B + b) * V;
        let max = -Infinity;
        for (let v = 0; v < V; v++) {
          let y = b_y[v];
          for (let i = 0; i < H; i++) y += W_hy[v * H + i] * hs[cur + i];
          ps[po + v] = y;
          if (y > max) max = y;
        }
        let sum = 0;
        for (let v = 0; v < V; v++) sum += ps[po + v] = Math.exp(ps[po + v] - max);
        for (let v = 0; v < V; v++) ps[po + v] /= sum;
        const l = -Math.log(ps[po + batch.targets[t * B + b]]);
        this.losses[t * B + b] = l;
        loss += l;
      }
    }
    this.hprev.set(hs.subarray(T * B * H));
    return (this.loss = loss / (T * B));
  }

  /** BPTT as the tutorial's backward_pass: gradients summed over time, averaged over streams. */
  private backward(batch: Batch): void {
    const { V, H, B, T } = this.shape;
    const { W_hh, W_hy } = this.p;
    const { W_xh: dW_xh, W_hh: dW_hh, b_h: db_h, W_hy: dW_hy, b_y: db_y } = this.g;
    for (const k of PARAM_NAMES) this.g[k].fill(0);
    const hs = this.hs;
    const dy = f64(V);
    const dh = f64(H);
    const dtanh = f64(H);
    for (let b = 0; b < B; b++) {
      const dh_next = f64(H);
      for (let t = T - 1; t >= 0; t--) {
        const x = batch.inputs[t * B + b];
        const prev = t * B * H + b * H;
        const cur = (t + 1) * B * H + b * H;
        const po = (t * B + b) * V;
        for (let v = 0; v < V; v++) dy[v] = this.ps[po + v];
        dy[batch.targets[t * B + b]] -= 1;
        for (let v = 0; v < V; v++) {
          for (let i = 0; i < H; i++) dW_hy[v * H + i] += dy[v] * hs[cur + i];
          db_y[v] += dy[v];
        }
        for (let i = 0; i < H; i++) {
          let s = dh_next[i];
          for (let v = 0; v < V; v++) s += W_hy[v * H + i] * dy[v];
          dh[i] = s;
          const h = hs[cur + i];
          dtanh[i] = s * (1 - h * h);
        }
        this.dtanh.set(dtanh, (t * B + b) * H);
        for (let i = 0; i < H; i++) {
          dW_xh[i * V + x] += dtanh[i];
          for (let j = 0; j < H; j++) dW_hh[i * H + j] += dtanh[i] * hs[prev + j];
          db_h[i] += dtanh[i];
        }
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let i = 0; i < H; i++) s += W_hh[i * H + j] * dtanh[i];
          dh_next[j] = s;
        }
      }
    }
    if (B > 1) for (const k of PARAM_NAMES) for (let n = 0; n < this.g[k].length; n++) this.g[k][n] /= B;
  }

  private update(lr: number): void {
    const o = this.optimizer;
    this.t++;
    let norm = 0;
    for (const k of PARAM_NAMES) for (const x of this.g[k]) norm += x * x;
    this.gradNorm = norm = Math.sqrt(norm);
    const scale = o.clipNorm > 0 && norm > o.clipNorm ? o.clipNorm / norm : 1;
    const bc1 = 1 - Math.pow(o.beta1, this.t);
    const bc2 = 1 - Math.pow(o.beta2, this.t);
    for (const k of PARAM_NAMES) {
      const w = this.p[k];
      const g = this.g[k];
      const m = this.m[k];
      const v = this.v[k];
      const decay = o.name === 'adamw' && k.startsWith('W_') ? o.weightDecay : 0;
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
    const loss = this.forward(batch, opts.reset ?? false);
    this.backward(batch);
    this.update(opts.lr ?? this.optimizer.lr);
    if (opts.wantLoss) opts.onGradNorm?.(this.gradNorm);
    return opts.wantLoss ? loss : undefined;
  }

  /** One optimizer update from given gradients instead of this engine's own (src/check.ts
   * recomputes the GPU's last update from its gradients). */
  applyGradients(g: Params, lr = this.optimizer.lr): void {
    for (const k of PARAM_NAMES) this.g[k].set(g[k]);
    this.update(lr);
  }

  async forwardBackward(batch: Batch, opts: { reset?: boolean } = {}): Promise<number> {
    const loss = this.forward(batch, opts.reset ?? false);
    this.backward(batch);
    return loss;
  }

  async inspect(): Promise<Activations> {
    return { hs: this.hs.slice(), ps: this.ps.slice(), grads: toFloat64(this.g), dtanh: this.dtanh.slice(), loss: this.loss };
  }

  /** The loss of the current parameters on a batch, nothing changed (for finite differences). */
  lossOf(batch: Batch, h0?: Float64Array): number {
    const keep = this.hprev.slice();
    this.hprev.set(h0 ?? f64(this.hprev.length));
    const l = this.forward(batch, false);
    this.hprev.set(keep);
    return l;
  }

  /** Direct access to the float64 parameters (the gradient check perturbs them in place). */
  get paramsF64(): Params<Float64Array> {
    return this.p;
  }

  async generate(o: GenerateOptions): Promise<Uint32Array[]> {
    const { V, H } = this.shape;
    const { W_xh, W_hh, b_h, W_hy, b_y } = this.p;
    const streams = o.streams ?? 1;
    const temperature = o.temperature ?? 1;
    const seed = o.seed ?? 0;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    const out: Uint32Array[] = [];
    const h = f64(H);
    const hn = f64(H);
    const y = f64(V);
    for (let s = 0; s < streams; s++) {
      h.fill(0);
      const gen = new Uint32Array(o.length);
      let x = o.prime[0];
      for (let n = 0; n < o.prime.length - 1 + o.length; n++) {
        for (let i = 0; i < H; i++) {
          let a = W_xh[i * V + x] + b_h[i];
          for (let j = 0; j < H; j++) a += W_hh[i * H + j] * h[j];
          hn[i] = Math.tanh(a);
        }
        h.set(hn);
        if (n < o.prime.length - 1) {
          x = o.prime[n + 1];
          continue;
        }
        for (let v = 0; v < V; v++) {
          let a = b_y[v];
          for (let i = 0; i < H; i++) a += W_hy[v * H + i] * h[i];
          y[v] = a;
        }
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
 * shaders/sample.wgsl computes the same in float32. */
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
