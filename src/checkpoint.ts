import { CheckpointError, VocabularyError } from './errors.js';
import { CELL_NAMES, type CellName, type ModelDims, type Params, modelOf, paramNames, paramTable } from './model.js';
import { type FloatArray, decodeSafetensors, encodeSafetensors, isNonNegativeInteger, numel, showShape } from './safetensors.js';
import { Vocab } from './vocab.js';

// Checkpoints are safetensors files (src/safetensors.ts): the model's tensors as F32 (and, for
// resuming on the CPU engine, F64 copies), the vocabulary and the run in the metadata. This
// module works on Uint8Array alone, so the browser and Node share it; the caller reads and
// writes the bytes.

// Format 1 holds the tutorial's one-layer tanh RNN (W_xh, W_hh, b_h, W_hy, b_y); format 2 any
// cell and depth, under the names of src/model.ts's table (W_xh.0 ... b_y), with metadata
// `cell`, `layers` and `dropout`. A one-layer rnn is always written as format 1, so that its
// files stay exactly what they were; both formats load.
export const CHECKPOINT_FORMAT = 'char-rnn-webgpu/1';
export const CHECKPOINT_FORMAT_V2 = 'char-rnn-webgpu/2';
const FORMATS = [CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2];

export interface Checkpoint {
  /** The model's tensors by the names of paramTable (src/model.ts); for the one-layer tanh
   * RNN W_xh (H,V), W_hh (H,H), b_h (H), W_hy (V,H), b_y (V). */
  params: Params<Float32Array>;
  /** The cell and the number of layers (default: the one-layer tanh RNN, format 1). */
  cell?: CellName;
  layers?: number;
  /** The dropout it was trained with (format 2 metadata; informational). */
  dropout?: number;
  /** Characters in index order. */
  vocab: string[];
  /** Hidden units H. */
  hidden: number;
  /** Training steps done. */
  step: number;
  /** Further F32 tensors (optimizer state, carried hidden state), stored under their names.
   * A bare Float32Array is stored with shape [length]; loading always gives {shape, data}. */
  extra?: Record<string, FloatArray | { shape: number[]; data: FloatArray }>;
  /** Further string metadata (e.g. the run configuration as JSON). */
  metadata?: Record<string, string>;
  /** The loss curve so far (the page redraws it when the file is loaded): training loss at
   * `step`, and the validation loss where one was measured. Stored as the metadata entry
   * `history`, a JSON array of [step, loss] or [step, loss, val]; files without it load. */
  history?: LossPoint[];
}

export interface LossPoint {
  step: number;
  loss: number;
  val?: number;
}

/** Metadata keys that saveCheckpoint writes itself. */
const RESERVED_METADATA = ['format', 'vocab', 'hidden', 'vocab_size', 'step', 'cell', 'layers', 'dropout', 'history'] as const;

// ---------------------------------------------------------------------------------------------
// checkpoints

export function saveCheckpoint(c: Checkpoint): Uint8Array {
  try {
    new Vocab(c.vocab);
  } catch (e) {
    if (e instanceof VocabularyError) throw new CheckpointError(`Cannot save checkpoint: ${e.message}`);
    throw e;
  }
  if (!Number.isSafeInteger(c.hidden) || c.hidden < 1)
    throw new CheckpointError(`Cannot save checkpoint: hidden size ${c.hidden} is not a positive integer.`);
  if (!isNonNegativeInteger(c.step))
    throw new CheckpointError(`Cannot save checkpoint: step ${c.step} is not a non-negative integer.`);
  const model = modelOf({ V: c.vocab.length, H: c.hidden, cell: c.cell, layers: c.layers });
  if (!CELL_NAMES.includes(model.cell)) throw new CheckpointError(`Cannot save checkpoint: unknown cell ${JSON.stringify(model.cell)}.`);
  if (!Number.isSafeInteger(model.layers) || model.layers < 1)
    throw new CheckpointError(`Cannot save checkpoint: layer count ${model.layers} is not a positive integer.`);
  const v1 = isTutorial(model);
  const names = paramNames(model);

  const tensors: { name: string; shape: number[]; data: FloatArray }[] = [];
  for (const { name, shape } of paramTable(model)) {
    const data = c.params[name];
    if (!data) throw new CheckpointError(`Cannot save checkpoint: parameter ${name} is missing.`);
    if (data.length !== numel(shape))
      throw new CheckpointError(
        `Cannot save checkpoint: ${name} has ${data.length} values, expected ${numel(shape)} (shape ${showShape(shape)}) ` +
          `for ${describe(model)}.`,
      );
    tensors.push({ name, shape: [...shape], data });
  }
  for (const [name, t] of Object.entries(c.extra ?? {})) {
    if (names.includes(name))
      throw new CheckpointError(`Cannot save checkpoint: extra tensor ${name} has the name of a model parameter.`);
    tensors.push(t instanceof Float32Array || t instanceof Float64Array ? { name, shape: [t.length], data: t } : { name, shape: t.shape, data: t.data });
  }

  const metadata: Record<string, string> = {
    format: v1 ? CHECKPOINT_FORMAT : CHECKPOINT_FORMAT_V2,
    vocab: JSON.stringify(c.vocab),
    hidden: String(c.hidden),
    vocab_size: String(c.vocab.length),
    step: String(c.step),
  };
  if (!v1) Object.assign(metadata, { cell: model.cell, layers: String(model.layers), dropout: String(c.dropout ?? 0) });
  if (c.history) metadata.history = encodeHistory(c.history);
  for (const [k, v] of Object.entries(c.metadata ?? {})) {
    if ((RESERVED_METADATA as readonly string[]).includes(k))
      throw new CheckpointError(`Cannot save checkpoint: metadata key ${JSON.stringify(k)} is reserved for the checkpoint itself.`);
    metadata[k] = v;
  }
  return encodeSafetensors(tensors, metadata);
}

