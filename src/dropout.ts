import { randUniform } from './rng.js';

// Dropout masks from the counter-based generator (src/rng.ts), so that the CPU and GPU
// engines drop the same units: inverted dropout, a kept unit scaled by 1/(1-p). The mask on
// the output of layer l (the input of layer l+1, or of W_hy for the last layer) at training
// step `step`, position pos = t*B + b, unit i, is drawn from
//
//   stream DROPOUT_STREAM + 64*step + l (mod 2^32), counter pos*H + i
//
// of the run's seed: streams far from those of the initialisation (one per tensor) and of
// sampling (one per generated stream).

export const DROPOUT_STREAM = 0x40000000;

/** The mask value (0, or 1/(1-p)) of one unit. */
export function dropoutScale(p: number, seed: number, step: number, layer: number, pos: number, H: number, i: number): number {
  if (p === 0) return 1;
  const u = randUniform(seed, (DROPOUT_STREAM + 64 * step + layer) >>> 0, (pos * H + i) >>> 0);
  return u < p ? 0 : 1 / (1 - p);
}
