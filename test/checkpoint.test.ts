import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CHECKPOINT_FORMAT, type Checkpoint, loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { CheckpointError } from '../src/errors.js';
import { PARAM_NAMES, paramSize } from '../src/model.js';
import { randU32, randUniform } from '../src/rng.js';
import { tensorNamed } from './helpers.js';

const V = 5;
const H = 3;
const VOCAB = ['\n', ' ', 'a', 'é', '🙂'];
const SOURCE = '/runs/demo/step-42.safetensors';

function seeded(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (randUniform(seed, 0, i) * 2 - 1) * 0.5);
}

function makeCheckpoint(): Checkpoint {
  const params = {} as Checkpoint['params'];
  PARAM_NAMES.forEach((k, s) => (params[k] = seeded(paramSize(k, { V, H }), 100 + s)));
  // Values whose bits a lossy writer would change.
  params.W_hh[0] = -0;
  params.W_hh[1] = 1e-45; // smallest float32 subnormal
  params.W_hh[2] = 3.4028234663852886e38; // largest float32
  return {
    params,
    vocab: VOCAB,
    hidden: H,
    step: 42,
    extra: {
      mW_hh: seeded(H * H, 7),
      vW_hh: { shape: [H, H], data: seeded(H * H, 8) },
    },
    metadata: { config: JSON.stringify({ lr: 0.1, seqLen: 25 }), note: 'ünïcödé ✓ "quoted"' },
  };
}

const good = saveCheckpoint(makeCheckpoint());

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function headerOf(bytes: Uint8Array): { n: number; json: Record<string, any> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

/** A file with the given header text (padded to 8 bytes) and data. */
function rawFile(header: string, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setUint32(0, n, true);
  out.set(json, 8);
  out.set(data, 8 + n);
  return out;
}

/** The good checkpoint, decoded, changed by `edit` and written again. */
function edited(edit: (tensors: { name: string; shape: number[]; data: Float32Array | Float64Array }[], meta: Record<string, string>) => void) {
  const { tensors, metadata } = decodeSafetensors(good);
  const list = [...tensors].map(([name, t]) => ({ name, shape: [...t.shape], data: t.data.slice() }));
  edit(list, metadata);
  return encodeSafetensors(list, metadata);
}


function expectLoadError(bytes: Uint8Array, pattern: RegExp): void {
  let error: unknown;
  try {
    loadCheckpoint(bytes, SOURCE);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  const message = (error as Error).message;
  expect(message).toMatch(pattern);
  expect(message).toContain(SOURCE);
}

describe('checkpoint round trip', () => {
  test('save then load gives the same bits, vocab, step, extras and metadata', () => {
    const c = makeCheckpoint();
    const back = loadCheckpoint(saveCheckpoint(c), SOURCE);
    for (const k of PARAM_NAMES) expect(bits(back.params[k]), k).toEqual(bits(c.params[k]));
    expect(Object.is(back.params.W_hh[0], -0)).toBe(true);
    expect(back.vocab).toEqual(VOCAB);
    expect(back.hidden).toBe(H);
    expect(back.step).toBe(42);
    expect(back.metadata).toEqual(c.metadata);
    expect(Object.keys(back.extra!)).toEqual(['mW_hh', 'vW_hh']);
    expect(back.extra!.mW_hh).toEqual({ shape: [H * H], data: expect.any(Float32Array) });
    expect(bits((back.extra!.mW_hh as { data: Float32Array }).data)).toEqual(bits(c.extra!.mW_hh as Float32Array));
    const v = back.extra!.vW_hh as { shape: number[]; data: Float32Array };
    expect(v.shape).toEqual([H, H]);
    expect(bits(v.data)).toEqual(bits((c.extra!.vW_hh as { data: Float32Array }).data));
  });

  test('loads from a view at an unaligned offset of a larger buffer', () => {
    const big = new Uint8Array(good.length + 7);
    big.set(good, 3);
    const back = loadCheckpoint(big.subarray(3, 3 + good.length));
    for (const k of PARAM_NAMES) expect(bits(back.params[k])).toEqual(bits(makeCheckpoint().params[k]));
  });

  test('a checkpoint without extras or metadata', () => {
    const { extra: _e, metadata: _m, ...plain } = makeCheckpoint();
    const back = loadCheckpoint(saveCheckpoint(plain));
    expect(back.extra).toEqual({});
    expect(back.metadata).toEqual({});
    expect(back.step).toBe(42);
  });
});

describe('byte layout', () => {
  test('header length, 8-byte alignment, metadata and contiguous offsets', () => {
    const { n, json } = headerOf(good);
    expect(8 + n).toBeLessThanOrEqual(good.length);
    expect((8 + n) % 8).toBe(0);
    // Padding is spaces after the JSON object.
    const text = new TextDecoder().decode(good.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);

    expect(json.__metadata__).toMatchObject({
      format: CHECKPOINT_FORMAT,
      vocab: JSON.stringify(VOCAB),
      hidden: '3',
      vocab_size: '5',
      step: '42',
    });
    for (const v of Object.values(json.__metadata__)) expect(typeof v).toBe('string');

    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...PARAM_NAMES, 'mW_hh', 'vW_hh']);
    let at = 0;
    for (const name of names) {
      const t = json[name];
      expect(t.dtype).toBe('F32');
      expect(t.data_offsets[0], name).toBe(at);
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(4 * t.shape.reduce((a: number, b: number) => a * b, 1));
      at = t.data_offsets[1];
    }
    expect(good.length).toBe(8 + n + at);
    expect(json.W_xh.shape).toEqual([H, V]);
    expect(json.W_hy.shape).toEqual([V, H]);

    // Little-endian float32 data, whatever the platform.
    const c = makeCheckpoint();
    const view = new DataView(good.buffer, good.byteOffset + 8 + n);
    const [b, e] = json.b_h.data_offsets;
    for (let i = 0; i < (e - b) / 4; i++) expect(view.getFloat32(b + 4 * i, true)).toBe(c.params.b_h[i]);
  });
});

