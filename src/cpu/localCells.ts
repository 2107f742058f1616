import { dropoutScale } from '../dropout.js';
import type { Activations, Batch, Dropout } from '../engine.js';
import { extraBiasRow } from '../cells.js';
import { CELLS, type Params, paramTable, zeroParams } from '../model.js';
import type { NetworkShape } from './network.js';

// The local comparison (src/check.ts) of any cell, depth and dropout: one timestep and one layer
// at a time, in float64, from the other engine's own values (`got`, its inspect() after one
// forward and backward pass), around the cells' pointwise math of src/cpu/cells.ts:
//
//   forward   h_t, c_t of layer l from got's h_{t-1}, c_{t-1} of layer l and its input: x_t
//             (layer 0), or got's h_t of layer l-1 times that layer's dropout mask;
//             p_t from got's h_t of the top layer times its mask; the loss from got's p_t
//   backward  dpre_t of layer l (dLoss/d ax, gate-major) by the cell's backward from
//             dh_t = (W_hy^T (p_t - onehot)                      (top layer)
//                     or W_xh.{l+1}^T dpre_t of layer l+1 (got's)) ⊙ mask of layer l
//                  + W_hh.l^T dah_{t+1}                           (dah from got's dpre_{t+1})
//                  + the cell's direct part of dh_t (GRU: z_{t+1}⊙dh_{t+1})
//             and dc_t (LSTM: f_{t+1}⊙dc_{t+1}...), with got's h_{t-1}, c_{t-1}, c_t and the
//             values got's cell saved (its gates; recomputed from got's inputs where it gives none)
//   gradients every dW from got's per-position values: dpre, hs, inputs, ps
//
// The direct parts (the GRU's z⊙dh, the LSTM's f⊙dc) are pointwise products with gates in
// (0, 1) and are carried from t+1 on the CPU (the other engine keeps them in registers): a
// contraction, so one step's rounding does not grow along them. Each dpre_t and gradient comes
// with the same sum over the absolute values of its terms (`*Scale`), the magnitude that bounds
// its rounding error. Layouts as inspect(): hs, cs (L, T+1, B, H), dpre (L, T, B, G*H), ps
// (T, B, V), batches time-major.

type F64 = Float64Array;
const f64 = (n: number) => new Float64Array(n);


export interface LocalCells {
  /** per layer (T+1, B, H): [0] is got's own start state */
  hs: F64[];
  /** per layer (T+1, B, H), LSTM only */
  cs: F64[];
  ps: F64;
  loss: number;
  /** per layer (T, B, G*H), and the sums of absolute terms */
  dpre: F64[];
  dpreScale: F64[];
  grads: Params<F64>;
  scale: Params<F64>;
}

/** Views of got's tensors per layer, the dropout masks and the gate values recomputed from
 * got's inputs, shared by the three passes below. */
class Given {
  readonly G: number;
  readonly hs: F64[];
  readonly cs: F64[];
  readonly dpre: F64[];
  readonly masks: F64[];
  readonly act: F64[];
  readonly extra: F64[];
  readonly names: { W_xh: string; W_hh: string; b_h: string; extra: string }[];

  constructor(readonly s: NetworkShape, got: Activations, dropout: Dropout | undefined) {
    const { H, B, T, layers: L, cell } = s;
    this.G = CELLS[cell].gates;
    const split = (a: ArrayLike<number> | undefined, n: number) =>
      Array.from({ length: L }, (_, l) => (a ? Float64Array.from({ length: n }, (_, k) => a[l * n + k]) : f64(0)));
    this.hs = split(got.hs, (T + 1) * B * H);
    this.cs = split(got.cs, (T + 1) * B * H);
    if (!got.dpre) throw new Error('the local comparison of cell models needs dpre from inspect()');
    this.dpre = split(got.dpre, T * B * this.G * H);
    this.masks = Array.from({ length: L }, (_, l) => {
      const m = f64(T * B * H).fill(1);
      if (dropout && dropout.p > 0) for (let k = 0; k < m.length; k++) m[k] = dropoutScale(dropout.p, dropout.seed, dropout.step, l, Math.floor(k / H), H, k % H);
      return m;
    });
    this.act = Array.from({ length: L }, () => f64(T * B * this.G * H));
    this.extra = Array.from({ length: L }, () => f64((CELLS[cell].saved - this.G) * T * B * H));
    const table = paramTable(s);
    const { extraBias } = CELLS[cell];
    const name = (role: string, l: number) => table.find((p) => p.role === role && p.layer === l)?.name ?? '';
    this.names = Array.from({ length: L }, (_, l) => ({ W_xh: name('W_xh', l), W_hh: name('W_hh', l), b_h: name('b_h', l), extra: extraBias ? name(extraBias.name, l) : '' }));
  }

