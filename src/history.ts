import type { Checkpoint } from './checkpoint.js';
import type { LogEntry } from './train.js';

// The loss curve a checkpoint carries (its `history` metadata): the training loss at every
// logged step, and the validation loss where it was measured. The CLI and the page write it;
// the page redraws it when a checkpoint is loaded.

export type LossPoint = NonNullable<Checkpoint['history']>[number];

/** At most this many points go into a checkpoint: a long run is thinned evenly. */
export const SAVED_POINTS = 2000;

/** A trainer's log as loss points. */
export function lossPoints(log: readonly LogEntry[]): LossPoint[] {
  return log.map((e) => (e.valLoss === undefined ? { step: e.step, loss: e.loss } : { step: e.step, loss: e.loss, val: e.valLoss }));
}

/** At most about `max` points, evenly spaced, always keeping the last one and every point with a
 * validation loss. */
export function thinHistory(points: readonly LossPoint[], max = SAVED_POINTS): LossPoint[] {
  const n = points.length;
  const every = n > max ? Math.ceil(n / max) : 1;
  return points.filter((p, i) => i % every === 0 || i === n - 1 || p.val !== undefined);
}

/** A validation loss this far above its best, while the training loss fell, is reported. */
export const VAL_JUMP = 1.2;

/** The mean training loss of the (up to) 10 points ending at index i: one point is noisy. */
function trainingAt(points: readonly LossPoint[], i: number): number {
  const w = points.slice(Math.max(0, i - 9), i + 1);
  return w.reduce((s, p) => s + p.loss, 0) / w.length;
}

/** When the last point's validation loss is far above its best (VAL_JUMP times) while the
 * training loss fell since that best: the model has gone wrong on text it does not train on (an
 * LSTM cell state grown without bound does this). A sentence saying so and what to try, in the
 * CLI's flags; undefined otherwise. Training is not stopped: that is the user's call. */
export function validationJump(points: readonly LossPoint[]): string | undefined {
  const i = points.length - 1;
  const v = points[i]?.val;
  if (v === undefined) return undefined;
  let best = -1;
  for (let k = 0; k < i; k++) if (points[k].val !== undefined && (best < 0 || points[k].val! < points[best].val!)) best = k;
  if (best < 0 || v <= VAL_JUMP * points[best].val!) return undefined;
  const [before, now] = [trainingAt(points, best), trainingAt(points, i)];
  if (now >= before) return undefined;
  const b = points[best];
  return (
    `the validation loss ${v.toFixed(3)} is ${Math.round(100 * (v / b.val! - 1))}% above its best (${b.val!.toFixed(3)} at step ${b.step}) ` +
    `while the training loss fell (${before.toFixed(3)} → ${now.toFixed(3)}): the model has gone wrong on text it does not train on. ` +
    `Training goes on; a checkpoint saved before the jump (--save-every) is the better model. Try clipping the gradients (--clip 5) or a lower learning rate (--lr).`
  );
}
