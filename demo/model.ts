import {
  type CellName,
  type DeviceKind,
  type Params,
  type TrainConfig,
  type Vocab,
  VocabularyError,
} from '../src/index.js';
import { splitText } from '../src/data.js';
import type { EngineState } from '../src/engine.js';
import type { LossPoint } from './history.js';

// What the session (session.ts) is given and reports: the model to build, where its weights
// come from, its progress and its summary; and the two small steps of a rebuild that need no
// engine (the text's encoding and split, the optimizer state's fit to a new batch).

export interface Spec {
  text: string;
  /** `seqLen` 0 means the whole text; `valFraction` the held-out end of the text. */
  config: TrainConfig;
  device: DeviceKind;
}

/** Where a model comes from when it is not freshly initialised. */
export interface Start {
  params: Params;
  vocab: readonly string[];
  hidden: number;
  step: number;
  /** the model of the weights (default: the one-layer tanh RNN, as in a format-1 checkpoint) */
  cell?: CellName;
  layers?: number;
  /** the optimizer's state (and the carried hidden state) to continue with, when it fits */
  state?: EngineState;
  /** file name when the weights came from a checkpoint */
  checkpoint?: string;
}

/** Everything needed to put the model back as it was (the page's undo). */
export interface Saved {
  spec: Spec;
  start: Start;
  history: LossPoint[];
}

export interface Progress {
  step: number;
  /** passes over the training text so far: 1 after the first whole pass (hello: after step 1) */
  epoch: number;
  /** last loss read back, NaN before the first */
  loss: number;
  /** last validation loss, NaN before the first (or without a held-out part) */
  valLoss: number;
  /** characters and steps trained per second in the current (or last) run, pauses included */
  charsPerSec: number;
  stepsPerSec: number;
  running: boolean;
  /** the step the current run started from and the one it stops at (Infinity: until Pause) */
  from?: number;
  target?: number;
  /** the divergence message, when training stopped because the loss blew up */
  diverged?: string;
}

export interface ModelSummary {
  V: number;
  H: number;
  cell: CellName;
  layers: number;
  dropout: number;
  B: number;
  T: number;
  parameters: number;
  device: DeviceKind;
  /** characters held out for validation (0: none) */
  valChars: number;
  checkpoint?: string;
  /** why the model cannot train on the current text (a checkpoint with another vocabulary) */
  textProblem?: string;
  /** the GPU engine's recurrent schedule, in words (and why) */
  recurrence?: string;
}

/** The text as the model's indices, its training part and held-out part; with weights that
 * came from elsewhere (`loaded`), a text with other characters is a problem to show, not an
 * error. */
export function encodeText(text: string, vocab: Vocab, valFraction: number, loaded: boolean) {
  try {
    const { train, val } = splitText(vocab.encode(text, 'the training text'), valFraction);
    return { data: train, val, textProblem: undefined };
  } catch (e) {
    if (!(loaded && e instanceof VocabularyError)) throw e;
    const textProblem = `${e.message} Sampling and "Look inside" work; to train, use a text made of the model's characters.`;
    return { data: undefined, val: undefined, textProblem };
  }
}

/** `s` with the carried hidden state zeroed when the number of streams changed (n = L*B*H). */
export function fitState(s: EngineState, n: number): EngineState {
  if (s.hprev.length === n) return s;
  return { ...s, hprev: new Float32Array(n), cprev: s.cprev ? new Float32Array(n) : undefined };
}