  /** got's h (H) of layer l at time t (t = 0: the start state; t+1: h_t). */
  h(l: number, t: number, b: number): F64 {
    const at = (t * this.s.B + b) * this.s.H;
    return this.hs[l].subarray(at, at + this.s.H);
  }

  c(l: number, t: number, b: number): F64 {
    const at = (t * this.s.B + b) * this.s.H;
    return this.cs[l].subarray(at, at + this.s.H);
  }

  /** The input of layer l > 0 at position pos = t*B + b: got's h_t of layer l-1 times its mask. */
  input(l: number, t: number, b: number, out: F64): F64 {
    const { H, B } = this.s;
    const h = this.h(l - 1, t + 1, b);
    const m = this.masks[l - 1];
    for (let j = 0; j < H; j++) out[j] = h[j] * m[(t * B + b) * H + j];
    return out;
  }

  /** The top layer's output at time t of every stream (B, H), dropped: W_hy's input. */
  top(t: number, out: F64): F64 {
    const { H, B, layers: L } = this.s;
    for (let b = 0; b < B; b++) out.set(this.h(L - 1, t + 1, b), b * H);
    for (let k = 0; k < B * H; k++) out[k] *= this.masks[L - 1][t * B * H + k];
    return out;
  }

  /** Takes the cell's saved values (L, T, B, S*H) of the other engine in place of the
   * recomputed ones: per position its G*H gate values, then its (S-G)*H extra. */
  useSaved(act: ArrayLike<number>): void {
    const { H, B, T, layers: L, cell } = this.s;
    const GH = this.G * H;
    const SH = CELLS[cell].saved * H;
    for (let l = 0; l < L; l++)
      for (let pos = 0; pos < T * B; pos++) {
        const at = (l * T * B + pos) * SH;
        for (let k = 0; k < GH; k++) this.act[l][pos * GH + k] = act[at + k];
        for (let k = 0; k < SH - GH; k++) this.extra[l][pos * (SH - GH) + k] = act[at + GH + k];
      }
  }

  /** A slice of G*H values of a per-position tensor. */
  gates(a: F64, pos: number): F64 {
    const GH = this.G * this.s.H;
    return a.subarray(pos * GH, (pos + 1) * GH);
  }
}

/** Every layer's h_t (and c_t) from got's state at t-1 and got's input; saves the gate values. */
function forward(P: Params, g: Given, batch: Batch, hs: F64[], cs: F64[]): void {
  const { V, H, B, T, layers: L, cell } = g.s;
  const GH = g.G * H;
  const step = CELLS[cell].cpu;
  const [ax, ah, hOut, cOut, inp] = [f64(GH), f64(GH), f64(H), f64(H), f64(H)];
  for (let l = 0; l < L; l++) {
    hs[l].set(g.hs[l].subarray(0, B * H));
    if (cs[l].length) cs[l].set(g.cs[l].subarray(0, B * H));
  }
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++)
      for (let l = 0; l < L; l++) {
        const pos = t * B + b;
        const nm = g.names[l];
        const W_xh = P[nm.W_xh], W_hh = P[nm.W_hh], b_h = P[nm.b_h];
        const hPrev = g.h(l, t, b);
        const x = l ? g.input(l, t, b, inp) : undefined;
        for (let r = 0; r < GH; r++) {
          let a = b_h[r];
          if (!x) a += W_xh[r * V + batch.inputs[pos]];
          else for (let j = 0; j < H; j++) a += W_xh[r * H + j] * x[j];
          ax[r] = a;
          let s = 0;
          for (let j = 0; j < H; j++) s += W_hh[r * H + j] * hPrev[j];
          ah[r] = s;
        }
        const extra = g.extra[l].subarray(pos * H, (pos + 1) * H);
        step.forward(H, ax, ah, hPrev, g.c(l, t, b), nm.extra ? (P[nm.extra] as F64) : undefined, hOut, cOut, g.gates(g.act[l], pos), extra);
        hs[l].set(hOut, (pos + B) * H);
        if (cs[l].length) cs[l].set(cOut, (pos + B) * H);
      }
}

