import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

// --recurrence: train measures by default and keeps the result under $XDG_CACHE_HOME; a forced
// schedule runs in train and in check; a name that is none is refused before any work.

const cache = mkdtempSync(join(tmpdir(), 'char-rnn-cache-'));
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp', XDG_CACHE_HOME: cache };

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 300_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const file = join(cache, 'char-rnn-webgpu', 'schedules.json');
// T*B*H*H = 64*4*128*128: worth measuring
const big = ['--text', 'corpus/lighthouse.txt', '--hidden', '128', '--batch', '4', '--seq-len', '64', '--steps', '2', '--sample-length', '0', '--profile'];

describe('--recurrence', () => {
  test('train measures the schedules the first time, keeps the fastest, and takes it from the cache the next time', () => {
    const first = run(['train', ...big]);
    expect(first.code, first.err).toBe(0);
    // (the candidates in order, each timed, until a time budget: on a loaded machine the last may be left out)
    expect(first.err).toMatch(/recurrence: .* \(the fastest measured here: (\w+ [\d.]+ ms, )*\w+ [\d.]+ ms\)/);
    expect(existsSync(file)).toBe(true);
    const kept = Object.values(JSON.parse(readFileSync(file, 'utf8'))) as { pick: string; times: { sweeps: string }[] }[];
    expect(kept).toHaveLength(1);
    // the candidates in their order, as many as the time budget allowed (a cold shader cache
    // compiles slowly): the first k of them
    const order = ['streams4', 'streams8', 'reference', 'steps', 'grid'];
    const timed = kept[0].times.map((t) => t.sweeps).sort((a, b) => order.indexOf(a) - order.indexOf(b));
    expect(timed.length).toBeGreaterThanOrEqual(1);
    expect(timed).toEqual(order.slice(0, timed.length));
    const again = run(['train', ...big]);
    expect(again.code, again.err).toBe(0);
    // the same words: the measurement was read, not made again (its times would differ)
    const words = (s: string) => /recurrence: (.*); gradients/.exec(s)![1];
    expect(words(again.err)).toBe(words(first.err));
  }, 300_000);

  test('a forced schedule runs in train and in check', () => {
    const t = run(['train', '--string', 'hello world', '--hidden', '6', '--steps', '3', '--sample-length', '0', '--recurrence', 'steps', '--profile']);
    expect(t.code, t.err).toBe(0);
    expect(t.err).toMatch(/recurrence: one dispatch per layer and timestep over the whole adapter \(asked\)/);
    const c = run(['check', '--string', 'hello world', '--cell', 'gru', '--hidden', '6', '--steps', '2', '--recurrence', 'grid']);
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/recurrence: grid-persistent sweeps, the units split over workgroups that run at once \(asked\)/);
  }, 300_000);

  test('a name that is no schedule is refused, with the choices', () => {
    const r = run(['train', '--string', 'hello', '--recurrence', 'fast']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--recurrence <name>' argument 'fast' is invalid\. Allowed choices are measure, auto, streams1, streams4, streams8, reference, steps, grid/);
  });
});
