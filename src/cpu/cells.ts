// The pointwise math of each recurrent cell, in float64, written from PyTorch's equations
// (torch.nn.RNN with tanh, LSTM, GRU, torch.nn.RNN with relu). A cell sees two pre-activation vectors of G*H values,
// gate-major (gate k of unit i at k*H + i, PyTorch's row order of weight_ih / weight_hh):
//
//   ax = W_xh x_t + b_h           the input side (x_t one-hot, or the layer below's h_t)
//   ah = W_hh h_{t-1}             the recurrent side
//
// and the state it carries (h, and c for the LSTM). The products around it, the layer loop and
// BPTT are cell-agnostic (src/cpu/network.ts). Each step is its cell's `cpu` in src/cells.ts.
//
//   rnn   h' = tanh(ax + ah)
//   lstm  i = σ(ax_i + ah_i)  f = σ(ax_f + ah_f)  g = tanh(ax_g + ah_g)  o = σ(ax_o + ah_o)
//         c' = f⊙c + i⊙g      h' = o⊙tanh(c')
//   gru   r = σ(ax_r + ah_r)  z = σ(ax_z + ah_z)  n = tanh(ax_n + r⊙(ah_n + b_hn))
//         h' = (1-z)⊙n + z⊙h
//   relu  h' = max(0, ax + ah)          (slope 1 where h' > 0, else 0: PyTorch's, 0 at 0)

type F64 = Float64Array;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** One timestep of one stream: reads ax, ah (G*H), h and c (H, c unused but by the LSTM);
 * writes h' and c' (H) and the cell's saved activations `act` (G*H: the gate values after their
 * nonlinearity; the GRU also needs ah_n + b_hn, kept in `extra` (H)). Public through the cell
 * records (src/cells.ts), so its arrays are spelled Float64Array. */
export interface CellStep {
  forward(
    H: number, ax: Float64Array, ah: Float64Array, h: Float64Array, c: Float64Array, bhn: Float64Array | undefined,
    hOut: Float64Array, cOut: Float64Array, act: Float64Array, extra: Float64Array,
  ): void;
  /** From dh' (and dc' for the LSTM) of this step's output, with the forward's inputs and
   * saved activations: d_ax, d_ah (G*H), the direct part of dh (H, added to the W_hh^T d_ah
   * part by the caller), dc (H, LSTM) and db_hn (H, GRU, accumulated). */
  backward(
    H: number, dhOut: Float64Array, dcOut: Float64Array, h: Float64Array, c: Float64Array, cOut: Float64Array, act: Float64Array,
    extra: Float64Array, dax: Float64Array, dah: Float64Array, dhDirect: Float64Array, dc: Float64Array, dbhn: Float64Array | undefined,
  ): void;
  /** d_ah (G*H) from d_ax (G*H) and the saved activations: the same but for the GRU's n rows,
   * r⊙d_ax_n (the local comparison of src/cpu/localCells.ts has the other engine's d_ax). */
  recurrent(H: number, dax: Float64Array, act: Float64Array, dah: Float64Array): void;
}

const same = (H: number, dax: F64, _act: F64, dah: F64, G: number) => dah.set(dax.subarray(0, G * H));

export const rnnStep: CellStep = {
  forward(H, ax, ah, _h, _c, _bhn, hOut, _cOut, act) {
    for (let i = 0; i < H; i++) act[i] = hOut[i] = Math.tanh(ax[i] + ah[i]);
  },
  backward(H, dhOut, _dcOut, _h, _c, _cOut, act, _extra, dax, dah, dhDirect) {
    for (let i = 0; i < H; i++) {
      dax[i] = dah[i] = dhOut[i] * (1 - act[i] * act[i]);
      dhDirect[i] = 0;
    }
  },
  recurrent: (H, dax, act, dah) => same(H, dax, act, dah, 1),
};