/** dpre_t of every layer from got's dpre of the layer above and of t+1 (see the top). */
function backward(P: Params, g: Given, got: Activations, batch: Batch, dpre: F64[], dpreScale: F64[]): void {
  const { V, H, B, T, layers: L, cell } = g.s;
  const GH = g.G * H;
  const step = CELLS[cell].cpu;
  const v = () => [f64(H), f64(H)];
  const [dh, dhs] = v(), [dhDirect, dhDirectS] = v(), [dc, dcS] = v(), [carryH, carryHS] = v(), [carryC, carryCS] = v();
  const [dax, dah, dahNext, scratch] = [f64(GH), f64(GH), f64(GH), f64(H)];
  const W_hy = P.W_hy;
  for (let l = L - 1; l >= 0; l--) {
    const W_hh = P[g.names[l].W_hh];
    const W_up = l < L - 1 ? P[g.names[l + 1].W_xh] : undefined;
    for (let b = 0; b < B; b++) {
      for (const a of [carryH, carryHS, carryC, carryCS]) a.fill(0);
      for (let t = T - 1; t >= 0; t--) {
        const pos = t * B + b;
        const mask = g.masks[l].subarray(pos * H, (pos + 1) * H);
        for (let i = 0; i < H; i++) {
          let s = 0, a = 0;
          if (!W_up)
            for (let u = 0; u < V; u++) {
              const x = W_hy[u * H + i] * (got.ps[pos * V + u] - (u === batch.targets[pos] ? 1 : 0));
              s += x;
              a += Math.abs(x);
            }
          else {
            const up = g.gates(g.dpre[l + 1], pos);
            for (let r = 0; r < GH; r++) {
              const x = W_up[r * H + i] * up[r];
              s += x;
              a += Math.abs(x);
            }
          }
          dh[i] = s * mask[i];
          dhs[i] = a * mask[i];
        }
        if (t < T - 1) {
          step.recurrent(H, g.gates(g.dpre[l], pos + B), g.gates(g.act[l], pos + B), dahNext);
          for (let i = 0; i < H; i++) {
            let s = carryH[i], a = carryHS[i];
            for (let r = 0; r < GH; r++) {
              const x = W_hh[r * H + i] * dahNext[r];
              s += x;
              a += Math.abs(x);
            }
            dh[i] += s;
            dhs[i] += a;
          }
        }
        const act = g.gates(g.act[l], pos);
        const extra = g.extra[l].subarray(pos * H, (pos + 1) * H);
        const [hPrev, cPrev, cNow] = [g.h(l, t, b), g.c(l, t, b), g.c(l, t + 1, b)];
        step.backward(H, dh, carryC, hPrev, cPrev, cNow, act, extra, dax, dah, dhDirect, dc, scratch);
        dpre[l].set(dax, pos * GH);
        carryH.set(dhDirect);
        carryC.set(dc);
        // the same with every term's absolute value: the cell's backward is linear in (dh, dc)
        // with one coefficient per term, so its |result| from (Σ|dh terms|, Σ|dc terms|) is
        step.backward(H, dhs, carryCS, hPrev, cPrev, cNow, act, extra, dax, dah, dhDirectS, dcS, scratch);
        for (let r = 0; r < GH; r++) dpreScale[l][pos * GH + r] = Math.abs(dax[r]);
        carryHS.set(dhDirectS);
        carryCS.set(dcS);
      }
    }
  }
}

/** Every gradient from got's per-position dpre, hs, inputs and ps, with the sums of absolute
 * terms; summed over time, mean over streams. */
