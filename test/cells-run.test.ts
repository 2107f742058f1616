import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2, loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { DEFAULT_CONFIG, validateConfig } from '../src/config.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { UsageError } from '../src/errors.js';
import { initParams } from '../src/init.js';
import { CELL_NAMES, paramNames } from '../src/model.js';
import { planBatches } from '../src/data.js';
import { scanUtf8 } from '../src/text.js';
import { fitSavedRun, runCheckpoint, trainerStateOf } from '../src/state.js';
import { Trainer } from '../src/train.js';

// Cells and layers through the configuration, the checkpoints (format 2 beside format 1), a
// resumed run, and the command line on the CPU engine.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-cells-'));
const TEXT = 'the cat sat on the mat; the dog ate the hat.\n'.repeat(4);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 540_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('configuration', () => {
  test('cell, layers and dropout are validated with the accepted range', () => {
    const ok = validateConfig({ ...DEFAULT_CONFIG, cell: 'lstm', layers: 3, dropout: 0.5 });
    expect(ok.layers).toBe(3);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, cell: 'elman' as never })).toThrow(`cell (--cell): elman. It must be one of ${CELL_NAMES.join(', ')}`);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, layers: 0 })).toThrow(/--layers.*from 1 to 8/);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, layers: 9 })).toThrow(UsageError);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, dropout: 1 })).toThrow(/--dropout.*\[0, 1\)/);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, dropout: -0.1 })).toThrow(UsageError);
  });
});

