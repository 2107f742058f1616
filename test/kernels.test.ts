import { describe, expect, test } from 'vitest';
import { CpuEngine } from '../src/cpu/engine.js';
import type { OptimizerConfig } from '../src/engine.js';
import { GpuEngine, type GpuEngineOptions } from '../src/gpu/engine.js';
import { Mm, matmul } from '../src/gpu/families.js';
import { STEP_SLOT, bindGroup, dispatch, launchGroup, makeKernel, pack } from '../src/gpu/kernel.js';
import type { GpuContext } from '../src/gpu/context.js';
import { initParams } from '../src/init.js';
import { PARAM_NAMES } from '../src/model.js';
import { expectClose, randomArray, useGpu } from './helpers.js';

// The fast kernels against the simple ones, on the GPU:
//   - shaders/matmul.wgsl: the register-tiled `matmul` and `matmul8` against a float64 product
//     on the CPU, for every stride pattern the engine uses and for sizes that are
//     not multiples of the 4x4 tile; col_sum against the CPU;
//   - whole training steps of every schedule against the reference sweeps (test/engine.test.ts
//     compares every schedule with the CPU engine).

const gpu = useGpu();

interface Product {
  M: number; N: number; K: number;
  A_M: number; A_K: number; A_OFF: number;
  B_K: number; B_N: number; B_OFF: number;
  C_M: number; C_N: number; ALPHA: number;
}

