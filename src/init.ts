import { PARAM_NAMES, type Dims, type Params, paramSize } from './model.js';
import { randNormal, randUniform } from './rng.js';

/** How the weight matrices start (biases always start at zero):
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
 * Tensor k draws from counter stream k of the seed, so the same seed gives the same weights on
 * every platform. */
export function initParams(d: Dims, seed: number, scale: InitScale = 'auto'): Params<Float32Array> {
  const s = initScaleOf(scale, d.H);
  const draw = scale === 'uniform' ? (k: number, n: number) => (2 * randUniform(seed, k, n) - 1) * s : (k: number, n: number) => randNormal(seed, k, n) * s;
  const p = {} as Params<Float32Array>;
  PARAM_NAMES.forEach((name, stream) => {
    const a = new Float32Array(paramSize(name, d));
    if (name.startsWith('W_')) for (let n = 0; n < a.length; n++) a[n] = draw(stream, n);
    p[name] = a;
  });
  return p;
}
