import { z } from 'zod';
import { MAX_BATCH, MAX_HIDDEN, MAX_LAYERS } from './bounds.js';
import { TRAIN_CONFIG } from './configSchema.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2, PYTORCH_FORMAT } from './formats.js';
import { CELL_NAMES } from './model.js';

// The metadata of the model files we read, as one schema: our checkpoints (format 1 and 2:
// src/checkpoint.ts saveCheckpoint, src/state.ts runCheckpoint) and the PyTorch state dicts of
// `char-rnn export --pytorch` (src/pytorch.ts). Every reader goes through it: the CLI, the
// library and the page here, scripts/charrnn_checkpoint.py through schema/checkpoint.schema.json,
// which schemaDocument() below writes (scripts/write-schema.mjs; test/schema.test.ts fails when
// the committed file differs).
//
// safetensors metadata maps strings to strings. An entry marked `storedAs: 'json'` holds JSON
// text and its schema describes the decoded value (hidden "64" is the integer 64, run is an
// object); the others are plain strings. Each field that a message can name carries `expected`,
// its values in words, so that a bad file gets one sentence in both languages:
// "the run.chunk metadata -5 is not an integer >= 0".

export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2, PYTORCH_FORMAT };

/** Where the JSON Schema of this module is committed, from the repository root. */
export const SCHEMA_FILE = 'schema/checkpoint.schema.json';

