import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { GPU_TOLERANCE } from '../src/compare.js';
import { DEFAULT_CONFIG, optimizerOf, type TrainConfig, validateConfig } from '../src/config.js';
import { CpuEngine } from '../src/cpu/engine.js';
import type { DeviceKind } from '../src/engines.js';
import { PARAM_NAMES } from '../src/model.js';
import { lockPathOf } from '../src/node/lock.js';
import { lrAt } from '../src/schedule.js';
import { runCheckpoint, trainerStateOf } from '../src/state.js';
import { expectClose, lighthouse, lighthouseTrainer, useGpu } from './helpers.js';

// Training on real prose (corpus/lighthouse.txt, written for this project): batches with carried
// state, validation, schedules, exact resume, kill-and-resume.

const gpu = useGpu();
const { text, vocab, train, val } = lighthouse;
const trainer = (device: DeviceKind, cfg: TrainConfig) => lighthouseTrainer(device, cfg, gpu());

const base: TrainConfig = { ...DEFAULT_CONFIG, hidden: 24, batch: 4, seqLen: 16, logEvery: 1, evalEvery: 25, optimizer: 'adam', lr: 0.002, clip: 0 };

describe('batches with carried state, GPU vs CPU', () => {
  test('loss at every one of 50 steps at B=4, T=16, and validation at steps 25 and 50', async () => {
    const [c, g] = [await trainer('cpu', base), await trainer('gpu', base)];
    await c.run(50);
    await g.run(50);
    expectClose(g.history.map((e) => e.loss), c.history.map((e) => e.loss), { name: 'train loss', ...GPU_TOLERANCE.loss });
    const vc = c.history.filter((e) => e.valLoss !== undefined);
    const vg = g.history.filter((e) => e.valLoss !== undefined);
    expect(vc.map((e) => e.step)).toEqual([25, 50]);
    expectClose(vg.map((e) => e.valLoss!), vc.map((e) => e.valLoss!), { name: 'val loss', ...GPU_TOLERANCE.loss });
    expectClose(g.history.map((e) => e.gradNorm), c.history.map((e) => e.gradNorm), { name: 'grad norm', atol: 1e-5, rtol: 1e-3 });
    expect(c.history[49].loss).toBeLessThan(c.history[0].loss - 0.5);
    g.engine.destroy();
  });

  test('validation metrics equal a direct computation over the whole held-out text', async () => {
    const c = await trainer('cpu', base);
    await c.run(10);
    const v = (await c.validate())!;
    const p = await c.engine.getParams();
    const direct = new CpuEngine({ V: vocab.size, H: 24, B: 1, T: val!.length - 1 }, optimizerOf(base), p);
    const want = await direct.forwardBackward({ inputs: val!.slice(0, -1), targets: val!.slice(1) }, { reset: true });
    expect(v.loss).toBeCloseTo(want, 12);
    expect(v.bpc).toBeCloseTo(want / Math.LN2, 12);
    expect(v.perplexity).toBeCloseTo(Math.exp(want), 10);
    expect(val!.length).toBe(Math.floor(vocab.encode(text).length * 0.05));
  });
});

