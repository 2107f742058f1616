import { expect, test } from 'vitest';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
import { useGpu } from './helpers.js';

// generate() called again before the first one has finished (the page's live preview and
// "Let it write" at once): both finish, each with what it would give alone.

const gpu = useGpu();

test('two generations at once on one engine both finish, as each would alone', async () => {
  const shape = { V: 9, H: 16, B: 1, T: 1, cell: 'lstm' as const, layers: 1 };
  const e = await GpuEngine.create(gpu(), shape, { name: 'adam', lr: 0.002, clip: 0 }, initParams(shape, 5));
  const a = { prime: Uint32Array.of(1, 2), length: 40, streams: 1, temperature: 1, seed: 3 };
  const b = { prime: Uint32Array.of(4), length: 25, streams: 2, temperature: 0.5, seed: 9 };
  const alone = [await e.generate(a), await e.generate(b)];
  const together = await Promise.all([e.generate(a), e.generate(b), e.generate(a)]);
  expect(together.map((r) => r.map((x) => Array.from(x)))).toEqual([alone[0], alone[1], alone[0]].map((r) => r.map((x) => Array.from(x))));
  e.destroy();
});