const worded = <S extends z.ZodType>(s: S, expected: string): S => s.meta({ expected });
const json = <S extends z.ZodType>(s: S): S => s.meta({ storedAs: 'json' });
const int = (min: number, max?: number, words?: string) =>
  worded(max === undefined ? z.int().min(min) : z.int().min(min).max(max), words ?? (max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`));
const text = () => worded(z.string(), 'a string');
const distinct = (a: readonly string[]) => new Set(a).size === a.length;

const VOCAB = worded(
  z.array(z.string().regex(/^[\s\S]$/u)).min(1).refine(distinct).meta({ uniqueItems: true }),
  'a JSON array of distinct characters (one each) in index order',
);
const CELL = worded(z.enum(CELL_NAMES), `one of ${CELL_NAMES.join(', ')}`);
const LAYERS = int(1, MAX_LAYERS);

/** The loss curve: [step, loss] or [step, loss, validation loss] rows (src/history.ts). */
export const HISTORY = worded(
  z.array(worded(z.tuple([z.int().min(0), z.number(), z.number().optional()]), 'a row [step, loss] or [step, loss, validation loss] of whole step and finite losses')),
  'a JSON array of [step, loss] or [step, loss, validation loss] rows',
);

/** Where a run stands (src/state.ts runCheckpoint). */
const about = <S extends z.ZodType>(s: S, description: string): S => s.meta({ description });
export const RUN = worded(
  z.strictObject({
    step: about(int(0), 'optimizer steps done'),
    chunk: about(int(0), 'the next chunk of the streams, counted in T characters'),
    epoch: about(int(0), 'passes over the streams done'),
    t: about(int(0), "the optimizer's step count (Adam's t)"),
    device: about(worded(z.enum(['cpu', 'gpu']), 'cpu or gpu'), 'the engine that wrote it'),
    B: about(int(1, MAX_BATCH), 'streams the text is cut into'),
    H: about(int(1, MAX_HIDDEN), 'hidden units per layer'),
    T: about(int(1), 'timesteps per chunk; with B and L, what chunk counts in (absent in files of older versions)').optional(),
    L: about(int(1), 'characters per stream (absent in files of older versions)').optional(),
    rng: about(worded(z.strictObject({ seed: int(0, 0xffffffff), counter: int(0) }), 'a JSON object {seed, counter}'), 'the counter-based generator: seed and step say it all'),
  }),
  'a JSON object of the run: step, chunk, epoch, t, device, B, H, T, L, rng',
);
export type RunMeta = z.infer<typeof RUN>;

/** The training text of a run, as recorded in its checkpoint. */
export const TEXT = worded(
  z.strictObject({
    source: about(text(), "the --text path as given, or '--string'"),
    path: about(text(), 'the absolute path of a --text file').optional(),
    string: about(text(), 'the text itself when it was given with --string').optional(),
    chars: about(int(0), 'characters (code points)'),
    hash: about(worded(z.string().regex(/^[0-9a-f]{16}$/), '16 hexadecimal digits'), 'content hash (src/text.ts scanUtf8)'),
  })
    .refine((t) => (t.path === undefined) !== (t.string === undefined))
    .meta({ oneOf: [{ required: ['path'] }, { required: ['string'] }] }),
  'a JSON object {source, chars, hash} with either path (a --text file) or string (a --string text)',
);
export type TextRecord = z.infer<typeof TEXT>;

/** The run configuration as stored: each field of TrainConfig that is there (files from before
 * a field existed lack it), no other. */
const STORED_CONFIG = worded(TRAIN_CONFIG.partial(), 'a JSON object of training settings (TrainConfig)');

/** The configuration a run resumes with: all of TrainConfig but the fields added after runs were
 * first saved, which read as what those runs did (RUN_CONFIG_DEFAULTS). */
export const RUN_CONFIG = worded(TRAIN_CONFIG.partial({ initScale: true, cell: true, layers: true, dropout: true }), 'a JSON object of training settings (TrainConfig)');
export const RUN_CONFIG_DEFAULTS = { initScale: 0.1, cell: 'rnn', layers: 1, dropout: 0 } as const;

export const CHECKPOINT_METADATA = z
  .object({
    format: worded(z.enum([CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2]), `${CHECKPOINT_FORMAT} or ${CHECKPOINT_FORMAT_V2}`),
    vocab: json(VOCAB),
    vocab_size: json(int(1, undefined, 'a positive integer')).optional(),
    hidden: json(int(1, undefined, 'a positive integer')),
    step: json(int(0, undefined, 'a non-negative integer')).optional(),
    /** format 2 only: the model */
    cell: CELL.optional(),
    layers: json(LAYERS).optional(),
    dropout: json(worded(z.number().min(0).lt(1), 'a number in [0, 1)')).optional(),
    history: json(HISTORY).optional(),
    config: json(STORED_CONFIG).optional(),
    run: json(RUN).optional(),
    text: json(TEXT).optional(),
  })
  .catchall(z.string())
  .meta({ title: 'char-rnn-webgpu checkpoint metadata', description: 'The __metadata__ of a checkpoint (format 1: the one-layer tanh RNN; format 2: any cell and depth).' });
export type CheckpointMetadata = z.infer<typeof CHECKPOINT_METADATA>;

export const PYTORCH_METADATA = z
  .object({
    format: text().optional(),
    vocab: json(VOCAB),
    cell: CELL.optional(),
    layers: json(LAYERS).optional(),
    hidden: json(int(1, undefined, 'a positive integer')).optional(),
  })
  .catchall(z.string())
  .meta({
    title: 'PyTorch state dict metadata',
    description: 'The __metadata__ of a state dict of rnn = torch.nn.{RNN,LSTM,GRU} + out = torch.nn.Linear: vocab required; cell, layers and hidden, where present, must agree with the tensors; other entries (e.g. {"format": "pt"}) are kept.',
  });
export type PytorchMetadata = z.infer<typeof PYTORCH_METADATA>;

// ---------------------------------------------------------------------------------------------
// reading

type Schema = z.ZodType;
type Path = readonly PropertyKey[];
type Def = { type: string; innerType?: Schema; shape?: Record<string, Schema>; catchall?: Schema; element?: Schema; items?: Schema[]; rest?: Schema | null };
const defOf = (s: Schema) => (s as unknown as { _zod: { def: Def } })._zod.def;
const metaOf = (s: Schema) => z.globalRegistry.get(s) as { expected?: string; storedAs?: string } | undefined;
/** The metadata of a field, through its optional() wrapper. */
const fieldMeta = (s: Schema) => metaOf(s) ?? (defOf(s).innerType && metaOf(defOf(s).innerType!));

/** The nearest schema along `path` that says what it expects: how many steps down and what. */
function described(root: Schema, path: Path): { depth: number; expected?: string } {
  let best: { depth: number; expected?: string } = { depth: 0 };
  let s: Schema | undefined = root;
  for (let i = 0; s; i++) {
    for (let d = defOf(s); ; d = defOf(s)) {
      if (metaOf(s)?.expected) best = { depth: i, expected: metaOf(s)!.expected };
      if (!['optional', 'nullable', 'default', 'readonly'].includes(d.type) || !d.innerType) break;
      s = d.innerType;
    }
    if (i === path.length) break;
    const d = defOf(s);
    const k = path[i];
    if (d.type === 'object') s = d.shape![k as string] ?? (d.catchall && defOf(d.catchall).type !== 'never' ? d.catchall : undefined);
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'tuple') s = d.items![k as number] ?? d.rest ?? undefined;
    else s = undefined;
  }
  return best;
}

const nameOf = (path: Path) => path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${String(k)}` : String(k))).join('');
const valueAt = (x: unknown, path: Path) => path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], x);
const shown = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
};

/** The sentence of one zod issue: the field, its value, what it should be. */
function sentence(root: Schema, issue: z.core.$ZodIssue, decoded: Record<string, unknown>): string {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') return `the ${nameOf(path)} metadata has an unexpected field ${issue.keys[0]}`;
  const { depth, expected } = described(root, path);
  if (!expected) return `the ${nameOf(path)} metadata is wrong: ${issue.message}`;
  const at = path.slice(0, depth);
  const parent = valueAt(decoded, at.slice(0, -1));
  const missing = typeof parent === 'object' && parent !== null && !(String(at.at(-1)) in parent);
  if (missing) return at.length === 1 ? `the metadata has no ${String(at[0])} entry (expected ${expected})` : `the ${nameOf(at.slice(0, -1))} metadata has no ${String(at.at(-1))} field (expected ${expected})`;
  return `the ${nameOf(at)} metadata ${shown(valueAt(decoded, at))} is not ${expected}`;
}

export type Read<T> = { data: T; problem?: undefined } | { data?: undefined; problem: string };

