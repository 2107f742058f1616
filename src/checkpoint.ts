import { CheckpointError, VocabularyError } from './errors.js';
import { CELLS, CELL_NAMES, type CellName, type ModelDims, type Params, isTutorialModel, modelOf, paramNames, paramTable } from './model.js';
import { type Decoded, type FloatArray, decodeSafetensors, encodeSafetensors, isNonNegativeInteger, numel, showShape } from './safetensors.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2 } from './formats.js';
import { CHECKPOINT_METADATA, checkpointMetadataProblem, readMetadata } from './schema.js';
import { STATE_KINDS, stateTensors } from './state.js';
import { Vocab } from './vocab.js';

// Checkpoints are safetensors files (src/safetensors.ts): the model's tensors as F32 (and, for
// resuming on the CPU engine, F64 copies), the vocabulary and the run in the metadata. This
// module works on Uint8Array alone, so the browser and Node share it; the caller reads and
// writes the bytes.

// Format 1 holds the tutorial's one-layer tanh RNN (W_xh, W_hh, b_h, W_hy, b_y); format 2 any
// cell and depth, under the names of src/model.ts's table (W_xh.0 ... b_y), with metadata
// `cell`, `layers` and `dropout`. A one-layer rnn is always written as format 1, so that its
// files stay exactly what they were; both formats load.
// The metadata's schema is src/schema.ts.
export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2 };
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
  const v1 = isTutorialModel(model);
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
  return checkpointOf(decodeSafetensors(bytes, source), source);
}

const DAMAGED = 'The file is damaged or was edited; use another checkpoint.';

/** loadCheckpoint on a file already decoded (src/pytorch.ts loadModelFile decodes once). The
 * metadata against src/schema.ts, then the tensors: the model's parameters by the table of
 * src/model.ts, the training state by src/state.ts stateTensors, nothing else, all finite. */
export function checkpointOf(decoded: Decoded, source: string): Checkpoint {
  const { tensors, metadata, hasMetadata } = decoded;
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
  const read = readMetadata(CHECKPOINT_METADATA, metadata);
  const problem = read.problem ?? checkpointMetadataProblem(read.data);
  if (problem !== undefined) throw new CheckpointError(`${source}: ${problem}. ${DAMAGED}`);
  const m = read.data!;
  try {
    new Vocab(m.vocab);
  } catch (e) {
    if (e instanceof VocabularyError) throw new CheckpointError(`${source}: bad vocab metadata: ${e.message} ${DAMAGED}`);
    throw e;
  }

  const model: ModelDims = { V: m.vocab.length, H: m.hidden, cell: m.cell ?? 'rnn', layers: m.layers ?? 1 };
  const params = modelTensors(tensors, model, source);
  checkStateTensors(tensors, model, m.run?.B, source);
  for (const [name, t] of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]))
        throw new CheckpointError(
          `${source}: tensor ${name} holds a non-finite value (${d[i]}) at index ${i}; a checkpoint holds finite numbers only. ` +
            `The file is damaged, or the run that wrote it had diverged; use an earlier checkpoint.`,
        );
    }
  }

  const names = paramNames(model);
  const extra: Record<string, { shape: number[]; data: FloatArray }> = {};
  for (const [name, t] of tensors) if (!names.includes(name)) extra[name] = { shape: t.shape, data: t.data };
  const rest: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (!(RESERVED_METADATA as readonly string[]).includes(k)) rest[k] = v;

  const c: Checkpoint = { params, vocab: m.vocab, hidden: m.hidden, step: m.step ?? 0, extra, metadata: rest };
  if (m.history) c.history = m.history.map(([step, loss, val]) => (val === undefined ? { step, loss } : { step, loss, val }));
  if (format !== CHECKPOINT_FORMAT) Object.assign(c, { cell: m.cell, layers: m.layers, dropout: m.dropout ?? 0 });
  return c;
}

/** The model's parameters, each present as F32 in its shape. */
function modelTensors(tensors: Decoded['tensors'], model: ModelDims, source: string): Params<Float32Array> {
  const names = paramNames(model);
  const params = {} as Params<Float32Array>;
  for (const { name, shape: want, role, layer } of paramTable(model)) {
    const t = tensors.get(name);
    if (!t)
      throw new CheckpointError(
        `${source}: tensor ${name} is missing; a char-rnn-webgpu checkpoint of ${describe(model)} holds ${names.join(', ')}. ${DAMAGED}`,
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
  return params;
}

/** Every tensor besides the parameters is training state of the right size and dtype
 * (src/state.ts stateTensors; those sized by the batch need the run metadata's B). */
function checkStateTensors(tensors: Decoded['tensors'], model: ModelDims, B: number | undefined, source: string): void {
  const names = paramNames(model);
  const state = stateTensors(model, B ?? 1);
  const others = [...tensors.keys()].filter((n) => !names.includes(n) && !state.has(n));
  if (others.length)
    throw new CheckpointError(
      `${source}: ${others.length > 1 ? 'tensors' : 'tensor'} ${others.join(', ')} ${others.length > 1 ? 'are' : 'is'} neither a parameter of ` +
        `${describe(model)} nor its training state (${[...STATE_KINDS, ...(CELLS[model.cell].cellState ? ['cprev'] : [])].join(', ')}). ` +
        `The tensors do not match the metadata: the file is damaged or was edited; use another checkpoint.`,
    );
  for (const [name, t] of tensors) {
    const want = state.get(name);
    if (!want) continue;
    if (want.perStream && B === undefined)
      throw new CheckpointError(`${source}: tensor ${name} is a run's carried state, but the file has no run metadata, which gives its batch size. ${DAMAGED}`);
    if (t.dtype !== want.dtype) throw new CheckpointError(`${source}: tensor ${name} is stored as ${t.dtype}, expected ${want.dtype}. ${DAMAGED}`);
    if (t.data.length !== want.size)
      throw new CheckpointError(`${source}: tensor ${name} has ${t.data.length} values, expected ${want.size} (${want.what}). ${DAMAGED}`);
  }
}

function encodeHistory(history: LossPoint[]): string {
  for (const p of history)
    if (!isNonNegativeInteger(p.step) || !Number.isFinite(p.loss) || (p.val !== undefined && !Number.isFinite(p.val)))
      throw new CheckpointError(`Cannot save checkpoint: history point ${JSON.stringify(p)} needs a whole step and finite losses.`);
  return JSON.stringify(history.map((p) => (p.val === undefined ? [p.step, p.loss] : [p.step, p.loss, p.val])));
}


/** "a lstm of 2 layers with hidden size 64 and vocabulary size 65", for messages. */
function describe(m: ModelDims): string {
  return describeSizes(m, true, true);
}

/** The model and the sizes (hidden, vocabulary) a tensor's shape depends on. */
function describeSizes(m: ModelDims, H: boolean, V: boolean): string {
  const sizes = [H ? `hidden size ${m.H}` : '', V ? `vocabulary size ${m.V}` : ''].filter(Boolean).join(' and ');
  return isTutorialModel(m) ? sizes : `a ${m.cell} of ${m.layers} layer${m.layers > 1 ? 's' : ''} with ${sizes}`;
}
