import { type Checkpoint, loadCheckpoint } from './checkpoint.js';
import { type FloatArray, decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { CheckpointError } from './errors.js';
import { CELLS, CELL_NAMES, type CellName, type ModelDims, type Params, modelOf, paramTable } from './model.js';
import { Vocab } from './vocab.js';

// A model as a PyTorch state dict, in a safetensors file: the keys of
//
//   rnn = torch.nn.{RNN,LSTM,GRU}(V, H, L, batch_first=True)     (on one-hot characters)
//   out = torch.nn.Linear(H, V)
//
// held in a module with children `rnn` and `out`, so that load_state_dict(strict=True) takes it:
//
//   rnn.weight_ih_l{l} = W_xh.l     rnn.weight_hh_l{l} = W_hh.l     out.weight = W_hy
//   rnn.bias_ih_l{l}   = b_h.l      rnn.bias_hh_l{l}   = 0          out.bias   = b_y
//   gru: rnn.bias_hh_l{l} = [0; 0; b_hn.l]   (b_h.l holds b_ir + b_hr, b_iz + b_hz and b_in)
//
// Metadata: format, vocab (JSON array of the characters in index order), cell, layers, hidden.
// Read back, each pair of biases folds into ours (b_h = bias_ih + bias_hh; gru: the r and z
// rows of that sum, b_in, and b_hn = bias_hh's n rows), so a state dict trained in PyTorch
// loads too.

export const PYTORCH_FORMAT = 'char-rnn-webgpu/pytorch';

type Entry = { name: string; shape: number[]; data: FloatArray };

function modelOfCheckpoint(c: Checkpoint): ModelDims {
  return modelOf({ V: c.vocab.length, H: c.hidden, cell: c.cell, layers: c.layers });
}

/** The safetensors bytes of a checkpoint's model as a PyTorch state dict. */
export function toPytorch(c: Checkpoint): Uint8Array {
  const m = modelOfCheckpoint(c);
  const { H, cell } = m;
  const t: Entry[] = [];
  for (const p of paramTable(m)) {
    const data = c.params[p.name];
    const l = p.layer;
    if (p.role === 'W_xh') t.push({ name: `rnn.weight_ih_l${l}`, shape: [...p.shape], data });
    if (p.role === 'W_hh') t.push({ name: `rnn.weight_hh_l${l}`, shape: [...p.shape], data });
    if (p.role === 'b_h') {
      t.push({ name: `rnn.bias_ih_l${l}`, shape: [...p.shape], data });
      const bias_hh = new Float32Array(p.size);
      if (cell === 'gru') bias_hh.set(c.params[`b_hn.${l}`], 2 * H);
      t.push({ name: `rnn.bias_hh_l${l}`, shape: [...p.shape], data: bias_hh });
    }
    if (p.role === 'W_hy') t.push({ name: 'out.weight', shape: [...p.shape], data });
    if (p.role === 'b_y') t.push({ name: 'out.bias', shape: [...p.shape], data });
  }
  const metadata = { format: PYTORCH_FORMAT, vocab: JSON.stringify(c.vocab), cell, layers: String(m.layers), hidden: String(H) };
  return encodeSafetensors(t, metadata);
}

/** A checkpoint from a state dict written by toPytorch (or by PyTorch with the same keys and
 * a `vocab` metadata entry). The cell, layer count and hidden size are read from the tensors. */
export function fromPytorch(bytes: Uint8Array, source: string): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const fix = 'Export it with `char-rnn export --pytorch`, or save the state dict of rnn + out with metadata {"vocab": json.dumps(chars)}.';
  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`${source}: the state dict has no ${name}. ${fix}`);
    if (t.shape.join(',') !== shape.join(','))
      throw new CheckpointError(`${source}: ${name} has shape [${t.shape}], expected [${shape}] for the model its other tensors describe. ${fix}`);
    return Float32Array.from(t.data);
  };
  let vocab: string[];
  try {
    vocab = new Vocab(JSON.parse(metadata.vocab ?? 'null')).chars as string[];
  } catch {
    throw new CheckpointError(`${source}: the metadata has no usable vocab (a JSON array of the characters in index order). ${fix}`);
  }
  const wih = tensors.get('rnn.weight_ih_l0');
  const whh = tensors.get('rnn.weight_hh_l0');
  if (!wih || !whh || whh.shape.length !== 2) throw new CheckpointError(`${source}: the state dict has no rnn.weight_ih_l0 and rnn.weight_hh_l0. ${fix}`);
  const H = whh.shape[1];
  const G = whh.shape[0] / H;
  const byGates = CELL_NAMES.filter((c) => CELLS[c].gates === G);
  const cell = (metadata.cell ?? byGates[0]) as CellName;
  if (!byGates.includes(cell))
    throw new CheckpointError(`${source}: rnn.weight_hh_l0 has shape [${whh.shape}]: ${G} gate blocks of ${H} rows, not those of ${metadata.cell ?? 'rnn (1), lstm (4) or gru (3)'}. ${fix}`);
  let layers = 0;
  while (tensors.has(`rnn.weight_ih_l${layers}`)) layers++;
  const m: ModelDims = { V: vocab.length, H, cell, layers };
  const params: Params<Float32Array> = {};
  for (const p of paramTable(m)) {
    const l = p.layer;
    const shape = [...p.shape];
    if (p.role === 'W_xh') params[p.name] = get(`rnn.weight_ih_l${l}`, shape);
    if (p.role === 'W_hh') params[p.name] = get(`rnn.weight_hh_l${l}`, shape);
    if (p.role === 'W_hy') params[p.name] = get('out.weight', shape);
    if (p.role === 'b_y') params[p.name] = get('out.bias', shape);
    if (p.role === 'b_h') {
      const [ih, hh] = [get(`rnn.bias_ih_l${l}`, shape), get(`rnn.bias_hh_l${l}`, shape)];
      const sum = cell === 'gru' ? 2 * H : p.size; // gru: b_hn stays apart
      for (let k = 0; k < sum; k++) ih[k] += hh[k];
      params[p.name] = ih;
      if (cell === 'gru') params[`b_hn.${l}`] = hh.slice(2 * H);
    }
  }
  const c: Checkpoint = { params, vocab, hidden: H, step: 0, metadata: {} };
  if (cell !== 'rnn' || layers !== 1) Object.assign(c, { cell, layers });
  return c;
}

/** A char-rnn-webgpu checkpoint or a PyTorch state dict (by its format metadata or its keys). */
export function loadModelFile(bytes: Uint8Array, source: string): Checkpoint {
  let isTorch = false;
  try {
    const { tensors, metadata } = decodeSafetensors(bytes, source);
    isTorch = metadata.format === PYTORCH_FORMAT || (metadata.format === undefined && tensors.has('rnn.weight_ih_l0'));
  } catch {
    // loadCheckpoint below says what is wrong with the bytes
  }
  return isTorch ? fromPytorch(bytes, source) : loadCheckpoint(bytes, source);
}
