import { gateRow } from './cells.js';
import { CELLS, type Dims, type Params, modelOf, paramTable } from './model.js';
import { randNormal, randUniform } from './rng.js';

/** How the weights start:
 * - 'auto' (the default): the matrices randn * min(0.1, 1/sqrt(H)). For H <= 100 this is the
 *   tutorial's randn * 0.1, bit for bit; above, the scale shrinks so that W_hh's spectral
 *   radius stays about 1 (randn * 0.1 gives about 0.1*sqrt(H): 1.6 at H=256, 3.2 at H=1024, a
 *   recurrence that is chaotic from the first step).
 * - 'uniform': the matrices uniform in [-1/sqrt(H), 1/sqrt(H)) (PyTorch's nn.RNN bound:
 *   spectral radius about 1/sqrt(3) = 0.58 at every H).
 * - a number s: the matrices randn * s at every H (0.1 is the tutorial's scale and this
 *   project's default before 'auto').
 * - 'pytorch': every tensor, biases included, as PyTorch draws it (pytorchParams below).
 * Biases start at zero but for 'pytorch'. (The LSTM's forget-gate bias started at 1 until
 * measured: with Adam it ended every seed 2-4% above PyTorch's validation loss, and 1.4% below
 * at 0; the README, "Quality on every seed", has the numbers.) */
export type InitScale = 'auto' | 'uniform' | 'pytorch' | number;
export const INIT_SCALES = ['auto', 'uniform', 'pytorch'] as const;

/** The standard deviation of randn * s for 'auto' and numbers; the bound for 'uniform' and
 * 'pytorch'. */
export function initScaleOf(scale: InitScale, H: number): number {
  if (scale === 'auto') return Math.min(0.1, 1 / Math.sqrt(H));
  if (scale === 'uniform' || scale === 'pytorch') return 1 / Math.sqrt(H);
  return scale;
}

/** PyTorch's own initialisation, as nn.RNN / LSTM / GRU and nn.Linear(H, V) draw it: every
 * tensor uniform in [-1/sqrt(H), 1/sqrt(H)), biases included (none starts at 1). PyTorch's two
 * biases per gate are one here (b_h = bias_ih + bias_hh, what the cell sees), so b_h's rows
 * are the sum of two such draws, but for the gate whose recurrent bias stays apart (the GRU's
 * n: b_h holds b_in, b_hn is its own tensor), one draw each. Same distribution as PyTorch's,
 * other numbers (this project's counter streams, not torch's generator). */
function pytorchParams(d: Dims, seed: number): Params<Float32Array> {
  const model = modelOf(d);
  const bound = 1 / Math.sqrt(d.H);
  const u = (k: number, n: number) => (2 * randUniform(seed, k, n) - 1) * bound;
  const extra = CELLS[model.cell].extraBias;
  const apart = extra ? gateRow(model.cell, extra.gate, d.H) : -1;
  const p = {} as Params<Float32Array>;
  paramTable(model).forEach((t, stream) => {
    const a = new Float32Array(t.size);
    for (let n = 0; n < a.length; n++) {
      const single = t.role !== 'b_h' || (apart >= 0 && n >= apart && n < apart + d.H);
      a[n] = single ? u(stream, n) : u(stream, n) + u(stream, t.size + n);
    }
    p[t.name] = a;
  });
  return p;
}

/** The initial weights, rounded to float32 so both engines start from the same numbers.
 * Tensor k of the model's table (src/model.ts) draws from counter stream k of the seed, so the
 * same seed gives the same weights on every platform. Each tensor's `kind` decides: matrices
 * (every cell, every layer, W_hy) are drawn as `scale` says above, biases (b_h, the GRU's
 * b_hn, b_y) start at zero; 'pytorch' draws every tensor. For the one-layer tanh RNN 'auto' is
 * the tutorial's initialisation, bit for bit. */
export function initParams(d: Dims, seed: number, scale: InitScale = 'auto'): Params<Float32Array> {
  if (scale === 'pytorch') return pytorchParams(d, seed);
  const s = initScaleOf(scale, d.H);
  const draw = scale === 'uniform' ? (k: number, n: number) => (2 * randUniform(seed, k, n) - 1) * s : (k: number, n: number) => randNormal(seed, k, n) * s;
  const p = {} as Params<Float32Array>;
  paramTable(modelOf(d)).forEach((t, stream) => {
    const a = new Float32Array(t.size);
    if (t.kind === 'matrix') for (let n = 0; n < a.length; n++) a[n] = draw(stream, n);
    p[t.name] = a;
  });
  return p;
}
