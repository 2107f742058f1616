import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { PARAM_NAMES } from '../src/model.js';

// No run is lost: Ctrl-C, SIGTERM and SIGHUP save on both engines, a resumed run finds its text and
// refuses (or fits, saying so) settings that change the meaning of its saved state.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-runs-'));
const corpus = join(dir, 'story.txt');
copyFileSync('corpus/lighthouse.txt', corpus);
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const common = ['--text', corpus, '--hidden', '32', '--batch', '2', '--seq-len', '20', '--optimizer', 'adagrad', '--sample-length', '0', '--eval-every', '100'];
const ckpt = (p: string) => loadCheckpoint(readFileSync(p), p);
const f64 = (p: string, k: string) => (ckpt(p).extra!['f64.' + k] as { data: Float64Array }).data;

/** A CLI run in the background, its stderr collected. */
function start(args: string[]) {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; at: number }>((r) => child.on('exit', (code) => r({ code, at: performance.now() })));
  return {
    child, exit,
    err: () => err,
    async until(re: RegExp) {
      while (!re.test(err)) {
        if (child.exitCode !== null) throw new Error(`exited before ${re}: ${err}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

/** Trains in the background until the first progress line, sends `signal`, and checks that
 * the process exits within 2 s; returns the run and its exit code. */
async function stopped(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', args: string[]) {
  const run = start(['train', ...args, '--steps', '200000']);
  await run.until(/step \d+\/200000/);
  const sent = performance.now();
  run.child.kill(signal);
  const { code, at } = await run.exit;
  expect(at - sent, run.err()).toBeLessThan(2000);
  return { run, code };
}

describe('signals: finish the step, save, exit', () => {
  test('cpu, SIGINT: exits 130 within 2 s, saved; --resume alone continues bit for bit', async () => {
    const ck = join(dir, 'int.safetensors');
    const { run, code } = await stopped('SIGINT', [...common, '--device', 'cpu', '--save', ck]);
    expect(code, run.err()).toBe(130);
    const k = Number(/stopped by SIGINT after step (\d+)/.exec(run.err())![1]);
    expect(ckpt(ck).step).toBe(k);
    expect(run.err()).toMatch(new RegExp(`saved .*int\\.safetensors \\(step ${k}\\); continue with: char-rnn train --resume`));
    // resumed without --text (the recorded path), to 30 steps more; the same as 30 more uninterrupted
    const r = cli('train', '--resume', ck, '--save', ck, '--steps', String(k + 30), '--device', 'cpu');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`from ${resolve(corpus).replace(/[.]/g, '\\.')} .*resuming .* at step ${k}`));
    const ref = join(dir, 'int-ref.safetensors');
    expect(cli('train', ...common, '--device', 'cpu', '--steps', String(k + 30), '--save', ref).code).toBe(0);
    for (const name of PARAM_NAMES) expect(f64(ck, name), name).toEqual(f64(ref, name));
  });

  test('cpu, SIGTERM: exits 143, saved', async () => {
    const ck = join(dir, 'term.safetensors');
    const { run, code } = await stopped('SIGTERM', [...common, '--device', 'cpu', '--save', ck]);
    expect(code, run.err()).toBe(143);
    expect(run.err()).toMatch(/Terminated: finishing the current step and saving/);
    expect(ckpt(ck).step).toBeGreaterThan(0);
  });

  test('gpu, SIGINT: exits 130 within 2 s, saved', async () => {
    const ck = join(dir, 'gpu.safetensors');
    const { run, code } = await stopped('SIGINT', [...common, '--hidden', '16', '--save', ck]);
    expect(code, run.err()).toBe(130);
    const k = Number(/stopped by SIGINT after step (\d+)/.exec(run.err())![1]);
    expect(ckpt(ck).step).toBe(k);
  });

  test.each(['cpu', 'gpu'])('%s, SIGHUP (a closed terminal): exits 129 within 2 s, saved; its lock gone', async (device) => {
    const ck = join(dir, `hup-${device}.safetensors`);
    const { run, code } = await stopped('SIGHUP', [...common, '--hidden', '16', '--device', device, '--save', ck]);
    expect(code, run.err()).toBe(129);
    expect(run.err()).toMatch(/Hangup \(SIGHUP: the terminal or connection closed\): finishing the current step and saving/);
    const k = Number(/stopped by SIGHUP after step (\d+)/.exec(run.err())![1]);
    expect(ckpt(ck).step).toBe(k);
    expect(existsSync(join(dir, `.hup-${device}.safetensors.lock`))).toBe(false);
  });

  test('a signal while the run is being set up ends it at once, nothing saved, its lock gone', async () => {
    const ck = join(dir, 'early.safetensors');
    const lock = join(dir, '.early.safetensors.lock');
    const big = join(dir, 'big.txt');
    writeFileSync(big, readFileSync(corpus, 'utf8').repeat(4000)); // 19 MB: reading it takes a while, then the GPU is set up
    const run = start(['train', '--text', big, '--hidden', '16', '--sample-length', '0', '--save', ck, '--steps', '10']);
    while (!existsSync(lock)) {
      if (run.child.exitCode !== null) throw new Error(`exited before taking its lock: ${run.err()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    run.child.kill('SIGHUP');
    const { code } = await run.exit;
    expect(code, run.err()).toBe(129);
    expect(run.err()).not.toMatch(/training characters/);
    expect(existsSync(ck) || existsSync(lock)).toBe(false);
  });

  test('a second Ctrl-C quits at once, without saving', async () => {
    const ck = join(dir, 'twice.safetensors');
    // slow steps (about half a second each on the CPU): both signals arrive inside the first
    const run = start(['train', '--text', corpus, '--hidden', '400', '--seq-len', '200', '--device', 'cpu', '--steps', '1000', '--save', ck]);
    await run.until(/training characters/);
    await new Promise((r) => setTimeout(r, 100));
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect(code, run.err()).toBe(130);
    expect(run.err()).toMatch(/SIGINT again: quitting now/);
    expect(existsSync(ck)).toBe(false);
  });
});

describe('resume: the text it records, settings that change its state', () => {
  const b4 = join(dir, 'b4.safetensors');
  const make = () => existsSync(b4) || expect(cli('train', ...common, '--batch', '4', '--device', 'cpu', '--steps', '20', '--save', b4).code).toBe(0);

  test('the checkpoint records the text: path, length, hash', () => {
    make();
    const t = JSON.parse(ckpt(b4).metadata!.text);
    expect(t).toEqual({ source: corpus, path: resolve(corpus), chars: 4859, hash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(JSON.parse(ckpt(b4).metadata!.run)).toMatchObject({ B: 4, T: 20, L: Math.floor((4859 - 242 - 1) / 4) });
  });

  test('a new batch size: the hidden state and the data restart, said so (CPU and GPU)', () => {
    make();
    for (const device of ['cpu', 'gpu']) {
      const out = join(dir, `b2-${device}.safetensors`);
      const r = cli('train', '--resume', b4, '--batch', '2', '--steps', '25', '--device', device, '--save', out, '--sample-length', '0');
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/resuming with changed settings: --batch 2 differs from the saved 4; the hidden state starts from zero and the data from the start of its 2 streams/);
      expect(ckpt(out).step).toBe(25);
      expect((ckpt(out).extra!.hprev as { shape: number[] }).shape).toEqual([2, 32]);
    }
    const r = cli('train', '--resume', b4, '--seq-len', '10', '--steps', '22', '--device', 'cpu', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/--seq-len 10 differs from the saved 20/);
  });

  test('another optimizer is refused, naming the saved one', () => {
    make();
    const r = cli('train', '--resume', b4, '--optimizer', 'adam', '--steps', '25');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--optimizer adam does not match the optimizer adagrad of .*b4\.safetensors.*--init/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test('another text is refused unless --allow-new-text; a missing recorded text is named', () => {
    make();
    const other = join(dir, 'other.txt');
    writeFileSync(other, readFileSync(corpus, 'utf8').split('\n').reverse().join('\n'));
    const r = cli('train', '--resume', b4, '--text', other, '--steps', '25', '--device', 'cpu', '--sample-length', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/other\.txt \(4,859 characters, hash [0-9a-f]{16}\) is not the text .*b4\.safetensors was trained on \(.*story\.txt, 4,859 characters, hash [0-9a-f]{16}\).*--allow-new-text/);
    const ok = cli('train', '--resume', b4, '--text', other, '--allow-new-text', '--steps', '25', '--device', 'cpu', '--sample-length', '0');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toMatch(/the text is not the one of the checkpoint; the hidden state starts from zero/);
    // the same text under another name is the same text
    const copy = join(dir, 'copy.txt');
    copyFileSync(corpus, copy);
    expect(cli('train', '--resume', b4, '--text', copy, '--steps', '21', '--device', 'cpu', '--sample-length', '0').code).toBe(0);
    const gone = join(dir, 'gone.txt');
    copyFileSync(corpus, gone);
    const g = join(dir, 'gone.safetensors');
    expect(cli('train', '--text', gone, '--hidden', '8', '--steps', '3', '--device', 'cpu', '--save', g, '--sample-length', '0').code).toBe(0);
    rmSync(gone);
    const m = cli('train', '--resume', g, '--steps', '5', '--device', 'cpu');
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/The training text recorded in .*gone\.safetensors, .*gone\.txt, does not exist\. Give it with --text FILE/);
  });

  test('a --string run resumes from its checkpoint alone', () => {
    const s = join(dir, 'string.safetensors');
    expect(cli('train', '--string', 'hello world', '--hidden', '4', '--steps', '5', '--device', 'cpu', '--save', s, '--sample-length', '0').code).toBe(0);
    const r = cli('train', '--resume', s, '--steps', '9', '--device', 'cpu', '--save', s, '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(ckpt(s).step).toBe(9);
  });
});
