import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DEFAULT_CONFIG, type TrainConfig } from '../src/config.js';
import { DivergedError } from '../src/errors.js';
import { divergedAbove } from '../src/train.js';
import { lighthouseTrainer, useGpu } from './helpers.js';

// A run whose loss blows up stops with DivergedError on both engines, also while the loss is
// still finite, and never replaces a good checkpoint.

const gpu = useGpu();
const trainer = (device: 'cpu' | 'gpu', cfg: TrainConfig) => lighthouseTrainer(device, cfg, gpu());

describe('divergence', () => {
  test('the rule: 3 ln V + 10 nats/char', () => {
    expect(divergedAbove(65)).toBeCloseTo(3 * Math.log(65) + 10, 12);
    expect(divergedAbove(4)).toBeGreaterThan(Math.log(4));
  });

  for (const device of ['cpu', 'gpu'] as const)
    test(`${device}: sgd at lr 3 stops with a finite loss far above ln V, naming the step and the fix`, async () => {
      const t = await trainer(device, { ...DEFAULT_CONFIG, hidden: 32, optimizer: 'sgd', lr: 3, clip: 0, steps: 50, logEvery: 1 });
      const err = await t.run(50).catch((e) => e);
      expect(err).toBeInstanceOf(DivergedError);
      expect(err.message).toMatch(/Training diverged at step \d+: the loss is [\d.e+]+ nats\/char, above \d+\.\d+ \(3 ln V \+ 10.*--lr 0\.3/);
      t.engine.destroy();
    });
});

describe('char-rnn train: a diverged run keeps the last good checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'char-rnn-diverge-'));
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    return { code: r.status, err: r.stderr };
  };
  const good = join(dir, 'good.safetensors');
  const common = ['--text', 'corpus/lighthouse.txt', '--hidden', '16', '--sample-length', '0'];

  test('resume at --lr 1e30 with --save onto the good file: exit 1, the file unchanged (GPU)', () => {
    expect(run('train', ...common, '--steps', '20', '--save', good).code).toBe(0);
    const before = readFileSync(good);
    const r = run('train', ...common, '--resume', good, '--steps', '60', '--lr', '1e30', '--save', good, '--save-every', '5');
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/Training diverged at step 25: the loss is .* nats\/char/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(readFileSync(good).equals(before)).toBe(true);
  });
});
