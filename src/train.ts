import type { TrainConfig } from './config.js';
import { BatchCursor, planBatches } from './data.js';
import type { Engine } from './engine.js';
import { DivergedError } from './errors.js';

// The training loop shared by the CLI, the page and the tests: one engine step per chunk,
// the loss read back only every `logEvery` steps (and at the last one).

export interface LogEntry {
  /** steps done, this one included */
  step: number;
  epoch: number;
  /** mean loss of the step's forward pass (before its update), nats per character */
  loss: number;
  /** characters trained per second since the run started */
  charsPerSec: number;
  /** seconds since the run started */
  elapsed: number;
}

export interface TrainHooks {
  /** Called after each step whose loss was read back; may be async (the page yields here). */
  onLog?(e: LogEntry): void | Promise<void>;
  /** Checked before every step: return true to stop early (Ctrl-C, the page's Pause). */
  shouldStop?(): boolean;
}

export class Trainer {
  readonly engine: Engine;
  readonly cursor: BatchCursor;
  readonly config: TrainConfig;
  /** optimizer steps done so far (a resumed run starts from the checkpoint's count) */
  step: number;
  readonly history: LogEntry[] = [];

  constructor(engine: Engine, data: Uint32Array, config: TrainConfig, startStep = 0) {
    this.engine = engine;
    this.config = config;
    this.cursor = new BatchCursor(data, planBatches(data.length, config.batch, config.seqLen));
    const { B, T } = this.cursor.plan;
    if (engine.shape.B !== B || engine.shape.T !== T)
      throw new Error(`engine shape B=${engine.shape.B} T=${engine.shape.T} does not match the batch plan B=${B} T=${T}`);
    this.step = startStep;
  }

  /** Runs up to `steps` steps; resolves the last loss read back. Throws DivergedError on a
   * NaN or infinite loss (the engine's weights are then unusable; callers keep their last save). */
  async run(steps: number, hooks: TrainHooks = {}): Promise<LogEntry | undefined> {
    const { B, T } = this.cursor.plan;
    const t0 = performance.now();
    let last: LogEntry | undefined;
    for (let k = 0; k < steps; k++) {
      if (hooks.shouldStop?.()) break;
      const reset = this.cursor.next();
      const wantLoss = (this.step + 1) % this.config.logEvery === 0 || k === steps - 1;
      const loss = await this.engine.step(this.cursor.batch, { reset, wantLoss });
      this.step++;
      if (loss === undefined) continue;
      if (!Number.isFinite(loss)) {
        throw new DivergedError(
          `Training diverged at step ${this.step}: the loss is ${loss}. Lower the learning rate (--lr ${this.config.lr / 10}) ` +
            `or clip the gradients (--clip 5).`,
        );
      }
      const elapsed = (performance.now() - t0) / 1000;
      last = { step: this.step, epoch: this.cursor.epoch, loss, charsPerSec: ((k + 1) * B * T) / Math.max(elapsed, 1e-9), elapsed };
      this.history.push(last);
      await hooks.onLog?.(last);
    }
    return last;
  }
}
