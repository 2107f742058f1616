import { test } from 'vitest';
import { nodeContext } from '../src/node/gpu.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
test('profile', async () => {
  const ctx = await nodeContext();
  const cases = (process.env.CASES ?? '256x32').split(',').map((c) => c.split('x').map(Number));
  for (const [H, B] of cases) {
    const shape = { V: 51, H, B, T: 64 };
    const e = await GpuEngine.create(ctx, shape, { name: 'adam', lr: 0.002, clip: 0 }, initParams(shape, 1), undefined, { profile: true });
    const inputs = new Uint32Array(64 * B).map((_, i) => (i * 7) % 51), targets = inputs.map((x) => (x + 1) % 51);
    for (let i = 0; i < 4; i++) await e.step({ inputs, targets }, { wantLoss: i === 3 });
    const p = e.profile();
    console.log(`H=${H} B=${B} ${p.detail} GPU ${p.totalMs.toFixed(1)} ms: ` + p.kernels.map((k) => `${k.name} ${k.ms.toFixed(1)}`).join(', '));
    e.destroy();
  }
  ctx.destroy();
}, 600000);