async function runMatmul(entry: 'matmul' | 'matmul8' | 'col_sum', m: Product, A: Float32Array, Bm: Float32Array): Promise<Float32Array> {
  const ctx = gpu();
  const d = ctx.device;
  const k = await makeKernel(ctx, matmul, entry, { WG: 64 });
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const a = d.createBuffer({ size: 4 * A.length, usage: STORAGE });
  const b = d.createBuffer({ size: 4 * Bm.length, usage: STORAGE });
  const cBytes = 4 * m.M * m.C_M; // C is written row-major with row stride C_M >= N
  const c = d.createBuffer({ size: cBytes, usage: STORAGE });
  const u = d.createBuffer({ size: STEP_SLOT, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  d.queue.writeBuffer(a, 0, A);
  d.queue.writeBuffer(b, 0, Bm);
  d.queue.writeBuffer(u, 0, pack(Mm, m));
  const launch = launchGroup(ctx, k, u);
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  const tile = entry === 'matmul' ? 4 : entry === 'matmul8' ? 8 : 1;
  const tiles = entry === 'col_sum' ? m.N : Math.ceil(m.M / tile) * Math.ceil(m.N / tile);
  dispatch(pass, k, bindGroup(ctx, k, { A: a, Bm: b, C: c }), Math.ceil(tiles / 64), launch);
  pass.end();
  const staging = d.createBuffer({ size: cBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(c, 0, staging, 0, cBytes);
  d.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  for (const x of [a, b, c, u, staging]) x.destroy();
  return out;
}

function cpuMatmul(m: Product, A: Float32Array, Bm: Float32Array): Float64Array {
  const C = new Float64Array(m.M * m.C_M);
  for (let i = 0; i < m.M; i++)
    for (let j = 0; j < m.N; j++) {
      let s = 0;
      for (let k = 0; k < m.K; k++) s += A[m.A_OFF + i * m.A_M + k * m.A_K] * Bm[m.B_OFF + k * m.B_K + j * m.B_N];
      C[i * m.C_M + j * m.C_N] = m.ALPHA * s;
    }
  return C;
}

// The step's products (src/gpu/cells.ts) at awkward sizes: positions N,
// vocabulary V and hidden size H that are not multiples of 4, an offset row block, a scale.
const P = 23, V = 13, H = 10, B = 3; // and 8x8 blocks: none of them a multiple of 8
const PRODUCTS: [string, Product][] = [
  ['logits = hs[1..] W_hy^T', { M: P, N: V, K: H, A_M: H, A_K: 1, A_OFF: B * H, B_K: 1, B_N: H, B_OFF: 0, C_M: V, C_N: 1, ALPHA: 1 }],
  ['dhs = dy W_hy', { M: P, N: H, K: V, A_M: V, A_K: 1, A_OFF: 0, B_K: H, B_N: 1, B_OFF: 0, C_M: H, C_N: 1, ALPHA: 1 }],
  ['dW_hy = dy^T hs[1..] / B', { M: V, N: H, K: P, A_M: 1, A_K: V, A_OFF: 0, B_K: H, B_N: 1, B_OFF: B * H, C_M: H, C_N: 1, ALPHA: 1 / B }],
  ['dW_hh = dtanh^T hs[..T] / B', { M: H, N: H, K: P, A_M: 1, A_K: H, A_OFF: 0, B_K: H, B_N: 1, B_OFF: 0, C_M: H, C_N: 1, ALPHA: 1 / B }],
  ['1x1x1', { M: 1, N: 1, K: 1, A_M: 1, A_K: 1, A_OFF: 0, B_K: 1, B_N: 1, B_OFF: 0, C_M: 1, C_N: 1, ALPHA: 1 }],
];

describe('matmul.wgsl: tiled (4x4 and 8x8 blocks) vs CPU', () => {
  for (const [name, m] of PRODUCTS) {
    test(`${name} (M=${m.M} N=${m.N} K=${m.K})`, async () => {
      // operands large enough for every index the strides reach
      const aLen = m.A_OFF + (m.M - 1) * m.A_M + (m.K - 1) * m.A_K + 1;
      const bLen = m.B_OFF + (m.K - 1) * m.B_K + (m.N - 1) * m.B_N + 1;
      const A = randomArray(aLen, 3);
      const Bm = randomArray(bLen, 4);
      const want = cpuMatmul(m, A, Bm);
      const tiled = await runMatmul('matmul', m, A, Bm);
      const tiled8 = await runMatmul('matmul8', m, A, Bm);
      const tol = { atol: 1e-6, rtol: 1e-5 };
      expectClose(tiled, want, { name: `${name} tiled`, ...tol });
      expectClose(tiled8, want, { name: `${name} tiled 8x8`, ...tol });
    });
  }
});

describe('matmul.wgsl col_sum: the sums over positions (bias gradients) vs CPU', () => {
  // as the layer kernels use it: db_h.l of a layer block of dpre, db_y of dy, the GRU's db_hn of
  // one gate block of dah (B_N = 1, rows of B_K, an offset); N and K not multiples of anything
  const cases: [string, Omit<Product, 'M' | 'A_M' | 'A_K' | 'A_OFF' | 'C_M'>][] = [
    ['db_h.1 = 1^T dpre[1] / B', { N: 3 * H, K: P, B_K: 3 * H, B_N: 1, B_OFF: P * 3 * H, C_N: 1, ALPHA: 1 / B }],
    ['db_hn = 1^T dah[:, 2H..3H] / B', { N: H, K: P, B_K: 3 * H, B_N: 1, B_OFF: 2 * H, C_N: 1, ALPHA: 1 / B }],
    ['db_y = 1^T dy / B', { N: V, K: P, B_K: V, B_N: 1, B_OFF: 0, C_N: 1, ALPHA: 1 / B }],
    ['1x1', { N: 1, K: 1, B_K: 1, B_N: 1, B_OFF: 0, C_N: 1, ALPHA: 1 }],
  ];
  for (const [name, c] of cases)
    test(`${name} (N=${c.N} K=${c.K})`, async () => {
      const m: Product = { ...c, M: 1, A_M: 0, A_K: 0, A_OFF: 0, C_M: c.N };
      const Bm = randomArray(c.B_OFF + (c.K - 1) * c.B_K + (c.N - 1) * c.B_N + 1, 5);
      const ones = new Float32Array(c.K).fill(1);
      expectClose(await runMatmul('col_sum', m, ones, Bm), cpuMatmul(m, ones, Bm), { name, atol: 1e-6, rtol: 1e-5 });
    });
});

describe('every schedule vs the reference sweeps, 3 training steps on the GPU', () => {
  const opt: OptimizerConfig = { name: 'adam', lr: 0.01, clip: 5 };
  for (const shape of [
    { V: 29, H: 37, B: 6, T: 7 },
    { V: 8, H: 64, B: 4, T: 12 },
    { V: 19, H: 36, B: 1, T: 10 },
  ]) {
    test(`V=${shape.V} H=${shape.H} B=${shape.B} T=${shape.T}`, async () => {
      const p = initParams(shape, 11);
      const n = shape.B * shape.T;
      const inputs = Uint32Array.from({ length: n }, (_, i) => (i * 7 + 3) % shape.V);
      const targets = Uint32Array.from({ length: n }, (_, i) => (i * 5 + 1) % shape.V);
      const run = async (o: GpuEngineOptions) => {
        const e = await GpuEngine.create(gpu(), shape, opt, p, undefined, o);
        const losses: number[] = [];
        for (let s = 0; s < 3; s++) losses.push((await e.step({ inputs, targets }, { wantLoss: true }))!);
        const state = await e.getState();
        const grid = await e.gridReport();
        e.destroy();
        return { losses, state, grid };
      };
      const ref = await run({ cellSweeps: 'reference', smallStep: false });
      // every persistent sweep that accepts the shape, forced (one stream: B = 1, H % 4 == 0),
      // the per-timestep steps, the grid sweeps (over the workgroups that run at once, and over
      // 16, more than lavapipe runs at once: their waits run out and the repair finishes each
      // step), and every gradient in one dispatch
      const sweeps = (['streams1', 'streams4', 'streams8', 'steps', 'grid'] as const).filter((v) => v !== 'streams1' || (shape.B === 1 && shape.H % 4 === 0));
      const others: [string, Awaited<ReturnType<typeof run>>][] = [];
      for (const cellSweeps of sweeps) others.push([cellSweeps, await run({ cellSweeps, smallStep: false })]);
      const over = await run({ cellSweeps: 'grid', gridWorkgroups: 16, smallStep: false });
      // every sweep of the 3 steps ran out and was repaired
      expect(over.grid!.workgroups).toBe(16);
      expect(over.grid!.repairs).toEqual([{ layer: 0, forward: 3, backward: 3 }]);
      others.push(['grid of 16 workgroups', over]);
      others.push(['one gradient dispatch', await run({ cellSweeps: 'reference', smallStep: true })]);
      const tol = { atol: 2e-6, rtol: 1e-5 };
      for (const [name, got] of others) {
        expectClose(got.losses, ref.losses, { name: `${name} losses`, ...tol });
        expectClose(got.state.hprev, ref.state.hprev, { name: `${name} hprev`, ...tol });
        for (const k of PARAM_NAMES) expectClose(got.state.params[k], ref.state.params[k], { name: `${name} ${k}`, ...tol });
      }
      // the sweeps and the steps sum the same terms in the same order
      for (const [name, got] of others.slice(0, sweeps.length + 1)) {
        expect(Array.from(got.state.hprev), name).toEqual(Array.from(ref.state.hprev));
        expect(got.losses, name).toEqual(ref.losses);
      }
    });
  }
});

/** Counts every buffer and bind group created on the context's device from now until the
 * returned stop() (the device's own methods, wrapped: the engine's helpers cannot hide one). */
function countAllocations(ctx: GpuContext): { counts: { buffers: number; bindGroups: number }; stop: () => void } {
  const d = ctx.device;
  const counts = { buffers: 0, bindGroups: 0 };
  const { createBuffer, createBindGroup } = d;
  d.createBuffer = (desc) => (counts.buffers++, createBuffer.call(d, desc));
  d.createBindGroup = (desc) => (counts.bindGroups++, createBindGroup.call(d, desc));
  return { counts, stop: () => Object.assign(d, { createBuffer, createBindGroup }) };
}

describe('GPU memory', () => {
  test('everything is allocated up front: steps, losses, generation and evaluation create no buffer or bind group', async () => {
    const shape = { V: 21, H: 40, B: 5, T: 9 };
    const e = await GpuEngine.create(gpu(), shape, { name: 'adam', lr: 0.01, clip: 0 }, initParams(shape, 3));
    const n = shape.B * shape.T;
    const batch = { inputs: Uint32Array.from({ length: n }, (_, i) => i % shape.V), targets: Uint32Array.from({ length: n }, (_, i) => (i + 1) % shape.V) };
    const evaluator = await e.evaluator(16);
    const text = Uint32Array.from({ length: 100 }, (_, i) => (i * 3) % shape.V);
    const warmUp = async () => {
      for (let s = 0; s < 20; s++) await e.step(batch, { wantLoss: s % 3 === 0 });
      await e.generate({ prime: Uint32Array.of(1), length: 30, streams: 6, temperature: 1 });
      await e.generate({ prime: Uint32Array.of(1, 2), length: 30, streams: 1, temperature: 1 });
      await e.generate({ prime: Uint32Array.of(3), length: 10, streams: 3, greedy: true });
      await evaluator.evaluate(text);
    };
    await warmUp();
    const before = e.memory();
    const count = countAllocations(gpu());
    try {
      await warmUp();
    } finally {
      count.stop();
    }
    expect(count.counts).toEqual({ buffers: 0, bindGroups: 0 });
    expect(e.memory().bytes).toBe(before.bytes);
    // what is allocated is the model's state plus small uniforms and staging buffers
    const t = before.tensors;
    const model = t.params + t.grads + t.optimizer + t.activations;
    expect(t.optimizer).toBe(2 * t.params); // Adam: m and v
    expect(before.bytes).toBeGreaterThan(model);
    expect(before.bytes).toBeLessThan(2 * model + 64 * 1024);
    evaluator.destroy();
    e.destroy();
  });
});

describe('large hidden sizes: the kernels chosen by the workgroup memory they need', () => {
  // H = 600: persistent sweeps of four streams fit (32 KiB), eight-stream ones and eight-stream
  // generation do not; H = 1030: no persistent sweep fits (reference sweeps), generation one
  // workgroup per stream.
  for (const H of [600, 1030]) {
    test(`H=${H}: one step and samples of 1 and 5 streams agree with the CPU`, async () => {
      const shape = { V: 7, H, B: 5, T: 3 };
      const opt: OptimizerConfig = { name: 'sgd', lr: 0.1, clip: 0 };
      const p = initParams(shape, 13);
      const cpu = new CpuEngine(shape, opt, p);
      const g = await GpuEngine.create(gpu(), shape, opt, p);
      expect(g.schedule.sweeps).toBe(H === 600 ? 'streams4' : 'reference');
      const n = shape.B * shape.T;
      const batch = { inputs: Uint32Array.from({ length: n }, (_, i) => (i * 3) % 7), targets: Uint32Array.from({ length: n }, (_, i) => (i * 5 + 2) % 7) };
      expectClose([await g.forwardBackward(batch, { reset: true })], [await cpu.forwardBackward(batch, { reset: true })], { name: 'loss', atol: 1e-5, rtol: 1e-4 });
      const a = await cpu.inspect();
      const b = await g.inspect();
      expectClose(b.hs, a.hs, { name: 'hs', atol: 1e-5, rtol: 1e-4 });
      for (const k of PARAM_NAMES) expectClose(b.grads[k], a.grads[k], { name: 'd' + k, atol: 2e-5, rtol: 1e-3 });
      const prime = Uint32Array.of(2, 5);
      for (const o of [{ streams: 1, greedy: true }, { streams: 1, temperature: 1, seed: 3 }, { streams: 5, temperature: 1, seed: 4 }]) {
        const want = await cpu.generate({ prime, length: 12, ...o });
        const got = await g.generate({ prime, length: 12, ...o });
        expect(got.map((x) => [...x]), JSON.stringify(o)).toEqual(want.map((x) => [...x]));
      }
      g.destroy();
    });
  }
});
