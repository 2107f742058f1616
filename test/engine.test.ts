import { describe, expect, test } from 'vitest';
import { CpuEngine } from '../src/cpu/engine.js';
import type { Batch, OptimizerConfig } from '../src/engine.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
import { PARAM_NAMES, type StepShape } from '../src/model.js';
import { expectClose, useGpu } from './helpers.js';

const gpu = useGpu();

function randomBatch(s: StepShape, seed: number): Batch {
  let x = seed;
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) % s.V;
  const n = s.T * s.B;
  return { inputs: Uint32Array.from({ length: n }, next), targets: Uint32Array.from({ length: n }, next) };
}

describe('whole step, GPU vs CPU', () => {
  test('forward + backward at step 0', async () => {
    const shape = { V: 7, H: 5, B: 3, T: 6 };
    const opt: OptimizerConfig = { name: 'sgd', lr: 0.1, clip: 0 };
    const p = initParams(shape, 3);
    const cpu = new CpuEngine(shape, opt, p);
    const g = await GpuEngine.create(gpu(), shape, opt, p);
    const batch = randomBatch(shape, 9);
    const lc = await cpu.forwardBackward(batch);
    const lg = await g.forwardBackward(batch);
    expect(Math.abs(lc - lg)).toBeLessThan(1e-5);
    const a = await cpu.inspect();
    const b = await g.inspect();
    expectClose(b.hs, a.hs, { name: 'hs', atol: 1e-6, rtol: 1e-5 });
    expectClose(b.ps, a.ps, { name: 'ps', atol: 1e-6, rtol: 1e-5 });
    for (const k of PARAM_NAMES) expectClose(b.grads[k], a.grads[k], { name: 'd' + k, atol: 1e-6, rtol: 1e-4 });
    g.destroy();
  });
});
