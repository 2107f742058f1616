import { totalmem } from 'node:os';
import { describe, expect, test } from 'vitest';
import { CpuEngine } from '../src/cpu/engine.js';
import type { OptimizerConfig } from '../src/engine.js';
import { checkModelSize, createEngine, modelSize } from '../src/engines.js';
import { UsageError } from '../src/errors.js';
import { bufferTable } from '../src/gpu/buffers.js';
import { cellBufferTable } from '../src/gpu/cells.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { checkBuffersFit } from '../src/gpu/limits.js';
import { initParams } from '../src/init.js';
import { CELL_NAMES, type Params, parameterCount, type StepShape } from '../src/model.js';
import { useGpu } from './helpers.js';

// Models too large for the adapter or the machine are refused before anything is allocated,
// naming the sizes and the options to lower; the sizes counted are those the engines allocate.

const gpu = useGpu();
const adagrad: OptimizerConfig = { name: 'adagrad', lr: 0.1, clip: 5 };
/** `char-rnn train --string "hello world" --cell lstm --layers 8 --hidden 4096 --steps 1`:
 * 8 characters, the whole text (11) in every step. */
const HUGE_LSTM: StepShape = { V: 8, H: 4096, cell: 'lstm', layers: 8, B: 1, T: 10 };
/** No weights at all: the refusal must come before any are needed. */
const NO_PARAMS = {} as Params;

/** What `fn` throws, how long it took, and how much memory the process gained meanwhile. */
async function refusal(fn: () => unknown): Promise<{ error: unknown; ms: number; grewMiB: number }> {
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  return { error, ms: performance.now() - t0, grewMiB: (process.memoryUsage().rss - rss) / 2 ** 20 };
}

/** Float64 bytes reachable from an object's fields (each array buffer once). */
function float64Bytes(root: object): number {
  const seen = new Set<unknown>();
  let bytes = 0;
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    if (x instanceof Float64Array) {
      if (!seen.has(x.buffer)) bytes += x.buffer.byteLength;
      seen.add(x.buffer);
    } else if (!ArrayBuffer.isView(x)) for (const v of Object.values(x)) walk(v);
  };
  walk(root);
  return bytes;
}

describe('checkModelSize', () => {
  test('an LSTM of 8 layers of H=4096 is refused by createEngine on the GPU within a second, naming --hidden and --layers', async () => {
    const r = await refusal(() => createEngine('gpu', HUGE_LSTM, adagrad, NO_PARAMS, gpu()));
    expect(r.error).toBeInstanceOf(UsageError);
    const message = (r.error as Error).message;
    expect(message).toMatch(/^This model \(lstm, 8 layers of H=4096, B=1, T=10, V=8\) does not fit this GPU: its buffer params \(parameters\) needs 3\.75 GiB, more than the 128\.0 MiB .* allows in one buffer\. Lower --hidden \(4096\) or --layers \(8\)\.$/);
    expect(r.ms).toBeLessThan(1000);
    expect(r.grewMiB).toBeLessThan(100);
  }, 180_000);

  test('the same model is refused for the CPU engine within a second when the machine has less memory than it needs', async () => {
    const need = modelSize(HUGE_LSTM, 'cpu').host;
    expect(need / 2 ** 30).toBeGreaterThan(33); // parameters, gradients, two optimizer states in float64, and the float32 weights
    const r = await refusal(() => checkModelSize(HUGE_LSTM, 'cpu', undefined, { memory: 16 * 2 ** 30 }));
    expect(r.error).toBeInstanceOf(UsageError);
    expect((r.error as Error).message).toBe(
      'This model (lstm, 8 layers of H=4096, B=1, T=10, V=8) needs 33.79 GiB of memory (on the CPU engine (float64): parameters 7.50 GiB, ' +
        'gradients 7.50 GiB, optimizer state 15.00 GiB, activations 28.5 MiB; initial weights (float32) 3.75 GiB), more than the 16.00 GiB there is. ' +
        'Lower --hidden (4096) or --layers (8).',
    );
    expect(r.ms).toBeLessThan(1000);
    expect(r.grewMiB).toBeLessThan(100);
  });

  test('a buffer too large for the adapter names the options it depends on, and the CPU engine where it fits', () => {
    const shape: StepShape = { V: 4096, H: 8, B: 64, T: 256 }; // ps and dy: T*B*V floats, 256 MiB each
    let error: unknown;
    try {
      checkModelSize(shape, 'gpu', gpu(), { memory: 64 * 2 ** 30 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(
      /its buffer (ps|dy) \(activations\) needs 256\.0 MiB, more than the 128\.0 MiB .* Lower --batch \(64\), --seq-len \(256\) or the vocabulary \(a text of fewer distinct characters than 4096\), or use the CPU engine \(--device cpu\)\.$/,
    );
  });

  test("the GPU engine's own check, behind it, names --layers too", () => {
    const table = (s: StepShape) => ({ ...bufferTable(s), ...cellBufferTable(s) });
    expect(() => checkBuffersFit(gpu().device.limits, HUGE_LSTM, table)).toThrow(
      /buffer params needs 3\.75 GiB \(from H=4096, L=8, V=8\).* Lower H \(hidden units, --hidden\) or L \(layers, --layers\) or V/,
    );
  });

  test('a model that fits passes and says what it takes; without a memory budget only the adapter limits count', () => {
    const shape: StepShape = { V: 65, H: 512, B: 16, T: 64, cell: 'gru', layers: 2 };
    const size = checkModelSize(shape, 'gpu', gpu(), { memory: totalmem() });
    expect(size.gpu).toBe(size.allocations.filter((a) => a.on === 'gpu').reduce((n, a) => n + a.bytes, 0));
    expect(size.host).toBe(4 * parameterCount(shape)); // the float32 initial weights
    expect(checkModelSize(HUGE_LSTM, 'cpu').host).toBe(modelSize(HUGE_LSTM, 'cpu').host);
  });

  test('the CPU engine allocates exactly the float64 arrays counted', () => {
    for (const cell of CELL_NAMES)
      for (const layers of [1, 2]) {
        const shape: StepShape = { V: 6, H: 7, B: 3, T: 5, cell, layers };
        const e = new CpuEngine(shape, adagrad, initParams(shape, 1));
        const counted = modelSize(shape, 'cpu').allocations.filter((a) => a.holds !== 'initial weights').reduce((n, a) => n + a.bytes, 0);
        expect(float64Bytes(e), `${cell} x${layers}`).toBe(counted);
      }
  });

  test('the GPU engine allocates the buffers counted (and a few small uniforms and staging buffers beside them)', async () => {
    const size = { V: 30, H: 64, B: 4, T: 16 };
    for (const shape of [size, { ...size, cell: 'lstm', layers: 2 }, { ...size, cell: 'gru', layers: 2 }] as StepShape[]) {
      const e = await GpuEngine.create(gpu(), shape, adagrad, initParams(shape, 1));
      const counted = modelSize(shape, 'gpu').gpu;
      const held = e.memory().bytes;
      e.destroy();
      expect(Math.abs(held - counted), `${JSON.stringify(shape)}: ${held} bytes held, ${counted} counted`).toBeLessThan(64 * 1024);
    }
  }, 180_000);
});
