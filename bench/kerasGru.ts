import type { Batch } from '../src/engine.js';
import type { ModelDims, Params } from '../src/model.js';

// The loss of Keras's GRU (tf.layers.gru, reset_after=false: the model TF.js trains in the gru
// cases) from this project's parameters, forward only, in float64, written from Keras's
// equations in this project's names and gate order (r, z, n; bench/tfjsModel.ts maps them):
//
//   ax = W_xh.l x_t + b_h.l        (x_t one-hot for l = 0, else layer l-1's h_t)
//   r = σ(ax_r + W_hr h)   z = σ(ax_z + W_hz h)   n = tanh(ax_n + W_hn (r ⊙ h))   (PyTorch: r ⊙ (W_hn h + b_hn))
//   h' = (1 - z) ⊙ n + z ⊙ h
//   y_t = W_hy h_t + b_y,  loss = mean over positions of -log softmax(y_t)[target]
//
// TF.js's GRU loss cannot agree with this project's engines (another model); it must agree with
// this, which checks that the weights were mapped right: swapping r and z, or a transpose,
// changes the loss by about as little at initialisation as the model's difference does, so the
// comparison with the project's engines alone would not show it. Dropout is not modelled.

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The mean -log p[target] over the batch's T*B positions (time-major, t*B + b), every stream
 * starting from h = 0, of the L-layer Keras GRU with this project's GRU parameters. */
export function kerasGruLoss(p: Params, m: ModelDims, batch: Batch, B: number, T: number): number {
  const { V, H, layers } = m;
  const hs = Array.from({ length: layers }, () => new Float64Array(B * H)); // h of each layer
  const outs = Array.from({ length: layers }, () => new Float64Array(H)); // layer l's new h at (t, b)
  const ax = new Float64Array(3 * H);
  const r = new Float64Array(H);
  const z = new Float64Array(H);
  const rh = new Float64Array(H);
  const y = new Float64Array(V);
  let loss = 0;
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++) {
      let below: Float64Array | undefined; // layer l-1's new h; undefined: the one-hot input
      for (let l = 0; l < layers; l++) {
        const W_xh = p[`W_xh.${l}`], W_hh = p[`W_hh.${l}`], b_h = p[`b_h.${l}`];
        const h = hs[l].subarray(b * H, (b + 1) * H);
        const n_in = l ? H : V;
        const x = batch.inputs[t * B + b];
        for (let i = 0; i < 3 * H; i++) {
          let a = b_h[i];
          if (below) for (let j = 0; j < H; j++) a += W_xh[i * n_in + j] * below[j];
          else a += W_xh[i * n_in + x];
          ax[i] = a;
        }
        for (let i = 0; i < H; i++) {
          let ar = ax[i], az = ax[H + i];
          for (let j = 0; j < H; j++) {
            ar += W_hh[i * H + j] * h[j];
            az += W_hh[(H + i) * H + j] * h[j];
          }
          r[i] = sigmoid(ar);
          z[i] = sigmoid(az);
        }
        for (let j = 0; j < H; j++) rh[j] = r[j] * h[j];
        const hNew = outs[l];
        for (let i = 0; i < H; i++) {
          let an = ax[2 * H + i];
          for (let j = 0; j < H; j++) an += W_hh[(2 * H + i) * H + j] * rh[j];
          hNew[i] = (1 - z[i]) * Math.tanh(an) + z[i] * h[i];
        }
        h.set(hNew);
        below = hNew;
      }
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        let a = p.b_y[v];
        for (let j = 0; j < H; j++) a += p.W_hy[v * H + j] * below![j];
        y[v] = a;
        max = Math.max(max, a);
      }
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(y[v] - max);
      loss += Math.log(sum) + max - y[batch.targets[t * B + b]];
    }
  return loss / (T * B);
}
