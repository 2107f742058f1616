import type { TrainConfig } from './config.js';
import { BatchCursor, planBatches } from './data.js';
import type { Engine, EngineState } from './engine.js';
import { DivergedError } from './errors.js';
import { lossPoints, validationJump } from './history.js';
import { lrAt } from './schedule.js';
import type { IndexArray } from './text.js';

// The training loop shared by the CLI, the page and the tests: one engine step per chunk, the
// loss read back only every `logEvery` steps (and at validation steps and the last one),
// validation over the whole held-out text with the state carried through it.

/** The loss (nats/char) above which a run has diverged, for a vocabulary of V characters: a
 * model that predicts every character as equally likely scores ln V, a trained one less; a
 * loss above 3 ln V + 10 means predictions confidently wrong nearly everywhere, which a run
 * reaches only when its weights have blown up (too high a learning rate). */
export function divergedAbove(V: number): number {
  return 3 * Math.log(V) + 10;
}

export interface LogEntry {
  /** steps done, this one included */
  step: number;
  epoch: number;
  /** mean loss of the step's forward pass (before its update), nats per character */
  loss: number;
  /** validation loss in nats/char, bits/char and perplexity, at validation steps */
  valLoss?: number;
  valBpc?: number;
  valPerplexity?: number;
  /** learning rate of this step */
  lr: number;
  /** global gradient norm of this step (before clipping) */
  gradNorm: number;
  /** characters trained per second since the run started */
  charsPerSec: number;
  /** seconds since the run started */
  elapsed: number;
  /** at the validation step whose loss jumped far above its best while the training loss fell
   * (src/history.ts validationJump; once per jump): what happened and what to try */
  warning?: string;
}

export interface TrainHooks {
  /** Called after each step whose loss was read back; may be async (the page yields here). */
  onLog?(e: LogEntry): void | Promise<void>;
  /** Called after every step (for periodic checkpoints and samples); may be async. */
  afterStep?(step: number): void | Promise<void>;
  /** True where afterStep will read the engine (a checkpoint, a sample): that step's loss is
   * then checked before afterStep runs. Without it, every step with an afterStep is. */
  syncAt?(step: number): boolean;
  /** Checked before every step: return true to stop early (Ctrl-C, the page's Pause). */
  shouldStop?(): boolean;
}

/** Everything needed to continue a run exactly: engine state, step, data position. */
export interface TrainerState {
  engine: EngineState;
  step: number;
  chunk: number;
  epoch: number;
}

export class Trainer {
  readonly engine: Engine;
  readonly cursor: BatchCursor;
  readonly config: TrainConfig;
  readonly val: IndexArray | undefined;
  /** optimizer steps done so far (a resumed run starts from the checkpoint's count) */
  step: number;
  readonly history: LogEntry[] = [];
  private evaluator?: Engine;
  /** the last validation was reported as a jump (validationJump) */
  private jumped = false;

  constructor(engine: Engine, data: IndexArray, config: TrainConfig, startStep = 0, val?: IndexArray) {
    this.engine = engine;
    this.config = config;
    this.cursor = new BatchCursor(data, planBatches(data.length, config.batch, config.seqLen));
    const { B, T } = this.cursor.plan;
    if (engine.shape.B !== B || engine.shape.T !== T)
      throw new Error(`engine shape B=${engine.shape.B} T=${engine.shape.T} does not match the batch plan B=${B} T=${T}`);
    this.step = startStep;
    this.val = val && val.length >= 2 ? val : undefined;
  }

  /** Validation loss over the whole held-out text (nats/char), or undefined without one. */
  async validate(): Promise<{ loss: number; bpc: number; perplexity: number } | undefined> {
    if (!this.val) return undefined;
    this.evaluator ??= await this.engine.evaluator(Math.min(256, this.val.length - 1));
    const { loss } = await this.evaluator.evaluate(this.val);
    return { loss, bpc: loss / Math.LN2, perplexity: Math.exp(loss) };
  }

  async state(): Promise<TrainerState> {
    return { engine: await this.engine.getState(), step: this.step, chunk: this.cursor.chunk, epoch: this.cursor.epoch };
  }

  restore(s: TrainerState): void {
    this.engine.setState(s.engine);
    this.step = s.step;
    this.cursor.chunk = s.chunk;
    this.cursor.epoch = s.epoch;
  }