/** Reads and validates a checkpoint written by saveCheckpoint. Every problem throws a
 * CheckpointError that names `source` (e.g. the file path), what is wrong and what to do. */
export function loadCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const { tensors, metadata, hasMetadata } = decodeSafetensors(bytes, source);
  const notOurs = `Load a checkpoint saved by char-rnn-webgpu (format ${FORMATS.join(' or ')}).`;

  if (!hasMetadata)
    throw new CheckpointError(
      `${source}: the safetensors header has no __metadata__, so it is not a char-rnn-webgpu checkpoint ` +
        `(the vocabulary and hidden size are stored there). ${notOurs}`,
    );
  const format = metadata.format;
  if (format === undefined)
    throw new CheckpointError(`${source}: the metadata has no format entry, so it is not a char-rnn-webgpu checkpoint. ${notOurs}`);
  if (!FORMATS.includes(format))
    throw new CheckpointError(
      `${source}: unknown checkpoint format ${JSON.stringify(format)}, expected ${FORMATS.map((f) => JSON.stringify(f)).join(' or ')}. ` +
        `It was written by another program or another version of char-rnn-webgpu; use the matching version, or retrain.`,
    );

  const damaged = 'The file is damaged or was edited; use another checkpoint.';
  const vocabText = metadata.vocab;
  if (vocabText === undefined) throw new CheckpointError(`${source}: the metadata has no vocab entry. ${damaged}`);
  let vocab: unknown;
  try {
    vocab = JSON.parse(vocabText);
  } catch {
    throw new CheckpointError(`${source}: the vocab metadata is not valid JSON (it should be a JSON array of characters). ${damaged}`);
  }
  if (!Array.isArray(vocab) || !vocab.every((c) => typeof c === 'string'))
    throw new CheckpointError(`${source}: the vocab metadata is not a JSON array of strings (one character each). ${damaged}`);
  try {
    new Vocab(vocab);
  } catch (e) {
    if (e instanceof VocabularyError) throw new CheckpointError(`${source}: bad vocab metadata: ${e.message} ${damaged}`);
    throw e;
  }
  const V = vocab.length;
  if (metadata.vocab_size !== undefined && metadata.vocab_size !== String(V))
    throw new CheckpointError(
      `${source}: the metadata says vocab_size ${JSON.stringify(metadata.vocab_size)} but the vocab lists ${V} characters. ${damaged}`,
    );

  const hiddenText = metadata.hidden;
  if (hiddenText === undefined) throw new CheckpointError(`${source}: the metadata has no hidden entry (the hidden size). ${damaged}`);
  const H = Number(hiddenText);
  if (!/^[1-9][0-9]*$/.test(hiddenText) || !Number.isSafeInteger(H))
    throw new CheckpointError(`${source}: the hidden metadata ${JSON.stringify(hiddenText)} is not a positive integer. ${damaged}`);

  let step = 0;
  if (metadata.step !== undefined) {
    step = Number(metadata.step);
    if (!/^[0-9]+$/.test(metadata.step) || !Number.isSafeInteger(step))
      throw new CheckpointError(`${source}: the step metadata ${JSON.stringify(metadata.step)} is not a non-negative integer. ${damaged}`);
  }

  const { cell, layers, dropout } = format === CHECKPOINT_FORMAT ? { cell: 'rnn' as CellName, layers: 1, dropout: undefined } : modelMetadata(metadata, source, damaged);
  const model: ModelDims = { V, H, cell, layers };
  const names = paramNames(model);
  const params = {} as Params<Float32Array>;
  for (const { name, shape: want, role, layer } of paramTable(model)) {
    const t = tensors.get(name);
    if (!t)
      throw new CheckpointError(
        `${source}: tensor ${name} is missing; a char-rnn-webgpu checkpoint of ${describe(model)} holds ${names.join(', ')}. ${damaged}`,
      );
    if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i]))
      throw new CheckpointError(
        `${source}: ${name} has shape ${showShape(t.shape)}, expected ${showShape(want)} for ` +
          `${describeSizes(model, role !== 'b_y', role === 'W_hy' || role === 'b_y' || (role === 'W_xh' && layer === 0))}. ` +
          `The tensors do not match the metadata: the file is damaged or was edited; use another checkpoint.`,
      );
    if (!(t.data instanceof Float32Array))
      throw new CheckpointError(`${source}: ${name} is stored as ${t.dtype}; model tensors must be F32. Save it again as float32.`);
    params[name] = t.data;
  }

  const extra: Record<string, { shape: number[]; data: FloatArray }> = {};
  for (const [name, t] of tensors) if (!names.includes(name)) extra[name] = { shape: t.shape, data: t.data };

  for (const [name, t] of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]))
        throw new CheckpointError(
          `${source}: tensor ${name} holds a non-finite value (${d[i]}) at index ${i}. The run that saved it diverged; ` +
            `use an earlier checkpoint, or retrain with a lower learning rate or gradient clipping.`,
        );
    }
  }

  const rest: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (!(RESERVED_METADATA as readonly string[]).includes(k)) rest[k] = v;

  const c: Checkpoint = { params, vocab: vocab as string[], hidden: H, step, extra, metadata: rest };
  if (metadata.history !== undefined) c.history = decodeHistory(metadata.history, source, damaged);
  if (format !== CHECKPOINT_FORMAT) Object.assign(c, { cell, layers, dropout });
  return c;
}

