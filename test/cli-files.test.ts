import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { initParams } from '../src/init.js';
import { toPytorch } from '../src/pytorch.js';

// Model files a hostile or careless hand made, through the char-rnn command as users run it:
// each is refused with exit code 1 and one sentence that names the file, the field or tensor
// and what was expected; never a stack trace, never "diverged" or the GPU for a file that was
// broken before training.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-files-'));
const TEXT = 'the cat sat on the mat; the dog ate the hat.\n'.repeat(4);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function expectRefused(r: ReturnType<typeof cli>, file: string, message: RegExp) {
  expect(r.code, r.err).toBe(1);
  expect(r.err).toContain(file);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/\n\s+at |diverged|GPU|undefined/);
}

type Entry = { name: string; shape: number[]; data: Float32Array | Float64Array };

/** `from`, decoded, changed by `f` and written to a new file. */
function edited(from: string, name: string, f: (l: Entry[], meta: Record<string, string>) => void): string {
  const { tensors, metadata } = decodeSafetensors(readFileSync(from));
  const list = [...tensors].map(([n, t]) => ({ name: n, shape: [...t.shape], data: t.data.slice() }));
  f(list, metadata);
  const path = join(dir, name);
  writeFileSync(path, encodeSafetensors(list, metadata));
  return path;
}

const inJson = (key: string, f: (x: any) => void) => (_: Entry[], m: Record<string, string>) => {
  const x = JSON.parse(m[key]);
  f(x);
  m[key] = JSON.stringify(x);
};

describe('a PyTorch state dict holding NaN', () => {
  const vocab = [...new Set(TEXT)].sort();
  const params = initParams({ V: vocab.length, H: 8, cell: 'lstm', layers: 2 }, 3);
  params['W_hh.1'][3] = NaN;
  const file = join(dir, 'nan-torch.safetensors');
  writeFileSync(file, toPytorch({ params, vocab, hidden: 8, step: 0, cell: 'lstm', layers: 2 }));
  const holds = /nan-torch\.safetensors: rnn\.weight_hh_l1 holds a non-finite value \(NaN\) at index 3: the file holds NaN or infinite weights/;

  test('is refused by sample, eval, export, train --init and check --init, saying the file holds NaN', () => {
    expectRefused(cli('sample', '--checkpoint', file, '--device', 'cpu'), file, holds);
    expectRefused(cli('eval', '--checkpoint', file, '--string', TEXT, '--device', 'cpu'), file, holds);
    expectRefused(cli('export', '--checkpoint', file, '--pytorch', join(dir, 'again.safetensors')), file, holds);
    expectRefused(cli('train', '--init', file, '--string', TEXT, '--steps', '3', '--device', 'cpu', '--sample-length', '0'), file, holds);
    expectRefused(cli('check', '--init', file, '--string', TEXT, '--steps', '2'), file, holds);
  });

  test('while the same file with finite weights and foreign metadata {"format": "pt"} samples', () => {
    const ok = edited(file, 'pt.safetensors', (l, m) => {
      l.find((t) => t.name === 'rnn.weight_hh_l1')!.data[3] = 0.25;
      m.format = 'pt';
    });
    const r = cli('sample', '--checkpoint', ok, '--device', 'cpu', '--length', '20', '--prime', 'the');
    expect(r.code, r.err).toBe(0);
  });
});

describe('our checkpoints, edited', () => {
  const lstm = join(dir, 'lstm.safetensors');
  const rnn = join(dir, 'rnn.safetensors');
  const train = (file: string, ...model: string[]) => {
    const r = cli('train', '--string', TEXT, ...model, '--hidden', '8', '--batch', '2', '--seq-len', '8', '--steps', '3', '--optimizer', 'adam', '--device', 'cpu', '--save', file, '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
  };
  const resume = (file: string, device = 'cpu') => cli('train', '--resume', file, '--steps', '5', '--device', device, '--sample-length', '0');

  test('layers metadata of 1 on a 2-layer file: sample and export name the tensors of layer 1', () => {
    train(lstm, '--cell', 'lstm', '--layers', '2');
    const bad = edited(lstm, 'one-layer.safetensors', (l, m) => {
      m.layers = '1';
      inJson('config', (c) => (c.layers = 1))(l, m);
    });
    const named = /tensors W_xh\.1, W_hh\.1, b_h\.1, .* are neither a parameter of a lstm of 1 layer/;
    expectRefused(cli('sample', '--checkpoint', bad, '--device', 'cpu'), bad, named);
    expectRefused(cli('export', '--checkpoint', bad, '--pytorch', join(dir, 'one.safetensors')), bad, named);
  });

  test('run: null, config.hidden unlike the tensors and optimizer state too long are refused on the GPU engine', () => {
    train(rnn);
    const gpu = (name: string, f: (l: Entry[], m: Record<string, string>) => void, message: RegExp) => {
      const file = edited(rnn, name, f);
      expectRefused(resume(file, 'gpu'), file, message);
    };
    gpu('run-null.safetensors', (_, m) => (m.run = 'null'), /the run metadata null is not a JSON object of the run/);
    gpu('config-hidden.safetensors', inJson('config', (c) => (c.hidden = 16)), /the config\.hidden metadata 16 does not match the hidden metadata 8/);
    gpu('long-m.safetensors', (l) => {
      const t = l.find((x) => x.name === 'mW_hh')!;
      Object.assign(t, { shape: [t.data.length + 5], data: new Float32Array(t.data.length + 5) });
    }, /tensor mW_hh has 69 values, expected 64 \(the size of W_hh\)/);
  });

  test('run.chunk outside the run\'s data, a text record without a path, config.batch "2"', () => {
    train(rnn);
    const far = edited(rnn, 'chunk.safetensors', inJson('run', (r) => (r.chunk = 1e9)));
    expectRefused(resume(far), far, /the run\.chunk metadata 1000000000 is outside the run's data: 2 streams of \d+ characters read 8 at a time give chunks 0 to \d+/);
    const minus = edited(rnn, 'minus.safetensors', inJson('run', (r) => (r.chunk = -5)));
    expectRefused(resume(minus), minus, /the run\.chunk metadata -5 is not an integer >= 0/);
    const nowhere = edited(rnn, 'nowhere.safetensors', inJson('text', (t) => (delete t.string, (t.source = 'story.txt'))));
    expectRefused(resume(nowhere), nowhere, /the text metadata .* is not a JSON object \{source, chars, hash\} with either path \(a --text file\) or string/);
    const batch = edited(rnn, 'batch.safetensors', inJson('config', (c) => (c.batch = '2')));
    expectRefused(resume(batch), batch, /the config\.batch metadata "2" is not an integer from 1 to 65535/);
  });
});
