import { describe, expect, test } from 'vitest';
import { initParams } from '../src/init.js';
import { CELL_NAMES, modelOf, paramTable } from '../src/model.js';
import { randNormal } from '../src/rng.js';

// The default initialisation starts with a stable recurrence at every H, and is the tutorial's
// randn * 0.1 bit for bit where that is stable (H <= 100).

/** Spectral radius of the (H, H) row-major matrix A: the mean growth rate of ||A^k v|| over
 * `measure` matrix-vector products after `warm` (power iteration on the top eigenvalues'
 * modulus, which works for complex eigenvalues too). */
export function spectralRadius(A: ArrayLike<number>, H: number, warm = 100, measure = 200): number {
  let v = Float64Array.from({ length: H }, (_, i) => randNormal(7, 0, i));
  let w = new Float64Array(H);
  let logGrowth = 0;
  for (let k = 0; k < warm + measure; k++) {
    let norm = 0;
    for (let i = 0; i < H; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += A[i * H + j] * v[j];
      w[i] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < H; i++) w[i] /= norm;
    if (k >= warm) logGrowth += Math.log(norm);
    [v, w] = [w, v];
  }
  return Math.exp(logGrowth / measure);
}

describe('initial weights', () => {
  test("H <= 100: the tutorial's randn * 0.1, bit for bit", () => {
    for (const H of [3, 64, 100]) {
      const d = { V: 5, H };
      const p = initParams(d, 42);
      for (const [k, stream] of [['W_xh', 0], ['W_hh', 1], ['W_hy', 3]] as const)
        expect(Array.from(p[k])).toEqual(Array.from(Float32Array.from(p[k], (_, n) => randNormal(42, stream, n) * 0.1)));
      expect(p.b_h.every((x) => x === 0) && p.b_y.every((x) => x === 0)).toBe(true);
      expect(Array.from(initParams(d, 42, 0.1).W_hh)).toEqual(Array.from(p.W_hh));
    }
  });

  test('the default starts with a spectral radius of W_hh near 1 at every H; randn * 0.1 does not', () => {
    const rows: string[] = [];
    for (const H of [64, 256, 1024]) {
      const d = { V: 2, H };
      const auto = spectralRadius(initParams(d, 42).W_hh, H);
      rows.push(`H=${H}: auto ${auto.toFixed(3)}`);
      expect(auto).toBeLessThan(1.1);
      if (H !== 256) continue;
      const uniform = spectralRadius(initParams(d, 42, 'uniform').W_hh, H);
      const tutorial = spectralRadius(initParams(d, 42, 0.1).W_hh, H);
      rows.push(`uniform ${uniform.toFixed(3)}, randn*0.1 ${tutorial.toFixed(3)}`);
      expect(uniform).toBeLessThan(0.7);
      expect(tutorial).toBeGreaterThan(1.5);
    }
    console.log(`spectral radius of W_hh at seed 42: ${rows.join('; ')}`);
  });
});

describe('initial weights of every cell and depth', () => {
  test('matrices drawn by their table position, biases zero (the LSTM\'s forget gate too: measured, README "Initialisation")', () => {
    const H = 4;
    for (const cell of CELL_NAMES)
      for (const layers of [1, 3]) {
        const d = { V: 5, H, cell, layers };
        const p = initParams(d, 42);
        paramTable(modelOf(d)).forEach((t, stream) => {
          if (t.kind === 'matrix') expect(Array.from(p[t.name])).toEqual(Array.from(Float32Array.from(p[t.name], (_, n) => randNormal(42, stream, n) * 0.1)));
          else {
            const want = new Float32Array(t.size);
            expect(Array.from(p[t.name]), `${cell} L=${layers} ${t.name}`).toEqual(Array.from(want));
          }
        });
      }
    expect(Object.keys(initParams({ V: 5, H, cell: 'rnn', layers: 1 }, 42))).toEqual(['W_xh', 'W_hh', 'b_h', 'W_hy', 'b_y']);
  });

  test("'pytorch': every tensor within PyTorch's bound, with its spread; b_h the sum of two draws but the GRU's n rows", () => {
    const H = 64;
    const bound = 1 / Math.sqrt(H);
    for (const cell of CELL_NAMES) {
      const d = { V: 65, H, cell, layers: 2 };
      const p = initParams(d, 7, 'pytorch');
      for (const t of paramTable(modelOf(d))) {
        const a = Array.from(p[t.name]);
        const sd = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
        const rows = (from: number, to: number) => a.slice(from, to);
        const check = (x: number[], twice: boolean, what: string) => {
          const s = Math.sqrt(x.reduce((q, v) => q + v * v, 0) / x.length);
          // U(-b, b) has sd b/sqrt(3); the sum of two, b*sqrt(2/3)
          expect(s / (bound * (twice ? Math.sqrt(2 / 3) : 1 / Math.sqrt(3))), `${cell} ${t.name} ${what}`).toBeGreaterThan(0.85);
          expect(s / (bound * (twice ? Math.sqrt(2 / 3) : 1 / Math.sqrt(3))), `${cell} ${t.name} ${what}`).toBeLessThan(1.15);
          for (const v of x) expect(Math.abs(v)).toBeLessThan(twice ? 2 * bound : bound);
        };
        if (t.role !== 'b_h') check(a, false, 'all');
        else if (cell === 'gru') {
          check(rows(0, 2 * H), true, 'r z');
          check(rows(2 * H, 3 * H), false, 'n');
        } else check(a, true, 'all');
        expect(sd).toBeGreaterThan(0);
      }
      expect(initParams(d, 7, 'pytorch')).toEqual(p);
      expect(initParams(d, 8, 'pytorch')[paramTable(modelOf(d))[0].name]).not.toEqual(p[paramTable(modelOf(d))[0].name]);
    }
  });
});
