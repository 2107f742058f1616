import {
  CELLS,
  createEngine,
  type DeviceKind,
  DivergedError,
  type Engine,
  GpuEngine,
  type GpuContext,
  type GpuEngineOptions,
  initParams,
  type Recurrence,
  type LogEntry,
  type ModelDims,
  type Params,
  parameterCount,
  planBatches,
  type SampleOptions,
  sampleText,
  storageCache,
  TextError,
  type TrainConfig,
  Trainer,
  validateConfig,
  Vocab,
} from '../src/index.js';
import { type Inspection, inspectText } from './analysis.js';
import { encodeText, fitState, type ModelSummary, type Progress, type Saved, type Spec, type Start } from './model.js';
import { LossHistory, type LossPoint } from './history.js';
import { ChunkSizer, nextTask, trainingSpeed } from './schedule.js';

// The page's model and training state, with no DOM: one engine (GPU or CPU, the same module
// the CLI uses), one Trainer, the loss history, and the operations the controls call.
// Training runs in chunks of steps sized to ~25 ms, awaiting a new task between chunks.
// Checkpoints and the GPU-vs-CPU check are in checkpoints.ts, the types in model.ts.

export class Session {
  ctx?: GpuContext;
  readonly history = new LossHistory();
  onProgress?: (p: Progress) => void;
  /** Called when a training run ends: its steps done, or paused (not when the page stops it to
   * change the model, and not when it diverged). */
  onRunEnd?: () => void;
  /** the run in progress is being stopped to change the model (halt), not ended */
  private halting = false;
  /** Called with what is being built while a model is (re)built, and undefined when done. */
  onBusy?: (what: string | undefined) => void;
  /** The GPU engine's recurrent schedule: chosen by shape, or as the address's `recurrence`
   * asks (`measure`: timed on this GPU the first time the page meets a shape, kept in
   * localStorage; not the default, as timing every schedule of a large model takes minutes on a
   * software adapter). */
  recurrence: Recurrence = 'auto';

  private spec!: Spec;
  private config!: TrainConfig;
  private engine!: Engine;
  private vocabulary!: Vocab;
  private trainer?: Trainer;
  private data?: Uint32Array;
  private val?: Uint32Array;
  private evaluator?: Engine;
  private lastEval = 0;
  /** the last validation loss measured (on the chart or not) */
  private latestVal = NaN;
  private summaryInfo!: ModelSummary;
  private stepWithoutTrainer = 0;
  private speed = { chars: 0, steps: 0 };
  private running?: Promise<void>;
  private target?: number;
  private runFrom = 0;
  private divergedMessage?: string;
  private stopRequested = false;
  private sampleToken = 0;
  /** Model changes (build, device switch, checkpoint load, text swap, starting to train) run
   * one at a time, in the order asked: a Train pressed during a build starts after it. */
  private queue: Promise<unknown> = Promise.resolve();

  static async create(ctx: GpuContext | undefined, spec: Spec): Promise<Session> {
    const s = new Session();
    s.ctx = ctx;
    await s.rebuild(spec);
    return s;
  }

  get vocab(): Vocab {
    return this.vocabulary;
  }

  get summary(): ModelSummary {
    return this.summaryInfo;
  }

  get text(): string {
    return this.spec.text;
  }

