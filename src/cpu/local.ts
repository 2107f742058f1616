import type { Activations, Batch } from '../engine.js';
import { PARAM_NAMES, type Params, type StepShape, type Tensor, zeroParams } from '../model.js';

// One timestep at a time, in float64, from values handed in: the CPU side of the local
// comparison (src/check.ts). Each function recomputes one step of the tutorial's equations
// from the other engine's own state at the step before, so the comparison measures one step's
// rounding, whatever T and however chaotic the recurrence:
//
//   h_t     = tanh(W_xh x_t + W_hh h_{t-1} + b_h)
//   p_t     = softmax(W_hy h_t + b_y)
//   dy_t    = p_t - onehot(target_t)
//   dtanh_t = (W_hy^T dy_t + W_hh^T dtanh_{t+1}) * (1 - h_t^2)      (dtanh_T = 0)
//   dW_xh = sum_t dtanh_t x_t^T, dW_hh = sum_t dtanh_t h_{t-1}^T, db_h = sum_t dtanh_t,
//   dW_hy = sum_t dy_t h_t^T, db_y = sum_t dy_t          (summed over t, mean over B streams)
//
// Layouts as everywhere: hs (T+1, B, H), ps (T, B, V), dtanh (T, B, H), batches time-major.

/** h_t of every stream (B, H) from h_{t-1} (B, H) and the inputs x_t (B). */
export function hiddenStep(p: Params, s: StepShape, x: ArrayLike<number>, hPrev: ArrayLike<number>, out: Float64Array): void {
  const { V, H, B } = s;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++) {
      let a = p.W_xh[i * V + x[b]] + p.b_h[i];
      for (let j = 0; j < H; j++) a += p.W_hh[i * H + j] * hPrev[b * H + j];
      out[b * H + i] = Math.tanh(a);
    }
}

/** p_t of every stream (B, V) from h_t (B, H). */
export function outputStep(p: Params, s: StepShape, h: ArrayLike<number>, out: Float64Array): void {
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

/** dtanh_t of every stream (B, H) from p_t (B, V), the targets (B), h_t (B, H) and dtanh_{t+1}
 * (B, H; undefined at t = T-1); `scale` gets the same with every term's absolute value (the
 * magnitude that bounds its rounding error). */
export function dtanhStep(
  p: Params, s: StepShape, ps: ArrayLike<number>, targets: ArrayLike<number>, h: ArrayLike<number>,
  dtanhNext: ArrayLike<number> | undefined, out: Float64Array, scale: Float64Array,
): void {
  const { V, H, B } = s;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++) {
      let dh = 0;
      let abs = 0;
      const term = (x: number) => {
        dh += x;
        abs += Math.abs(x);
      };
      for (let v = 0; v < V; v++) term(p.W_hy[v * H + i] * (ps[b * V + v] - (v === targets[b] ? 1 : 0)));
      if (dtanhNext) for (let k = 0; k < H; k++) term(p.W_hh[k * H + i] * dtanhNext[b * H + k]);
      const hi = h[b * H + i];
      out[b * H + i] = dh * (1 - hi * hi);
      scale[b * H + i] = abs * (1 - hi * hi);
    }
}

/** The weight gradients from given hs, ps and dtanh of a whole step, and the same sums of the
 * terms' absolute values (`scale`). */
export function gradsFrom(s: StepShape, batch: Batch, hs: ArrayLike<number>, ps: ArrayLike<number>, dtanh: ArrayLike<number>) {
  const { V, H, B, T } = s;
  const g = zeroParams(s, (n) => new Float64Array(n));
  const a = zeroParams(s, (n) => new Float64Array(n));
  for (let pos = 0; pos < T * B; pos++) {
    const x = batch.inputs[pos];
    const y = batch.targets[pos];
    const prev = pos * H; // h_{t-1}: hs row t*B + b
    const cur = (pos + B) * H; // h_t
    for (let i = 0; i < H; i++) {
      const d = dtanh[pos * H + i];
      const ad = Math.abs(d);
      g.W_xh[i * V + x] += d;
      a.W_xh[i * V + x] += ad;
      g.b_h[i] += d;
      a.b_h[i] += ad;
      for (let j = 0; j < H; j++) {
        g.W_hh[i * H + j] += d * hs[prev + j];
        a.W_hh[i * H + j] += ad * Math.abs(hs[prev + j]);
      }
    }
    for (let v = 0; v < V; v++) {
      const dy = ps[pos * V + v] - (v === y ? 1 : 0);
      const ady = Math.abs(dy);
      g.b_y[v] += dy;
      a.b_y[v] += ady;
      for (let i = 0; i < H; i++) {
        g.W_hy[v * H + i] += dy * hs[cur + i];
        a.W_hy[v * H + i] += ady * Math.abs(hs[cur + i]);
      }
    }
  }
  for (const k of PARAM_NAMES)
    for (let n = 0; n < g[k].length; n++) {
      g[k][n] /= B;
      a[k][n] /= B;
    }
  return { grads: g, scale: a };
}

/** What the CPU computes for each step of `got` (one engine's forward and backward pass over
 * `batch` with weights `p`) from `got`'s own values at the step before: hs[t+1] from got.hs[t],
 * ps[t] from got.hs[t+1], dtanh[t] from got.ps[t], got.hs[t+1] and got.dtanh[t+1], the
 * gradients and the loss from got's hs, ps and dtanh. hs[0] is got's own start state. With
 * the sums of absolute terms of dtanh and of the gradients, the scales their tolerances use. */
export function localStep(p: Params, s: StepShape, batch: Batch, got: Activations & { dtanh: Tensor }) {
  const { V, H, B, T } = s;
  const hs = new Float64Array((T + 1) * B * H);
  const ps = new Float64Array(T * B * V);
  const dtanh = new Float64Array(T * B * H);
  const dtanhScale = new Float64Array(T * B * H);
  const row = <A extends Tensor | Uint32Array>(a: A, t: number, n: number) => a.subarray(t * B * n, (t + 1) * B * n) as A;
  hs.set(row(got.hs, 0, H));
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const targets = row(batch.targets, t, 1);
    hiddenStep(p, s, row(batch.inputs, t, 1), row(got.hs, t, H), row(hs, t + 1, H));
    outputStep(p, s, row(got.hs, t + 1, H), row(ps, t, V));
    dtanhStep(p, s, row(got.ps, t, V), targets, row(got.hs, t + 1, H), t + 1 < T ? row(got.dtanh, t + 1, H) : undefined, row(dtanh, t, H), row(dtanhScale, t, H));
    for (let b = 0; b < B; b++) loss -= Math.log(got.ps[(t * B + b) * V + targets[b]]);
  }
  return { hs, ps, dtanh, dtanhScale, loss: loss / (T * B), ...gradsFrom(s, batch, got.hs, got.ps, got.dtanh) };
}