describe('checkpoints of every cell and depth', () => {
  const vocab = [...new Set(TEXT)].sort();
  const data = Uint32Array.from(TEXT, (c) => vocab.indexOf(c));
  const plan = planBatches(data.length, 2, 8);
  const record = { source: '--string', string: TEXT, chars: TEXT.length, hash: scanUtf8(new TextEncoder().encode(TEXT)).hash };

  for (const cell of CELL_NAMES)
    test(`${cell}, 2 layers, dropout 0.2: format 2, the table's names, a resumed run continues bit for bit`, async () => {
      const cfg = validateConfig({ ...DEFAULT_CONFIG, cell, layers: 2, dropout: 0.2, hidden: 6, batch: 2, seqLen: 8, optimizer: 'adam', lr: 0.01, clip: 0, valFraction: 0 });
      const shape = { V: vocab.length, H: 6, B: 2, T: 8, cell, layers: 2 };
      const run = async (steps: number, from?: Uint8Array) => {
        const e = new CpuEngine(shape, { name: 'adam', lr: 0.01, clip: 0 }, initParams(shape, cfg.seed));
        const tr = new Trainer(e, data, cfg);
        if (from) tr.restore(trainerStateOf(loadCheckpoint(from), 'cpu', 'ckpt').state);
        await tr.run(steps - tr.step);
        return { e, bytes: saveCheckpoint(runCheckpoint(vocab, cfg, await tr.state(), 'cpu', { plan, text: record })) };
      };
      const whole = await run(6);
      const half = await run(3);
      const resumed = await run(6, half.bytes);
      expect(Array.from((await resumed.e.getParams())['W_hh.1'])).toEqual(Array.from((await whole.e.getParams())['W_hh.1']));

      const { tensors, metadata } = decodeSafetensors(half.bytes);
      expect(metadata.format).toBe(CHECKPOINT_FORMAT_V2);
      expect([metadata.cell, metadata.layers, metadata.dropout]).toEqual([cell, '2', '0.2']);
      for (const k of paramNames(shape)) expect(tensors.has(k) && tensors.has('m' + k) && tensors.has('f64.' + k), k).toBe(true);
      expect(tensors.get('hprev')!.shape).toEqual([2, 2, 6]);
      expect(tensors.has('cprev')).toBe(cell === 'lstm');
      const c = loadCheckpoint(half.bytes);
      expect([c.cell, c.layers, c.dropout]).toEqual([cell, 2, 0.2]);
      expect(Object.keys(c.params)).toEqual(paramNames(shape));

      const saved = trainerStateOf(c, 'cpu', 'run.safetensors');
      expect(() => fitSavedRun(saved, { ...cfg, layers: 3 }, plan, false, 'run.safetensors')).toThrow(/does not match the model of run.safetensors/);
      expect(() => fitSavedRun(saved, { ...cfg, cell: cell === 'gru' ? 'lstm' : 'gru' }, plan, false, 'run.safetensors')).toThrow(UsageError);
      expect(fitSavedRun(saved, { ...cfg, dropout: 0 }, plan, false, 'run.safetensors')).toEqual([]);
    });

  test('the one-layer tanh RNN stays format 1 with the tutorial names, and format 1 files load as it', () => {
    const p = initParams({ V: 4, H: 3 }, 1);
    const bytes = saveCheckpoint({ params: p, vocab: ['e', 'h', 'l', 'o'], hidden: 3, step: 0 });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata.format).toBe(CHECKPOINT_FORMAT);
    expect(metadata.cell).toBeUndefined();
    expect([...tensors.keys()]).toEqual(['W_xh', 'W_hh', 'b_h', 'W_hy', 'b_y']);
    const c = loadCheckpoint(bytes);
    expect(c.cell).toBeUndefined();
    expect(Object.keys(c.params)).toEqual(['W_xh', 'W_hh', 'b_h', 'W_hy', 'b_y']);
  });

  test('a format-2 file whose tensors do not match its metadata is refused with the reason', () => {
    const p = initParams({ V: 4, H: 3, cell: 'gru', layers: 2 }, 1);
    const base = { params: p, vocab: ['e', 'h', 'l', 'o'], hidden: 3, step: 0 };
    expect(() => saveCheckpoint({ ...base, cell: 'lstm', layers: 2 })).toThrow(/W_xh.0 has 36 values, expected 48 \(shape \[12,4\]\) for a lstm of 2 layers/);
    const bytes = saveCheckpoint({ ...base, cell: 'gru', layers: 2 });
    const { tensors, metadata } = decodeSafetensors(bytes);
    const edited = encodeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })), { ...metadata, layers: '3' });
    expect(() => loadCheckpoint(edited, 'edited.safetensors')).toThrow(/edited.safetensors: tensor W_xh.2 is missing; a char-rnn-webgpu checkpoint of a gru of 3 layers/);
    expect(() => loadCheckpoint(encodeSafetensors([], { ...metadata, cell: 'elman' }), 'x')).toThrow(`cell metadata "elman" is not one of ${CELL_NAMES.join(', ')}`);
  });
});

