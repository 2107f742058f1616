import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { readFileSync } from 'node:fs';

// char-rnn export --weights: a checkpoint without its training state, for sharing (the page's
// trained models are made so).

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-export-'));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
};

test('export --weights keeps the weights, vocabulary, settings and loss curve, not the optimizer state, and samples the same', () => {
  const full = join(dir, 'full.safetensors');
  const light = join(dir, 'light.safetensors');
  const t = run('train', '--text', 'corpus/lighthouse.txt', '--cell', 'lstm', '--hidden', '16', '--optimizer', 'adam', '--steps', '5', '--sample-length', '0', '--device', 'cpu', '--save', full);
  expect(t.code, t.err).toBe(0);
  const e = run('export', '--checkpoint', full, '--weights', light);
  expect(e.code, e.err).toBe(0);
  expect(e.err).toMatch(/without the training state \(step 5\)/);
  const a = loadCheckpoint(readFileSync(full));
  const b = loadCheckpoint(readFileSync(light));
  expect(b.params).toEqual(a.params);
  expect([b.vocab, b.hidden, b.step, b.cell, b.history]).toEqual([a.vocab, a.hidden, a.step, a.cell, a.history]);
  expect(b.metadata?.config).toBe(a.metadata?.config);
  expect(Object.keys(b.extra ?? {})).toEqual([]);
  expect(Object.keys(a.extra ?? {}).length).toBeGreaterThan(0);
  // Adam keeps two more tensors of every parameter's size: about a third
  expect(statSync(light).size).toBeLessThan(0.4 * statSync(full).size);
  const sample = (f: string) => run('sample', '--checkpoint', f, '--prime', 'The ', '--length', '30', '--seed', '3', '--device', 'cpu').out;
  expect(sample(light)).toBe(sample(full));
  // one output, not both, not none
  expect(run('export', '--checkpoint', full).err).toMatch(/Give --pytorch OUT .* or --weights OUT/);
}, 180_000);