  /** The settings the current model trains with, `seqLen` as set (0 = the whole text). */
  get settings(): TrainConfig {
    return { ...this.config, seqLen: this.spec.config.seqLen };
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** True when the model has learned something that a rebuild would throw away. */
  get trained(): boolean {
    return this.progress.step > 0;
  }

  get progress(): Progress {
    return {
      step: this.trainer?.step ?? this.stepWithoutTrainer,
      epoch: this.trainer ? this.trainer.cursor.epoch + this.trainer.cursor.chunk / this.trainer.cursor.plan.stepsPerEpoch : 0,
      loss: this.history.length ? this.history.loss[this.history.length - 1] : NaN,
      valLoss: this.latestVal,
      charsPerSec: this.speed.chars,
      stepsPerSec: this.speed.steps,
      running: this.isRunning,
      from: this.running ? this.runFrom : undefined,
      target: this.running ? this.target : undefined,
      diverged: this.divergedMessage,
    };
  }

  /** Runs `fn` after every model change asked before it; `what` is shown as busy meanwhile. */
  protected exclusive<T>(fn: () => Promise<T>, what?: string): Promise<T> {
    const wrapped = async () => {
      if (what) this.onBusy?.(what);
      try {
        return await fn();
      } finally {
        if (what) this.onBusy?.(undefined);
      }
    };
    const run = this.queue.then(wrapped, wrapped);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private describe(spec: Spec, cell = spec.config.cell, layers = spec.config.layers): string {
    const kind = CELLS[cell].title;
    const where = spec.device === 'gpu' ? ' (compiling its GPU kernels)' : '';
    return `Building the ${kind}, ${layers} layer${layers > 1 ? 's' : ''} of ${spec.config.hidden}${where}…`;
  }

  /** A fresh model from the seed for `spec`. On error the old model stays. */
  build(spec: Spec): Promise<void> {
    return this.exclusive(() => this.rebuild(spec), this.describe(spec));
  }

  /** A new engine for `spec`, from `start`'s weights or fresh ones. */
  protected async rebuild(spec: Spec, start?: Start, history?: readonly LossPoint[]): Promise<void> {
    if (spec.text.length === 0)
      throw new TextError('The text is empty: pick a bundled text, paste or type at least 2 characters, or open a file.');
    const model = start ? { cell: start.cell ?? 'rnn', layers: start.layers ?? 1 } : {};
    const cfg = validateConfig({ ...spec.config, hidden: start?.hidden ?? spec.config.hidden, ...model });
    const vocab = start ? new Vocab(start.vocab) : Vocab.fromText(spec.text);
    const { data, val, textProblem } = encodeText(spec.text, vocab, cfg.valFraction, !!start);
    const plan = data ? planBatches(data.length, cfg.batch, cfg.seqLen, false) : { B: 1, T: 1 };
    const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T, cell: cfg.cell, layers: cfg.layers };
    const params = start?.params ?? initParams(shape, cfg.seed, cfg.initScale);
    await this.halt();
    const reuse = this.reusable(shape, spec.device, cfg);
    const engine = reuse ?? (await this.newEngine(spec.device, shape, params, cfg));
    if (start?.state) engine.setState(fitState(start.state, shape.layers * shape.B * shape.H));
    else if (reuse) engine.setParams(params);
    this.evaluator?.destroy();
    this.evaluator = undefined;
    if (engine !== this.engine) this.engine?.destroy();
    this.sampleToken++;
    this.engine = engine;
    this.spec = spec;
    this.config = { ...cfg, seqLen: plan.T };
    this.vocabulary = vocab;
    this.data = data;
    this.val = val;
    this.trainer = data ? new Trainer(engine, data, this.config, start?.step ?? 0) : undefined;
    this.stepWithoutTrainer = start?.step ?? 0;
    this.lastEval = start?.step ?? 0;
    this.divergedMessage = undefined;
    this.summaryInfo = {
      ...shape, dropout: cfg.dropout, parameters: parameterCount(shape), device: spec.device,
      valChars: val?.length ?? 0, checkpoint: start?.checkpoint, textProblem,
      recurrence: engine instanceof GpuEngine ? engine.schedule.reason : undefined,
    };
    if (history) this.history.replace(history);
    else this.history.clear();
    this.latestVal = this.history.lastVal;
    this.speed = { chars: 0, steps: 0 };
    this.emit();
  }

  /** The current engine, when a model of `shape` on `device` trained with `cfg` can keep using
   * it (a new text with the same batch shape, a Reset: no pipelines to compile). */
  private reusable(shape: ModelDims & { B: number; T: number }, device: DeviceKind, cfg: TrainConfig): Engine | undefined {
    const e = this.engine;
    if (!e || e.device !== device) return undefined;
    const s = e.shape;
    const o = e.optimizer;
    const same =
      s.V === shape.V && s.H === shape.H && s.B === shape.B && s.T === shape.T && s.cell === shape.cell && s.layers === shape.layers &&
      o.name === cfg.optimizer && o.lr === cfg.lr && o.clip === cfg.clip && cfg.dropout > 0 === this.config.dropout > 0;
    return same ? e : undefined;
  }

  /** An engine of `device` for `shape`, trained as `cfg` says. */
  private newEngine(device: DeviceKind, shape: ModelDims & { B: number; T: number }, params: Params, cfg: TrainConfig): Promise<Engine> {
    const gpu: GpuEngineOptions = { dropout: cfg.dropout, cellSweeps: this.recurrence, scheduleCache: storageCache(localStorage) };
    return createEngine(device, shape, { name: cfg.optimizer, lr: cfg.lr, clip: cfg.clip }, params, this.ctx, gpu);
  }

  /** Characters per second that a throwaway `device` engine of this model's shape trains at,
   * from its weights and on its text, over about `ms` (schedule.ts trainingSpeed); the model
   * is untouched. NaN when there is no text to train on. */
  speedOf(device: DeviceKind, ms: number): Promise<number> {
    return this.exclusive(async () => {
      if (!this.data) return NaN;
      const { V, H, B, T, cell, layers } = this.summaryInfo;
      const engine = await this.newEngine(device, { V, H, B, T, cell, layers }, await this.engine.getParams(), this.config);
      try {
        return await trainingSpeed(new Trainer(engine, this.data, { ...this.config, logEvery: 0 }), ms);
      } finally {
        engine.destroy();
      }
    });
  }

  /** Moves the current weights to the other engine (its optimizer state starts afresh). */
  setDevice(device: DeviceKind): Promise<void> {
    return this.exclusive(async () => {
      await this.halt();
      const start = await this.snapshot(false);
      await this.rebuild({ ...this.spec, device }, start, this.history.points());
    }, this.describe({ ...this.spec, device }, this.summaryInfo.cell, this.summaryInfo.layers));
  }

  /** Trains on `text` from now on with the same model, optimizer state, step and loss curve,
   * when every character of `text` is in the model's vocabulary; returns false (and changes
   * nothing) when it is not. A run in progress goes on. */
  setText(text: string): Promise<boolean> {
    const fits = [...text].every((c) => this.vocabulary.has(c));
    if (!fits || text.length === 0) return Promise.resolve(false);
    return this.exclusive(async () => {
      const target = this.running ? this.target : undefined;
      await this.halt();
      const start = await this.snapshot(true);
      await this.rebuild({ ...this.spec, text }, start, this.history.points());
      // (a resumed run's end is seen through progress, as nobody awaits it)
      if (target !== undefined && this.trainer && this.trainer.step < target) this.startLoop(this.trainer, target).catch(() => undefined);
      return true;
    });
  }

  /** Current weights, vocabulary and step, as a checkpoint would hold them (and the optimizer's
   * state with `withState`). */
  async snapshot(withState: boolean): Promise<Start> {
    const { H, cell, layers, checkpoint } = this.summaryInfo;
    const state = withState ? await this.engine.getState() : undefined;
    const params = state?.params ?? (await this.engine.getParams());
    return { params, state, vocab: this.vocabulary.chars, hidden: H, cell, layers, step: this.progress.step, checkpoint };
  }

  /** The whole model, for an undo. */
  save(): Promise<Saved> {
    return this.exclusive(async () => {
      await this.halt();
      return { spec: this.spec, start: await this.snapshot(true), history: this.history.points() };
    });
  }

  restore(s: Saved): Promise<void> {
    return this.exclusive(() => this.rebuild(s.spec, s.start, s.history), this.describe(s.spec, s.start.cell, s.start.layers));
  }

  /** Runs up to `steps` more steps (Infinity: until pause()); resolves when training stops. */
  async train(steps: number): Promise<void> {
    // Only the start is exclusive (wrapped, so the queue does not wait for the whole run):
    // a build queued meanwhile stops the run through halt().
    // (The run is returned inside an object: an async function would otherwise adopt it.)
    const { run } = await this.exclusive(async () => {
      if (this.running) return { run: this.running };
      if (!this.trainer) throw new TextError(this.summaryInfo.textProblem ?? 'There is no text to train on.');
      return { run: this.startLoop(this.trainer, this.trainer.step + steps) };
    });
    await run;
  }

  private startLoop(trainer: Trainer, target: number): Promise<void> {
    this.stopRequested = false;
    this.halting = false;
    this.target = target;
    this.runFrom = trainer.step;
    this.divergedMessage = undefined;
    this.running = this.loop(trainer, target)
      .catch((e) => {
        if (e instanceof DivergedError) this.divergedMessage = e.message;
        throw e;
      })
      .finally(() => {
        this.running = undefined;
        this.emit();
        // a run that ended (its steps done, or Pause), not one stopped to change the model
        if (!this.halting && !this.divergedMessage) this.onRunEnd?.();
      });
    this.emit();
    return this.running;
  }

  pause(): void {
    this.stopRequested = true;
  }

  private async halt(): Promise<void> {
    this.halting = !!this.running;
    this.stopRequested = true;
    await this.running?.catch(() => undefined);
  }

  private async loop(trainer: Trainer, target: number): Promise<void> {
    const { B, T } = trainer.cursor.plan;
    const first = trainer.step;
    const t0 = performance.now();
    const sizer = new ChunkSizer();
    const onLog = (e: LogEntry) => {
      this.history.push(e.step, e.loss);
      const seconds = Math.max((performance.now() - t0) / 1000, 1e-3);
      this.speed = { chars: ((e.step - first) * B * T) / seconds, steps: (e.step - first) / seconds };
      this.emit();
    };
    // The validation loss at every multiple of evalEvery (a chunk ends there), as the CLI
    // measures it, whatever the pauses: the chart's validation points stay evenly spaced.
    const every = this.val ? this.config.evalEvery : 0;
    while (!this.stopRequested && trainer.step < target) {
      const n = Math.min(sizer.size, target - trainer.step, every > 0 ? every - (trainer.step % every) : Infinity);
      const c0 = performance.now();
      await trainer.run(n, { onLog, shouldStop: () => this.stopRequested });
      sizer.took(n, performance.now() - c0);
      if (every > 0 && trainer.step % every === 0 && trainer.step > this.lastEval) await this.validate(trainer.step, true);
      await nextTask();
    }
    // a run that ends between two of them: the validation figure is current, off the chart
    if (trainer.step > this.lastEval && this.val) await this.validate(trainer.step, false);
  }

  /** The validation loss of the current weights; `onChart`: attached to the history's point
   * at `step`. */
  private async validate(step: number, onChart: boolean): Promise<void> {
    this.lastEval = step;
    if (!this.val) return;
    this.evaluator ??= await this.engine.evaluator(Math.min(256, this.val.length - 1));
    const { loss } = await this.evaluator.evaluate(this.val);
    if (onChart && this.history.step[this.history.length - 1] === step) this.history.setLastVal(loss);
    this.latestVal = loss;
    this.emit();
  }

  /** Generates text in growing chunks, calling `onText` with everything so far (prime
   * included). A later call cancels an earlier one, which then resolves undefined. */
  async sample(o: SampleOptions, onText: (text: string, done: boolean) => void): Promise<string | undefined> {
    const token = ++this.sampleToken;
    const engine = this.engine;
    let n = Math.min(o.length, 8);
    for (;;) {
      let text: string;
      try {
        [text] = await sampleText(engine, this.vocabulary, { ...o, length: n, num: 1 });
      } catch (e) {
        if (token !== this.sampleToken) return undefined;
        throw e;
      }
      if (token !== this.sampleToken) return undefined;
      const done = n >= o.length;
      onText(text, done);
      if (done) return text;
      n = Math.min(o.length, Math.ceil(n * 1.5));
      await nextTask();
    }
  }

  /** Runs `fn` on the current engine; if the engine was replaced while it ran (a rebuild
   * destroys the old one), runs it again on the new one. */
  async current<T>(fn: (engine: Engine, vocab: Vocab, dims: ModelDims) => Promise<T>): Promise<T> {
    for (;;) {
      const engine = this.engine;
      const { V, H, cell, layers } = this.summaryInfo;
      try {
        return await fn(engine, this.vocabulary, { V, H, cell, layers });
      } catch (e) {
        if (engine === this.engine) throw e;
      }
    }
  }

  /** One generation without streaming (the live preview while training): greedy at
   * temperature 0. */
  async preview(prime: string, length: number, temperature: number, seed: number): Promise<string> {
    const o = temperature > 0 ? { temperature, seed } : { greedy: true };
    return this.current(async (engine, vocab) => (await sampleText(engine, vocab, { prime, length, ...o }))[0]);
  }

  inspect(text: string): Promise<Inspection> {
    return this.current(async (engine, vocab, dims) => inspectText(await engine.getParams(), vocab, dims, text));
  }

  /** The training data and settings, for the GPU-vs-CPU check. */
  checkInputs(): { data?: Uint32Array; config: TrainConfig; problem?: string } {
    return { data: this.data, config: this.config, problem: this.summaryInfo.textProblem };
  }

  /** Loads weights (a checkpoint) as the model, training on `spec`'s text where it can. */
  load(spec: Spec, start: Start, history?: readonly LossPoint[]): Promise<void> {
    return this.exclusive(() => this.rebuild(spec, start, history), this.describe(spec, start.cell, start.layers));
  }

  private emit(): void {
    this.onProgress?.(this.progress);
  }
}
