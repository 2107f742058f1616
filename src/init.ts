import { gateRow } from './cells.js';
import { CELLS, type Dims, type Params, modelOf, paramTable } from './model.js';
import { randNormal, randUniform } from './rng.js';

/** How the weight matrices start (the same for every cell; the biases below):
 * - 'auto' (the default): randn * min(0.1, 1/sqrt(H)). For H <= 100 this is the tutorial's
 *   randn * 0.1, bit for bit; above, the scale shrinks so that W_hh's spectral radius stays
 *   about 1 (randn * 0.1 gives about 0.1*sqrt(H): 1.6 at H=256, 3.2 at H=1024, a recurrence
 *   that is chaotic from the first step).
 * - 'uniform': PyTorch's nn.RNN bound, uniform in [-1/sqrt(H), 1/sqrt(H)) (spectral radius
 *   about 1/sqrt(3) = 0.58 at every H).
 * - a number s: randn * s at every H (0.1 is the tutorial's scale and this project's default
 *   before 'auto'). */
export type InitScale = 'auto' | 'uniform' | number;
export const INIT_SCALES = ['auto', 'uniform'] as const;

/** The standard deviation of randn * s for 'auto' and numbers; the bound for 'uniform'. */
export function initScaleOf(scale: InitScale, H: number): number {
  if (scale === 'auto') return Math.min(0.1, 1 / Math.sqrt(H));
  if (scale === 'uniform') return 1 / Math.sqrt(H);
  return scale;
}

/** The initial weights, rounded to float32 so both engines start from the same numbers.
 * Tensor k of the model's table (src/model.ts) draws from counter stream k of the seed, so the
 * same seed gives the same weights on every platform. Each tensor's `kind` decides:
 * - matrices (every cell, every layer, W_hy): drawn as `scale` says above;
 * - biases: zero, but the rows of the gate its cell's record names (src/cells.ts init.bias:
 *   the LSTM's forget gate f, rows H..2H of b_h.l, which start at 1 so that the cell state is
 *   kept at first: Gers et al. 2000; Jozefowicz et al. 2015; what char-rnn's successors do).
 *   Extra biases (the GRU's b_hn) start at zero.
 * For the one-layer tanh RNN this is the tutorial's initialisation, bit for bit. */
export function initParams(d: Dims, seed: number, scale: InitScale = 'auto'): Params<Float32Array> {
  const s = initScaleOf(scale, d.H);
  const draw = scale === 'uniform' ? (k: number, n: number) => (2 * randUniform(seed, k, n) - 1) * s : (k: number, n: number) => randNormal(seed, k, n) * s;
  const model = modelOf(d);
  const p = {} as Params<Float32Array>;
  const { init } = CELLS[model.cell];
  const biasRow = init.bias ? gateRow(model.cell, init.bias.gate, d.H) : 0;
  paramTable(model).forEach((t, stream) => {
    const a = new Float32Array(t.size);
    if (t.kind === 'matrix') for (let n = 0; n < a.length; n++) a[n] = draw(stream, n);
    else if (t.role === 'b_h' && init.bias) a.fill(init.bias.value, biasRow, biasRow + d.H);
    p[t.name] = a;
  });
  return p;
}
