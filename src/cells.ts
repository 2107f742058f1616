// One record per recurrent cell: everything about a cell is here, and every other place reads
// it (the model's tensors, both engines, the initialisation, the PyTorch and TF.js mappings,
// the page). A cell is a parameter, as in PyTorch's nn.RNNBase and cuDNN's cudnnRNNMode_t.
//
// What cannot read this file keeps a copy that a test compares with it: the WGSL constants of
// each cell file (G, S, HAS_C, HAS_BHN in shaders/cell_*.wgsl) and scripts/cells.json, which
// the Python scripts read (written by `node scripts/write-cells.mjs`; test/cell-record.test.ts).
//
// A cell sees two pre-activation vectors of G*H values, gate-major in PyTorch's row order of
// weight_ih / weight_hh (gate k of unit i at k*H + i):
//   ax = W_xh x_t + b_h      ah = W_hh h_{t-1}
// and computes h_t (and c_t) from them: its pointwise math is one WGSL file (shaders/) and one
// float64 step (src/cpu/cells.ts), both written from the equations.

import cellGru from '../shaders/cell_gru.wgsl?raw';
import cellLstm from '../shaders/cell_lstm.wgsl?raw';
import cellRelu from '../shaders/cell_relu.wgsl?raw';
import cellRnn from '../shaders/cell_rnn.wgsl?raw';
import { type CellStep, gruStep, lstmStep, reluStep, rnnStep } from './cpu/cells.js';

export interface CellRecord {
  /** The gate blocks of H rows each, in PyTorch's row order (G = gateNames.length). */
  gateNames: readonly string[];
  /** G, the number of gate blocks. */
  gates: number;
  /** The state carried besides h: the LSTM's cell state c, or none. */
  state: 'c' | null;
  /** state === 'c' */
  cellState: boolean;
  /** A bias of H values kept apart from b_h, and the gate whose recurrent side it sits in
   * (the GRU's b_hn: n = tanh(ax_n + r⊙(ah_n + b_hn))). */
  extraBias: { name: 'b_hn'; gate: string } | null;
  /** Values saved per unit for the backward pass (S of the WGSL file). */
  saved: number;
  /** Its WGSL pointwise file (shaders/<file>.wgsl), joined before the layer kernels. */
  wgsl: { file: string; code: string };
  /** Its float64 step (src/cpu/cells.ts). */
  cpu: CellStep;
  /** The PyTorch module that computes the same (torch.nn.<module>(V, H, L, **args)). */
  torch: { module: 'RNN' | 'LSTM' | 'GRU'; args: Readonly<Record<string, string>> };
  /** The TF.js layer of the bench (bench/tfjsModel.ts): its name, activation, its gate blocks
   * named as ours in Keras's order, and why it computes another model, where it does. */
  tfjs: { layer: 'simpleRNN' | 'lstm' | 'gru'; activation: 'tanh' | 'relu'; gates: readonly string[]; differs: string | null };
  /** Its name on the page and in messages. */
  title: string;
  /** Its equations on the page ("How it works"): a sentence and KaTeX; for a gated cell, what
   * its gates do (beside their values at a character). */
  equations: { text: string; math: string; gates?: string };
}

type CellSpec = Omit<CellRecord, 'gates' | 'cellState'>;
const cell = (s: CellSpec): CellRecord => ({ ...s, gates: s.gateNames.length, cellState: s.state === 'c' });

const KERAS_GRU =
  "tf.layers.gru (tfjs-layers 4.22) is Keras's GRU with reset_after=false, the only variant it has (resetAfter: true throws): " +
  'n = tanh(W_in x + b_in + W_hn (r ⊙ h)), with no recurrent bias. This project\'s GRU is PyTorch\'s and cuDNN\'s: ' +
  'n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)). The weights are the same, mapped (gate blocks reordered r z n → z r h; ' +
  'b_hn, zero at initialisation, has no place), but from the second timestep on, where h ≠ 0, the two compute different ' +
  'numbers, so the losses differ: a different model of the same size and cost, timed as such.';

const layerTex = (f: string) =>
  `h^{(l+1)}_t = ${f}\\!\\left(W^{(l+1)}_{xh} h^{(l)}_t + W^{(l+1)}_{hh} h^{(l+1)}_{t-1} + b^{(l+1)}_h\\right)`;

