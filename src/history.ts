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
