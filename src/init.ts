import { PARAM_NAMES, type Dims, type Params, paramSize } from './model.js';
import { randNormal } from './rng.js';

/** The tutorial's initialisation: weights randn * 0.1, biases zero, rounded to float32 so both
 * engines start from the same numbers. Tensor k draws from counter stream k of the seed, so the
 * same seed gives the same weights on every platform. */
export function initParams(d: Dims, seed: number): Params<Float32Array> {
  const p = {} as Params<Float32Array>;
  PARAM_NAMES.forEach((name, stream) => {
    const a = new Float32Array(paramSize(name, d));
    if (name.startsWith('W_')) for (let n = 0; n < a.length; n++) a[n] = randNormal(seed, stream, n) * 0.1;
    p[name] = a;
  });
  return p;
}