describe('schedules', () => {
  const s = { ...base, lr: 0.1, steps: 101, warmup: 10, decayEvery: 30, decayRate: 0.5, minLr: 0.01 };
  test('constant, step decay, cosine with warm-up', () => {
    expect(lrAt(57, { ...s, schedule: 'constant' })).toBe(0.1);
    expect([0, 29, 30, 59, 60].map((k) => lrAt(k, { ...s, schedule: 'step' }))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    const cos = (k: number) => lrAt(k, { ...s, schedule: 'cosine' });
    expect(cos(0)).toBeCloseTo(0.01, 12);
    expect(cos(9)).toBeCloseTo(0.1, 12);
    expect(cos(10)).toBeCloseTo(0.1, 12);
    expect(cos(55)).toBeCloseTo(0.01 + 0.09 * 0.5 * (1 + Math.cos(Math.PI * 0.5)), 12);
    expect(cos(100)).toBeCloseTo(0.01, 12);
  });
  test('the trainer uses the schedule on both engines', async () => {
    const cfg: TrainConfig = { ...base, schedule: 'cosine', warmup: 5, steps: 20, evalEvery: 0, valFraction: 0 };
    const [c, g] = [await trainer('cpu', cfg), await trainer('gpu', cfg)];
    await c.run(20);
    await g.run(20);
    expect(c.history.map((e) => e.lr)).toEqual(Array.from({ length: 20 }, (_, k) => lrAt(k, cfg)));
    expectClose(g.history.map((e) => e.loss), c.history.map((e) => e.loss), { name: 'loss', ...GPU_TOLERANCE.loss });
    g.engine.destroy();
  });
});

describe('exact resume through a checkpoint file', () => {
  for (const device of ['cpu', 'gpu'] as const) {
    test(`${device}: 2N steps = N steps + save + load + N steps`, async () => {
      const cfg: TrainConfig = { ...base, optimizer: 'adam', evalEvery: 0, logEvery: 5 };
      const whole = await trainer(device, cfg);
      await whole.run(40);
      const first = await trainer(device, cfg);
      await first.run(20);
      const bytes = saveCheckpoint(runCheckpoint([...vocab.chars], cfg, await first.state(), device));
      const { state, config } = trainerStateOf(loadCheckpoint(bytes), device, 'test');
      expect(config).toEqual(cfg);
      const second = await trainer(device, config);
      second.restore(state);
      expect(second.step).toBe(20);
      await second.run(20);
      const [a, b] = [await whole.state(), await second.state()];
      expect(b.step).toBe(40);
      expect([b.chunk, b.epoch]).toEqual([a.chunk, a.epoch]);
      expect(second.history.map((e) => e.loss)).toEqual(whole.history.slice(4).map((e) => e.loss));
      for (const k of PARAM_NAMES) {
        // bitwise on both: the CPU state travels as float64, the GPU's as the float32 it is
        expect(b.engine.params[k], k).toEqual(a.engine.params[k]);
        expect(b.engine.m[k], 'm' + k).toEqual(a.engine.m[k]);
      }
      for (const t of [whole, first, second]) t.engine.destroy();
    });
  }
});

describe('checkpoints from before --init-scale', () => {
  test('a run configuration without initScale loads as randn*0.1 (the only initialisation then) and resumes', async () => {
    const first = await trainer('cpu', base);
    await first.run(3);
    const { initScale: _, ...old } = base;
    const bytes = saveCheckpoint(runCheckpoint([...vocab.chars], old as TrainConfig, await first.state(), 'cpu'));
    const { state, config } = trainerStateOf(loadCheckpoint(bytes), 'cpu', 'old');
    expect(config).toEqual({ ...base, initScale: 0.1 });
    expect(validateConfig(config)).toBe(config);
    const second = await trainer('cpu', config);
    second.restore(state);
    await second.run(2);
    expect(second.step).toBe(5);
  });
});

describe('the CLI on real text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'char-rnn-real-'));
  const corpus = join(dir, 'story.txt');
  writeFileSync(corpus, text);
  const cli = (args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  const common = ['--text', corpus, '--hidden', '32', '--batch', '2', '--seq-len', '20', '--optimizer', 'adagrad', '--device', 'cpu', '--sample-length', '0', '--eval-every', '100'];

  test('killed mid-run, resumed, finished: the same weights as an uninterrupted run', async () => {
    const ref = join(dir, 'ref.safetensors');
    expect(cli(['train', ...common, '--steps', '1500', '--save', ref]).status).toBe(0);
    const ck = join(dir, 'killed.safetensors');
    const child = spawn(process.execPath, ['dist/cli.js', 'train', ...common, '--steps', '1500', '--save', ck, '--save-every', '25'], { stdio: 'ignore' });
    while (!existsSync(ck)) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // The command runs as a child of the process killed (src/cli/bin.ts); it stops once it sees
    // its parent gone, and until then holds the checkpoint's lock (src/node/lock.ts).
    const lock = lockPathOf(ck);
    const holderAlive = () => {
      try {
        process.kill(JSON.parse(readFileSync(lock, 'utf8')).pid, 0);
        return true;
      } catch {
        return false; // no lock, or its process is gone
      }
    };
    while (holderAlive()) await new Promise((r) => setTimeout(r, 20));
    const killedAt = loadCheckpoint(readFileSync(ck)).step; // intact: written atomically
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(1500);
    const log = join(dir, 'log.jsonl');
    const r = cli(['train', '--text', corpus, '--resume', ck, '--save', ck, '--device', 'cpu', '--sample-length', '0', '--log-file', log]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`resuming .* at step ${killedAt}`));
    const [a, b] = [loadCheckpoint(readFileSync(ref)), loadCheckpoint(readFileSync(ck))];
    expect(b.step).toBe(1500);
    for (const k of PARAM_NAMES) expect((b.extra!['f64.' + k] as { data: Float64Array }).data, k).toEqual((a.extra!['f64.' + k] as { data: Float64Array }).data);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ step: 1500 });
    expect(Object.keys(lines.at(-1))).toEqual(['step', 'epoch', 'train_loss', 'val_loss', 'val_bpc', 'val_perplexity', 'lr', 'grad_norm', 'chars_per_sec', 'elapsed']);
    expect(lines.at(-1).val_bpc).toBeCloseTo(lines.at(-1).val_loss / Math.LN2, 10);
  });

  test('eval reports loss, bpc and perplexity, and counts unseen characters', () => {
    const ref = join(dir, 'ref.safetensors');
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'The keeper spoke to the gulls. Zebras? Żółw! The light turned.');
    const r = cli(['eval', '--checkpoint', ref, '--text', other]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loss \d\.\d{4} nats\/char, \d\.\d{4} bits\/char, perplexity \d+\.\d{3}/);
    expect(r.stdout).toMatch(/characters not in the model's vocabulary were skipped \(\d+ distinct: .*'Z' \(U\+005A\) x1/);
  });

  test('too short for the batch: the largest values that work', () => {
    const r = cli(['train', '--string', 'a short text of forty characters, or so', '--batch', '4', '--seq-len', '25']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/too short for --batch 4 x --seq-len 25.*largest that work: --seq-len 9 with --batch 4, or --batch 1 with --seq-len 25/);
  });
});