function gradients(g: Given, got: Activations, batch: Batch): { grads: Params<F64>; scale: Params<F64> } {
  const { V, H, B, T, layers: L, cell } = g.s;
  const GH = g.G * H;
  const grads = zeroParams(g.s, f64);
  const scale = zeroParams(g.s, f64);
  const add = (k: string, n: number, x: number) => {
    grads[k][n] += x;
    scale[k][n] += Math.abs(x);
  };
  const [dah, inp, dy] = [f64(GH), f64(H), f64(V)];
  const extraRow = extraBiasRow(cell, H); // the gate block the extra bias sits in (its dah is the bias's gradient)
  for (let l = 0; l < L; l++) {
    const nm = g.names[l];
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++) {
        const pos = t * B + b;
        const d = g.gates(g.dpre[l], pos);
        CELLS[cell].cpu.recurrent(H, d, g.gates(g.act[l], pos), dah);
        const x = l ? g.input(l, t, b, inp) : undefined;
        const hPrev = g.h(l, t, b);
        for (let r = 0; r < GH; r++) {
          add(nm.b_h, r, d[r]);
          if (!x) add(nm.W_xh, r * V + batch.inputs[pos], d[r]);
          else for (let j = 0; j < H; j++) add(nm.W_xh, r * H + j, d[r] * x[j]);
          for (let j = 0; j < H; j++) add(nm.W_hh, r * H + j, dah[r] * hPrev[j]);
        }
        if (extraRow !== undefined) for (let u = 0; u < H; u++) add(nm.extra, u, dah[extraRow + u]);
      }
  }
  const top = f64(B * H);
  for (let t = 0; t < T; t++) {
    g.top(t, top);
    for (let b = 0; b < B; b++) {
      const pos = t * B + b;
      for (let u = 0; u < V; u++) dy[u] = got.ps[pos * V + u] - (u === batch.targets[pos] ? 1 : 0);
      for (let u = 0; u < V; u++) {
        add('b_y', u, dy[u]);
        for (let i = 0; i < H; i++) add('W_hy', u * H + i, dy[u] * top[b * H + i]);
      }
    }
  }
  for (const k of Object.keys(grads))
    for (let n = 0; n < grads[k].length; n++) {
      grads[k][n] /= B;
      scale[k][n] /= B;
    }
  return { grads, scale };
}

/** What the CPU computes for each timestep and layer of `got` (one engine's forward and
 * backward pass over `batch` with weights `P` and `dropout`) from got's own values (see the top). */
export function localCells(P: Params, s: NetworkShape, batch: Batch, got: Activations, dropout?: Dropout): LocalCells {
  const { V, H, B, T, layers: L, cell } = s;
  const GH = CELLS[cell].gates * H;
  const g = new Given(s, got, dropout);
  const per = (n: number) => Array.from({ length: L }, () => f64(n));
  const out: LocalCells = {
    hs: per((T + 1) * B * H), cs: per(CELLS[cell].cellState ? (T + 1) * B * H : 0), ps: f64(T * B * V), loss: 0,
    dpre: per(T * B * GH), dpreScale: per(T * B * GH), grads: {}, scale: {},
  };
  forward(P, g, batch, out.hs, out.cs);
  // the backward pass from the values got's cell saved, where it gives them: recomputed ones
  // differ from them by got's rounding, which a saturated unit's 1 - h^2 (or σ(1-σ)) turns
  // into a large relative difference of dpre
  if (got.act) g.useSaved(got.act);
  const top = f64(B * H);
  for (let t = 0; t < T; t++) outputStep(P, s, g.top(t, top), out.ps.subarray(t * B * V, (t + 1) * B * V));
  for (let pos = 0; pos < T * B; pos++) out.loss -= Math.log(got.ps[pos * V + batch.targets[pos]]);
  out.loss /= T * B;
  backward(P, g, got, batch, out.dpre, out.dpreScale);
  Object.assign(out, gradients(g, got, batch));
  return out;
}

/** p_t of every stream (B, V) from h_t (B, H). */
export function outputStep(p: Params, s: { V: number; H: number; B: number }, h: ArrayLike<number>, out: Float64Array): void {
  const { V, H, B } = s;
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      let y = p.b_y[v];
      for (let i = 0; i < H; i++) y += p.W_hy[v * H + i] * h[b * H + i];
      out[b * V + v] = y;
      max = Math.max(max, y);
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += out[b * V + v] = Math.exp(out[b * V + v] - max);
    for (let v = 0; v < V; v++) out[b * V + v] /= sum;
  }
}
