import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { type CheckReport, runCheck } from '../src/check.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../src/config.js';
import { chooseSchedule } from '../src/gpu/schedule.js';
import { CELL_NAMES, CELLS, type StepShape, parameterCount } from '../src/model.js';
import { randomArray, useGpu } from './helpers.js';

// Every H works for every cell: one training step of every cell, 1 and 2 layers, with and
// without dropout, at H = 1030 (HMAX 2048, not a multiple of 4) and H = 2048, where only the
// one-stream persistent sweep fits the adapter's workgroup memory, compared with the CPU engine (the local comparison of
// src/check.ts, within GPU_TOLERANCE; a model whose weights exceed the adapter's largest buffer,
// the LSTM and GRU of 2 layers at H = 2048 on lavapipe, is refused naming what to lower); the schedule is found for every shape on adapters of
// small and large limits; `char-rnn train` at H = 1030 runs, and --profile describes the
// schedule that ran and counts G and L in its FLOPs.

const gpu = useGpu();
const V = 5;
const T = 2;

/** Seeded character ids in [0, V). */
const randomText = (n: number, seed: number) => Uint32Array.from(randomArray(n, seed), (u) => Math.min(V - 1, Math.floor(((u + 1) / 2) * V)));

function summary(r: CheckReport): string {
  return r.tensors.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${(100 * c.used).toFixed(1)}% of tolerance, max|diff| ${c.maxAbs.toExponential(2)}`).join('\n');
}

// H = 1030, B = 2: the reference sweeps (B < 3 and H not a multiple of 4); H = 2048, B = 1: the
// one-stream sweep (4*HMAX*G bytes: 32 KiB for the LSTM).
describe.each([
  { H: 1030, B: 2, sweeps: 'reference' },
  { H: 2048, B: 1, sweeps: 'streams1' },
])('H=$H B=$B T=2 V=5: one step on the GPU as the CPU computes it', ({ H, B, sweeps }) => {
  for (const cell of CELL_NAMES)
    for (const layers of [1, 2])
      // (dropout changes the masks, not the sweeps: with and without at H=1030, without at 2048)
      for (const dropout of H === 1030 ? [0, 0.25] : [0])
        test(`${cell}, ${layers} layer(s), dropout ${dropout}`, async () => {
          const seed = 7 + H + 10 * layers + (dropout > 0 ? 1 : 0) + 100 * CELL_NAMES.indexOf(cell);
          const cfg: TrainConfig = {
            ...DEFAULT_CONFIG, cell, layers, dropout, hidden: H, batch: B, seqLen: T, optimizer: 'adam', lr: 0.002, clip: 0, steps: 0, seed,
          };
          const shape: StepShape = { V, H, B, T, cell, layers };
          expect(chooseSchedule(gpu().device.limits, shape, { dropout }).sweeps).toBe(sweeps);
          const data = randomText(B * T + 1, seed);
          // the weights of one buffer larger than the adapter allows (lavapipe: 128 MiB; the LSTM
          // and GRU of 2 layers at H=2048) are refused with the sizes and the options that lower them
          const limits = gpu().device.limits;
          if (4 * parameterCount(shape) > Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize)) {
            await expect(runCheck(gpu(), data, V, cfg, { trajectory: false })).rejects.toThrow(
              /^This model does not fit this GPU: its buffer params needs \d+\.\d MiB \(from H=2048, L=2, V=5\), more than the \d+\.\d MiB the adapter allows for one buffer\. Lower H \(hidden units, --hidden\) or L \(layers, --layers\)/,
            );
            return;
          }
          const r = await runCheck(gpu(), data, V, cfg, { trajectory: false });
          expect(r.ok, summary(r)).toBe(true);
          expect(r.tensors.every((c) => c.kind === 'local step' && c.used <= 1), summary(r)).toBe(true);
          expect(r.tensors.map((c) => c.name)).toContain('loss');
        }, 600_000);
});

describe('the schedule is found for every shape', () => {
  /** Adapters of the least workgroup memory WebGPU allows, of what the engine asks for
   * (lavapipe and most GPUs), and of more than that. */
  const LIMITS = [
    { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 },
    { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 },
    { maxComputeWorkgroupStorageSize: 65536, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 1024 },
  ] as GPUSupportedLimits[];
  const HS = [1, 3, 17, 64, 100, 129, 256, 500, 512, 513, 600, 1024, 1025, 1030, 2047, 2048, 2049, 4096, 8192];

  test('every cell, L = 1..3, H up to 8192, B up to 32, with and without dropout: a schedule that fits, never an error', () => {
    for (const limits of LIMITS)
      for (const cell of CELL_NAMES)
        for (const layers of [1, 2, 3])
          for (const H of HS)
            for (const B of [1, 2, 3, 5, 9, 32])
              for (const dropout of [0, 0.1]) {
                const s: StepShape = { V: 65, H, B, T: 16, cell, layers };
                const c = chooseSchedule(limits, s, { dropout });
                const HMAX = Math.max(64, 2 ** Math.ceil(Math.log2(H)));
                const G = CELLS[cell].gates;
                const mem = limits.maxComputeWorkgroupStorageSize;
                if (c.sweeps !== 'reference') {
                  const perUnit = c.sweeps === 'streams1' ? 4 : c.sweeps === 'streams4' ? 16 : 32;
                  expect(perUnit * HMAX * Math.max(2, G)).toBeLessThanOrEqual(mem);
                  const invocations = c.sweeps === 'streams1' ? HMAX / 8 : HMAX / Math.max(1, Math.floor(8 / G));
                  expect(invocations).toBeLessThanOrEqual(Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX));
                }
              }
  });
});

describe('char-rnn train at large H, and --profile', () => {
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['dist/cli.js', 'train', '--string', 'hello world, hello there', '--steps', '1', '--sample-length', '0', ...args],
      { encoding: 'utf8', timeout: 300_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    return { code: r.status, err: r.stderr };
  };

  test.each([
    [['--cell', 'gru', '--hidden', '1030'], /recurrence: reference sweeps, one workgroup per stream \(B=1 and H=1030 not a multiple of 4: the persistent sweeps would leave lanes idle\); gradients: a product per tensor/],
    [['--hidden', '1030', '--dropout', '0.1'], /recurrence: reference sweeps, one workgroup per stream \(B=1 and H=1030 not a multiple of 4/],
    [['--hidden', '1032'], /recurrence: persistent sweep of one stream, units in the vec4 lanes; gradients: a product per tensor/],
    [['--hidden', '4'], /recurrence: persistent sweep of one stream, units in the vec4 lanes; gradients: all in one dispatch \(below 65536 multiply-adds per step\)/],
  ])('%j: one step, and the profile names the schedule that ran (chosen by shape)', (args, schedule) => {
    const r = run(...args, '--recurrence', 'auto', '--profile');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(schedule);
    expect(r.err).not.toMatch(/Use the|kernels: /);
  }, 300_000);

  test('--profile of an LSTM of 2 layers: the layer sweep it ran, GFLOP/s from G and L', () => {
    const r = run('--cell', 'lstm', '--layers', '2', '--hidden', '32', '--batch', '2', '--seq-len', '5', '--profile');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/recurrence: reference sweeps, one workgroup per stream \(B=2: the persistent sweeps would leave lanes idle\); gradients: a product per tensor/);
    const [, ms, gflops] = /\n {2}total +(\d+\.\d+) ms\/step {2}= (\d+\.\d+) GFLOP\/s of model FLOPs \(6\(G\*H\^2\*\(2L-1\) \+ V\*H\) per character/.exec(r.err)!;
    // G = 4, L = 2, H = 32, V = 10 ('hello world, hello there'), 2 x 5 characters per step
    const flops = 6 * 2 * 5 * (4 * 32 * 32 * 3 + 10 * 32);
    expect(Number(gflops)).toBeCloseTo(flops / (Number(ms) * 1e6), 2);
  }, 300_000);
});
