import { describe, expect, test } from 'vitest';
import { GPU_TOLERANCE } from '../src/compare.js';
import { argmax, sampleIndex } from '../src/cpu/engine.js';
import { CpuNetwork } from '../src/cpu/network.js';
import { SAMPLE_STREAM, randUniform } from '../src/rng.js';
import type { Batch, Dropout, OptimizerConfig } from '../src/engine.js';
import { chooseOneStream, smallStep } from '../src/gpu/schedule.js';
import { GpuEngine, type GpuEngineOptions } from '../src/gpu/engine.js';
import { CELL_NAMES, CELLS, type CellName, type ModelDims, type Params, type StepShape, paramTable, toFloat64, zeroParams } from '../src/model.js';
import { expectClose, randomArray, useGpu } from './helpers.js';

// The layer kernels of the GPU engine (src/gpu/cells.ts, shaders/cells.wgsl with each cell's
// file) against the float64 network of src/cpu/network.ts, from the same weights and carried
// states: every layer's h (and c), the probabilities, the loss, every gradient, the carried
// state after the step; with and without dropout (the same masks on both); large
// pre-activations; a few Adam steps.

const gpu = useGpu();

type Shape = StepShape & ModelDims;

function randomBatch(s: StepShape, seed: number): Batch {
  let x = seed;
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) % s.V;
  const n = s.T * s.B;
  return { inputs: Uint32Array.from({ length: n }, next), targets: Uint32Array.from({ length: n }, next) };
}

/** Uniform in [-scale, scale), biases too; `large`: W_xh and b_h of layer 0 in [-60, 60) instead,
 * so that layer 0's pre-activations pass |90| (an exact gather and one addition in float32,
 * while the products stay at `scale`: large products would measure float32's sensitivity, not
 * the kernels). */
function randomParams(m: ModelDims, seed: number, scale: number, large = false): Params<Float32Array> {
  const p: Params<Float32Array> = {};
  paramTable(m).forEach((t, i) => {
    const big = large && t.layer === 0 && (t.role === 'W_xh' || t.role === 'b_h');
    p[t.name] = randomArray(t.size, seed * 31 + i + 1, big ? 60 : scale);
  });
  return p;
}

