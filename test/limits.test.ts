import { describe, expect, test } from 'vitest';
import { GPU_TOLERANCE } from '../src/compare.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { GpuError } from '../src/errors.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
import { PARAM_NAMES, type StepShape } from '../src/model.js';
import { expectClose, useGpu } from './helpers.js';

// Sizes at the edges of what the adapter allows: long sequences, more workgroups than one
// dispatch dimension holds, buffers over the binding limit, long evaluations.

const gpu = useGpu();
const sgd = { name: 'sgd', lr: 0.05, clip: 0 } as const;

function batchOf(s: StepShape, seed: number) {
  const n = s.T * s.B;
  const pick = (k: number) => (Math.imul(k + seed, 2654435761) >>> 7) % s.V;
  return { inputs: Uint32Array.from({ length: n }, (_, k) => pick(k)), targets: Uint32Array.from({ length: n }, (_, k) => pick(k + 1)) };
}

describe('GPU limits', () => {
  test.each(['streams1', 'reference'] as const)('a step of 8192 timesteps (%s sweeps) runs and matches the CPU', async (cellSweeps) => {
    const s = { V: 11, H: 8, B: 1, T: 8192 };
    const p = initParams(s, 3);
    const g = await GpuEngine.create(gpu(), s, sgd, p, undefined, { cellSweeps });
    const c = new CpuEngine(s, sgd, p);
    const b = batchOf(s, 1);
    const [lg, lc] = [await g.step(b, { wantLoss: true }), await c.step(b, { wantLoss: true })];
    expectClose([lg!], [lc!], { name: 'loss', ...GPU_TOLERANCE.loss });
    g.destroy();
  });

  test('more than 65535 workgroups (a 70,000-character vocabulary): the update runs in rows', async () => {
    const s = { V: 70000, H: 32, B: 1, T: 2 }; // 4.5M parameters: 70,000 workgroups of 64
    const p = initParams(s, 5);
    const g = await GpuEngine.create(gpu(), s, sgd, p);
    const c = new CpuEngine(s, sgd, p);
    const b = batchOf(s, 2);
    await g.step(b);
    await c.step(b);
    const [pg, pc] = [await g.getParams(), await c.getParams()];
    for (const k of PARAM_NAMES) expectClose(pg[k], pc[k], { name: k, ...GPU_TOLERANCE.params });
    // the last rows of W_hy moved (a dispatch cut at 65535 workgroups would leave them as they were)
    expect(pg.W_hy.subarray(-32).some((x, i) => x !== p.W_hy[p.W_hy.length - 32 + i])).toBe(true);
    g.destroy();
  });

  test('a buffer over the binding limit is refused before anything is allocated, naming it and what to lower', async () => {
    const ctx = gpu();
    const limit = Math.min(ctx.device.limits.maxStorageBufferBindingSize, ctx.device.limits.maxBufferSize);
    const B = Math.ceil(limit / (4 * 16 * 65)) + 1; // ps (T, B, V) just over the limit
    const err = await GpuEngine.create(ctx, { V: 65, H: 8, B, T: 16 }, sgd, undefined).catch((e) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect(err.message).toMatch(/buffer ps needs .* \(from T=16, B=\d+, V=65\).*Lower T \(timesteps per step, --seq-len\) or B \(streams per step, --batch\) or V/);
    expect(err.message).not.toMatch(/--hidden/);
  });

  test('generation longer than one buffer holds is refused with the longest that works', async () => {
    const s = { V: 5, H: 8, B: 1, T: 1 };
    const g = await GpuEngine.create(gpu(), s, sgd, initParams(s, 1));
    const err = await g.generate({ prime: Uint32Array.of(0), length: 1e9 }).catch((e) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect(err.message).toMatch(/1000000000 characters .* generate at most \d+ characters per stream \(--length\)/);
    expect((await g.generate({ prime: Uint32Array.of(0), length: 3 }))[0]).toHaveLength(3);
    g.destroy();
  });

  test('evaluation reads its losses back in blocks: the same loss with blocks of 3 positions as with one block', async () => {
    const s = { V: 7, H: 8, B: 1, T: 4 };
    const p = initParams(s, 9);
    const data = batchOf({ ...s, T: 101 }, 4).inputs;
    const one = await GpuEngine.create(gpu(), s, sgd, p);
    const blocks = await GpuEngine.create(gpu(), s, sgd, p, undefined, { evaluateBlock: 3 }); // 1 chunk of T=4 per readback
    const cpu = new CpuEngine(s, sgd, p);
    const [a, b, c] = [await one.evaluate(data), await blocks.evaluate(data), await cpu.evaluate(data)];
    expect(b.count).toBe(100);
    expect(b.loss).toBe(a.loss);
    expectClose([b.loss], [c.loss], { name: 'loss', ...GPU_TOLERANCE.loss });
    one.destroy();
    blocks.destroy();
  });
});
