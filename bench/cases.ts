import { TUTORIAL_CONFIG, optimizerOf } from '../src/config.js';
import type { OptimizerConfig } from '../src/engine.js';
import { type CellName, isTutorialModel, modelLabel } from '../src/model.js';

// The benchmark's cases: what is trained or sampled, at which size. A training or sampling
// case names its model (cell, layers; default the tutorial's one-layer rnn); --cell, --layers
// and --dropout replace those of the cases selected (withModel below), and the case's name and
// label are made from the model it ends up with.

export interface TrainCase {
  kind: 'train';
  name: string;
  label: string;
  H: number;
  B: number;
  T: number;
  optimizer: OptimizerConfig;
  /** the model's cell and depth */
  cell: CellName;
  layers: number;
  /** inverted dropout on every layer's output while training (0 = none) */
  dropout: number;
  /** the name's part after the model's prefix (`h256-b32`, `min-char-rnn`) */
  base: string;
  /** the label's part that is not the model's */
  what: string;
}
export interface HelloCase {
  kind: 'hello';
  name: string;
  label: string;
  H: number;
  steps: number;
  optimizer: OptimizerConfig;
}
export interface SampleCase {
  kind: 'sample';
  name: string;
  label: string;
  H: number;
  streams: number;
  cell: CellName;
  layers: number;
}
export type Case = TrainCase | HelloCase | SampleCase;

/** The model of a training or sampling case (what --cell, --layers, --dropout set). */
export interface CaseModel {
  cell: CellName;
  layers: number;
  dropout: number;
}

export const ADAM: OptimizerConfig = { name: 'adam', lr: 0.002, clip: 0 };
const T_MAIN = 64;

/** `lstm2-` for two layers of lstm, `` for the tutorial's one-layer rnn. */
function modelPrefix(cell: CellName, layers: number): string {
  return isTutorialModel({ cell, layers }) ? '' : `${cell}${layers > 1 ? layers : ''}-`;
}

function trainCase(base: string, what: string, H: number, B: number, T: number, optimizer: OptimizerConfig, m: CaseModel): TrainCase {
  const drop = m.dropout > 0 ? `-drop${m.dropout}` : '';
  const model = isTutorialModel(m) ? '' : `${modelLabel(m)} `;
  const label = `${model}${what}${m.dropout > 0 ? `, dropout ${m.dropout}` : ''}`;
  return { kind: 'train', name: `${modelPrefix(m.cell, m.layers)}${base}${drop}`, label, H, B, T, optimizer, ...m, base, what };
}

function sampleCase(H: number, streams: number, cell: CellName, layers: number): SampleCase {
  const model = isTutorialModel({ cell, layers }) ? '' : ` ${cell} x${layers}`;
  return {
    kind: 'sample', name: `${modelPrefix(cell, layers)}sample-${streams}`,
    label: `sampling${model} H=${H}, ${streams} stream${streams > 1 ? 's' : ''}`, H, streams, cell, layers,
  };
}

const RNN: CaseModel = { cell: 'rnn', layers: 1, dropout: 0 };

/** Every case of the default run, in run order. */
export function allCases(): Case[] {
  const cases: Case[] = [];
  for (const H of [64, 256, 512])
    for (const B of [1, 32]) cases.push(trainCase(`h${H}-b${B}`, `H=${H} B=${B} T=${T_MAIN} adam`, H, B, T_MAIN, ADAM, RNN));
  cases.push(trainCase('min-char-rnn', 'min-char-rnn: H=100 B=1 T=25 adagrad lr 0.1 clip 5', 100, 1, 25, { name: 'adagrad', lr: 0.1, clip: 5 }, RNN));
  // The tutorial's settings (src/config.ts TUTORIAL_CONFIG): H=3, sgd lr 0.01, no clipping,
  // seqLen 0 = the whole text in one step (T = 4 on "hello"), 1000 steps.
  const tut = TUTORIAL_CONFIG;
  cases.push({
    kind: 'hello', name: 'hello',
    label: `hello: V=4 H=${tut.hidden} B=1 T=4 ${tut.optimizer} lr ${tut.lr}, ${tut.steps} steps`,
    H: tut.hidden, steps: tut.steps, optimizer: optimizerOf(tut),
  });
  // The gated cells and two layers, on all four engines (TF.js: tf.layers.lstm / gru)
  for (const [cell, layers, B] of [['lstm', 1, 1], ['lstm', 1, 32], ['gru', 1, 1], ['gru', 1, 32], ['lstm', 2, 32]] as [CellName, number, number][])
    cases.push(trainCase(`h256-b${B}`, `H=256 B=${B} T=${T_MAIN} adam`, 256, B, T_MAIN, ADAM, { cell, layers, dropout: 0 }));
  for (const S of [1, 32]) cases.push(sampleCase(256, S, 'rnn', 1));
  for (const S of [1, 32]) cases.push(sampleCase(256, S, 'lstm', 1));
  return cases;
}

export const QUICK_CASES = ['h64-b1', 'h64-b32', 'min-char-rnn', 'hello', 'sample-1', 'sample-32'];

/** The large cases --big adds (a real GPU's: minutes each on a software adapter): char-rnn's
 * two-layer LSTMs. */
export function bigCases(): Case[] {
  const lstm2: CaseModel = { cell: 'lstm', layers: 2, dropout: 0 };
  return [[512, 32], [1024, 16]].map(([H, B]) => trainCase(`h${H}-b${B}`, `H=${H} B=${B} T=${T_MAIN} adam`, H, B, T_MAIN, ADAM, lstm2));
}

/** The selected cases with --cell, --layers, --dropout applied (each given one replaces the
 * case's own; hello is the tutorial's model and keeps it; sampling has no dropout). Cases that
 * end up the same model and size are run once; `dropped` names the repeats. */
export function withModel(cases: Case[], set: Partial<CaseModel>): { cases: Case[]; dropped: string[] } {
  const out: Case[] = [];
  const dropped: string[] = [];
  for (const c of cases) {
    let d: Case = c;
    if (c.kind === 'train') {
      const m = { cell: set.cell ?? c.cell, layers: set.layers ?? c.layers, dropout: set.dropout ?? c.dropout };
      d = trainCase(c.base, c.what, c.H, c.B, c.T, c.optimizer, m);
    } else if (c.kind === 'sample') d = sampleCase(c.H, c.streams, set.cell ?? c.cell, set.layers ?? c.layers);
    if (out.some((x) => x.name === d.name)) dropped.push(`${c.name} (now ${d.name}, already in the run)`);
    else out.push(d);
  }
  return { cases: out, dropped };
}
