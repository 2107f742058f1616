import { describe, expect, test } from 'vitest';
import { CELL_NAMES, CELL_STEPS, CELLS } from '../src/cpu/cells.js';
import { randomArray } from './helpers.js';

// The pointwise math of each cell (src/cpu/cells.ts): its backward step against central finite
// differences of its forward step, at pre-activations small and large.

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

describe('cell steps: backward = finite differences of forward', () => {
  for (const cell of CELL_NAMES)
    for (const scale of [0.5, 4])
      test(`${cell}, pre-activations up to ${scale}`, () => {
        const H = 5;
        const G = CELLS[cell].gates;
        const step = CELL_STEPS[cell];
        const ax = f64(randomArray(G * H, 1, scale));
        const ah = f64(randomArray(G * H, 2, scale));
        const h = f64(randomArray(H, 3, 0.9));
        const c = f64(randomArray(H, 4, 2));
        const bhn = f64(randomArray(H, 5, scale));
        const wh = f64(randomArray(H, 6)); // loss = wh . h' + wc . c'
        const wc = f64(randomArray(H, 7));
        const out = () => {
          const [hOut, cOut, act, extra] = [new Float64Array(H), new Float64Array(H), new Float64Array(G * H), new Float64Array(H)];
          step.forward(H, ax, ah, h, c, bhn, hOut, cOut, act, extra);
          let l = 0;
          for (let i = 0; i < H; i++) l += wh[i] * hOut[i] + (CELLS[cell].cellState ? wc[i] * cOut[i] : 0);
          return { l, hOut, cOut, act, extra };
        };
        const f = out();
        const [dax, dah, dhDirect, dc, dbhn] = [new Float64Array(G * H), new Float64Array(G * H), new Float64Array(H), new Float64Array(H), new Float64Array(H)];
        step.backward(H, wh, wc, h, c, f.cOut, f.act, f.extra, dax, dah, dhDirect, dc, dbhn);
        const numeric = (x: Float64Array, i: number) => {
          const e = 1e-6;
          const keep = x[i];
          x[i] = keep + e;
          const up = out().l;
          x[i] = keep - e;
          const down = out().l;
          x[i] = keep;
          return (up - down) / (2 * e);
        };
        const check = (name: string, x: Float64Array, grad: ArrayLike<number>) => {
          for (let i = 0; i < x.length; i++) {
            const n = numeric(x, i);
            expect(Math.abs(grad[i] - n), `${cell} d${name}[${i}]: ${grad[i]} vs ${n}`).toBeLessThanOrEqual(1e-8 + 1e-6 * Math.abs(n));
          }
        };
        check('ax', ax, dax);
        check('ah', ah, dah);
        check('h', h, dhDirect); // the direct part: W_hh^T d_ah is the caller's
        if (CELLS[cell].cellState) check('c', c, dc);
        if (cell === 'gru') check('b_hn', bhn, dbhn);
      });
});
