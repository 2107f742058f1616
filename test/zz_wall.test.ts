import { test } from 'vitest';
import { nodeContext } from '../src/node/gpu.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
test('wall', async () => {
  const ctx = await nodeContext();
  const cases = (process.env.CASES ?? '256x32').split(',').map((c) => c.split('x').map(Number));
  for (const [H, B] of cases) {
    const shape = { V: 51, H, B, T: 64 };
    const e = await GpuEngine.create(ctx, shape, { name: 'adam', lr: 0.002, clip: 0 }, initParams(shape, 1), undefined, { kernels: 'tiled', recurrence: 'persistent' });
    const inputs = new Uint32Array(64 * B).map((_, i) => (i * 7) % 51), targets = inputs.map((x) => (x + 1) % 51);
    await e.step({ inputs, targets }, { wantLoss: true });
    const best = [];
    for (let r = 0; r < 4; r++) {
      const n = Number(process.env.STEPS ?? 3);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await e.step({ inputs, targets }, { wantLoss: i === n - 1 });
      best.push((performance.now() - t0) / n);
    }
    console.log(`H=${H} B=${B} ${Math.min(...best).toFixed(1)} ms/step ${(64 * B / Math.min(...best) * 1000).toFixed(0)} chars/s`);
    e.destroy();
  }
  ctx.destroy();
}, 600000);