export const lstmStep: CellStep = {
  forward(H, ax, ah, _h, c, _bhn, hOut, cOut, act) {
    for (let u = 0; u < H; u++) {
      const i = sigmoid(ax[u] + ah[u]);
      const f = sigmoid(ax[H + u] + ah[H + u]);
      const g = Math.tanh(ax[2 * H + u] + ah[2 * H + u]);
      const o = sigmoid(ax[3 * H + u] + ah[3 * H + u]);
      act[u] = i;
      act[H + u] = f;
      act[2 * H + u] = g;
      act[3 * H + u] = o;
      cOut[u] = f * c[u] + i * g;
      hOut[u] = o * Math.tanh(cOut[u]);
    }
  },
  backward(H, dhOut, dcOut, _h, c, cOut, act, _extra, dax, dah, dhDirect, dc) {
    for (let u = 0; u < H; u++) {
      const [i, f, g, o] = [act[u], act[H + u], act[2 * H + u], act[3 * H + u]];
      const tc = Math.tanh(cOut[u]);
      const dcu = dcOut[u] + dhOut[u] * o * (1 - tc * tc);
      dax[u] = dcu * g * i * (1 - i);
      dax[H + u] = dcu * c[u] * f * (1 - f);
      dax[2 * H + u] = dcu * i * (1 - g * g);
      dax[3 * H + u] = dhOut[u] * tc * o * (1 - o);
      for (let k = 0; k < 4; k++) dah[k * H + u] = dax[k * H + u];
      dc[u] = dcu * f;
      dhDirect[u] = 0;
    }
  },
  recurrent: (H, dax, act, dah) => same(H, dax, act, dah, 4),
};

export const gruStep: CellStep = {
  forward(H, ax, ah, h, _c, bhn, hOut, _cOut, act, extra) {
    for (let u = 0; u < H; u++) {
      const r = sigmoid(ax[u] + ah[u]);
      const z = sigmoid(ax[H + u] + ah[H + u]);
      const hn = ah[2 * H + u] + bhn![u];
      const n = Math.tanh(ax[2 * H + u] + r * hn);
      act[u] = r;
      act[H + u] = z;
      act[2 * H + u] = n;
      extra[u] = hn;
      hOut[u] = (1 - z) * n + z * h[u];
    }
  },
  backward(H, dhOut, _dcOut, h, _c, _cOut, act, extra, dax, dah, dhDirect, _dc, dbhn) {
    for (let u = 0; u < H; u++) {
      const [r, z, n] = [act[u], act[H + u], act[2 * H + u]];
      const dn = dhOut[u] * (1 - z) * (1 - n * n); // d(pre-activation of n)
      const dz = dhOut[u] * (h[u] - n) * z * (1 - z);
      const dr = dn * extra[u] * r * (1 - r);
      dax[u] = dah[u] = dr;
      dax[H + u] = dah[H + u] = dz;
      dax[2 * H + u] = dn;
      dah[2 * H + u] = dn * r; // and so d b_hn
      dbhn![u] += dn * r;
      dhDirect[u] = dhOut[u] * z;
    }
  },
  recurrent(H, dax, act, dah) {
    for (let u = 0; u < 2 * H; u++) dah[u] = dax[u];
    for (let u = 0; u < H; u++) dah[2 * H + u] = dax[2 * H + u] * act[u];
  },
};

export const reluStep: CellStep = {
  forward(H, ax, ah, _h, _c, _bhn, hOut, _cOut, act) {
    for (let i = 0; i < H; i++) act[i] = hOut[i] = Math.max(0, ax[i] + ah[i]);
  },
  backward(H, dhOut, _dcOut, _h, _c, _cOut, act, _extra, dax, dah, dhDirect) {
    for (let i = 0; i < H; i++) {
      dax[i] = dah[i] = act[i] > 0 ? dhOut[i] : 0;
      dhDirect[i] = 0;
    }
  },
  recurrent: (H, dax, act, dah) => same(H, dax, act, dah, 1),
};
