import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint.js';
import { CheckpointError } from '../src/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { initParams } from '../src/init.js';
import { CELL_NAMES, CELLS } from '../src/model.js';
import { fromPytorch, loadModelFile, toPytorch } from '../src/pytorch.js';

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
      const extra = CELLS[cell].extraBias;
      if (extra) for (const l of [0, 1]) params[`${extra.name}.${l}`] = initParams(dims, 6, 0.6)['W_hh.0'].slice(0, 12); // not zero
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

// State dicts as PyTorch users and hostile hands make them: the key set must be what
// load_state_dict(strict=True) on rnn + out needs, shapes and metadata must agree with the
// tensors, and the weights must be finite; each problem is one sentence that names it.
describe('PyTorch files, read strictly', () => {
  const SOURCE = 'torch.safetensors';
  const dims = { V: VOCAB.length, H: 12, cell: 'gru' as const, layers: 2 };
  const params = initParams(dims, 5, 0.6);
  const exported = toPytorch({ params, vocab: VOCAB, hidden: 12, step: 0, cell: 'gru', layers: 2 });
  type Entry = { name: string; shape: number[]; data: Float32Array | Float64Array };
  const edit = (f: (t: Entry[], meta: Record<string, string>) => Entry[] | void) => {
    const { tensors, metadata } = decodeSafetensors(exported);
    const list = [...tensors].map(([name, t]) => ({ name, shape: [...t.shape], data: t.data.slice() }));
    return encodeSafetensors(f(list, metadata) ?? list, metadata);
  };
  const refused = (bytes: Uint8Array, pattern: RegExp) => {
    expect(() => loadModelFile(bytes, SOURCE)).toThrow(CheckpointError);
    expect(() => loadModelFile(bytes, SOURCE)).toThrow(pattern);
    expect(() => loadModelFile(bytes, SOURCE)).not.toThrow(/diverged|retrain/);
  };
  const drop = (re: RegExp) => (l: Entry[]) => l.filter((t) => !re.test(t.name));
  const rename = (from: string, to: string) => (l: Entry[]) => void l.forEach((t) => (t.name = t.name.replace(from, to)));

  test('as exported, it loads back', () => {
    expect(Array.from(loadModelFile(exported, SOURCE).params['W_hh.1'])).toEqual(Array.from(params['W_hh.1']));
  });

  test('NaN or Inf weights are refused at load, saying the file holds them', () => {
    refused(edit((l) => void (l[1].data[7] = NaN)), /^torch\.safetensors: rnn\.weight_hh_l0 holds a non-finite value \(NaN\) at index 7: the file holds NaN or infinite weights/);
    refused(edit((l) => void (l.at(-1)!.data[0] = -Infinity)), /out\.bias holds a non-finite value \(-Infinity\) at index 0/);
  });

  test('a missing layer, a gap in the layers, an unknown key: missing and unexpected keys named', () => {
    refused(edit(drop(/_l1$/)), /does not fit rnn = torch\.nn\.GRU\(15, 12, 2\) \+ out = torch\.nn\.Linear\(12, 15\), as load_state_dict\(strict=True\) would say: missing keys rnn\.weight_ih_l1, rnn\.weight_hh_l1, rnn\.bias_ih_l1, rnn\.bias_hh_l1\./);
    refused(edit((l, m) => (delete m.layers, rename('_l1', '_l2')(l))), /GRU\(15, 12, 3\) .*: missing keys rnn\.weight_ih_l1, .*rnn\.bias_hh_l1\./);
    refused(edit(rename('_l1', '_l2')), /GRU\(15, 12, 2\) .*: missing keys rnn\.weight_ih_l1, .*; unexpected keys rnn\.weight_ih_l2, rnn\.weight_hh_l2, rnn\.bias_ih_l2, rnn\.bias_hh_l2\./);
    refused(edit((l) => void l.push({ name: 'rnn.weight_ih_l0_reverse', shape: [1], data: new Float32Array(1) })), /unexpected key rnn\.weight_ih_l0_reverse\./);
    refused(edit(drop(/^rnn\.bias_hh_l0$/)), /missing key rnn\.bias_hh_l0\./);
  });

  test('cell, layers and hidden metadata are checked against the tensors', () => {
    refused(edit((_, m) => void (m.layers = '3')), /GRU\(15, 12, 3\) .*: missing keys rnn\.weight_ih_l2/);
    refused(edit((_, m) => void (m.hidden = '8')), /rnn\.weight_ih_l0 has shape \[36,15\], expected \[24,15\] for rnn = torch\.nn\.GRU\(15, 8, 2\)/);
    refused(edit((_, m) => void (m.cell = 'lstm')), /rnn\.weight_ih_l0 has shape \[36,15\], expected \[48,15\] for rnn = torch\.nn\.LSTM\(15, 12, 2\)/);
    refused(edit((_, m) => void (m.layers = 'two')), /the layers metadata "two" is not an integer from 1 to 8 \(it is not valid JSON\)/);
    refused(edit((l) => void Object.assign(l[1], { shape: [l[1].data.length] })), /rnn\.weight_hh_l0 has shape \[432\], expected \[36,12\]/);
  });

  test('decided by keys: foreign metadata like {"format": "pt"} loads, a missing vocab is named', () => {
    const pt = edit((_, m) => void (m.format = 'pt'));
    expect(Array.from(loadModelFile(pt, SOURCE).params['b_hn.1'])).toEqual(Array.from(params['b_hn.1']));
    const bare = edit((_, m) => {
      for (const k of Object.keys(m)) delete m[k];
      m.format = 'pt';
    });
    refused(bare, /^torch\.safetensors: the metadata has no vocab entry \(expected a JSON array of distinct characters \(one each\) in index order\)\. Export it with/);
  });
});