  /** Runs up to `steps` steps; resolves the last log entry. Throws DivergedError on a NaN or
   * infinite loss (the engine's weights are then unusable; callers keep their last save). */
  async run(steps: number, hooks: TrainHooks = {}): Promise<LogEntry | undefined> {
    const { B, T } = this.cursor.plan;
    const cfg = this.config;
    const t0 = performance.now();
    let last: LogEntry | undefined;
    // A logged step's loss is awaited only after the next step has been recorded, so the GPU
    // always has work queued while the loss travels back (validation and the last step wait).
    let inFlight: { loss: Promise<{ loss: number; gradNorm: number }>; step: number; epoch: number; lr: number; k: number } | undefined;
    const limit = divergedAbove(this.engine.shape.V);
    const diverged = (what: string, loss: number, p: { step: number; lr: number }) => {
      if (Number.isFinite(loss) && loss <= limit) return;
      throw new DivergedError(
        `Training diverged at step ${p.step}: the ${what} is ${Number.isFinite(loss) ? `${loss < 1e6 ? loss.toFixed(2) : loss.toExponential(2)} nats/char, above ` +
          `${limit.toFixed(2)} (3 ln V + 10; predicting every character as equally likely scores ${Math.log(this.engine.shape.V).toFixed(2)})` : loss}. ` +
          `Lower the learning rate (--lr ${Number((p.lr / 10).toPrecision(2))}) or clip the gradients (--clip 5 or --clip-norm 1).`,
      );
    };
    const log = async (p: NonNullable<typeof inFlight>, validate: boolean) => {
      const { loss, gradNorm } = await p.loss;
      diverged('loss', loss, p);
      const elapsed = (performance.now() - t0) / 1000;
      last = {
        step: p.step, epoch: p.epoch, loss, lr: p.lr, gradNorm,
        charsPerSec: ((p.k + 1) * B * T) / Math.max(elapsed, 1e-9), elapsed,
      };
      if (validate) {
        const v = (await this.validate())!;
        diverged('validation loss', v.loss, p); // (of the weights after this step's update)
        Object.assign(last, { valLoss: v.loss, valBpc: v.bpc, valPerplexity: v.perplexity });
      }
      this.history.push(last);
      // said once per jump: when the validation loss crosses above, not at every step it stays
      if (validate) {
        const jump = validationJump(lossPoints(this.history));
        if (jump && !this.jumped) last.warning = jump;
        this.jumped = jump !== undefined;
      }
      await hooks.onLog?.(last);
    };
    let yielded = performance.now();
    for (let k = 0; k < steps; k++) {
      // The CPU engine's step is synchronous inside: give the event loop (a signal handler,
      // the page's Pause button) a turn every 50 ms, or it would never run.
      if (performance.now() - yielded > 50) {
        await new Promise((r) => setTimeout(r, 0));
        yielded = performance.now();
      }
      if (hooks.shouldStop?.()) break;
      const reset = this.cursor.next();
      const lr = lrAt(this.step, cfg);
      const validate = this.val !== undefined && ((cfg.evalEvery > 0 && (this.step + 1) % cfg.evalEvery === 0) || k === steps - 1);
      // a step whose weights are saved or sampled has its loss checked first (syncAt)
      const synced = hooks.afterStep !== undefined && (hooks.syncAt?.(this.step + 1) ?? true);
      const wantLoss = (this.step + 1) % cfg.logEvery === 0 || k === steps - 1 || validate || synced;
      let gradNorm = NaN;
      const dropout = cfg.dropout > 0 ? { p: cfg.dropout, seed: cfg.seed, step: this.step } : undefined;
      const pending = this.engine.step(this.cursor.batch, { reset, wantLoss, lr, dropout, onGradNorm: (n) => (gradNorm = n) });
      pending.catch(() => undefined); // a loss still in flight when an earlier one throws is dropped
      this.step++;
      if (inFlight) {
        await log(inFlight, false);
        inFlight = undefined;
      }
      if (wantLoss) {
        const p = {
          loss: pending.then((loss) => ({ loss: loss!, gradNorm })),
          step: this.step, epoch: this.cursor.epoch, lr, k,
        };
        if (validate || k === steps - 1 || synced) await log(p, validate);
        else inFlight = p;
      } else await pending;
      await hooks.afterStep?.(this.step);
    }
    if (inFlight) await log(inFlight, false);
    return last;
  }

  destroy(): void {
    this.evaluator?.destroy();
  }
}