describe('independent reader', () => {
  test('python3 with only the standard library reads the same W_hh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'char-rnn-ckpt-'));
    try {
      const path = join(dir, 'model.safetensors');
      writeFileSync(path, good);
      const script = `
import array, json, struct, sys
with open(sys.argv[1], 'rb') as f:
    raw = f.read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n].decode('utf-8'))
t = header['W_hh']
assert t['dtype'] == 'F32', t['dtype']
begin, end = t['data_offsets']
a = array.array('f')
a.frombytes(raw[8 + n + begin:8 + n + end])
if sys.byteorder != 'little':
    a.byteswap()
meta = header['__metadata__']
print(json.dumps({'shape': t['shape'], 'values': a.tolist(), 'vocab': json.loads(meta['vocab']),
                  'hidden': int(meta['hidden']), 'aligned': (8 + n) % 8 == 0}))
`;
      const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
      expect(r.error, 'python3 could not be started').toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      const want = makeCheckpoint().params.W_hh;
      expect(out.shape).toEqual([H, H]);
      expect(out.hidden).toBe(H);
      expect(out.aligned).toBe(true);
      expect(out.vocab).toEqual(VOCAB);
      expect(out.values).toHaveLength(want.length);
      // Python's floats hold the float32 values exactly, and its JSON keeps them (and -0.0) exact.
      for (let i = 0; i < want.length; i++) expect(Math.fround(out.values[i]), `W_hh[${i}]`).toBe(want[i]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad files', () => {
  test('shorter than the 8-byte length field', () => {
    for (const cut of [0, 1, 7]) expectLoadError(good.subarray(0, cut), new RegExp(`only ${cut} bytes long.*truncated or not a safetensors file`));
  });

  test('truncated inside the header', () => {
    const { n } = headerOf(good);
    for (const cut of [8, 9, 8 + (n >> 1), 8 + n - 1])
      expectLoadError(good.subarray(0, cut), new RegExp(`says ${n} bytes, but only ${cut - 8} bytes follow.*truncated or not a safetensors file`));
  });

  test('truncated inside the data', () => {
    const { n } = headerOf(good);
    const dataLength = good.length - 8 - n;
    for (const missing of [1, 5, dataLength >> 1, dataLength])
      expectLoadError(good.subarray(0, good.length - missing), new RegExp(`truncated.*\\(${missing} bytes missing\\)`));
  });

  test('not a safetensors file', () => {
    const random = Uint8Array.from({ length: 256 }, (_, i) => randU32(5, 1, i) & 0xff);
    expectLoadError(random, /truncated or not a safetensors file/);
    const text = new TextEncoder().encode('The quick brown fox jumps over the lazy dog.\n'.repeat(20));
    expectLoadError(text, /truncated or not a safetensors file/);
    expectLoadError(rawFile('\u0000\u0000'.repeat(4)).fill(0xff, 8), /not valid UTF-8/);
    expectLoadError(rawFile('hello, world'), /not valid JSON/);
    expectLoadError(rawFile('[1,2,3]'), /not an object/);
    // a text file chosen by mistake (the page's upload, the CLI's --checkpoint): said plainly first
    expectLoadError(new TextEncoder().encode('the cat sat on the mat.\n'), /^\S+ is not a char-rnn checkpoint \(a \.safetensors file\), or it is damaged: the header length field says/);
  });

  test('missing metadata or format', () => {
    expectLoadError(rawFile('{}'), /no __metadata__/);
    expectLoadError(edited((_, m) => delete m.format), /no format entry/);
    expectLoadError(edited((_, m) => (m.format = 'char-rnn-webgpu/3')), /unknown checkpoint format "char-rnn-webgpu\/3"/);
  });

  test('bad vocab', () => {
    const vocabIs = (shown: string) => new RegExp(`the vocab metadata ${shown} is not a JSON array of distinct characters \\(one each\\) in index order`);
    expectLoadError(edited((_, m) => delete m.vocab), /the metadata has no vocab entry \(expected a JSON array of distinct characters/);
    expectLoadError(edited((_, m) => (m.vocab = 'abcde')), /the vocab metadata "abcde" is not a JSON array .* \(it is not valid JSON\)/);
    expectLoadError(edited((_, m) => (m.vocab = '{"a":1}')), vocabIs('\\{"a":1\\}'));
    expectLoadError(edited((_, m) => (m.vocab = '["a","b",3,"d","e"]')), vocabIs('\\["a","b",3,"d","e"\\]'));
    expectLoadError(edited((_, m) => (m.vocab = '["a","bc","d","e","f"]')), vocabIs('\\["a","bc","d","e","f"\\]'));
    expectLoadError(edited((_, m) => (m.vocab = '["a","b","","d","e"]')), vocabIs('\\["a","b","","d","e"\\]'));
    expectLoadError(edited((_, m) => (m.vocab = '["a","b","a","d","e"]')), vocabIs('\\["a","b","a","d","e"\\]'));
    expectLoadError(edited((_, m) => (m.vocab = '[]')), vocabIs('\\[\\]'));
    expectLoadError(edited((_, m) => (m.vocab_size = '6')), /the metadata says vocab_size 6 but the vocab lists 5 characters/);
  });

  test('bad hidden size', () => {
    expectLoadError(edited((_, m) => delete m.hidden), /the metadata has no hidden entry \(expected a positive integer\)/);
    for (const [h, shown] of [['0', '0'], ['-3', '-3'], ['3.5', '3.5'], ['"3"', '"3"']])
      expectLoadError(edited((_, m) => (m.hidden = h)), new RegExp(`the hidden metadata ${shown} is not a positive integer\\. The file is damaged`));
    for (const h of ['three', '', '03'])
      expectLoadError(edited((_, m) => (m.hidden = h)), new RegExp(`the hidden metadata ${JSON.stringify(h)} is not a positive integer \\(it is not valid JSON\\)`));
  });

  test('wrong shapes', () => {
    expectLoadError(
      edited((l) => Object.assign(tensorNamed(l, 'W_hh'), { shape: [4, 4], data: new Float32Array(16) })),
      /W_hh has shape \[4,4\], expected \[3,3\] for hidden size 3/,
    );
    expectLoadError(
      edited((l) => (tensorNamed(l, 'W_xh').shape = [V, H])),
      /W_xh has shape \[5,3\], expected \[3,5\] for hidden size 3 and vocabulary size 5/,
    );
    expectLoadError(edited((l) => (tensorNamed(l, 'b_y').shape = [1, V])), /b_y has shape \[1,5\], expected \[5\] for vocabulary size 5/);
    // Metadata that disagrees with the tensors.
    expectLoadError(edited((_, m) => (m.hidden = '4')), /W_xh has shape \[3,5\], expected \[4,5\]/);
    expectLoadError(
      edited((_, m) => ((m.vocab = JSON.stringify(['a', 'b', 'c', 'd'])), (m.vocab_size = '4'))),
      /W_xh has shape \[3,5\], expected \[3,4\]/,
    );
  });

  test('missing tensor', () => {
    for (const name of PARAM_NAMES)
      expectLoadError(
        edited((l) => l.splice(l.findIndex((t) => t.name === name), 1)),
        new RegExp(`tensor ${name} is missing`),
      );
  });

  test('unsupported dtype', () => {
    const header = JSON.stringify({
      __metadata__: { format: CHECKPOINT_FORMAT, vocab: '["a"]', hidden: '1' },
      W_xh: { dtype: 'F16', shape: [1, 1], data_offsets: [0, 2] },
    });
    expectLoadError(rawFile(header, new Uint8Array(2)), /tensor W_xh has dtype F16; only F32 \(float32\) tensors are supported/);
  });

  test('bad data_offsets', () => {
    const meta = { format: CHECKPOINT_FORMAT, vocab: '["a"]', hidden: '1' };
    const file = (t: Record<string, unknown>) => rawFile(JSON.stringify({ __metadata__: meta, ...t }), new Uint8Array(64));
    const f32 = (shape: number[], data_offsets: unknown) => ({ dtype: 'F32', shape, data_offsets });
    expectLoadError(file({ W_xh: f32([1, 1], [8, 4]) }), /W_xh .*data_offsets \[8,4\] out of range/);
    expectLoadError(file({ W_xh: f32([1, 1], [-4, 0]) }), /W_xh .*data_offsets \[-4,0\] out of range/);
    expectLoadError(file({ W_xh: f32([1, 1], [0]) }), /W_xh .*data_offsets \[0\] out of range/);
    expectLoadError(file({ W_xh: f32([2, 1], [0, 4]) }), /W_xh .*covering 4 bytes, but shape \[2,1\] of F32 needs 8/);
    expectLoadError(file({ W_xh: f32([1, 1], [0, 4]), W_hh: f32([1, 1], [0, 4]) }), /W_xh .* and W_hh .* overlap/);
    expectLoadError(file({ W_xh: f32([2], [0, 8]), W_hh: f32([1, 1], [4, 8]) }), /W_xh \(bytes 0-8\) and W_hh \(bytes 4-8\) overlap/);
    expectLoadError(file({ W_xh: f32([1, 1], [0, 4]), W_hh: f32([1, 1], [96, 100]) }), /data section holds only 64 bytes \(36 bytes missing\)/);
  });

  test('non-finite values', () => {
    expectLoadError(edited((l) => (tensorNamed(l, 'W_hh').data[4] = NaN)), /tensor W_hh holds a non-finite value \(NaN\) at index 4/);
    expectLoadError(edited((l) => (tensorNamed(l, 'b_y').data[0] = -Infinity)), /tensor b_y holds a non-finite value \(-Infinity\) at index 0/);
    expectLoadError(edited((l) => (tensorNamed(l, 'mW_hh').data[8] = Infinity)), /tensor mW_hh holds a non-finite value \(Infinity\) at index 8/);
  });

  test('the default source is "checkpoint"', () => {
    expect(() => loadCheckpoint(new Uint8Array(3))).toThrow(/^checkpoint is not a char-rnn checkpoint \(a \.safetensors file\), or it is damaged: the file is only 3 bytes long/);
    expect(() => loadCheckpoint(new Uint8Array(3))).toThrow(CheckpointError);
  });
});

describe('saving', () => {
  test('rejects inputs that would not load back', () => {
    const c = makeCheckpoint();
    expect(() => saveCheckpoint({ ...c, hidden: 4 })).toThrow(/W_xh has 15 values, expected 20/);
    expect(() => saveCheckpoint({ ...c, vocab: ['a', 'a', 'b', 'c', 'd'] })).toThrow(CheckpointError);
    expect(() => saveCheckpoint({ ...c, metadata: { step: '3' } })).toThrow(/"step" is reserved/);
    expect(() => saveCheckpoint({ ...c, extra: { W_hh: new Float32Array(9) } })).toThrow(/name of a model parameter/);
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }], {})).toThrow(/holds 4 values but the data has 3/);
  });
});

