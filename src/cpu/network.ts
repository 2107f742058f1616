import { dropoutScale } from '../dropout.js';
import type { Batch } from '../engine.js';
import { CELLS, type ModelDims, type ParamSpec, paramTable } from '../model.js';

// Any cell, any depth, in float64: the forward pass over a batch of B streams x T timesteps
// (time-major, position t*B + b) and BPTT, written from the equations around the cells'
// pointwise math (src/cpu/cells.ts):
//
//   layer l at t:  ax = W_xh.l x + b_h.l   (x: one-hot for l = 0, else layer l-1's dropped h_t)
//                  ah = W_hh.l h_{t-1}     cell(ax, ah, state) -> h_t (and c_t)
//   output:        y_t = W_hy drop(h_t of the last layer) + b_y,  p_t = softmax(y_t)
//
// Loss: the mean over positions of -log p[target]. Gradients: summed over time, averaged over
// streams (the tutorial's convention). Dropout (training only) as src/dropout.ts.

type F64 = Float64Array;
const f64 = (n: number) => new Float64Array(n);

export interface NetworkShape extends ModelDims {
  B: number;
  T: number;
}

export class CpuNetwork {
  readonly s: NetworkShape;
  readonly table: ParamSpec[];
  private readonly G: number;
  /** per layer (T+1, B, H): [0] is the state the step started from */
  readonly hs: F64[];
  /** per layer (T+1, B, H), LSTM only */
  readonly cs: F64[];
  /** per layer (T, B, G*H): gate values; (T, B, (S-G)*H) the values saved beyond them (the GRU's ah_n + b_hn) */
  readonly act: F64[];
  private readonly extra: F64[];
  /** per layer (T, B, H): the dropout scale of each of its outputs (all 1 without dropout) */
  private readonly masks: F64[];
  /** per layer (T, B, G*H): the loss's gradient with respect to ax (after backward()) */
  readonly dpre: F64[];
  /** (T, B, V) logits y and probabilities p, (T, B) -log p[target] */
  readonly ys: F64;
  readonly ps: F64;
  readonly losses: F64;
  /** per layer: the tensor names of its W_xh, W_hh, b_h (and the cell's extra bias, or '') */
  private readonly names: { W_xh: string; W_hh: string; b_h: string; extra: string }[];

  constructor(s: NetworkShape) {
    this.s = { ...s };
    this.table = paramTable(s);
    const { H, B, T, V, layers, cell } = s;
    this.G = CELLS[cell].gates;
    const per = (n: number) => Array.from({ length: layers }, () => f64(n));
    this.hs = per((T + 1) * B * H);
    this.cs = per(CELLS[cell].cellState ? (T + 1) * B * H : 0);
    this.act = per(T * B * this.G * H);
    this.extra = per((CELLS[cell].saved - this.G) * T * B * H);
    this.masks = per(T * B * H);
    this.dpre = per(T * B * this.G * H);
    this.ys = f64(T * B * V);
    this.ps = f64(T * B * V);
    this.losses = f64(T * B);
    const { extraBias } = CELLS[cell];
    const name = (role: string, l: number) => this.table.find((p) => p.role === role && p.layer === l)?.name ?? '';
    this.names = Array.from({ length: layers }, (_, l) => ({ W_xh: name('W_xh', l), W_hh: name('W_hh', l), b_h: name('b_h', l), extra: extraBias ? name(extraBias.name, l) : '' }));
  }

