import { describe, expect, test } from 'vitest';
import { CpuEngine } from '../src/cpu/engine.js';
import { initParams } from '../src/init.js';
import { PARAM_NAMES } from '../src/model.js';

// The CPU engine's BPTT gradients against central finite differences of its own loss, in
// float64. The loss is a mean over T*B positions while gradients are summed over time and
// averaged over streams, so d(loss)/dw = grad / T.

function check(shape: { V: number; H: number; B: number; T: number }, seed: number, scale: number) {
  const p = initParams(shape, seed);
  for (const k of PARAM_NAMES) for (let i = 0; i < p[k].length; i++) p[k][i] = p[k][i] * scale + (k.startsWith('b') ? 0.05 * Math.sin(i + seed) : 0);
  const cpu = new CpuEngine(shape, { name: 'sgd', lr: 0.1, clip: 0 }, p);
  let x = seed;
  const rnd = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 8) % shape.V;
  const n = shape.T * shape.B;
  const batch = { inputs: Uint32Array.from({ length: n }, rnd), targets: Uint32Array.from({ length: n }, rnd) };
  return { cpu, batch };
}

describe('gradient check (float64, central differences)', () => {
  for (const [name, shape, scale] of [
    ['tutorial size', { V: 4, H: 3, B: 1, T: 4 }, 1],
    ['batched, larger weights', { V: 6, H: 5, B: 3, T: 7 }, 6],
  ] as const) {
    test(`${name}: relative error < 1e-6 for every element of every dW`, async () => {
      const { cpu, batch } = check(shape, 11, scale);
      await cpu.forwardBackward(batch, { reset: true }); // gradients at h_0 = 0
      const zeroStart = (await cpu.inspect()).grads;
      const eps = 1e-5;
      let worst = 0;
      let checked = 0;
      for (const k of PARAM_NAMES) {
        const w = cpu.paramsF64[k];
        for (let i = 0; i < w.length; i++) {
          const keep = w[i];
          w[i] = keep + eps;
          const lp = cpu.lossOf(batch);
          w[i] = keep - eps;
          const lm = cpu.lossOf(batch);
          w[i] = keep;
          const numeric = ((lp - lm) / (2 * eps)) * shape.T;
          const analytic = zeroStart[k][i];
          const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric) + Math.abs(analytic), 1e-7);
          worst = Math.max(worst, rel);
          checked++;
          expect(rel, `d${k}[${i}] analytic ${analytic} numeric ${numeric}`).toBeLessThan(1e-6);
        }
      }
      expect(checked).toBe(PARAM_NAMES.reduce((n, k) => n + cpu.paramsF64[k].length, 0));
      expect(worst).toBeLessThan(1e-6);
    });
  }
});