describe('loss history', () => {
  const history = [{ step: 10, loss: 1.386 }, { step: 20, loss: 1.2, val: 1.31 }, { step: 30, loss: 0.9 }];

  test('is saved in the metadata and read back; a file without it has none', () => {
    const bytes = saveCheckpoint({ ...makeCheckpoint(), history });
    expect(JSON.parse(headerOf(bytes).json.__metadata__.history)).toEqual([[10, 1.386], [20, 1.2, 1.31], [30, 0.9]]);
    const c = loadCheckpoint(bytes, SOURCE);
    expect(c.history).toEqual(history);
    expect(c.metadata).not.toHaveProperty('history');
    expect(loadCheckpoint(good, SOURCE).history).toBeUndefined();
  });

  test('a damaged history is named', () => {
    expectLoadError(edited((_, meta) => (meta.history = '{')), /the history metadata "\{" is not a JSON array of \[step, loss\] or \[step, loss, validation loss\] rows \(it is not valid JSON\)/);
    expectLoadError(edited((_, meta) => (meta.history = '{"step":1}')), /the history metadata \{"step":1\} is not a JSON array of \[step, loss\]/);
    for (const row of ['[1]', '[1.5,2]', '[-1,2]', '[1,"2"]', '[1,2,3,4]'])
      expectLoadError(
        edited((_, meta) => (meta.history = `[[0,1],${row}]`)),
        new RegExp(`the history\\[1\\] metadata ${row.replace(/[[\]]/g, '\\$&')} is not a row \\[step, loss\\] or \\[step, loss, validation loss\\]`),
      );
  });

  test('is reserved for the checkpoint, and must hold finite losses', () => {
    expect(() => saveCheckpoint({ ...makeCheckpoint(), metadata: { history: '[]' } })).toThrow(/metadata key "history" is reserved/);
    expect(() => saveCheckpoint({ ...makeCheckpoint(), history: [{ step: 1, loss: NaN }] })).toThrow(/history point .* finite losses/);
  });
});

describe('safetensors layout', () => {
  test('bytes that belong to no tensor (a gap, or after the last tensor) are refused', () => {
    const meta = { format: CHECKPOINT_FORMAT, vocab: '["a"]', hidden: '1' };
    const file = (t: Record<string, unknown>, n: number) => rawFile(JSON.stringify({ __metadata__: meta, ...t }), new Uint8Array(n));
    const f32 = (data_offsets: number[]) => ({ dtype: 'F32', shape: [1], data_offsets });
    expectLoadError(file({ W_xh: f32([0, 4]), W_hh: f32([8, 12]) }, 12), /bytes 4-8 of the data section belong to no tensor \(before W_hh\); a safetensors file has no gaps/);
    expectLoadError(file({ W_xh: f32([4, 8]) }, 8), /bytes 0-4 of the data section belong to no tensor \(before W_xh\)/);
    expectLoadError(file({ W_xh: f32([0, 4]) }, 12), /bytes 4-12 of the data section belong to no tensor \(after the last tensor\)/);
    expectLoadError(concat(good, new Uint8Array(3)), /belong to no tensor \(after the last tensor\)/);
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