  /** Forward over the batch from the states h0[l], c0[l] (B, H); the states after it are
   * hs[l] and cs[l] at T. `dropout`: p, seed and step of the masks (training only). */
  forward(P: Record<string, F64>, batch: Batch, h0: F64[], c0: F64[], dropout?: { p: number; seed: number; step: number }): number {
    const { V, H, B, T, layers, cell } = this.s;
    const G = this.G;
    const step = CELLS[cell].cpu;
    const [ax, ah, hOut, cOut] = [f64(G * H), f64(G * H), f64(H), f64(H)];
    for (let l = 0; l < layers; l++) {
      this.hs[l].set(h0[l], 0);
      if (this.cs[l].length) this.cs[l].set(c0[l], 0);
      if (!dropout || dropout.p === 0) this.masks[l].fill(1);
      else for (let k = 0; k < T * B * H; k++) this.masks[l][k] = dropoutScale(dropout.p, dropout.seed, dropout.step, l, Math.floor(k / H), H, k % H);
    }
    let loss = 0;
    const yin = f64(H);
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++) {
        const pos = t * B + b;
        for (let l = 0; l < layers; l++) {
          const nm = this.names[l];
          const W_xh = P[nm.W_xh], W_hh = P[nm.W_hh], b_h = P[nm.b_h];
          const hsl = this.hs[l];
          const at = t * B * H + b * H; // h_{t-1} of stream b; h_t is at + B*H
          const inH = l ? this.hs[l - 1] : undefined;
          const inMask = l ? this.masks[l - 1] : undefined;
          const x = batch.inputs[pos];
          for (let r = 0; r < G * H; r++) {
            let a = b_h[r];
            if (!inH) a += W_xh[r * V + x];
            else for (let j = 0; j < H; j++) a += W_xh[r * H + j] * inH[at + B * H + j] * inMask![pos * H + j];
            ax[r] = a;
            let s = 0;
            for (let j = 0; j < H; j++) s += W_hh[r * H + j] * hsl[at + j];
            ah[r] = s;
          }
          step.forward(
            H, ax, ah, hsl.subarray(at, at + H), this.cs[l].subarray(at, at + H), nm.extra ? P[nm.extra] : undefined,
            hOut, cOut, this.act[l].subarray(pos * G * H, (pos + 1) * G * H), this.extra[l].subarray(pos * H, (pos + 1) * H),
          );
          hsl.set(hOut, at + B * H);
          if (this.cs[l].length) this.cs[l].set(cOut, at + B * H);
        }
        const top = this.hs[layers - 1];
        for (let i = 0; i < H; i++) yin[i] = top[(t + 1) * B * H + b * H + i] * this.masks[layers - 1][pos * H + i];
        loss += this.output(P, yin, pos, batch.targets[pos]);
      }
    return loss / (T * B);
  }

  /** p = softmax(W_hy yin + b_y) at `pos`; returns -log p[target]. */
  private output(P: Record<string, F64>, yin: F64, pos: number, target: number): number {
    const { V, H } = this.s;
    const { W_hy, b_y } = P;
    const po = pos * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      let y = b_y[v];
      for (let i = 0; i < H; i++) y += W_hy[v * H + i] * yin[i];
      this.ys[po + v] = this.ps[po + v] = y;
      if (y > max) max = y;
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += this.ps[po + v] = Math.exp(this.ps[po + v] - max);
    for (let v = 0; v < V; v++) this.ps[po + v] /= sum;
    return (this.losses[pos] = -Math.log(this.ps[po + target]));
  }

  /** BPTT of the last forward() into `grads` (overwritten), summed over time, mean over streams. */
  backward(P: Record<string, F64>, batch: Batch, grads: Record<string, F64>): void {
    const { V, H, B, T, layers, cell } = this.s;
    const G = this.G;
    const step = CELLS[cell].cpu;
    for (const p of this.table) grads[p.name].fill(0);
    const [dy, dyin, dax, dah, dhDirect, dcPrev, dxin] = [f64(V), f64(H), f64(G * H), f64(G * H), f64(H), f64(H), f64(H)];
    const dh = Array.from({ length: layers }, () => f64(H)); // dh of layer l's output at t
    const dhNext = Array.from({ length: layers }, () => f64(H)); // carried from t+1
    const dcNext = Array.from({ length: layers }, () => f64(H));
    const { W_hy } = P;
    const { W_hy: dW_hy, b_y: db_y } = grads;
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < layers; l++) {
        dhNext[l].fill(0);
        dcNext[l].fill(0);
      }
      for (let t = T - 1; t >= 0; t--) {
        const pos = t * B + b;
        const at = t * B * H + b * H; // h_{t-1} of stream b; h_t is at + B*H
        for (let v = 0; v < V; v++) dy[v] = this.ps[pos * V + v];
        dy[batch.targets[pos]] -= 1;
        const top = this.hs[layers - 1];
        const topMask = this.masks[layers - 1];
        for (let v = 0; v < V; v++) {
          for (let i = 0; i < H; i++) dW_hy[v * H + i] += dy[v] * top[at + B * H + i] * topMask[pos * H + i];
          db_y[v] += dy[v];
        }
        for (let i = 0; i < H; i++) {
          let s = 0;
          for (let v = 0; v < V; v++) s += W_hy[v * H + i] * dy[v];
          dyin[i] = s;
          dh[layers - 1][i] = s * topMask[pos * H + i];
        }
        for (let l = layers - 1; l >= 0; l--) {
          const nm = this.names[l];
          const W_xh = P[nm.W_xh], W_hh = P[nm.W_hh];
          const dW_xh = grads[nm.W_xh], dW_hh = grads[nm.W_hh], db_h = grads[nm.b_h];
          const hsl = this.hs[l];
          for (let i = 0; i < H; i++) dh[l][i] += dhNext[l][i];
          step.backward(
            H, dh[l], dcNext[l], this.hs[l].subarray(at, at + H), this.cs[l].subarray(at, at + H), this.cs[l].subarray(at + B * H, at + 2 * B * H),
            this.act[l].subarray(pos * G * H, (pos + 1) * G * H), this.extra[l].subarray(pos * H, (pos + 1) * H),
            dax, dah, dhDirect, dcPrev, nm.extra ? grads[nm.extra] : undefined,
          );
          this.dpre[l].set(dax, pos * G * H);
          const inH = l ? this.hs[l - 1] : undefined;
          const inMask = l ? this.masks[l - 1] : undefined;
          for (let r = 0; r < G * H; r++) {
            db_h[r] += dax[r];
            if (!inH) dW_xh[r * V + batch.inputs[pos]] += dax[r];
            else for (let j = 0; j < H; j++) dW_xh[r * H + j] += dax[r] * inH[at + B * H + j] * inMask![pos * H + j];
            for (let j = 0; j < H; j++) dW_hh[r * H + j] += dah[r] * hsl[at + j];
          }
          for (let j = 0; j < H; j++) {
            let s = dhDirect[j];
            for (let r = 0; r < G * H; r++) s += W_hh[r * H + j] * dah[r];
            dhNext[l][j] = s;
          }
          dcNext[l].set(dcPrev);
          if (l > 0) {
            for (let j = 0; j < H; j++) {
              let s = 0;
              for (let r = 0; r < G * H; r++) s += W_xh[r * H + j] * dax[r];
              dxin[j] = s;
              dh[l - 1][j] = s * this.masks[l - 1][pos * H + j];
            }
          }
        }
      }
    }
    if (B > 1) for (const p of this.table) for (let k = 0; k < p.size; k++) grads[p.name][k] /= B;
  }
}
