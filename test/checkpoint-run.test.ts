import { describe, expect, test } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { DEFAULT_CONFIG, optimizerOf, validateConfig } from '../src/config.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { planBatches } from '../src/data.js';
import { CheckpointError } from '../src/errors.js';
import { initParams } from '../src/init.js';
import { CELL_NAMES, type CellName } from '../src/model.js';
import { decodeSafetensors, encodeSafetensors } from '../src/safetensors.js';
import { fitSavedRun, runCheckpoint, trainerStateOf } from '../src/state.js';
import { Trainer } from '../src/train.js';
import { tensorNamed } from './helpers.js';

// A run's checkpoint as runCheckpoint writes it (model, optimizer state, run position, text
// record), edited the way a hostile or careless hand would: every edit is refused at load (or
// where the run's data is known) with one sentence naming the field or tensor and what was
// expected, never a stack trace or "diverged" (test/checkpoint.test.ts: the file format itself).

const SOURCE = '/runs/demo/step-42.safetensors';

describe('a run checkpoint, read strictly', () => {
  const TEXT = 'the cat sat on the mat; the dog ate the hat.\n'.repeat(3);
  const vocab = [...new Set(TEXT)].sort();
  const data = Uint32Array.from(TEXT, (ch) => vocab.indexOf(ch));
  const plan = planBatches(data.length, 2, 8);
  const record = { source: '--string', string: TEXT, chars: TEXT.length, hash: '0123456789abcdef' };
  const file = async (cell: CellName, layers: number, device: 'cpu' | 'gpu' = 'cpu') => {
    const cfg = validateConfig({ ...DEFAULT_CONFIG, cell, layers, hidden: 4, batch: 2, seqLen: 8, optimizer: 'adam', lr: 0.01, valFraction: 0 });
    const shape = { V: vocab.length, H: 4, B: 2, T: 8, cell, layers };
    const tr = new Trainer(new CpuEngine(shape, optimizerOf(cfg), initParams(shape, 1)), data, cfg);
    await tr.run(3);
    return saveCheckpoint(runCheckpoint(vocab, cfg, await tr.state(), device, { plan, text: record }));
  };
  type Entry = { name: string; shape: number[]; data: Float32Array | Float64Array };
  const edit = (bytes: Uint8Array, f: (tensors: Entry[], meta: Record<string, string>) => void) => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    const list = [...tensors].map(([name, t]) => ({ name, shape: [...t.shape], data: t.data.slice() }));
    f(list, metadata);
    return encodeSafetensors(list, metadata);
  };
  const json = (meta: Record<string, string>, key: string, f: (x: any) => void) => {
    const x = JSON.parse(meta[key]);
    f(x);
    meta[key] = JSON.stringify(x);
  };
  const resume = (bytes: Uint8Array, device: 'cpu' | 'gpu' = 'cpu') => trainerStateOf(loadCheckpoint(bytes, SOURCE), device, SOURCE);
  const expectRefused = (f: () => unknown, pattern: RegExp) => {
    let error: unknown;
    try {
      f();
    } catch (e) {
      error = e;
    }
    expect(error, String(pattern)).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).toContain(SOURCE);
    expect((error as Error).message).not.toMatch(/diverged/);
  };

  test('as written, it loads and resumes', async () => {
    for (const [cell, layers] of [['rnn', 1], ['lstm', 2]] as const) {
      const saved = resume(await file(cell, layers));
      expect(saved.state.step).toBe(3);
      expect(fitSavedRun(saved, saved.config, plan, false, SOURCE)).toEqual([]);
    }
  });

  test('layers metadata of 1 on a 2-layer file: the layer-1 tensors are named, not dropped', async () => {
    const bad = edit(await file('lstm', 2), (_, m) => {
      m.layers = '1';
      json(m, 'config', (c) => (c.layers = 1));
    });
    expectRefused(() => loadCheckpoint(bad, SOURCE), /tensors W_xh\.1, W_hh\.1, b_h\.1, mW_xh\.1, .* are neither a parameter of a lstm of 1 layer .* nor its training state/);
  });

  test('an unknown tensor is named', async () => {
    const bad = edit(await file('rnn', 1), (l) => l.push({ name: 'notes', shape: [2], data: new Float32Array(2) }));
    expectRefused(() => loadCheckpoint(bad, SOURCE), /tensor notes is neither a parameter of hidden size 4 and vocabulary size \d+ nor its training state/);
  });

  test('config.hidden unlike the tensors', async () => {
    const bad = edit(await file('gru', 2), (_, m) => json(m, 'config', (c) => (c.hidden = 8)));
    expectRefused(() => loadCheckpoint(bad, SOURCE), /the config\.hidden metadata 8 does not match the hidden metadata 4/);
  });

  test('run: null, and run fields out of range', async () => {
    const good = await file('rnn', 1);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => (m.run = 'null')), SOURCE), /the run metadata null is not a JSON object of the run/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'run', (r) => (r.chunk = -5))), SOURCE), /the run\.chunk metadata -5 is not an integer >= 0/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'run', (r) => (r.B = 2.5))), SOURCE), /the run\.B metadata 2\.5 is not an integer from 1 to 65535/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'run', (r) => delete r.rng)), SOURCE), /the run metadata has no rng field/);
  });

  test('run.chunk beyond the chunks of the run\'s data is refused where the data is known', async () => {
    const saved = resume(edit(await file('rnn', 1), (_, m) => json(m, 'run', (r) => (r.chunk = 1e9))));
    expectRefused(() => fitSavedRun(saved, saved.config, plan, false, SOURCE), new RegExp(`the run\\.chunk metadata 1000000000 is outside the run's data: 2 streams of ${plan.L} characters read 8 at a time give chunks 0 to ${plan.stepsPerEpoch}`));
    // with another batch the streams start over: the saved chunk does not matter
    expect(fitSavedRun(saved, { ...saved.config, batch: 1 }, planBatches(data.length, 1, 8), false, SOURCE)).toHaveLength(2);
  });

  test('optimizer and carried state of the wrong size', async () => {
    const good = await file('lstm', 2);
    const resize = (name: string, n: number) => edit(good, (l) => Object.assign(tensorNamed(l, name), { shape: [n], data: new (tensorNamed(l, name).data.constructor as Float32ArrayConstructor)(n) }));
    expectRefused(() => loadCheckpoint(resize('mW_hh.1', 3), SOURCE), /tensor mW_hh\.1 has 3 values, expected 64 \(the size of W_hh\.1\)/);
    expectRefused(() => loadCheckpoint(resize('vb_y', 1000), SOURCE), /tensor vb_y has 1000 values, expected \d+ \(the size of b_y\)/);
    expectRefused(() => loadCheckpoint(resize('f64.mW_xh.0', 5), SOURCE), /tensor f64\.mW_xh\.0 has 5 values/);
    expectRefused(() => loadCheckpoint(resize('cprev', 8), SOURCE), /tensor cprev has 8 values, expected 16 \(layers x batch x hidden: 2 x 2 \(the run's B\) x 4\)/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'run', (r) => (r.B = 3))), SOURCE), /tensor hprev has 16 values, expected 24/);
    expectRefused(() => loadCheckpoint(edit(good, (l) => (tensorNamed(l, 'mb_y').data = Float64Array.from(tensorNamed(l, 'mb_y').data))), SOURCE), /tensor mb_y is stored as F64, expected F32/);
  });

  test('a text record without a path or string, and a config.batch that is not a number', async () => {
    const good = await file('rnn', 1);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'text', (t) => delete t.string)), SOURCE), /the text metadata .* is not a JSON object \{source, chars, hash\} with either path \(a --text file\) or string/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'config', (c) => (c.batch = '2'))), SOURCE), /the config\.batch metadata "2" is not an integer from 1 to 65535/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'config', (c) => (c.optimizer = 'lion'))), SOURCE), /the config\.optimizer metadata "lion" is not one of sgd, adagrad, rmsprop, adam, adamw/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => json(m, 'config', (c) => (c.lr2 = 1))), SOURCE), /the config metadata has an unexpected field lr2/);
    expectRefused(() => resume(edit(good, (_, m) => json(m, 'config', (c) => delete c.schedule))), /the config metadata has no schedule field \(expected one of constant, step, cosine\)/);
  });

  test('training state without a run to size it, and format-2 entries in a format-1 file', async () => {
    const good = await file('rnn', 1);
    const gru = await file('gru', 2);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => delete m.run), SOURCE), /tensor hprev is a run's carried state, but the file has no run metadata/);
    expectRefused(() => loadCheckpoint(edit(good, (_, m) => (m.layers = '2')), SOURCE), /the metadata has a layers entry, which a char-rnn-webgpu\/1 file \(the one-layer rnn\) does not have/);
    expectRefused(() => loadCheckpoint(edit(gru, (_, m) => delete m.cell), SOURCE), new RegExp(`the metadata has no cell entry \\(expected one of ${CELL_NAMES.join(', ')}\\)`));
  });

  test('old files keep loading: a run saved before T, L, text, history, initScale and cells, and bare weights', async () => {
    const old = edit(await file('rnn', 1, 'gpu'), (_, m) => {
      json(m, 'run', (r) => (delete r.T, delete r.L));
      json(m, 'config', (c) => (delete c.initScale, delete c.cell, delete c.layers, delete c.dropout));
      delete m.text;
    });
    const saved = resume(old);
    expect(saved.config).toMatchObject({ initScale: 0.1, cell: 'rnn', layers: 1, dropout: 0 });
    expect(saved.text).toBeUndefined();
    expect(fitSavedRun(saved, saved.config, plan, false, SOURCE)).toEqual([]);
    const bare = loadCheckpoint(saveCheckpoint({ params: initParams({ V: 4, H: 3 }, 1), vocab: ['e', 'h', 'l', 'o'], hidden: 3, step: 0 }));
    expect(bare.extra).toEqual({});
  });
});
