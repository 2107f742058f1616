// The model's tensors, declared once. Every array, GPU buffer, gradient, optimizer state,
// checkpoint entry and test case is sized from these tables.
//
//   h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      x_t one-hot over V characters, h_0 = 0
//   y_t = W_hy h_t + b_y
//   p_t = softmax(y_t)
//
// Matrices are row-major: W_hh[i*H + j] maps h_{t-1}[j] to the pre-activation of h_t[i].

import { CELLS, type CellName } from './cells.js';

/** The tutorial's tensors (the one-layer tanh RNN); every model's are in paramTable below. */
export const PARAMS = {
  W_xh: ['H', 'V'],
  W_hh: ['H', 'H'],
  b_h: ['H'],
  W_hy: ['V', 'H'],
  b_y: ['V'],
} as const;

export type ParamName = keyof typeof PARAMS;
export const PARAM_NAMES = Object.keys(PARAMS) as ParamName[];

/** Model size: V characters in the vocabulary, H hidden units per layer; the cell and the
 * number of layers (default: the tutorial's tanh RNN, one layer; see paramTable below). */
export interface Dims {
  V: number;
  H: number;
  cell?: CellName;
  layers?: number;
}

/** Per-step work size: B streams of T timesteps each. */
export interface StepShape extends Dims {
  B: number;
  T: number;
}

export type Tensor = Float32Array | Float64Array;

// ---------------------------------------------------------------------------------------------
// Cells and layers. The tutorial's model above is the one-layer tanh RNN; the table below
// describes every model: a cell (one record of src/cells.ts: G gate blocks of H rows each, in
// PyTorch's order) and L stacked layers, layer l > 0 reading layer l-1's h. Per layer l:
//   W_xh.l (G*H, l ? H : V)   W_hh.l (G*H, H)   b_h.l (G*H)   and the cell's extra bias, if any (H)
// then W_hy (V, H), b_y (V). The one-layer rnn keeps the tutorial's names (W_xh, W_hh, b_h).

export { CELLS, CELL_NAMES, type CellName, type CellRecord } from './cells.js';
export type { CellStep } from './cpu/cells.js';

/** A model: V characters, H hidden units per layer, the cell, L layers. */
export interface ModelDims extends Dims {
  cell: CellName;
  layers: number;
}

/** Which equation term a tensor is. */
export type ParamRole = 'W_xh' | 'W_hh' | 'b_h' | 'b_hn' | 'W_hy' | 'b_y';

export interface ParamSpec {
  name: string;
  role: ParamRole;
  /** the layer it belongs to; -1 for the output layer (W_hy, b_y) */
  layer: number;
  shape: readonly number[];
  size: number;
  /** weight decay and initialisation read this, never the name */
  kind: 'matrix' | 'bias';
}

/** The model's tensors in storage order (the checkpoint's, the flat GPU buffer's). */
export function paramTable(d: ModelDims): ParamSpec[] {
  const { V, H, cell, layers } = d;
  const G = CELLS[cell].gates;
  const tutorial = isTutorialModel(d);
  const t: ParamSpec[] = [];
  const add = (role: ParamRole, layer: number, shape: number[], kind: 'matrix' | 'bias') =>
    t.push({ name: layer < 0 || tutorial ? role : `${role}.${layer}`, role, layer, shape, size: shape.reduce((a, b) => a * b, 1), kind });
  for (let l = 0; l < layers; l++) {
    add('W_xh', l, [G * H, l ? H : V], 'matrix');
    add('W_hh', l, [G * H, H], 'matrix');
    add('b_h', l, [G * H], 'bias');
    const extra = CELLS[cell].extraBias;
    if (extra) add(extra.name, l, [H], 'bias');
  }
  add('W_hy', -1, [V, H], 'matrix');
  add('b_y', -1, [V], 'bias');
  return t;
}
/** The model's tensors by name (the names of paramTable). */
export type Params<A extends Tensor = Tensor> = Record<string, A>;

/** The tutorial's model: one layer of the tanh RNN. It keeps the tutorial's tensor names, checkpoint
 * format 1 and its (B, H) state; every other model is "cell x L". */
export function isTutorialModel(d: Pick<Dims, 'cell' | 'layers'>): boolean {
  return (d.cell ?? 'rnn') === 'rnn' && (d.layers ?? 1) === 1;
}

/** "lstm x2" for messages, empty for the tutorial's model. */
export function modelLabel(d: Pick<Dims, 'cell' | 'layers'>, sep = ' x'): string {
  return isTutorialModel(d) ? '' : `${d.cell ?? 'rnn'}${sep}${d.layers ?? 1}`;
}

/** The model of a shape: the tutorial's one-layer tanh RNN unless cell and layers say otherwise. */
export function modelOf(d: Dims): ModelDims {
  return { V: d.V, H: d.H, cell: d.cell ?? 'rnn', layers: d.layers ?? 1 };
}

/** The tensor names of a model, in storage order. */
export function paramNames(d: Dims): string[] {
  return paramTable(modelOf(d)).map((p) => p.name);
}

function spec(name: string, d: Dims): ParamSpec {
  const p = paramTable(modelOf(d)).find((q) => q.name === name);
  if (!p) throw new Error(`${name} is not a tensor of this model (${paramNames(d).join(', ')})`);
  return p;
}

export function paramShape(name: string, d: Dims): number[] {
  return [...spec(name, d).shape];
}

export function paramSize(name: string, d: Dims): number {
  return spec(name, d).size;
}

export function parameterCount(d: Dims): number {
  return paramTable(modelOf(d)).reduce((n, p) => n + p.size, 0);
}

/** Float elements each tensor starts on inside one flat buffer: 64 floats = 256 bytes,
 * the storage-buffer offset alignment every WebGPU adapter accepts. */
export const TENSOR_ALIGN = 64;

export interface Layout {
  offset: Record<string, number>;
  size: Record<string, number>;
  /** Elements of the whole flat buffer, padding included. */
  total: number;
}

/** Where each parameter lives inside one flat buffer (parameters, gradients and optimizer
 * state share this layout, so the optimizer is one element-wise pass over all of them). */
export function layout(d: Dims): Layout {
  const offset: Record<string, number> = {};
  const size: Record<string, number> = {};
  let at = 0;
  for (const p of paramTable(modelOf(d))) {
    offset[p.name] = at;
    size[p.name] = p.size;
    at += Math.ceil(p.size / TENSOR_ALIGN) * TENSOR_ALIGN;
  }
  return { offset, size, total: at };
}

export function zeroParams<A extends Tensor>(d: Dims, make: (n: number) => A): Params<A> {
  const p: Params<A> = {};
  for (const t of paramTable(modelOf(d))) p[t.name] = make(t.size);
  return p;
}

export function toFloat32(p: Params): Params<Float32Array> {
  const out: Params<Float32Array> = {};
  for (const k of Object.keys(p)) out[k] = Float32Array.from(p[k]);
  return out;
}

export function toFloat64(p: Params): Params<Float64Array> {
  const out: Params<Float64Array> = {};
  for (const k of Object.keys(p)) out[k] = Float64Array.from(p[k]);
  return out;
}