function encodeHistory(history: LossPoint[]): string {
  for (const p of history)
    if (!isNonNegativeInteger(p.step) || !Number.isFinite(p.loss) || (p.val !== undefined && !Number.isFinite(p.val)))
      throw new CheckpointError(`Cannot save checkpoint: history point ${JSON.stringify(p)} needs a whole step and finite losses.`);
  return JSON.stringify(history.map((p) => (p.val === undefined ? [p.step, p.loss] : [p.step, p.loss, p.val])));
}

function decodeHistory(text: string, source: string, damaged: string): LossPoint[] {
  const bad = `${source}: the history metadata is not a JSON array of [step, loss] or [step, loss, validation loss]. ${damaged}`;
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    throw new CheckpointError(bad);
  }
  if (!Array.isArray(rows)) throw new CheckpointError(bad);
  return rows.map((r: unknown) => {
    const ok =
      Array.isArray(r) && (r.length === 2 || r.length === 3) && isNonNegativeInteger(r[0]) && r.slice(1).every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!ok) throw new CheckpointError(bad);
    const [step, loss, val] = r as number[];
    return val === undefined ? { step, loss } : { step, loss, val };
  });
}

const isTutorial = (m: ModelDims) => m.cell === 'rnn' && m.layers === 1;

/** "a lstm of 2 layers with hidden size 64 and vocabulary size 65", for messages. */
function describe(m: ModelDims): string {
  return describeSizes(m, true, true);
}

/** The model and the sizes (hidden, vocabulary) a tensor's shape depends on. */
function describeSizes(m: ModelDims, H: boolean, V: boolean): string {
  const sizes = [H ? `hidden size ${m.H}` : '', V ? `vocabulary size ${m.V}` : ''].filter(Boolean).join(' and ');
  return isTutorial(m) ? sizes : `a ${m.cell} of ${m.layers} layer${m.layers > 1 ? 's' : ''} with ${sizes}`;
}

/** cell, layers and dropout of a format-2 checkpoint's metadata. */
function modelMetadata(metadata: Record<string, string>, source: string, damaged: string): { cell: CellName; layers: number; dropout: number } {
  const cell = metadata.cell as CellName;
  if (!CELL_NAMES.includes(cell))
    throw new CheckpointError(`${source}: the cell metadata ${JSON.stringify(metadata.cell)} is not one of ${CELL_NAMES.join(', ')}. ${damaged}`);
  const layers = Number(metadata.layers);
  if (!/^[1-9][0-9]*$/.test(metadata.layers ?? '') || !Number.isSafeInteger(layers))
    throw new CheckpointError(`${source}: the layers metadata ${JSON.stringify(metadata.layers)} is not a positive integer. ${damaged}`);
  const dropout = Number(metadata.dropout ?? '0');
  if (!(dropout >= 0 && dropout < 1)) throw new CheckpointError(`${source}: the dropout metadata ${JSON.stringify(metadata.dropout)} is not a number in [0, 1). ${damaged}`);
  return { cell, layers, dropout };
}
