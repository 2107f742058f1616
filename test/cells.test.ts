import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CpuEngine, argmax } from '../src/cpu/engine.js';
import { initParams } from '../src/init.js';
import { CpuNetwork } from '../src/cpu/network.js';
import { CELL_NAMES, CELLS, type ModelDims, paramTable } from '../src/model.js';
import { expectClose, randomArray } from './helpers.js';

// The pointwise math of each cell (src/cpu/cells.ts): its backward step against central finite
// differences of its forward step, at pre-activations small and large.

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

describe('cell steps: backward = finite differences of forward', () => {
  for (const cell of CELL_NAMES)
    for (const scale of [0.5, 4])
      test(`${cell}, pre-activations up to ${scale}`, () => {
        const H = 5;
        const G = CELLS[cell].gates;
        const step = CELLS[cell].cpu;
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
        if (CELLS[cell].extraBias) check('b_hn', bhn, dbhn);
      });
});

// The whole network (src/cpu/network.ts): every cell x L in {1,2,3} x dropout in {0, 0.3},
// its gradients against central finite differences of its own loss (relative error < 1e-6),
// and against PyTorch (scripts/torch_reference.py, float64).

function randomParams(dims: ModelDims, seed: number, scale = 0.6): Record<string, Float64Array> {
  return Object.fromEntries(paramTable(dims).map((p, k) => [p.name, f64(randomArray(p.size, seed * 100 + k + 1, scale))]));
}

function batchOf(V: number, B: number, T: number, seed: number) {
  const pick = (k: number) => (Math.imul(k + 7 * seed, 2654435761) >>> 9) % V;
  return { inputs: Uint32Array.from({ length: T * B }, (_, k) => pick(k)), targets: Uint32Array.from({ length: T * B }, (_, k) => pick(k + 101)) };
}

describe('CpuNetwork: gradients = finite differences of the loss', () => {
  for (const cell of CELL_NAMES)
    for (const layers of [1, 2, 3])
      for (const p of [0, 0.3])
        test(`${cell}, ${layers} layer${layers > 1 ? 's' : ''}, dropout ${p}`, () => {
          const s = { V: 7, H: 4, B: 2, T: 5, cell, layers };
          const net = new CpuNetwork(s);
          const P = randomParams(s, layers + 10 * CELL_NAMES.indexOf(cell));
          const batch = batchOf(s.V, s.B, s.T, layers);
          const h0 = Array.from({ length: layers }, (_, l) => f64(randomArray(s.B * s.H, 50 + l, 0.5)));
          const c0 = Array.from({ length: layers }, (_, l) => f64(randomArray(s.B * s.H, 60 + l, 0.5)));
          const dropout = { p, seed: 3, step: 2 };
          net.forward(P, batch, h0, c0, dropout);
          const grads = Object.fromEntries(net.table.map((t) => [t.name, new Float64Array(t.size)]));
          net.backward(P, batch, grads);
          let worst = 0;
          for (const t of net.table)
            for (let k = 0; k < t.size; k++) {
              const keep = P[t.name][k];
              const at = (d: number) => {
                P[t.name][k] = keep + d;
                return net.forward(P, batch, h0, c0, dropout);
              };
              const e = 1e-3; // five-point stencil: error O(e^4)
              const numeric = (s.T * (8 * (at(e) - at(-e)) - (at(2 * e) - at(-2 * e)))) / (12 * e); // summed over time
              P[t.name][k] = keep;
              const g = grads[t.name][k];
              const rel = Math.abs(g - numeric) / Math.max(Math.abs(g) + Math.abs(numeric), 1e-5); // (below 1e-5: an absolute 1e-11)
              expect(rel, `${t.name}[${k}]: ${g} vs ${numeric}`).toBeLessThan(1e-6);
              worst = Math.max(worst, rel);
            }
          expect(worst).toBeGreaterThan(0);
        });
});

