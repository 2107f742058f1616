import type { Batch } from './engine.js';
import { TextError } from './errors.js';
import type { IndexArray } from './text.js';

// Batching as char-rnn does it: the encoded text is cut into B contiguous streams of L
// characters; step after step trains on the next T characters of every stream, the hidden
// state carried from one chunk to the next (min-char-rnn's hprev) and reset when the streams
// start over (a new epoch). With B = 1 and T = L, every step is the tutorial's whole-sequence
// computation from h_0 = 0.

export interface BatchPlan {
  B: number;
  T: number;
  /** characters per stream: inputs stream[0..L), targets stream[1..L] */
  L: number;
  /** steps per pass over the streams */
  stepsPerEpoch: number;
}

/** Chooses T and checks that the text is long enough; seqLen 0 means T = L. */
export function planBatches(n: number, B: number, seqLen: number, seqLenExplicit = true): BatchPlan {
  if (n < 2) throw new TextError(`The text has ${n} character${n === 1 ? '' : 's'}; training needs at least 2 (an input and its next character).`);
  const L = Math.floor((n - 1) / B);
  if (L < 1) {
    throw new TextError(
      `The text (${n} characters) is too short for ${B} streams: each stream needs at least 2 characters. ` +
        `Use --batch ${Math.max(1, n - 1)} or less.`,
    );
  }
  let T = seqLen === 0 ? L : seqLen;
  if (T > L) {
    if (!seqLenExplicit) T = L;
    else {
      const maxB = Math.max(1, Math.floor((n - 1) / seqLen));
      throw new TextError(
        `The text (${n} characters) is too short for --batch ${B} x --seq-len ${seqLen}: each of the ${B} streams ` +
          `holds only ${L} characters. The largest that work: --seq-len ${L} with --batch ${B}` +
          (seqLen <= n - 1 ? `, or --batch ${maxB} with --seq-len ${seqLen}.` : '.'),
      );
    }
  }
  return { B, T, L, stepsPerEpoch: Math.floor(L / T) };
}

/** Fills one preallocated batch per step from the encoded text. */
export class BatchCursor {
  readonly plan: BatchPlan;
  readonly batch: Batch;
  private readonly data: IndexArray;
  /** chunk index inside the epoch of the next batch */
  chunk = 0;
  epoch = 0;

  constructor(data: IndexArray, plan: BatchPlan) {
    this.data = data;
    this.plan = plan;
    this.batch = { inputs: new Uint32Array(plan.T * plan.B), targets: new Uint32Array(plan.T * plan.B) };
  }

  /** Fills `batch` with the next chunk; returns true when it starts an epoch (reset state). */
  next(): boolean {
    const { B, T, L, stepsPerEpoch } = this.plan;
    if (this.chunk >= stepsPerEpoch) {
      this.chunk = 0;
      this.epoch++;
    }
    const start = this.chunk * T;
    for (let b = 0; b < B; b++) {
      const s = b * L + start;
      for (let t = 0; t < T; t++) {
        this.batch.inputs[t * B + b] = this.data[s + t];
        this.batch.targets[t * B + b] = this.data[s + t + 1];
      }
    }
    return this.chunk++ === 0;
  }
}

/** The last `valFraction` of the encoded text is the validation set (contiguous, never trained
 * on). A validation set of fewer than 2 characters is none (the tutorial's "hello"). */
export function splitText<A extends IndexArray>(data: A, valFraction: number): { train: A; val: A | undefined } {
  const nVal = Math.floor(data.length * valFraction);
  if (nVal < 2) return { train: data, val: undefined };
  return { train: data.subarray(0, data.length - nVal) as A, val: data.subarray(data.length - nVal) as A };
}
