import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DEFAULT_CONFIG, TUTORIAL_CONFIG, validateConfig } from '../src/config.js';
import { TRAIN_CONFIG } from '../src/configSchema.js';
import {
  CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2, CHECKPOINT_METADATA, PYTORCH_METADATA, RUN_CONFIG, SCHEMA_FILE,
  checkpointMetadataProblem, readEntry, readMetadata, schemaFileText,
} from '../src/schema.js';

// One schema for the metadata of every model file we read (src/schema.ts), committed as JSON
// Schema for scripts/charrnn_checkpoint.py: the file cannot drift from the zod schema, every
// field a message can name says what it expects, and the Python reader, going through the
// JSON file with the jsonschema module, says the same sentence as the TypeScript reader.

const PY = '/usr/bin/python3';

describe('schema/checkpoint.schema.json', () => {
  test('is what src/schema.ts gives now (rewrite it with node scripts/write-schema.mjs)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8'), 'run node scripts/write-schema.mjs and commit the file').toBe(schemaFileText());
  });

  test('every field of every entry says what it expects, for messages', () => {
    const doc = JSON.parse(schemaFileText());
    const missing: string[] = [];
    const walk = (s: Record<string, any>, at: string) => {
      if (at.includes('.') && !at.endsWith(']') && s.expected === undefined) missing.push(at);
      for (const [k, p] of Object.entries(s.properties ?? {})) walk(p as Record<string, any>, `${at}.${k}`);
      if (s.items && typeof s.items === 'object') walk(s.items, `${at}[]`);
    };
    for (const k of ['checkpoint', 'pytorch', 'runConfig']) walk(doc.$defs[k], k);
    expect(missing).toEqual([]);
    // the entries stored as JSON text, which both readers decode first
    const json = (k: string) => Object.keys(doc.$defs[k].properties).filter((p) => doc.$defs[k].properties[p].storedAs === 'json');
    expect(json('checkpoint')).toEqual(['vocab', 'vocab_size', 'hidden', 'step', 'layers', 'dropout', 'history', 'config', 'run', 'text']);
    expect(json('pytorch')).toEqual(['vocab', 'layers', 'hidden']);
  });

  test('is a valid JSON Schema (draft 2020-12) for the jsonschema module', () => {
    const r = spawnSync(PY, ['-c', 'import json, sys; from jsonschema import Draft202012Validator as V; V.check_schema(json.load(open(sys.argv[1]))); print("ok")', SCHEMA_FILE], { encoding: 'utf8', timeout: 300_000 });
    expect(r.stdout + r.stderr).toBe('ok\n');
  });

  test('the configuration table, the schema and validateConfig agree on the defaults', () => {
    for (const c of [DEFAULT_CONFIG, TUTORIAL_CONFIG]) {
      expect(TRAIN_CONFIG.parse(c)).toEqual(c);
      expect(validateConfig(c)).toBe(c);
    }
    expect(() => validateConfig({ ...DEFAULT_CONFIG, batch: '2' as never })).toThrow(/Bad batch \(--batch\): 2\. It must be an integer from 1 to 65535\./);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, minLr: 0.5 })).toThrow(/Bad minimum rate \(--min-lr\): 0\.5\. It must be a number from 0 to the learning rate 0\.1\./);
  });
});

// Metadata as a writer leaves it, and damaged one way each.
const RUN = { step: 5, chunk: 2, epoch: 0, t: 5, device: 'cpu', B: 2, H: 4, T: 8, L: 30, rng: { seed: 42, counter: 5 } };
const TEXT = { source: 'story.txt', path: '/data/story.txt', chars: 61, hash: '0123456789abcdef' };
const GOOD: Record<string, string> = {
  format: CHECKPOINT_FORMAT_V2, vocab: '["\\n"," ","a","é","🙂"]', hidden: '4', vocab_size: '5', step: '5', cell: 'lstm', layers: '2', dropout: '0.1',
  history: '[[1,4.2],[5,3.9,4.0]]', config: JSON.stringify({ ...DEFAULT_CONFIG, hidden: 4, cell: 'lstm', layers: 2, dropout: 0.1, batch: 2, seqLen: 8 }),
  run: JSON.stringify(RUN), text: JSON.stringify(TEXT), note: 'anything',
};
const meta = (edit: Record<string, string | undefined>) => {
  const m = { ...GOOD, ...edit };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m as Record<string, string>;
};
const withJson = (key: string, base: object, edit: Record<string, unknown>) => ({ [key]: JSON.stringify({ ...base, ...edit }) });