describe('char-rnn with --cell, --layers, --dropout (CPU engine)', () => {
  const ckpt = join(dir, 'lstm.safetensors');
  test('train an LSTM of 2 layers with dropout, save, sample and eval it; resume refuses another model', () => {
    const r = cli('train', '--string', TEXT, '--cell', 'lstm', '--layers', '2', '--dropout', '0.1', '--hidden', '8', '--steps', '20', '--seq-len', '10',
      '--optimizer', 'adam', '--lr', '0.01', '--device', 'cpu', '--save', ckpt, '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/lstm x 2 layers, hidden 8, dropout 0.1/);
    const c = loadCheckpoint(readFileSync(ckpt), ckpt);
    expect([c.cell, c.layers, c.dropout, c.step]).toEqual(['lstm', 2, 0.1, 20]);
    const s = cli('sample', '--checkpoint', ckpt, '--prime', 'the', '--length', '30', '--device', 'cpu', '--seed', '3');
    expect(s.code, s.err).toBe(0);
    expect(s.out.trim().length).toBeGreaterThanOrEqual(30);
    expect(cli('sample', '--checkpoint', ckpt, '--prime', 'the', '--length', '30', '--device', 'cpu', '--seed', '3').out).toBe(s.out);
    const e = cli('eval', '--checkpoint', ckpt, '--string', TEXT, '--device', 'cpu');
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/loss \d+\.\d+ nats\/char/);
    const again = cli('train', '--resume', ckpt, '--layers', '3', '--steps', '30', '--device', 'cpu');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/--layers 3 does not match the model of .*lstm, 2 layers/);
    const more = cli('train', '--resume', ckpt, '--steps', '25', '--device', 'cpu', '--sample-length', '0', '--save', ckpt);
    expect(more.code, more.err).toBe(0);
    expect(loadCheckpoint(readFileSync(ckpt), ckpt).step).toBe(25);
  });

  test('the GPU engine trains every cell with layers and dropout through the CLI, as the CPU engine does; check compares them', () => {
    const losses = (device: string, ...extra: string[]) => {
      const r = cli('train', '--string', TEXT, '--hidden', '12', '--steps', '4', '--log-every', '1', '--sample-length', '0', '--device', device, ...extra);
      expect(r.code, r.err).toBe(0);
      return Number(/loss (\d+\.\d+)/.exec(r.err.split('\n').filter((l) => l.startsWith('trained')).join(''))![1]);
    };
    // the loss of the 4th step, printed to 4 decimals: float32 and float64 agree to about 1e-6
    for (const extra of [['--cell', 'gru', '--layers', '2'], ['--cell', 'lstm', '--dropout', '0.2'], ['--dropout', '0.3']])
      expect(Math.abs(losses('gpu', ...extra) - losses('cpu', ...extra)), extra.join(' ')).toBeLessThanOrEqual(1e-4);
    const k = cli('check', '--string', TEXT, '--cell', 'lstm', '--layers', '2', '--dropout', '0.2', '--hidden', '12', '--steps', '3');
    expect(k.code, k.out + k.err).toBe(0);
    for (const row of ['hs.1', 'cs.0', 'dpre.1', 'dW_hh.0'])
      expect(k.out).toMatch(new RegExp(`^local step +${row.replace('.', '\\.')} `, 'm'));
    expect(k.out).toMatch(/^check: .*lstm x2, .*dropout 0\.2, /m);
    expect(k.out).toMatch(/^all \d+ comparisons pass/m);
    const bad = cli('train', '--string', TEXT, '--cell', 'elman', '--device', 'cpu');
    expect(bad.code).toBe(2);
  });

  test('the relu cell trains on both engines through the CLI: the same losses, falling; check passes', () => {
    const run = (device: string) => {
      const r = cli('train', '--string', TEXT, '--cell', 'relu', '--layers', '2', '--hidden', '16', '--steps', '60', '--seq-len', '16', '--batch', '2',
        '--optimizer', 'adam', '--lr', '0.01', '--log-every', '20', '--sample-length', '0', '--device', device);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/relu x 2 layers, hidden 16/);
      return [...r.err.matchAll(/^step \d+\/60 .*loss (\d+\.\d+)/gm)].map((m) => Number(m[1]));
    };
    const [cpu, gpu] = [run('cpu'), run('gpu')];
    expect(cpu).toHaveLength(3);
    // printed to 4 decimals: float32 and float64 agree to about 1e-6 per step, and 60 steps of
    // Adam on this text do not amplify that past the last digit
    for (const [k, l] of cpu.entries()) expect(Math.abs(gpu[k] - l), `step ${20 * (k + 1)}`).toBeLessThanOrEqual(2e-4);
    const V = new Set(TEXT).size;
    expect(cpu[2], 'the loss falls well below the uniform guess, log V').toBeLessThan(Math.log(V) - 1);
    // (check's defaults, Adagrad at lr 0.1 over the whole text as one sequence of 179, take the
    // unbounded relu states to an infinite loss on both engines by the third step)
    const k = cli('check', '--string', TEXT, '--cell', 'relu', '--layers', '2', '--hidden', '12', '--steps', '3', '--optimizer', 'adam', '--lr', '0.01', '--seq-len', '16');
    expect(k.code, k.out + k.err).toBe(0);
    expect(k.out).toMatch(/^check: .*relu x2, /m);
    expect(k.out).toMatch(/^all \d+ comparisons pass/m);
  });
});
