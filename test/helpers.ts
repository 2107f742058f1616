import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { type TrainConfig, optimizerOf } from '../src/config.js';
import { planBatches, splitText } from '../src/data.js';
import { createEngine, type DeviceKind } from '../src/engines.js';
import type { GpuContext } from '../src/gpu/context.js';
import { initParams } from '../src/init.js';
import { Trainer } from '../src/train.js';
import { Vocab } from '../src/vocab.js';
import { nodeContext } from '../src/node/gpu.js';
import { type Comparison, compare, describeComparison, type Tolerance } from '../src/compare.js';

// Shared test helpers: per-tensor tolerance comparison and one GPU context per test file.

/** |got-want| <= atol + rtol*|want| element-wise; the failure names the worst element and how
 * much of the tolerance it used. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance & { name: string }): Comparison {
  const c = compare(tol.name, got, want, tol);
  expect(c.n, `${tol.name}: length`).toBe(got.length);
  expect(c.used, describeComparison(c)).toBeLessThanOrEqual(1);
  return c;
}

/** A GPU context for the whole test file, failing loudly when there is no adapter. */
export function useGpu(): () => GpuContext {
  let ctx: GpuContext | undefined;
  beforeAll(async () => {
    ctx = await nodeContext('test');
  });
  afterAll(() => ctx?.destroy());
  return () => {
    if (!ctx) throw new Error('GPU context missing: see the error from beforeAll');
    const f = ctx.failure();
    if (f) throw f;
    return ctx;
  };
}

/** Seeded uniform floats in [-scale, scale). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}

/** The project's story (corpus/lighthouse.txt), encoded and split as training splits it (the
 * last 5% held out for validation). */
export const lighthouse = (() => {
  const text = readFileSync(new URL('../corpus/lighthouse.txt', import.meta.url), 'utf8');
  const vocab = Vocab.fromText(text);
  return { text, vocab, ...splitText(vocab.encode(text), 0.05) };
})();

/** A Trainer on the story, its weights initialised as the configuration says. */
export async function lighthouseTrainer(device: DeviceKind, cfg: TrainConfig, ctx: GpuContext): Promise<Trainer> {
  const { vocab, train, val } = lighthouse;
  const plan = planBatches(train.length, cfg.batch, cfg.seqLen);
  const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T };
  const engine = await createEngine(device, shape, optimizerOf(cfg), initParams(shape, cfg.seed, cfg.initScale), ctx);
  return new Trainer(engine, train, cfg, 0, val);
}

/** The tensor of that name in a list of a safetensors file's tensors (throws where there is none). */
export function tensorNamed<T extends { name: string }>(list: T[], name: string): T {
  const t = list.find((x) => x.name === name);
  if (!t) throw new Error(`no ${name}`);
  return t;
}
