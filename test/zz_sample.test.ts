import { test } from 'vitest';
import { nodeContext } from '../src/node/gpu.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
test('sample', async () => {
  const ctx = await nodeContext();
  const shape = { V: 51, H: Number(process.env.H ?? 256), B: 1, T: 64 };
  const e = await GpuEngine.create(ctx, shape, { name: 'adam', lr: 0.002, clip: 0 }, initParams(shape, 1));
  for (const streams of [1, 32]) {
    await e.generate({ prime: Uint32Array.from([1]), length: 20, streams, temperature: 1, seed: 1 });
    const best = [];
    for (let r = 0; r < 4; r++) {
      const n = streams === 1 ? 2000 : 300;
      const t0 = performance.now();
      await e.generate({ prime: Uint32Array.from([1]), length: n, streams, temperature: 1, seed: r, greedy: process.env.GREEDY === '1' });
      best.push(n * streams / (performance.now() - t0) * 1000);
    }
    console.log(`streams ${streams}: ${Math.max(...best).toFixed(0)} chars/s best, ${best.map((x) => x.toFixed(0)).join(' ')}`);
  }
  ctx.destroy();
}, 600000);