export const CELLS = {
  /** The tutorial's cell: h' = tanh(ax + ah). */
  rnn: cell({
    gateNames: ['h'], state: null, extraBias: null, saved: 1,
    wgsl: { file: 'cell_rnn', code: cellRnn }, cpu: rnnStep,
    torch: { module: 'RNN', args: { nonlinearity: 'tanh' } },
    tfjs: { layer: 'simpleRNN', activation: 'tanh', gates: ['h'], differs: null },
    title: 'tanh RNN',
    equations: {
      text: 'Each layer is the tutorial’s tanh RNN; layer l + 1 reads layer l’s state instead of the one-hot character.',
      math: layerTex('\\tanh'),
    },
  }),
  /** i f g o; c' = f⊙c + i⊙g, h' = o⊙tanh(c'). */
  lstm: cell({
    gateNames: ['i', 'f', 'g', 'o'], state: 'c', extraBias: null, saved: 4,
    wgsl: { file: 'cell_lstm', code: cellLstm }, cpu: lstmStep,
    torch: { module: 'LSTM', args: {} },
    tfjs: { layer: 'lstm', activation: 'tanh', gates: ['i', 'f', 'g', 'o'], differs: null },
    title: 'LSTM',
    equations: {
      text: 'An LSTM keeps a second state, the cell c, that gates write to and read from: the input gate i, the forget gate f, the candidate g and the output gate o (PyTorch’s equations).',
      math: `\\begin{aligned} i_t &= \\sigma(W_{xi} x_t + W_{hi} h_{t-1} + b_i) & f_t &= \\sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f)\\\\ g_t &= \\tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g) & o_t &= \\sigma(W_{xo} x_t + W_{ho} h_{t-1} + b_o)\\\\ c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t & h_t &= o_t \\odot \\tanh(c_t) \\end{aligned}`,
      gates: 'i: how much of the candidate g is written into the cell; f: how much of the old cell state is kept; o: how much of the cell is shown as h. Near 1 open, near 0 shut.',
    },
  }),
  /** r z n; n = tanh(ax_n + r⊙(ah_n + b_hn)), h' = (1-z)⊙n + z⊙h. b_h holds b_ir + b_hr,
   * b_iz + b_hz and b_in; b_hn stays apart (it sits inside r⊙). */
  gru: cell({
    gateNames: ['r', 'z', 'n'], state: null, extraBias: { name: 'b_hn', gate: 'n' }, saved: 4,
    wgsl: { file: 'cell_gru', code: cellGru }, cpu: gruStep,
    torch: { module: 'GRU', args: {} },
    tfjs: { layer: 'gru', activation: 'tanh', gates: ['z', 'r', 'n'], differs: KERAS_GRU },
    title: 'GRU',
    equations: {
      text: 'A GRU mixes the old state and a candidate with an update gate z; a reset gate r decides how much of the old state the candidate sees (PyTorch’s equations).',
      math: `\\begin{aligned} r_t &= \\sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r) \\qquad z_t = \\sigma(W_{xz} x_t + W_{hz} h_{t-1} + b_z)\\\\ n_t &= \\tanh\\!\\big(W_{xn} x_t + b_n + r_t \\odot (W_{hn} h_{t-1} + b_{hn})\\big)\\\\ h_t &= (1 - z_t) \\odot n_t + z_t \\odot h_{t-1} \\end{aligned}`,
      gates: 'r: how much of the old state the candidate n sees; z: how much of the old state is kept rather than replaced by n. Near 1 open, near 0 shut.',
    },
  }),
  /** h' = max(0, ax + ah): torch.nn.RNN(nonlinearity='relu'). Its W_hh is drawn as every
   * cell's is, not set to the identity of the IRNN (Le, Jaitly and Hinton 2015): that recipe resets
   * the state at each sequence, and here it is carried from chunk to chunk through an epoch,
   * where an identity W_hh lets the rectified states pile up until training diverges (the
   * measurement is in the README, under the cells). */
  relu: cell({
    gateNames: ['h'], state: null, extraBias: null, saved: 1,
    wgsl: { file: 'cell_relu', code: cellRelu }, cpu: reluStep,
    torch: { module: 'RNN', args: { nonlinearity: 'relu' } },
    tfjs: { layer: 'simpleRNN', activation: 'relu', gates: ['h'], differs: null },
    title: 'ReLU RNN',
    equations: {
      text: 'Each layer is an RNN of rectified linear units: the tutorial’s, with max(0, ·) in place of tanh (PyTorch’s nn.RNN with nonlinearity relu), so its states are never negative and have no upper bound; layer l + 1 reads layer l’s state instead of the one-hot character.',
      math: `h^{(l+1)}_t = \\max\\!\\left(0,\\; W^{(l+1)}_{xh} h^{(l)}_t + W^{(l+1)}_{hh} h^{(l+1)}_{t-1} + b^{(l+1)}_h\\right)`,
    },
  }),
} satisfies Record<string, CellRecord>;

export type CellName = keyof typeof CELLS;
export const CELL_NAMES = Object.keys(CELLS) as CellName[];

/** The row of gate `gate` of a cell: the first of its H rows in the gate-major G*H blocks. */
export function gateRow(name: CellName, gate: string, H: number): number {
  const k = CELLS[name].gateNames.indexOf(gate);
  if (k < 0) throw new Error(`the ${name} cell has no gate ${gate} (${CELLS[name].gateNames.join(', ')})`);
  return k * H;
}

/** The first row of the gate block the cell's extra bias sits in (the GRU's n block: 2*H), or
 * undefined for a cell without one. */
export function extraBiasRow(name: CellName, H: number): number | undefined {
  const e = CELLS[name].extraBias;
  return e ? gateRow(name, e.gate, H) : undefined;
}

/** What the Python scripts read of the records (scripts/cells.json): one line per cell, in
 * CELL_NAMES order. */
export function cellsJson(): string {
  const line = (name: CellName) => {
    const c: CellRecord = CELLS[name];
    return `  ${JSON.stringify(name)}: ${JSON.stringify({ gates: c.gateNames, state: c.state, extraBias: c.extraBias, torch: c.torch, title: c.title })}`;
  };
  return `{\n${CELL_NAMES.map(line).join(',\n')}\n}\n`;
}