/** Decodes (JSON entries) and validates a file's metadata against CHECKPOINT_METADATA or
 * PYTORCH_METADATA: the data, or the sentence of the first problem. */
export function readMetadata<S extends typeof CHECKPOINT_METADATA | typeof PYTORCH_METADATA>(schema: S, raw: Record<string, string>): Read<z.infer<S>> {
  const decoded: Record<string, unknown> = { ...raw };
  for (const [k, s] of Object.entries(schema.shape as Record<string, Schema>)) {
    if (raw[k] === undefined || fieldMeta(s)?.storedAs !== 'json') continue;
    try {
      decoded[k] = JSON.parse(raw[k]);
    } catch {
      return { problem: `the ${k} metadata ${shown(raw[k])} is not ${described(schema, [k]).expected} (it is not valid JSON)` };
    }
  }
  const r = schema.safeParse(decoded);
  return r.success ? { data: r.data as z.infer<S> } : { problem: sentence(schema, r.error.issues[0], decoded) };
}

/** One JSON entry against its schema, e.g. `config` against RUN_CONFIG: the data, or the
 * sentence of the first problem, naming the entry `key`. */
export function readEntry<S extends Schema>(schema: S, key: string, rawValue: string): Read<z.infer<S>> {
  const root = z.object({ [key]: schema });
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    return { problem: `the ${key} metadata ${shown(rawValue)} is not ${described(schema, []).expected} (it is not valid JSON)` };
  }
  const r = root.safeParse({ [key]: value });
  return r.success ? { data: r.data[key] as z.infer<S> } : { problem: sentence(root, r.error.issues[0], { [key]: value }) };
}

/** What our checkpoint's metadata says across entries that each passed the schema; the first
 * disagreement as a sentence. */
export function checkpointMetadataProblem(m: CheckpointMetadata): string | undefined {
  const v1 = m.format === CHECKPOINT_FORMAT;
  const model = v1 ? { cell: 'rnn', layers: 1 } : { cell: m.cell, layers: m.layers };
  for (const k of ['cell', 'layers'] as const)
    if (!v1 && m[k] === undefined) return `the metadata has no ${k} entry (expected ${described(CHECKPOINT_METADATA, [k]).expected}); a ${CHECKPOINT_FORMAT_V2} file names its model`;
  for (const k of ['cell', 'layers', 'dropout'] as const)
    if (v1 && m[k] !== undefined) return `the metadata has a ${k} entry, which a ${CHECKPOINT_FORMAT} file (the one-layer rnn) does not have`;
  if (m.vocab_size !== undefined && m.vocab_size !== m.vocab.length) return `the metadata says vocab_size ${m.vocab_size} but the vocab lists ${m.vocab.length} characters`;
  const differs = (what: string, a: unknown, b: unknown, than: string) => (a !== undefined && a !== b ? `the ${what} metadata ${shown(a)} does not match ${than} ${shown(b)}` : undefined);
  const c = m.config ?? {};
  return (
    differs('run.H', m.run?.H, m.hidden, 'the hidden metadata') ??
    (m.step !== undefined ? differs('run.step', m.run?.step, m.step, 'the step metadata') : undefined) ??
    differs('config.hidden', c.hidden, m.hidden, 'the hidden metadata') ??
    (m.config ? differs('config.cell', c.cell ?? RUN_CONFIG_DEFAULTS.cell, model.cell, 'the cell of the file') : undefined) ??
    (m.config ? differs('config.layers', c.layers ?? RUN_CONFIG_DEFAULTS.layers, model.layers, 'the layer count of the file') : undefined) ??
    (c.minLr !== undefined && c.lr !== undefined && c.minLr > c.lr ? `the config.minLr metadata ${c.minLr} is above the config.lr metadata ${c.lr}` : undefined)
  );
}

// ---------------------------------------------------------------------------------------------
// the JSON Schema file

const standalone = (s: Schema) => {
  const { $schema: _, ...rest } = z.toJSONSchema(s) as Record<string, unknown>;
  return rest;
};

/** The JSON Schema document of schema/checkpoint.schema.json. */
export function schemaDocument(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'char-rnn-webgpu model file metadata',
    description:
      'The __metadata__ of the safetensors files char-rnn-webgpu reads, written from src/schema.ts. Metadata maps strings to strings: ' +
      'an entry whose schema has "storedAs": "json" holds JSON text, and the schema describes its decoded value; the others are plain strings. ' +
      '"expected" says a field\'s values in words, for messages. $defs.checkpoint: our checkpoints (the root); $defs.pytorch: PyTorch state dicts; ' +
      '$defs.runConfig: the config entry of a checkpoint that a run resumes from.',
    $ref: '#/$defs/checkpoint',
    $defs: { checkpoint: standalone(CHECKPOINT_METADATA), pytorch: standalone(PYTORCH_METADATA), runConfig: standalone(RUN_CONFIG) },
  };
}

/** The text of schema/checkpoint.schema.json. */
export function schemaFileText(): string {
  return JSON.stringify(schemaDocument(), null, 2) + '\n';
}
