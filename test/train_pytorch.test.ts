import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { trainerStateOf } from '../src/state.js';
import { expectClose } from './helpers.js';

// scripts/train_pytorch.py continues a run of ours in PyTorch (one process, or DDP under
// torchrun) and writes a checkpoint of ours back. Checked here against our float64 CPU engine:
// the same checkpoint resumed by `char-rnn train --resume --device cpu` and by the script in
// float64 gives the same loss at every step, the same validation losses, grad norms and final
// weights (tolerance 1e-9 relative: both compute in float64, they differ by rounding order only,
// measured about 1e-15); with two Gloo processes too. Needs /usr/bin/python3 with torch (bash
// scripts/setup.sh --browser installs Debian's python3-torch).

const PY = '/usr/bin/python3';
const INSTALL = 'PyTorch is missing for /usr/bin/python3: run bash scripts/setup.sh --browser (it installs Debian\'s python3-torch), or apt-get install python3-torch.';
const dir = mkdtempSync(join(tmpdir(), 'char-rnn-ddp-'));
const TOL = { atol: 0, rtol: 1e-9 };

// A text short enough that 10 steps of 5 streams x 16 cross an epoch (8 steps each).
const TEXT = Array.from({ length: 14 }, (_, i) => `the keeper wound the lamp at ${i} and the sea said no.\n`).join('');
const textFile = join(dir, 'keeper.txt');
writeFileSync(textFile, TEXT);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The script in one plain process, or in `nproc` processes under torchrun. Debian bookworm's
 * torchrun (PyTorch 1.13 on Python 3.11) loses its default --redirects/--tee 0 to Python 3.11's
 * enum change and stops at start; a mapping that names no process is the same "none". */