const CASES: Record<string, string>[] = [
  GOOD,
  meta({ format: CHECKPOINT_FORMAT, cell: undefined, layers: undefined, dropout: undefined, config: '{"lr":0.1}' }),
  meta({ vocab: 'abc' }), meta({ vocab: '["a","ab"]' }), meta({ vocab: '["a","a","b","c","d"]' }), meta({ vocab: '[]' }), meta({ vocab: undefined }),
  meta({ hidden: '0' }), meta({ hidden: '3.5' }), meta({ hidden: '"4"' }), meta({ hidden: undefined }), meta({ step: '-1' }), meta({ vocab_size: '6' }),
  meta({ cell: 'elman' }), meta({ layers: '9' }), meta({ dropout: '1' }), meta({ cell: undefined }), meta({ format: CHECKPOINT_FORMAT }),
  meta({ history: '[[1,2],[3]]' }), meta({ history: '[[1,2],[3,"x"]]' }), meta({ history: '{"a":1}' }),
  meta({ run: 'null' }), meta(withJson('run', RUN, { chunk: -5 })), meta(withJson('run', RUN, { device: 'tpu' })), meta(withJson('run', RUN, { rng: { seed: 1 } })),
  meta(withJson('run', RUN, { extra: 1 })), meta(withJson('run', RUN, { H: 8 })), meta(withJson('run', RUN, { step: 6 })), meta(withJson('run', RUN, { T: 0, L: undefined })),
  meta(withJson('config', JSON.parse(GOOD.config), { batch: '2' })), meta(withJson('config', JSON.parse(GOOD.config), { hidden: 8 })),
  meta(withJson('config', JSON.parse(GOOD.config), { initScale: 'big' })), meta(withJson('config', JSON.parse(GOOD.config), { minLr: 1 })),
  meta(withJson('config', JSON.parse(GOOD.config), { cell: 'gru' })), meta({ config: '{"seq":25}' }),
  meta(withJson('text', TEXT, { path: undefined })), meta(withJson('text', TEXT, { string: 'x' })), meta(withJson('text', TEXT, { hash: 'xyz' })),
  meta(withJson('text', TEXT, { chars: 1.5, path: undefined })),
];

function tsProblem(m: Record<string, string>): string | null {
  const r = readMetadata(CHECKPOINT_METADATA, m);
  return r.problem ?? checkpointMetadataProblem(r.data!) ?? null;
}

function python(code: string, input: unknown): unknown {
  const r = spawnSync(PY, ['-c', code], { cwd: 'scripts', input: JSON.stringify(input), encoding: 'utf8', timeout: 300_000 });
  expect(r.status, `${r.stderr}\n(bash scripts/setup.sh --browser installs python3-jsonschema)`).toBe(0);
  return JSON.parse(r.stdout);
}

describe('the Python reader says what the TypeScript reader says', () => {
  test('for our checkpoints\' metadata, good and damaged', () => {
    const ts = CASES.map(tsProblem);
    expect(ts[0]).toBeNull();
    expect(ts[1]).toBeNull();
    expect(ts.filter((p) => p === null)).toHaveLength(2);
    const py = python(
      `import json, sys
from charrnn_schema import read_metadata, checkpoint_problem
out = []
for m in json.load(sys.stdin):
    data, problem = read_metadata(m, "checkpoint")
    out.append(problem or checkpoint_problem(data))
print(json.dumps(out))`,
      CASES,
    );
    expect(py).toEqual(ts);
  });

  test('for PyTorch metadata and a run\'s configuration', () => {
    const torch: Record<string, string>[] = [{ vocab: '["a","b"]' }, { format: 'pt', vocab: '["a","b"]', hidden: '3', layers: '2', cell: 'gru' }, { format: 'pt' }, { vocab: '["a"]', layers: '0' }, { vocab: '["a"]', cell: 'elman' }];
    const configs = [GOOD.config, '{"lr":0.1}', JSON.stringify({ ...DEFAULT_CONFIG, steps: -1 }), '[1]', '{', JSON.stringify({ ...DEFAULT_CONFIG, initScale: undefined, cell: undefined })];
    const ts = [...torch.map((m) => readMetadata(PYTORCH_METADATA, m).problem ?? null), ...configs.map((c) => readEntry(RUN_CONFIG, 'config', c).problem ?? null)];
    expect(ts.filter((p) => p === null)).toHaveLength(4);
    const py = python(
      `import json, sys
from charrnn_schema import read_metadata, read_entry
torch, configs = json.load(sys.stdin)
print(json.dumps([read_metadata(m, "pytorch")[1] for m in torch] + [read_entry(c, "config", "runConfig")[1] for c in configs]))`,
      [torch, configs],
    );
    expect(py).toEqual(ts);
  });

  test('the sentences name the field and what was expected', () => {
    const say = (m: Record<string, string>) => tsProblem(m);
    expect(say(meta(withJson('run', RUN, { chunk: -5 })))).toBe('the run.chunk metadata -5 is not an integer >= 0');
    expect(say(meta(withJson('config', JSON.parse(GOOD.config), { batch: '2' })))).toBe('the config.batch metadata "2" is not an integer from 1 to 65535');
    expect(say(meta({ history: '[[1,2],[3]]' }))).toBe('the history[1] metadata [3] is not a row [step, loss] or [step, loss, validation loss] of whole step and finite losses');
    expect(say(meta(withJson('run', RUN, { rng: { seed: 1 } })))).toBe('the run.rng metadata has no counter field (expected an integer >= 0)');
    expect(say(meta({ hidden: undefined }))).toBe('the metadata has no hidden entry (expected a positive integer)');
    expect(say(meta({ config: '{"seq":25}' }))).toBe('the config metadata has an unexpected field seq');
  });
});