describe('CpuNetwork against PyTorch (float64, 2 layers)', () => {
  for (const cell of CELL_NAMES)
    test(`${cell}: loss and every gradient of one step`, () => {
      const ref = JSON.parse(readFileSync(new URL(`./fixtures/torch-${cell}-L2.json`, import.meta.url), 'utf8'));
      const s = { V: ref.V, H: ref.H, B: ref.B, T: ref.T, cell, layers: ref.layers };
      const net = new CpuNetwork(s);
      const P = Object.fromEntries(Object.entries(ref.params as Record<string, number[]>).map(([k, v]) => [k, f64(v)]));
      expect(Object.keys(P)).toEqual(net.table.map((t) => t.name));
      const zero = Array.from({ length: s.layers }, () => new Float64Array(s.B * s.H));
      const batch = { inputs: Uint32Array.from(ref.inputs), targets: Uint32Array.from(ref.targets) };
      const loss = net.forward(P, batch, zero, zero);
      expect(Math.abs(loss - ref.loss)).toBeLessThan(1e-12);
      const grads = Object.fromEntries(net.table.map((t) => [t.name, new Float64Array(t.size)]));
      net.backward(P, batch, grads);
      for (const t of net.table) expectClose(grads[t.name], ref.grads[t.name], { name: `d${t.name}`, atol: 1e-11, rtol: 1e-9 });
    });
});

describe('CpuEngine against PyTorch (float64, 2 layers)', () => {
  for (const cell of CELL_NAMES)
    test(`${cell}: loss, every gradient, and the weights after 3 Adam steps`, async () => {
      const ref = JSON.parse(readFileSync(new URL(`./fixtures/torch-${cell}-L2.json`, import.meta.url), 'utf8'));
      const shape = { V: ref.V, H: ref.H, B: ref.B, T: ref.T, cell, layers: ref.layers };
      const adam = { name: 'adam' as const, lr: ref.adam.lr, beta1: ref.adam.beta1, beta2: ref.adam.beta2, eps: ref.adam.eps, clip: 0 };
      const e = new CpuEngine(shape, adam, ref.params);
      const batch = { inputs: Uint32Array.from(ref.inputs), targets: Uint32Array.from(ref.targets) };
      expect(Math.abs((await e.forwardBackward(batch, { reset: true })) - ref.loss)).toBeLessThan(1e-12);
      const { grads } = await e.inspect();
      for (const name of Object.keys(ref.grads)) expectClose(grads[name], ref.grads[name], { name: `d${name}`, atol: 1e-11, rtol: 1e-9 });
      const losses = [];
      for (let k = 0; k < 3; k++) losses.push((await e.step(batch, { reset: true, wantLoss: true }))!);
      expectClose(losses, ref.adam_losses, { name: 'Adam losses', atol: 1e-12, rtol: 1e-10 });
      const after = await e.getParams();
      for (const name of Object.keys(ref.after_adam)) expectClose(after[name], ref.after_adam[name], { name: `${name} after 3 steps`, atol: 1e-11, rtol: 1e-9 });
    });
});

// The engine around the network: the carried state of every layer, greedy generation, dropout.