function script(args: string[], nproc = 1, env: Record<string, string> = {}) {
  const launch = nproc === 1 ? [] : ['-m', 'torch.distributed.run', '--redirects', '9:0', '--tee', '9:0', '--nproc_per_node', String(nproc)];
  const r = spawnSync(PY, [...launch, 'scripts/train_pytorch.py', ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1', ...env } });
  return { code: r.status, out: r.stdout, err: `${r.stderr}\n(${INSTALL})` };
}

type LogLine = { step: number; epoch: number; train_loss: number; val_loss: number | null; grad_norm: number; lr: number };
const readLog = (path: string): LogLine[] => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** Trains `first` steps with our CPU engine and saves; resumes that to `total` with our CPU engine
 * and with the script (float64); returns both checkpoints and logs. */
function bothWays(name: string, first: number, total: number, nproc: number, train: string[]) {
  const p = (s: string) => join(dir, `${name}-${s}`);
  const start = cli('train', '--device', 'cpu', '--steps', String(first), '--save', p('start.safetensors'), '--sample-length', '0', ...train);
  expect(start.code, start.err).toBe(0);
  const more = ['--steps', String(total), '--log-every', '1', '--eval-every', '5'];
  const ours = cli('train', '--resume', p('start.safetensors'), '--device', 'cpu', ...more, '--log-file', p('ours.jsonl'), '--save', p('ours.safetensors'), '--sample-length', '0');
  expect(ours.code, ours.err).toBe(0);
  const py = script(['--resume', p('start.safetensors'), ...more, '--dtype', 'float64', '--log-file', p('py.jsonl'), '--save', p('py.safetensors')], nproc);
  expect(py.code, py.err).toBe(0);
  return { ours: p('ours.safetensors'), py: p('py.safetensors'), oursLog: readLog(p('ours.jsonl')), pyLog: readLog(p('py.jsonl')), out: py.out };
}

/** Every step's loss, validation loss, grad norm and learning rate, and the final run (weights,
 * optimizer state, carried state as float64, step, data cursor, Adam's t) agree. */
function expectSameRun(r: ReturnType<typeof bothWays>, steps: number) {
  expect(r.pyLog.map((e) => [e.step, e.epoch]), 'steps and epochs').toEqual(r.oursLog.map((e) => [e.step, e.epoch]));
  expect(r.pyLog.length).toBe(steps);
  const col = (log: LogLine[], k: 'train_loss' | 'grad_norm' | 'lr') => log.map((e) => e[k]);
  for (const k of ['train_loss', 'grad_norm', 'lr'] as const) expectClose(col(r.pyLog, k), col(r.oursLog, k), { ...TOL, name: k });
  const val = (log: LogLine[]) => log.filter((e) => e.val_loss !== null).map((e) => e.val_loss!);
  expect(val(r.oursLog).length).toBeGreaterThan(1);
  expectClose(val(r.pyLog), val(r.oursLog), { ...TOL, name: 'val_loss' });
  const a = decodeSafetensors(readFileSync(r.py), r.py);
  const b = decodeSafetensors(readFileSync(r.ours), r.ours);
  expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
  for (const [k, t] of b.tensors) if (k.startsWith('f64.')) expectClose(a.tensors.get(k)!.data, t.data, { atol: 1e-12, rtol: 1e-9, name: k });
  const run = (m: Record<string, string>) => ({ ...JSON.parse(m.run), device: undefined });
  expect(run(a.metadata)).toEqual(run(b.metadata));
  expect(JSON.parse(a.metadata.text)).toEqual(JSON.parse(b.metadata.text));
  expect(JSON.parse(a.metadata.config)).toEqual(JSON.parse(b.metadata.config));
  // the loss curve: the start's, then every logged step, validation losses where measured
  const curve = (m: Record<string, string>): number[][] => JSON.parse(m.history);
  const [pc, oc] = [curve(a.metadata), curve(b.metadata)];
  expect(pc.map((p) => [p[0], p.length])).toEqual(oc.map((p) => [p[0], p.length]));
  expect(oc.at(-1)![0]).toBe(JSON.parse(b.metadata.run).step);
  expectClose(pc.flatMap((p) => p.slice(1)), oc.flatMap((p) => p.slice(1)), { ...TOL, name: 'history' });
}

describe('scripts/train_pytorch.py', () => {
  test('PyTorch is installed for /usr/bin/python3', () => {
    const r = spawnSync(PY, ['-c', 'import torch, torch.distributed; assert torch.distributed.is_gloo_available()'], { encoding: 'utf8' });
    expect(r.status, `${r.stderr || ''}${r.error ?? ''}\n${INSTALL}`).toBe(0);
  });

  const runs = [
    ['rnn, 1 layer, adagrad (the defaults)', []],
    ['lstm, 2 layers, adamw, clip-norm and clip', ['--cell', 'lstm', '--layers', '2', '--optimizer', 'adamw', '--clip-norm', '1', '--clip', '0.05']],
    ['gru, 2 layers, sgd with momentum, cosine schedule', ['--cell', 'gru', '--layers', '2', '--optimizer', 'sgd', '--momentum', '0.9', '--lr', '0.05', '--schedule', 'cosine', '--warmup', '2']],
  ] as const;
  for (const [what, opts] of runs)
    test(`one process in float64 continues a run as our CPU engine does, step for step: ${what}`, () => {
      const train = ['--text', textFile, '--hidden', '12', '--batch', '5', '--seq-len', '16', ...opts];
      const r = bothWays(what.split(',')[0], 3, 13, 1, train); // from step 3 (mid-epoch, optimizer state set) to 13
      expectSameRun(r, 10);
      expect(r.pyLog.at(-1)!.epoch, 'crosses an epoch').toBe(1);
      expect(r.out).toMatch(/validation at step 3 \(as loaded\): \d\.\d{4} nats\/char/);
    });

  test('two Gloo processes under torchrun train 20 steps as our CPU engine does; char-rnn sample, eval, train --resume and the page\'s loader take the result', () => {
    // 5 streams over 2 processes: 2 and 3
    const train = ['--text', 'corpus/lighthouse.txt', '--hidden', '16', '--batch', '5', '--seq-len', '16', '--optimizer', 'adam'];
    const r = bothWays('ddp', 2, 22, 2, train);
    expect(r.out).toContain('2 processes (gloo)');
    expectSameRun(r, 20);

    const sample = cli('sample', '--checkpoint', r.py, '--device', 'cpu', '--length', '80', '--prime', 'The ');
    expect(sample.code, sample.err).toBe(0);
    expect(sample.out).toBe(cli('sample', '--checkpoint', r.ours, '--device', 'cpu', '--length', '80', '--prime', 'The ').out);
    const score = (ckpt: string) => {
      const e = cli('eval', '--checkpoint', ckpt, '--text', 'corpus/lighthouse.txt', '--device', 'cpu');
      expect(e.code, e.err).toBe(0);
      return Number(/loss (\d+\.\d+) nats/.exec(e.out)![1]);
    };
    expect(score(r.py)).toBe(score(r.ours));
    const more = (ckpt: string, log: string) => {
      const t = cli('train', '--resume', ckpt, '--device', 'cpu', '--steps', '24', '--log-every', '1', '--log-file', join(dir, log), '--sample-length', '0');
      expect(t.code, t.err).toBe(0);
      return readLog(join(dir, log)).map((e) => e.train_loss);
    };
    expectClose(more(r.py, 'ddp-more-py.jsonl'), more(r.ours, 'ddp-more-ours.jsonl'), { ...TOL, name: 'loss after --resume' });
    const c = loadCheckpoint(readFileSync(r.py), r.py); // what the page and --init read
    expect(trainerStateOf(c, 'gpu', r.py).state.step).toBe(22);
  });

  for (const [cell, layers] of [['rnn', '1'], ['gru', '2']])
    test(`round trip ours -> PyTorch -> ours with 0 steps keeps every tensor and the greedy text (${cell}, ${layers} layer${layers === '1' ? '' : 's'})`, () => {
      const ckpt = join(dir, `trip-${cell}.safetensors`);
      const back = join(dir, `trip-${cell}-back.safetensors`);
      const t = cli('train', '--text', textFile, '--device', 'cpu', '--cell', cell, '--layers', layers, '--hidden', '16', '--batch', '3', '--steps', '12', '--optimizer', 'adam', '--save', ckpt, '--sample-length', '0');
      expect(t.code, t.err).toBe(0);
      const py = script(['--resume', ckpt, '--save', back]); // --steps: the run's own 12, so none
      expect(py.code, py.err).toBe(0);
      expect(py.out).toContain('trained 0 steps');
      const a = decodeSafetensors(readFileSync(back), back);
      const b = decodeSafetensors(readFileSync(ckpt), ckpt);
      for (const [k, x] of b.tensors) if (!k.startsWith('f64.')) expect(Array.from(a.tensors.get(k)!.data), k).toEqual(Array.from(x.data));
      expect(JSON.parse(a.metadata.run)).toEqual(JSON.parse(b.metadata.run));
      const greedy = (c: string) => cli('sample', '--checkpoint', c, '--greedy', '--length', '120', '--prime', 'the ', '--device', 'cpu');
      expect(greedy(back).out).toBe(greedy(ckpt).out);
      expect(new Set(greedy(back).out).size).toBeGreaterThan(3);
    });

  test('bad input is refused before any work, saying what to do', () => {
    const ckpt = join(dir, 'trip-rnn.safetensors');
    const exported = join(dir, 'exported.safetensors');
    expect(cli('export', '--checkpoint', ckpt, '--pytorch', exported).code).toBe(0);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--resume', exported, '--save', join(dir, 'x.safetensors')], {}, /PyTorch export: weights only.*char-rnn train --init/],
      [['--resume', ckpt, '--save', join(dir, 'x.safetensors'), '--steps', '3'], {}, /Bad --steps 3: it must be an integer >= 12/],
      [['--resume', ckpt, '--save', join(dir, 'x.safetensors'), '--text', 'corpus/lighthouse.txt'], {}, /is not the text .* was trained on/],
      [['--resume', ckpt, '--save', join(dir, 'x.safetensors')], { WORLD_SIZE: '4', RANK: '0', LOCAL_RANK: '0' }, /4 processes for 3 streams.*Use at most 3 processes/],
    ];
    for (const [args, env, message] of cases) {
      const r = script(args, 1, env);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.out).toBe('');
    }
  });
});

