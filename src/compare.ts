// Element-wise comparison with per-tensor tolerances: |got - want| <= atol + rtol*|want|, or,
// for a sum of terms, atol + rtol*sum|terms| (the scale that bounds a sum's rounding error, which
// |want| does not where terms cancel). Used by `char-rnn check`, the page's GPU-vs-CPU panel and the tests.

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface Comparison extends Tolerance {
  name: string;
  n: number;
  /** max over elements of |got - want| / (atol + rtol*|want|): the comparison passes when <= 1 */
  used: number;
  /** index of the element that used the most of its tolerance (-1 when all are equal) */
  worst: number;
  got: number;
  want: number;
  maxAbs: number;
  /** max |got - want| / |want| over elements with want != 0 */
  maxRel: number;
  ok: boolean;
}

/** `scale`: the magnitude rtol applies to, element by element (default |want|). */
export function compare(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, scale: ArrayLike<number> = want): Comparison {
  const r: Comparison = { name, n: want.length, ...tol, used: 0, worst: -1, got: NaN, want: NaN, maxAbs: 0, maxRel: 0, ok: false };
  if (got.length !== want.length) {
    r.used = Infinity;
    return r;
  }
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const u = d === 0 ? 0 : Number.isFinite(d) ? d / (tol.atol + tol.rtol * Math.abs(scale[i])) : Infinity;
    if (d > r.maxAbs || !Number.isFinite(d)) r.maxAbs = Number.isFinite(d) ? d : Infinity;
    if (want[i] !== 0 && d / Math.abs(want[i]) > r.maxRel) r.maxRel = d / Math.abs(want[i]);
    if (u > r.used || (r.worst < 0 && u === r.used && d > 0)) {
      r.used = u;
      r.worst = i;
      r.got = got[i];
      r.want = want[i];
    }
  }
  r.ok = r.used <= 1;
  return r;
}

export function describeComparison(c: Comparison): string {
  return (
    `${c.name}: max|diff| ${c.maxAbs.toExponential(2)}, max rel ${c.maxRel.toExponential(2)}, ` +
    `${(100 * c.used).toFixed(1)}% of tolerance (atol ${c.atol}, rtol ${c.rtol})` +
    (c.worst >= 0 ? `, worst [${c.worst}] got ${c.got} want ${c.want}` : '')
  );
}

/** Tolerances of the float32 GPU engine against the float64 CPU engine, per tensor kind.
 * Measured worst cases stay below 10% of these on the test shapes (see test/engine.test.ts). */
export const GPU_TOLERANCE = {
  /** hidden states after one forward pass */
  hs: { atol: 1e-5, rtol: 1e-4 },
  /** softmax probabilities */
  ps: { atol: 1e-5, rtol: 1e-4 },
  /** local comparison (src/check.ts) of a sum recomputed from the GPU's own inputs (dtanh_t
   * of one backward step; the gradients summed over positions): rtol times sum|terms| */
  sums: { atol: 1e-5, rtol: 1e-4 },
  /** dW_* at the first step: sums over T*B positions in float32 */
  grads: { atol: 2e-5, rtol: 1e-3 },
  /** loss of each step */
  loss: { atol: 1e-5, rtol: 1e-4 },
  /** parameters after one optimizer update recomputed from the GPU's own weights, state and
   * gradients (local comparison, src/check.ts) */
  update: { atol: 1e-7, rtol: 1e-5 },
  /** parameters after N optimizer steps */
  params: { atol: 5e-5, rtol: 1e-3 },
} satisfies Record<string, Tolerance>;

/** A whole-trajectory comparison (src/check.ts) passes when the GPU's drift from the CPU,
 * max|gpu - cpu|, is within the tolerance or at most this multiple of the CPU's own spread,
 * max|cpu' - cpu| with cpu' run from weights one float32 ulp away. Measured (test/check.test.ts,
 * `char-rnn check` at H=256 B=32 T=64, Adam): with a chaotic W_hh both runs diverge and the
 * ratio is 0.5-4.5 (13 for a single loss value); with a stable one the GPU's float32
 * arithmetic moves the first step's tensors 3-14 times as far as a one-ulp nudge of the weights
 * does, and Adam's sign-like first update (g/sqrt(g*g) for gradients near its eps) turns that
 * into up to 27 times in the parameters after one step. 50 leaves room above 27; a wrong
 * kernel is caught by the local comparison, which has no such allowance. */
export const SPREAD_MULTIPLE = 50;