/** The CPU network's per-layer tensors of `T1` rows each, concatenated layer-major. */
const concat = (parts: Float64Array[]) => {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

const SGD: OptimizerConfig = { name: 'sgd', lr: 0.1, clip: 0 };

/** One forward + backward pass on both, compared tensor by tensor; returns the CPU's largest
 * |pre-activation| of layer 0 at t = 0. */
async function compareStep(s: Shape, scale: number, dropout?: Dropout, options: GpuEngineOptions = {}, large = false): Promise<number> {
  const { H, B, T, layers: L, cell } = s;
  const P = randomParams(s, 7, scale, large);
  const n = L * B * H;
  const h0 = randomArray(n, 11, 0.8);
  const c0 = CELLS[cell].cellState ? randomArray(n, 12, 1.5) : undefined;
  // an engine is told its model's dropout (it then builds the dropout kernels)
  const e = await GpuEngine.create(gpu(), s, SGD, P, undefined, dropout ? { dropout: dropout.p, ...options } : options);
  try {
    e.setState({ params: P, m: zeroParams(s, (k) => new Float32Array(k)), v: zeroParams(s, (k) => new Float32Array(k)), hprev: h0, cprev: c0, t: 0 });
    const batch = randomBatch(s, 5);
    const loss = await e.forwardBackward(batch, { dropout });
    const got = await e.inspect();
    const state = await e.getState();

    const net = new CpuNetwork({ ...s });
    const P64 = toFloat64(P);
    const slices = (a: Float32Array | undefined) => Array.from({ length: L }, (_, l) => Float64Array.from(a ? a.subarray(l * B * H, (l + 1) * B * H) : new Float32Array(B * H)));
    const wantLoss = net.forward(P64, batch, slices(h0), slices(c0), dropout);
    const grads = zeroParams(s, (k) => new Float64Array(k));
    net.backward(P64, batch, grads);

    const tag = `${cell} L=${L}${dropout ? ` p=${dropout.p}` : ''}`;
    expectClose(got.hs, concat(net.hs), { name: `${tag} hs`, ...GPU_TOLERANCE.hs });
    if (CELLS[cell].cellState) expectClose(got.cs!, concat(net.cs), { name: `${tag} cs`, ...GPU_TOLERANCE.hs });
    expectClose(got.ps, net.ps, { name: `${tag} ps`, ...GPU_TOLERANCE.ps });
    expectClose([loss], [wantLoss], { name: `${tag} loss`, ...GPU_TOLERANCE.loss });
    for (const t of paramTable(s)) expectClose(got.grads[t.name], grads[t.name], { name: `${tag} d${t.name}`, ...GPU_TOLERANCE.grads });
    const last = (a: Float64Array[]) => concat(a.map((x) => x.subarray(T * B * H)));
    expectClose(state.hprev, last(net.hs), { name: `${tag} hprev`, ...GPU_TOLERANCE.hs });
    if (c0) expectClose(state.cprev!, last(net.cs), { name: `${tag} cprev`, ...GPU_TOLERANCE.hs });
    for (const x of [...got.hs, ...got.ps, ...got.dpre!]) expect(Number.isFinite(x)).toBe(true);

    // layer 0 at t = 0: |b_h + W_xh[:, x] + W_hh h0| per row
    const table = paramTable(s);
    const nm = (role: string) => table.find((p) => p.role === role && p.layer === 0)!.name;
    let maxPre = 0;
    for (let b = 0; b < B; b++)
      for (let r = 0; r < CELLS[cell].gates * H; r++) {
        let a = P[nm('b_h')][r] + P[nm('W_xh')][r * s.V + batch.inputs[b]];
        for (let j = 0; j < H; j++) a += P[nm('W_hh')][r * H + j] * h0[b * H + j];
        maxPre = Math.max(maxPre, Math.abs(a));
      }
    return maxPre;
  } finally {
    e.destroy();
  }
}

describe('layer kernels: one step against the float64 network', () => {
  for (const cell of CELL_NAMES)
    for (const layers of [1, 2, 3])
      for (const p of [0, 0.3])
        // without dropout: the gradients as one product per tensor, and all in one dispatch
        // (shaders/grads.wgsl; not for the GRU above one layer)
        for (const smallStep of p > 0 ? [undefined] : cell === 'gru' && layers > 1 ? [false] : [false, true]) {
          const s: Shape = { V: 11, H: 17, B: 3, T: 5, cell, layers };
          const how = smallStep === undefined ? '' : smallStep ? ', every gradient in one dispatch' : ', a product per tensor';
          test(`${cell}, ${layers} layer(s), dropout ${p}${how} (V=11 H=17 B=3 T=5)`, async () => {
            const dropout = p > 0 ? { p, seed: 1234, step: 3 } : undefined;
            // the model's dropout is all the engine is told: it builds the dropout kernels itself
            await compareStep(s, 0.3, dropout, p > 0 ? { dropout: p } : { smallStep });
          });
        }

  test('every gradient in one dispatch: chosen below SMALL_STEP multiply-adds, refused where it cannot run', () => {
    const s: Shape = { V: 11, H: 17, B: 3, T: 5, cell: 'lstm', layers: 1 };
    expect([smallStep(s), smallStep({ ...s, H: 64 }), smallStep(s, { dropout: 0.1 }), smallStep({ ...s, cell: 'gru', layers: 2 })]).toEqual([true, false, false, false]);
    expect(() => smallStep({ ...s, cell: 'gru', layers: 2 }, { smallStep: true })).toThrow(/without dropout and, for the gru, one layer/);
    expect(() => smallStep(s, { smallStep: true, dropout: 0.2 })).toThrow(/without dropout/);
  });

  test('the engine builds the dropout kernels only when told the model has dropout', async () => {
    const s: Shape = { V: 11, H: 17, B: 3, T: 5, cell: 'rnn', layers: 1 };
    const withDropout = await GpuEngine.create(gpu(), s, SGD, undefined, undefined, { dropout: 0.2 });
    const without = await GpuEngine.create(gpu(), s, SGD, undefined, undefined, {});
    try {
      const batch = randomBatch(s, 1);
      await expect(withDropout.forwardBackward(batch, { dropout: { p: 0.2, seed: 1, step: 0 } })).resolves.toBeGreaterThan(0);
      await expect(without.forwardBackward(batch, { dropout: { p: 0.2, seed: 1, step: 0 } })).rejects.toThrow(/created without dropout: create it with \{ dropout: 0.2 \}/);
      expect(withDropout.memory().bytes).toBeGreaterThan(without.memory().bytes); // the dropped outputs hd
    } finally {
      withDropout.destroy();
      without.destroy();
    }
  });

  test.each([['lstm', 2], ['gru', 2], ['rnn', 2]] as [CellName, number][])('%s, %i layers, one stream, H=37 V=9 T=7', async (cell, layers) => {
    await compareStep({ V: 9, H: 37, B: 1, T: 7, cell, layers }, 0.2, { p: 0.25, seed: 9, step: 0 });
  });

  test.each(CELL_NAMES.map((c) => [c]))('%s: pre-activations beyond 90 stay finite and match', async (cell) => {
    const maxPre = await compareStep({ V: 13, H: 17, B: 2, T: 4, cell, layers: 2 }, 0.3, { p: 0.3, seed: 5, step: 1 }, {}, true);
    expect(maxPre).toBeGreaterThan(90);
  });
});

describe('layer kernels: every sweep (persistent of 1, 4 or 8 streams, reference) against the float64 network', () => {
  // B = 1, 3, 9: one group of four streams with three (or one) repeated lanes, two full groups
  // and a ninth stream alone; H = 19 and V = 10 are multiples of neither 4 nor 8.
  for (const cellSweeps of ['streams4', 'streams8', 'reference'] as const)
    for (const cell of CELL_NAMES)
      test.each([1, 3, 9])(`${cellSweeps}: ${cell}, 2 layers, B=%i (V=10 H=19 T=6, dropout 0.2)`, async (B) => {
        await compareStep({ V: 10, H: 19, B, T: 6, cell, layers: 2 }, 0.3, { p: 0.2, seed: 21, step: 2 }, { cellSweeps });
      });
  // one stream, units in the vec4 lanes: H a multiple of 4 but not of 8 (a half-used quad pair)
  for (const cell of CELL_NAMES)
    test.each([20, 36])(`streams1: ${cell}, 2 layers, B=1, H=%i (V=10 T=7, dropout 0.2)`, async (H) => {
      await compareStep({ V: 10, H, B: 1, T: 7, cell, layers: 2 }, 0.3, { p: 0.2, seed: 21, step: 2 }, { cellSweeps: 'streams1' });
    });
  // H = 130: units past the first 64 per workgroup, in every sweep's unit loop
  test.each([['streams8', 9], ['streams4', 9], ['streams1', 1]] as const)('%s: lstm, 1 layer, H=132/130, B=%i', async (cellSweeps, B) => {
    await compareStep({ V: 10, H: cellSweeps === 'streams1' ? 132 : 130, B, T: 3, cell: 'lstm', layers: 1 }, 0.2, undefined, { cellSweeps });
  });

  test('the engine says which sweeps it runs, and picks them by shape', async () => {
    const cases: [Shape, 'auto' | 'reference' | 'streams8', string][] = [
      [{ V: 10, H: 19, B: 3, T: 4, cell: 'lstm', layers: 1 }, 'auto', '4 streams per workgroup'],
      [{ V: 10, H: 19, B: 9, T: 4, cell: 'gru', layers: 1 }, 'auto', '8 streams per workgroup'],
      [{ V: 10, H: 20, B: 1, T: 4, cell: 'lstm', layers: 2 }, 'auto', 'one stream, units in the vec4 lanes'],
      [{ V: 10, H: 19, B: 1, T: 4, cell: 'lstm', layers: 1 }, 'auto', 'one workgroup per stream (B=1 and H=19 not a multiple of 4'],
      [{ V: 10, H: 19, B: 3, T: 4, cell: 'lstm', layers: 1 }, 'reference', 'one workgroup per stream (asked)'],
    ];
    for (const [s, cellSweeps, words] of cases) {
      const e = await GpuEngine.create(gpu(), s, SGD, undefined, undefined, { cellSweeps });
      expect(e.schedule.reason).toContain(words);
      e.destroy();
    }
    await expect(GpuEngine.create(gpu(), { V: 10, H: 19, B: 3, T: 4, cell: 'lstm', layers: 1 }, SGD, undefined, undefined, { cellSweeps: 'streams1' })).rejects.toThrow(/B = 1 with H a multiple of 4/);
  });
});

describe('layer kernels: training', () => {
  /** Adam of shaders/optimizer.wgsl in float64 (defaults: beta1 0.9, beta2 0.999, eps 1e-8). */
  function adam(P: Params<Float64Array>, g: Params<Float64Array>, m: Params<Float64Array>, v: Params<Float64Array>, t: number, lr: number) {
    const bc1 = 1 - 0.9 ** t;
    const bc2 = 1 - 0.999 ** t;
    for (const k of Object.keys(P))
      for (let i = 0; i < P[k].length; i++) {
        m[k][i] = 0.9 * m[k][i] + 0.1 * g[k][i];
        v[k][i] = 0.999 * v[k][i] + 0.001 * g[k][i] * g[k][i];
        P[k][i] -= (lr * (m[k][i] / bc1)) / (Math.sqrt(v[k][i] / bc2) + 1e-8);
      }
  }

  test.each([['lstm', 2], ['gru', 3], ['rnn', 2]] as [CellName, number][])('%s, %i layers: Adam losses step by step, dropout 0.2', async (cell, layers) => {
    const s: Shape = { V: 9, H: 13, B: 2, T: 6, cell, layers };
    const lr = 0.01;
    const P = randomParams(s, 3, 0.2);
    const e = await GpuEngine.create(gpu(), s, { name: 'adam', lr, clip: 0 }, P, undefined, { dropout: 0.2 });
    try {
      const net = new CpuNetwork({ ...s });
      const P64 = toFloat64(P);
      const zeros = () => zeroParams(s, (k) => new Float64Array(k));
      const [g, m, v] = [zeros(), zeros(), zeros()];
      let h0 = Array.from({ length: layers }, () => new Float64Array(s.B * s.H));
      let c0 = Array.from({ length: layers }, () => new Float64Array(s.B * s.H));
      for (let step = 0; step < 4; step++) {
        const batch = randomBatch(s, 100 + step);
        const dropout = { p: 0.2, seed: 77, step };
        const got = await e.step(batch, { wantLoss: true, dropout });
        const want = net.forward(P64, batch, h0, c0, dropout);
        net.backward(P64, batch, g);
        adam(P64, g, m, v, step + 1, lr);
        h0 = net.hs.map((h) => h.slice(s.T * s.B * s.H));
        c0 = CELLS[cell].cellState ? net.cs.map((c) => c.slice(s.T * s.B * s.H)) : c0;
        expectClose([got!], [want], { name: `${cell} loss at step ${step}`, ...GPU_TOLERANCE.loss });
      }
      const after = await e.getParams();
      for (const t of paramTable(s)) expectClose(after[t.name], P64[t.name], { name: `${t.name} after 4 steps`, ...GPU_TOLERANCE.params });
    } finally {
      e.destroy();
    }
  });
});

describe('layer kernels: generation and evaluation', () => {
  /** Generation as the engine defines it, on the float64 network one character at a time. */
  function generateCpu(s: ModelDims, P: Params, prime: Uint32Array, length: number, streams: number, greedy: boolean, seed: number): Uint32Array[] {
    const net = new CpuNetwork({ ...s, B: 1, T: 1 });
    const P64 = toFloat64(P);
    const out: Uint32Array[] = [];
    for (let st = 0; st < streams; st++) {
      let h = Array.from({ length: s.layers }, () => new Float64Array(s.H));
      let c = Array.from({ length: s.layers }, () => new Float64Array(s.H));
      const gen = new Uint32Array(length);
      let x = prime[0];
      for (let n = 0; n < prime.length - 1 + length; n++) {
        net.forward(P64, { inputs: Uint32Array.of(x), targets: Uint32Array.of(0) }, h, c);
        h = net.hs.map((a) => a.slice(s.H));
        if (CELLS[s.cell].cellState) c = net.cs.map((a) => a.slice(s.H));
        if (n < prime.length - 1) {
          x = prime[n + 1];
          continue;
        }
        const y = Array.from(net.ps, Math.log);
        const k = n - (prime.length - 1);
        x = greedy ? argmax(y) : sampleIndex(y, 0.8, randUniform(seed, SAMPLE_STREAM + st, k), 0, 1);
        gen[k] = x;
      }
      out.push(gen);
    }
    return out;
  }

  // Streams in workgroups of eight (generate_sweepN, two sets) up to H = 256; H = 300 (HMAX 512):
  // eight would need 32 KiB + 32 bytes, four run (one set); H = 600 (HMAX 1024): four would need
  // 32 KiB + 32 bytes and, for the LSTM and GRU, 512 invocations: generate_sweep runs instead
  test.each([['lstm', 2, 19], ['gru', 3, 19], ['rnn', 2, 19], ['rnn', 1, 19], ['lstm', 1, 70], ['gru', 2, 20], ['lstm', 2, 36], ['rnn', 2, 20], ['gru', 1, 300], ['lstm', 1, 600], ['rnn', 2, 600]] as [CellName, number, number][])('%s, %i layer(s), H=%i: greedy and sampled characters as on the CPU', async (cell, layers, H) => {
    const s: Shape = { V: 13, H, B: 2, T: 4, cell, layers };
    // at H = 600 weights of W_hh's spectral radius about 0.9: a chaotic recurrence would turn
    // float32 rounding into other characters within 40
    const P = randomParams(s, 21, H > 100 ? 0.06 : 0.6);
    const prime = Uint32Array.of(3, 1, 4);
    // one stream: H % 4 == 0 by steps (one dispatch per layer and character) and forced
    // persistent (units in the vec4 lanes), else one workgroup per stream; 6 and 11 streams:
    // one workgroup of eight with two repeated lanes, two with five (four and four: three)
    for (const oneStream of H % 4 === 0 ? (['steps', 'persistent'] as const) : [undefined]) {
      const e = await GpuEngine.create(gpu(), s, SGD, P, undefined, { oneStream });
      try {
        for (const [greedy, streams] of [[true, 1], [false, 1], [true, 6], [false, 11]] as const) {
          if (oneStream === 'persistent' && streams > 1) continue; // (the same kernel as 'steps' runs)
          const got = await e.generate({ prime, length: 40, streams, greedy, temperature: 0.8, seed: 42 });
          const want = generateCpu(s, P, prime, 40, streams, greedy, 42);
          for (let st = 0; st < streams; st++) expect(Array.from(got[st]), `${oneStream ?? ''} ${greedy ? 'greedy' : 'sampled'} stream ${st}`).toEqual(Array.from(want[st]));
        }
      } finally {
        e.destroy();
      }
    }
  });

  test('one stream by steps over more dispatches than one submit holds (2 layers x 1500 characters: 4,500 dispatches)', async () => {
    const s: Shape = { V: 13, H: 20, B: 2, T: 4, cell: 'lstm', layers: 2 };
    const P = randomParams(s, 23, 0.6);
    const e = await GpuEngine.create(gpu(), s, SGD, P, undefined, { oneStream: 'steps' });
    try {
      const prime = Uint32Array.of(5, 2);
      const got = await e.generate({ prime, length: 1500, streams: 1, temperature: 0.8, seed: 7 });
      expect(Array.from(got[0])).toEqual(Array.from(generateCpu(s, P, prime, 1500, 1, false, 7)[0]));
    } finally {
      e.destroy();
    }
    await expect(GpuEngine.create(gpu(), { ...s, H: 19 }, SGD, undefined, undefined, { oneStream: 'steps' })).rejects.toThrow(/H a multiple of 4/);
    // on this adapter (lavapipe) by size where H % 4 == 0: in one workgroup up to
    // ONE_STREAM_STEPS_ABOVE multiply-adds per character, by steps above
    expect(gpu().adapterName).toMatch(/llvmpipe/);
    const big: Shape = { ...s, H: 256, layers: 1 }; // 4 * 256 * 256 > 2^17
    expect([chooseOneStream(gpu(), s, {}), chooseOneStream(gpu(), big, {}), chooseOneStream(gpu(), { ...s, H: 19 }, {}), chooseOneStream(gpu(), big, { oneStream: 'persistent' })])
      .toEqual(['persistent', 'steps', undefined, 'persistent']);
  });

  test.each([['lstm', 2], ['gru', 2]] as [CellName, number][])('%s, %i layers: evaluate() carries every layer\'s state across chunks', async (cell, layers) => {
    const s: Shape = { V: 7, H: 11, B: 2, T: 4, cell, layers };
    const P = randomParams(s, 8, 0.5);
    const e = await GpuEngine.create(gpu(), s, SGD, P);
    const ev = await e.evaluator(5);
    try {
      const data = Uint32Array.from({ length: 23 }, (_, i) => (i * 5 + (i >> 2)) % s.V);
      const got = await ev.evaluate(data);
      const net = new CpuNetwork({ ...s, B: 1, T: data.length - 1 });
      const zero = () => Array.from({ length: layers }, () => new Float64Array(s.H));
      const want = net.forward(toFloat64(P), { inputs: data.subarray(0, -1), targets: data.subarray(1) }, zero(), zero());
      expect(got.count).toBe(data.length - 1);
      expectClose([got.loss], [want], { name: 'evaluation loss', ...GPU_TOLERANCE.loss });
    } finally {
      ev.destroy();
      e.destroy();
    }
  });
});

test('layer kernels allocate everything up front: steps with dropout, losses, generation and evaluation create no buffer or bind group', async () => {
  const s: Shape = { V: 15, H: 20, B: 3, T: 6, cell: 'lstm', layers: 2 };
  const e = await GpuEngine.create(gpu(), s, { name: 'adamw', lr: 0.01, clip: 1 }, randomParams(s, 4, 0.3), undefined, { dropout: 0.2 });
  const evaluator = await e.evaluator(8);
  try {
    const batch = randomBatch(s, 9);
    const text = Uint32Array.from({ length: 50 }, (_, i) => (i * 7) % s.V);
    const warmUp = async () => {
      for (let k = 0; k < 10; k++) await e.step(batch, { wantLoss: k % 3 === 0, dropout: { p: 0.2, seed: 1, step: k } });
      await e.generate({ prime: Uint32Array.of(1), length: 20, streams: 4, temperature: 1 });
      await e.generate({ prime: Uint32Array.of(1, 2), length: 20, streams: 1, temperature: 1 }); // one stream
      await evaluator.evaluate(text);
    };
    await warmUp();
    const before = e.memory().bytes;
    const d = gpu().device;
    const counts = { buffers: 0, bindGroups: 0 };
    const { createBuffer, createBindGroup } = d;
    d.createBuffer = (desc) => (counts.buffers++, createBuffer.call(d, desc));
    d.createBindGroup = (desc) => (counts.bindGroups++, createBindGroup.call(d, desc));
    try {
      await warmUp();
    } finally {
      Object.assign(d, { createBuffer, createBindGroup });
    }
    expect(counts).toEqual({ buffers: 0, bindGroups: 0 });
    expect(e.memory().bytes).toBe(before);
    // the report counts the layer kernels' activations: c, saved gates, dropped outputs, dpre,
    // dah per layer, (T, B, G*H) each at least, beside hs and the logits
    const { tensors } = e.memory();
    const G = 4;
    expect(tensors.activations).toBeGreaterThan(4 * s.T * s.B * s.H * (2 + 2 * (1 + 4 + 1 + G)));
    expect(Object.values(tensors).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(before);
  } finally {
    evaluator.destroy();
    e.destroy();
  }
});