describe('scripts/train_pytorch.py reads a checkpoint as strictly as char-rnn does', () => {
  test('a damaged file gets one line and exit code 2, never a traceback; the layout and the metadata schema are char-rnn\'s', () => {
    const ckpt = join(dir, 'strict.safetensors');
    const t = cli('train', '--text', textFile, '--device', 'cpu', '--hidden', '8', '--batch', '3', '--seq-len', '16', '--steps', '4', '--save', ckpt, '--sample-length', '0');
    expect(t.code, t.err).toBe(0);
    const good = new Uint8Array(readFileSync(ckpt));
    type Entry = { name: string; shape: number[]; data: Float32Array | Float64Array };
    const edit = (f: (l: Entry[], m: Record<string, string>) => void) => {
      const { tensors, metadata } = decodeSafetensors(good);
      const list = [...tensors].map(([name, x]) => ({ name, shape: [...x.shape], data: x.data.slice() }));
      f(list, metadata);
      return encodeSafetensors(list, metadata);
    };
    const json = (key: string, f: (x: any) => void) => edit((_, m) => {
      const x = JSON.parse(m[key]);
      f(x);
      m[key] = JSON.stringify(x);
    });
    /** The file with its header changed by `f`, and `more` bytes after its data section. */
    const header = (f: (h: Record<string, any>) => void, more = 0) => {
      const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
      const h = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
      f(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const m = Math.ceil(json.length / 8) * 8;
      const out = new Uint8Array(8 + m + good.length - 8 - n + more).fill(0x20, 8, 8 + m);
      new DataView(out.buffer).setUint32(0, m, true);
      out.set(json, 8);
      out.set(good.subarray(8 + n), 8 + m);
      return out;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['truncated', good.subarray(0, good.length - 10), /the file is truncated: .* \(10 bytes missing\)/],
      ['overlapping offsets', header((h) => (h.vW_hh.data_offsets = h.mW_hh.data_offsets)), /tensor (mW_hh|vW_hh) \(bytes \d+-\d+\) overlaps the tensor before it/],
      ['a gap', header((h) => (h.b_y.data_offsets = h.b_y.data_offsets.map((o: number) => o + 4)), 4), /bytes \d+-\d+ of the data section belong to no tensor; a safetensors file has no gaps/],
      ['metadata not strings', header((h) => (h.__metadata__.hidden = 8)), /__metadata__ of the header is not a JSON object of strings/],
      ['a NaN weight', edit((l) => (l.find((x) => x.name === 'W_hh')!.data[5] = NaN)), /tensor W_hh holds a non-finite value \(NaN\) at index 5; a checkpoint holds finite numbers only/],
      ['run.chunk -5', json('run', (r) => (r.chunk = -5)), /the run\.chunk metadata -5 is not an integer >= 0/],
      ['run.chunk 1e6', json('run', (r) => (r.chunk = 1e6)), /the run\.chunk metadata 1000000 is outside the run's data: 3 streams of \d+ characters read 16 at a time/],
      ['run not JSON', edit((_, m) => (m.run = '{')), /the run metadata "\{" is not a JSON object of the run: .* \(it is not valid JSON\)/],
      ['config.batch "2"', json('config', (c) => (c.batch = '2')), /the config\.batch metadata "2" is not an integer from 1 to 65535/],
      ['a text record without a path', json('text', (x) => delete x.path), /the text metadata .* is not a JSON object \{source, chars, hash\} with either path/],
      ['optimizer state too short', edit((l) => Object.assign(l.find((x) => x.name === 'mW_hh')!, { shape: [3], data: new Float32Array(3) })), /tensor mW_hh has 3 values, expected 64 \(the size of W_hh\)/],
      ['an unknown tensor', edit((l) => l.push({ name: 'notes', shape: [1], data: new Float32Array(1) })), /tensor notes is neither a parameter of the model .* nor its training state/],
    ];
    for (const [what, bytes, message] of cases) {
      const file = join(dir, `strict-${what.replace(/\W+/g, '-')}.safetensors`);
      writeFileSync(file, bytes);
      const r = spawnSync(PY, ['scripts/train_pytorch.py', '--resume', file, '--save', join(dir, 'never.safetensors')], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(new RegExp(`^train_pytorch\\.py: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      expect(r.stderr, what).toMatch(message);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(r.stderr, what).not.toMatch(/Traceback/);
      // char-rnn refuses the same file
      const ours = cli('sample', '--checkpoint', file, '--device', 'cpu', '--length', '5');
      expect(ours.code, `${what}: ${ours.err}`).toBe(what.startsWith('run.chunk 1e6') ? 0 : 1);
    }
  });
});
