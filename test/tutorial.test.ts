import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GPU_TOLERANCE } from '../src/compare.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { planBatches, BatchCursor } from '../src/data.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { PARAM_NAMES, type Params } from '../src/model.js';
import { Vocab } from '../src/vocab.js';
import { expectClose, useGpu } from './helpers.js';

// The tutorial's worked values, and its numpy code's loss, gradients and 1000-step training
// (test/fixtures/tutorial-hello.json, written by scripts/tutorial_reference.py).

const ref = JSON.parse(readFileSync(new URL('./fixtures/tutorial-hello.json', import.meta.url), 'utf8'));
const gpu = useGpu();

const vocab = Vocab.fromText('hello');
const data = vocab.encode('hello');
const plan = planBatches(data.length, 1, 0);
const shape = { V: 4, H: 3, B: 1, T: 4 };
const sgd = { name: 'sgd' as const, lr: 0.01, clip: 0 };
const initial = Object.fromEntries(PARAM_NAMES.map((k) => [k, Float64Array.from(ref.initial[k])])) as Params;
const batch = () => {
  const c = new BatchCursor(data, plan);
  c.next();
  return c.batch;
};
const oneHot = (i: number) => Array.from({ length: 4 }, (_, k) => (k === i ? 1 : 0));
const F64 = { atol: 1e-13, rtol: 1e-12 };

describe('the tutorial, worked values', () => {
  test('vocabulary: sorted characters, {e:0, h:1, l:2, o:3}', () => {
    expect(vocab.chars).toEqual(['e', 'h', 'l', 'o']);
    expect(Object.fromEntries(vocab.chars.map((c, i) => [c, i]))).toEqual({ e: 0, h: 1, l: 2, o: 3 });
    expect(ref.char_to_idx).toEqual({ e: 0, h: 1, l: 2, o: 3 });
  });

  test('inputs "hell" and targets "ello": one-hot inputs and target indices as printed', () => {
    const b = batch();
    expect(plan).toMatchObject({ B: 1, T: 4 });
    expect([...b.inputs].map(oneHot)).toEqual([
      [0, 1, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 1, 0],
    ]);
    expect([...b.targets]).toEqual([0, 2, 2, 3]);
    expect([...b.inputs].map(oneHot)).toEqual(ref.input_vectors);
    expect([...b.targets]).toEqual(ref.target_vectors);
  });
});

describe("the tutorial's numpy numbers", () => {
  test('CPU engine: loss, hidden states, probabilities and gradients to float64 precision', async () => {
    const cpu = new CpuEngine(shape, sgd, initial);
    const loss = await cpu.forwardBackward(batch(), { reset: true });
    expect(Math.abs(loss - ref.step0.loss)).toBeLessThan(1e-14);
    const a = await cpu.inspect();
    expectClose(a.hs.subarray(3), ref.step0.hs.flat(), { name: 'hs', ...F64 });
    expectClose(a.ps, ref.step0.ps.flat(), { name: 'ps', ...F64 });
    for (const k of PARAM_NAMES) expectClose(a.grads[k], ref.step0.grads['d' + k], { name: 'd' + k, ...F64 });
  });

  test('GPU engine: loss, hidden states, probabilities and gradients to float32 precision', async () => {
    const g = await GpuEngine.create(gpu(), shape, sgd, initial);
    const loss = await g.forwardBackward(batch(), { reset: true });
    expectClose([loss], [ref.step0.loss], { name: 'loss', ...GPU_TOLERANCE.loss });
    const a = await g.inspect();
    expectClose(a.hs.subarray(3), ref.step0.hs.flat(), { name: 'hs', ...GPU_TOLERANCE.hs });
    expectClose(a.ps, ref.step0.ps.flat(), { name: 'ps', ...GPU_TOLERANCE.ps });
    for (const k of PARAM_NAMES) expectClose(a.grads[k], ref.step0.grads['d' + k], { name: 'd' + k, ...GPU_TOLERANCE.grads });
    g.destroy();
  });

  test("1000 SGD steps (lr 0.01): every loss and the final weights equal the tutorial's; predict('h') = hello", async () => {
    const cpu = new CpuEngine(shape, sgd, initial);
    const g = await GpuEngine.create(gpu(), shape, sgd, initial);
    const lc: number[] = [];
    const lg: number[] = [];
    const b = batch();
    for (let s = 0; s < 1000; s++) {
      lc.push((await cpu.step(b, { reset: true, wantLoss: true }))!);
      lg.push((await g.step(b, { reset: true, wantLoss: true }))!);
    }
    expectClose(lc, ref.train1000.losses, { name: 'CPU losses', atol: 1e-12, rtol: 1e-10 });
    expectClose(lg, ref.train1000.losses, { name: 'GPU losses', atol: 1e-5, rtol: 1e-4 });
    const [pc, pg] = [await cpu.getParams(), await g.getParams()];
    for (const k of PARAM_NAMES) {
      expectClose(pc[k], ref.train1000.final[k], { name: `CPU ${k}`, atol: 1e-12, rtol: 1e-10 });
      expectClose(pg[k], ref.train1000.final[k], { name: `GPU ${k}`, ...GPU_TOLERANCE.params });
    }
    const prime = vocab.encode('h');
    for (const e of [cpu, g]) {
      const [out] = await e.generate({ prime, length: 4, greedy: true });
      expect('h' + vocab.decode(out), e.device).toBe(ref.train1000.predict_h);
    }
    g.destroy();
  });
});
