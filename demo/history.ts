import { type LossPoint, SAVED_POINTS, thinHistory, validationJump } from '../src/index.js';

// The loss curve of the page's model: training loss at every logged step, the validation loss
// at the steps where it was measured (null elsewhere, so the arrays stay aligned for the chart).
// It travels inside checkpoints (the `history` metadata) and is redrawn when one is loaded.

export { type LossPoint, SAVED_POINTS };

export class LossHistory {
  readonly step: number[] = [];
  readonly loss: number[] = [];
  readonly val: (number | null)[] = [];

  get length(): number {
    return this.step.length;
  }

  get hasVal(): boolean {
    return this.val.some((v) => v !== null);
  }

  /** Validation rose over its last three measurements while the training loss (a running
   * mean, as noisy as it is) fell over the same steps: the sign of overfitting. */
  get overfitting(): boolean {
    const at: number[] = [];
    for (let i = 0; i < this.length; i++) if (this.val[i] !== null) at.push(i);
    if (at.length < 3) return false;
    const [a, b, c] = at.slice(-3);
    const v = (i: number) => this.val[i]!;
    const mean = (i: number) => {
      const w = this.loss.slice(Math.max(0, i - 9), i + 1);
      return w.reduce((x, y) => x + y, 0) / w.length;
    };
    return v(a) < v(b) && v(b) < v(c) && mean(c) < mean(a);
  }

  /** Where the last validation loss jumped far above its best while the training loss fell:
   * what happened and what to try (the library's validationJump, as the CLI reports it), said
   * until the next validation. Worked out when a validation loss is added, not at every frame
   * the chart asks. */
  jump: string | undefined;

  /** The last validation loss, NaN before the first. */
  get lastVal(): number {
    for (let i = this.val.length - 1; i >= 0; i--) if (this.val[i] !== null) return this.val[i]!;
    return NaN;
  }

  push(step: number, loss: number): void {
    this.step.push(step);
    this.loss.push(loss);
    this.val.push(null);
  }

  /** Attaches a validation loss to the last point (measured on that step's weights). */
  setLastVal(val: number): void {
    if (this.length === 0) return;
    this.val[this.length - 1] = val;
    this.jump = validationJump(this.points());
  }

  clear(): void {
    this.step.length = this.loss.length = this.val.length = 0;
    this.jump = undefined;
  }

  replace(points: readonly LossPoint[]): void {
    this.clear();
    for (const p of points) {
      this.push(p.step, p.loss);
      if (p.val !== undefined) this.val[this.length - 1] = p.val;
    }
    let last = this.length - 1;
    while (last >= 0 && this.val[last] === null) last--;
    this.jump = last < 0 ? undefined : validationJump(points.slice(0, last + 1));
  }

  /** Every point (for an undo), or at most about `max` (thinHistory: evenly spaced, the last
   * one and every point with a validation loss kept). */
  points(max = Infinity): LossPoint[] {
    const all = this.step.map((step, i) => {
      const val = this.val[i];
      return val === null ? { step, loss: this.loss[i] } : { step, loss: this.loss[i], val };
    });
    return thinHistory(all, max);
  }
}
