import { type Checkpoint, checkpointOf } from './checkpoint.js';
import { MAX_LAYERS } from './bounds.js';
import { type Decoded, type FloatArray, decodeSafetensors, encodeSafetensors, showShape } from './safetensors.js';
import { CheckpointError } from './errors.js';
import { extraBiasRow } from './cells.js';
import { CELLS, CELL_NAMES, type CellName, type ModelDims, type Params, isTutorialModel, modelOf, paramTable } from './model.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V2, PYTORCH_FORMAT } from './formats.js';
import { PYTORCH_METADATA, type PytorchMetadata, readMetadata } from './schema.js';

export { PYTORCH_FORMAT };

// A model as a PyTorch state dict, in a safetensors file: the keys of
//
//   rnn = torch.nn.<module>(V, H, L, batch_first=True, **args)   (on one-hot characters; the
//                                                                  cell's record, src/cells.ts)
//   out = torch.nn.Linear(H, V)
//
// held in a module with children `rnn` and `out`, so that load_state_dict(strict=True) takes it:
//
//   rnn.weight_ih_l{l} = W_xh.l     rnn.weight_hh_l{l} = W_hh.l     out.weight = W_hy
//   rnn.bias_ih_l{l}   = b_h.l      rnn.bias_hh_l{l}   = 0          out.bias   = b_y
//   a cell with an extra bias: its gate's rows of rnn.bias_hh_l{l} hold it
//   (gru: [0; 0; b_hn.l]; b_h.l holds b_ir + b_hr, b_iz + b_hz and b_in)
//
// Metadata: format, vocab (JSON array of the characters in index order), cell, layers, hidden
// (src/schema.ts PYTORCH_METADATA). Read back, each pair of biases folds into ours (b_h = bias_ih + bias_hh,
// but in the extra bias's gate rows, where b_h is bias_ih and the extra bias bias_hh: gru's
// b_in and b_hn), so a state dict trained in PyTorch loads too.

type Entry = { name: string; shape: number[]; data: FloatArray };

function modelOfCheckpoint(c: Checkpoint): ModelDims {
  return modelOf({ V: c.vocab.length, H: c.hidden, cell: c.cell, layers: c.layers });
}

/** The safetensors bytes of a checkpoint's model as a PyTorch state dict. */
export function toPytorch(c: Checkpoint): Uint8Array {
  const m = modelOfCheckpoint(c);
  const { H, cell } = m;
  const extra = CELLS[cell].extraBias;
  const t: Entry[] = [];
  for (const p of paramTable(m)) {
    const data = c.params[p.name];
    const l = p.layer;
    if (p.role === 'W_xh') t.push({ name: `rnn.weight_ih_l${l}`, shape: [...p.shape], data });
    if (p.role === 'W_hh') t.push({ name: `rnn.weight_hh_l${l}`, shape: [...p.shape], data });
    if (p.role === 'b_h') {
      t.push({ name: `rnn.bias_ih_l${l}`, shape: [...p.shape], data });
      const bias_hh = new Float32Array(p.size);
      if (extra) bias_hh.set(c.params[`${extra.name}.${l}`], extraBiasRow(cell, H));
      t.push({ name: `rnn.bias_hh_l${l}`, shape: [...p.shape], data: bias_hh });
    }
    if (p.role === 'W_hy') t.push({ name: 'out.weight', shape: [...p.shape], data });
    if (p.role === 'b_y') t.push({ name: 'out.bias', shape: [...p.shape], data });
  }
  const metadata = { format: PYTORCH_FORMAT, vocab: JSON.stringify(c.vocab), cell, layers: String(m.layers), hidden: String(H) };
  return encodeSafetensors(t, metadata);
}

/** A checkpoint from a state dict written by toPytorch, or by PyTorch with the same keys and a
 * `vocab` metadata entry. */
export function fromPytorch(bytes: Uint8Array, source: string): Checkpoint {
  return pytorchOf(decodeSafetensors(bytes, source), source);
}

const FIX = 'Export it with `char-rnn export --pytorch`, or save the state dict of rnn + out with metadata {"vocab": json.dumps(chars)}.';
const LAYER_KEY = /^rnn\.(?:weight|bias)_(?:ih|hh)_l(\d+)$/;

/** fromPytorch on a file already decoded. The metadata against src/schema.ts; the model from
 * the metadata's cell, layers and hidden where present, else from the tensors; then the keys
 * exactly as load_state_dict(strict=True) on rnn + out wants them, their shapes, all finite. */
