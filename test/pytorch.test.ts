import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint.js';
import { decodeSafetensors } from '../src/safetensors.js';
import { initParams } from '../src/init.js';
import { CELL_NAMES } from '../src/model.js';
import { fromPytorch, toPytorch } from '../src/pytorch.js';

// `char-rnn export --pytorch`: the state dict that torch.nn.{RNN,LSTM,GRU}(V, H, L,
// batch_first=True) + Linear(H, V) load with strict=True, greedy-sampled in PyTorch
// (scripts/pytorch_sample.py, the README's code) to the text `char-rnn sample --greedy` gives;
// and the same file read back by --init and sample. Needs /usr/bin/python3 with torch
// (scripts/setup.sh installs Debian's python3-torch).

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-torch-'));
const VOCAB = [...'\n .;acdeghmnost'];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('export --pytorch', () => {
  test('the README shows the Python this test runs', () => {
    const readme = readFileSync('README.md', 'utf8');
    const script = readFileSync('scripts/pytorch_sample.py', 'utf8');
    expect(readme).toContain(script.slice(script.indexOf('import json')).trim());
  });

  for (const cell of CELL_NAMES)
    test(`${cell}, 2 layers: PyTorch loads it (strict) and greedy-samples the text char-rnn samples; --init reads it back`, () => {
      const dims = { V: VOCAB.length, H: 12, cell, layers: 2 };
      const params = initParams(dims, 5, 0.6);
      if (cell === 'gru') for (const l of [0, 1]) params[`b_hn.${l}`] = initParams(dims, 6, 0.6)['W_hh.0'].slice(0, 12); // not zero
      const ckpt = join(dir, `${cell}.safetensors`);
      writeFileSync(ckpt, saveCheckpoint({ params, vocab: VOCAB, hidden: 12, step: 3, cell, layers: 2 }));
      const out = join(dir, `${cell}-torch.safetensors`);
      const e = cli('export', '--checkpoint', ckpt, '--pytorch', out);
      expect(e.code, e.err).toBe(0);
      const { tensors, metadata } = decodeSafetensors(readFileSync(out));
      expect([...tensors.keys()].slice(0, 4)).toEqual(['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0']);
      expect(JSON.parse(metadata.vocab)).toEqual(VOCAB);

      const ours = cli('sample', '--checkpoint', ckpt, '--prime', 'the ', '--length', '60', '--greedy', '--device', 'cpu');
      expect(ours.code, ours.err).toBe(0);
      const py = spawnSync('/usr/bin/python3', ['scripts/pytorch_sample.py', out, 'the ', '60'], { encoding: 'utf8', timeout: 120_000 });
      expect(py.status, `${py.stderr}\n(PyTorch missing? bash scripts/setup.sh installs python3-torch)`).toBe(0);
      expect(py.stdout.replace(/\n$/, '')).toBe(ours.out.replace(/\n$/, ''));
      expect(new Set(ours.out).size).toBeGreaterThan(3); // not one character repeated

      const back = fromPytorch(readFileSync(out), out);
      expect([back.cell, back.layers, back.hidden]).toEqual([cell, 2, 12]);
      for (const k of Object.keys(params)) expect(Array.from(back.params[k]), k).toEqual(Array.from(params[k]));
      expect(Array.from(toPytorch(back))).toEqual(Array.from(readFileSync(out)));
      const init = cli('sample', '--checkpoint', out, '--prime', 'the ', '--length', '60', '--greedy', '--device', 'cpu');
      expect(init.out).toBe(ours.out);
      const saved = join(dir, `${cell}-again.safetensors`);
      const t = cli('train', '--init', out, '--string', 'the cat sat on the mat', '--steps', '0', '--device', 'cpu', '--save', saved, '--sample-length', '0');
      expect(t.code, t.err).toBe(0);
    });
});