describe('CpuEngine for every cell and depth', () => {
  for (const cell of CELL_NAMES)
    test(`${cell}, 2 layers: two carried steps = one step of twice the length; greedy text = the argmax of a forward pass`, async () => {
      const shape = { V: 7, H: 5, B: 2, T: 4, cell, layers: 2 };
      const sgd = { name: 'sgd' as const, lr: 0.1, clip: 0 };
      const P = initParams(shape, 3, 0.5);
      const a = new CpuEngine(shape, sgd, P);
      const whole = new CpuEngine({ ...shape, T: 8 }, sgd, P);
      const long = batchOf(shape.V, shape.B, 8, 1);
      const half = (k: number) => ({ inputs: long.inputs.slice(k * 8, k * 8 + 8), targets: long.targets.slice(k * 8, k * 8 + 8) });
      const l0 = await a.forwardBackward(half(0));
      const l1 = await a.forwardBackward(half(1));
      const lw = await whole.forwardBackward(long);
      expect(Math.abs((l0 + l1) / 2 - lw)).toBeLessThan(1e-14);
      const [sa, sw] = [await a.getState(), await whole.getState()];
      expectClose(sa.hprev, sw.hprev, { name: 'hprev (L, B, H)', atol: 1e-15, rtol: 0 });
      expect(sa.hprev.length).toBe(2 * shape.B * shape.H);
      expect(sa.cprev?.length ?? 0).toBe(CELLS[cell].cellState ? 2 * shape.B * shape.H : 0);
      if (CELLS[cell].cellState) expectClose(sa.cprev!, sw.cprev!, { name: 'cprev', atol: 1e-15, rtol: 0 });

      const prime = Uint32Array.from([1, 4]);
      const [gen] = await a.generate({ prime, length: 6, greedy: true });
      const text = Uint32Array.from([...prime, ...gen]);
      const one = new CpuEngine({ ...shape, B: 1, T: text.length - 1 }, sgd, P);
      await one.forwardBackward({ inputs: text.subarray(0, -1), targets: text.subarray(1) }, { reset: true });
      const { ps, hs, dpre } = await one.inspect();
      const V = shape.V;
      for (let t = prime.length - 1; t < text.length - 1; t++) expect(argmax(ps.subarray(t * V, (t + 1) * V)), `position ${t}`).toBe(text[t + 1]);
      expect(hs.length).toBe(2 * text.length * shape.H);
      expect(dpre!.length).toBe(2 * (text.length - 1) * CELLS[cell].gates * shape.H);
    });

  test('dropout: the masks of src/dropout.ts, none in evaluation; AdamW decays the matrices only', async () => {
    const shape = { V: 7, H: 5, B: 2, T: 4, cell: 'gru' as const, layers: 2 };
    const P = initParams(shape, 3, 0.5);
    const e = new CpuEngine(shape, { name: 'sgd', lr: 0.1, clip: 0 }, P);
    const batch = batchOf(shape.V, shape.B, shape.T, 2);
    const net = new CpuNetwork(shape);
    const zero = [new Float64Array(10), new Float64Array(10)];
    const P64 = Object.fromEntries(Object.entries(P).map(([k, v]) => [k, f64(v)]));
    const dropout = { p: 0.3, seed: 5, step: 7 };
    expect(await e.forwardBackward(batch, { reset: true, dropout })).toBe(net.forward(P64, batch, zero, zero, dropout));
    expect(await e.forwardBackward(batch, { reset: true })).toBe(net.forward(P64, batch, zero, zero));
    expect(net.forward(P64, batch, zero, zero, dropout)).not.toBe(net.forward(P64, batch, zero, zero));

    const w = new CpuEngine(shape, { name: 'adamw', lr: 0.1, clip: 0, weightDecay: 0.5 }, P);
    w.applyGradients(Object.fromEntries(Object.entries(P).map(([k, v]) => [k, new Float64Array(v.length)])));
    const after = await w.getParams();
    for (const t of paramTable(shape)) {
      const decay = t.kind === 'matrix' ? 0.1 * 0.5 : 0;
      expect(Array.from(after[t.name]), t.name).toEqual(Array.from(P[t.name], (x) => x - decay * x));
    }
  });
});

describe("the CPU engine's gate values (inspect().gates, the page's view of them)", () => {
  // They must be the gates that made the states: c_t = f⊙c_{t-1} + i⊙g, h_t = o⊙tanh(c_t) for
  // the LSTM, h_t = (1-z)⊙n + z⊙h_{t-1} for the GRU, h_t itself for the tanh RNN; every layer.
  for (const cell of ['lstm', 'gru', 'rnn'] as const)
    test(cell, async () => {
      const [V, H, T, L] = [5, 4, 6, 2];
      const G = CELLS[cell].gates;
      const cpu = new CpuEngine({ V, H, B: 1, T, cell, layers: L }, { name: 'sgd', lr: 1, clip: 0 }, initParams({ V, H, cell, layers: L }, 3, 0.8));
      const inputs = Uint32Array.from([0, 3, 1, 4, 2, 0]);
      await cpu.forwardBackward({ inputs, targets: Uint32Array.from([3, 1, 4, 2, 0, 1]) }, { reset: true });
      const a = await cpu.inspect();
      expect(a.gates).toHaveLength(L * T * G * H);
      const at = (x: ArrayLike<number>, l: number, t: number, k: number) => x[(l * (T + 1) + t) * H + k]; // states: t = 0 before the first
      for (let l = 0; l < L; l++)
        for (let t = 0; t < T; t++)
          for (let u = 0; u < H; u++) {
            const gate = (k: number) => a.gates![(l * T + t) * G * H + k * H + u];
            const h = at(a.hs, l, t + 1, u);
            if (cell === 'lstm') {
              const c = at(a.cs!, l, t + 1, u);
              expect(c).toBeCloseTo(gate(1) * at(a.cs!, l, t, u) + gate(0) * gate(2), 12);
              expect(h).toBeCloseTo(gate(3) * Math.tanh(c), 12);
            } else if (cell === 'gru') expect(h).toBeCloseTo((1 - gate(1)) * gate(2) + gate(1) * at(a.hs, l, t, u), 12);
            else expect(h).toBe(gate(0));
          }
    });
});