function pytorchOf(decoded: Decoded, source: string): Checkpoint {
  const { tensors, metadata } = decoded;
  const read = readMetadata(PYTORCH_METADATA, metadata);
  if (read.problem !== undefined) throw new CheckpointError(`${source}: ${read.problem}. ${FIX}`);
  const meta = read.data!;
  const m = pytorchModel(tensors, meta, source);
  const keys = torchKeys(m);
  const missing = [...keys.keys()].filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !keys.has(k));
  if (missing.length || unexpected.length)
    throw new CheckpointError(
      `${source}: the state dict does not fit ${torchModel(m)}, as load_state_dict(strict=True) would say: ` +
        [missing.length ? `missing ${listed(missing)}` : '', unexpected.length ? `unexpected ${listed(unexpected)}` : ''].filter(Boolean).join('; ') +
        `. ${FIX}`,
    );
  for (const [k, shape] of keys) {
    const t = tensors.get(k)!;
    if (showShape(t.shape) !== showShape(shape))
      throw new CheckpointError(`${source}: ${k} has shape ${showShape(t.shape)}, expected ${showShape(shape)} for ${torchModel(m)} (its cell, layers and hidden size as the metadata and the other tensors say). ${FIX}`);
    const d = t.data;
    for (let i = 0; i < d.length; i++)
      if (!Number.isFinite(d[i]))
        throw new CheckpointError(`${source}: ${k} holds a non-finite value (${d[i]}) at index ${i}: the file holds NaN or infinite weights, which no model can use. Use a file of finite weights.`);
  }

  const { H, cell } = m;
  const extra = CELLS[cell].extraBias;
  const row = extraBiasRow(cell, H) ?? 0;
  const get = (name: string) => Float32Array.from(tensors.get(name)!.data);
  const params: Params<Float32Array> = {};
  for (const p of paramTable(m)) {
    const l = p.layer;
    if (p.role === 'W_xh') params[p.name] = get(`rnn.weight_ih_l${l}`);
    if (p.role === 'W_hh') params[p.name] = get(`rnn.weight_hh_l${l}`);
    if (p.role === 'W_hy') params[p.name] = get('out.weight');
    if (p.role === 'b_y') params[p.name] = get('out.bias');
    if (p.role === 'b_h') {
      const [ih, hh] = [get(`rnn.bias_ih_l${l}`), get(`rnn.bias_hh_l${l}`)];
      for (let k = 0; k < p.size; k++) if (!extra || k < row || k >= row + H) ih[k] += hh[k]; // the extra bias stays apart
      params[p.name] = ih;
      if (extra) params[`${extra.name}.${l}`] = hh.slice(row, row + H);
    }
  }
  const c: Checkpoint = { params, vocab: meta.vocab, hidden: H, step: 0, metadata: {} };
  if (!isTutorialModel(m)) Object.assign(c, { cell, layers: m.layers });
  return c;
}

/** The model a state dict holds: cell, layers and hidden size from the metadata where it
 * names them, else from the tensors (hidden from out.weight or rnn.weight_hh_l0, the cell from
 * the gate blocks of rnn.weight_hh_l0, the layers from the highest layer index of the keys). */
function pytorchModel(tensors: Decoded['tensors'], meta: PytorchMetadata, source: string): ModelDims {
  const matrix = (k: string) => (tensors.get(k)?.shape.length === 2 ? tensors.get(k)!.shape : undefined);
  const whh = matrix('rnn.weight_hh_l0');
  const H = meta.hidden ?? matrix('out.weight')?.[1] ?? whh?.[1];
  if (!H)
    throw new CheckpointError(`${source}: the hidden size cannot be told: no hidden metadata entry, and neither out.weight nor rnn.weight_hh_l0 is a matrix. ${FIX}`);
  let cell: CellName = meta.cell ?? 'rnn';
  if (meta.cell === undefined && whh) {
    const byGates = CELL_NAMES.find((c) => CELLS[c].gates * H === whh[0]);
    if (!byGates)
      throw new CheckpointError(`${source}: rnn.weight_hh_l0 has shape ${showShape(whh)}: ${whh[0] / H} gate blocks of ${H} rows, not those of ${gateCounts()}. ${FIX}`);
    cell = byGates;
  }
  const indices = [...tensors.keys()].map((k) => LAYER_KEY.exec(k)?.[1]).filter((l) => l !== undefined).map(Number);
  const layers = meta.layers ?? Math.max(0, ...indices) + 1;
  if (layers > MAX_LAYERS)
    throw new CheckpointError(`${source}: the state dict has keys of layer ${layers - 1}; a model has at most ${MAX_LAYERS} layers. ${FIX}`);
  return { V: meta.vocab.length, H, cell, layers };
}

/** The keys and shapes of rnn + out's state dict for a model. */
function torchKeys(m: ModelDims): Map<string, number[]> {
  const keys = new Map<string, number[]>();
  const G = CELLS[m.cell].gates;
  for (let l = 0; l < m.layers; l++) {
    keys.set(`rnn.weight_ih_l${l}`, [G * m.H, l ? m.H : m.V]);
    keys.set(`rnn.weight_hh_l${l}`, [G * m.H, m.H]);
    keys.set(`rnn.bias_ih_l${l}`, [G * m.H]);
    keys.set(`rnn.bias_hh_l${l}`, [G * m.H]);
  }
  keys.set('out.weight', [m.V, m.H]);
  keys.set('out.bias', [m.V]);
  return keys;
}

const gateCounts = () => CELL_NAMES.map((c, k) => `${k === CELL_NAMES.length - 1 ? 'or ' : ''}${c} (${CELLS[c].gates})`).join(', ');
const torchArgs = (c: CellName) => Object.entries(CELLS[c].torch.args).map(([k, v]) => `, ${k}='${v}'`).join('');
const torchModel = (m: ModelDims) =>
  `rnn = torch.nn.${CELLS[m.cell].torch.module}(${m.V}, ${m.H}, ${m.layers}${torchArgs(m.cell)}) + out = torch.nn.Linear(${m.H}, ${m.V})`;
const listed = (keys: string[]) =>
  `key${keys.length > 1 ? 's' : ''} ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ` and ${keys.length - 8} more` : ''}`;

/** A char-rnn-webgpu checkpoint or a PyTorch state dict: ours by its format metadata, PyTorch's
 * by its format or, for files of other programs (e.g. {"format": "pt"}), by its keys (rnn.*, out.*). */
export function loadModelFile(bytes: Uint8Array, source: string): Checkpoint {
  const decoded = decodeSafetensors(bytes, source);
  const { metadata, tensors } = decoded;
  const ours = metadata.format === CHECKPOINT_FORMAT || metadata.format === CHECKPOINT_FORMAT_V2;
  const torch = metadata.format === PYTORCH_FORMAT || (!ours && [...tensors.keys()].some((k) => k.startsWith('rnn.') || k.startsWith('out.')));
  return torch ? pytorchOf(decoded, source) : checkpointOf(decoded, source);
}
