import {
  type CheckReport,
  createEngine,
  type DeviceKind,
  type Engine,
  GpuError,
  type GpuContext,
  initParams,
  type LogEntry,
  loadCheckpoint,
  type CellName,
  type ModelDims,
  type Params,
  paramNames,
  parameterCount,
  planBatches,
  runCheck,
  type SampleOptions,
  sampleText,
  saveCheckpoint,
  TextError,
  type TrainConfig,
  Trainer,
  validateConfig,
  Vocab,
  VocabularyError,
} from '../src/index.js';
import { type Inspection, inspectText } from './analysis.js';
import { ChunkSizer, nextTask } from './schedule.js';

// The page's model and training state, with no DOM: one engine (GPU or CPU, the same module
// the CLI uses), one Trainer, the loss history, and the operations the controls call.
// Training runs in chunks of steps sized to ~25 ms, awaiting a new task between chunks.

/** Steps both engines run in the GPU-vs-CPU comparison. */
export const CHECK_STEPS = 10;
/** The comparison's steps use at most this learning rate. Above it, Adagrad's first updates
 * (g / sqrt(g*g + 1e-8)) magnify rounding differences of 1e-7 in a gradient a thousandfold, and
 * the trajectories part within a few steps: a float64 run from weights perturbed by 1e-7
 * drifts as far from itself. The first step's tensors are compared at any setting. */
export const CHECK_MAX_LR = 0.01;

export interface CheckResult {
  report: CheckReport;
  steps: number;
  optimizer: string;
  lr: number;
  /** true when `lr` is CHECK_MAX_LR rather than the model's own, higher rate */
  capped: boolean;
  /** the model compared, in words: its cell, layers and dropout */
  model: string;
}

export interface Spec {
  text: string;
  /** `steps` is how many steps one Train press runs; `seqLen` 0 means the whole text. */
  config: TrainConfig;
  device: DeviceKind;
}

/** Where a model comes from when it is not freshly initialised. */
interface Start {
  params: Params;
  vocab: readonly string[];
  hidden: number;
  step: number;
  /** the model of the weights (default: the one-layer tanh RNN, as in a format-1 checkpoint) */
  cell?: CellName;
  layers?: number;
}

export interface Progress {
  step: number;
  epoch: number;
  /** last loss read back, NaN before the first */
  loss: number;
  /** characters trained per second in the current (or last) Train run, pauses included */
  charsPerSec: number;
  running: boolean;
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
  /** file name when the weights came from a checkpoint */
  checkpoint?: string;
  /** why the model cannot train on the current text (a checkpoint with another vocabulary) */
  textProblem?: string;
}

export class Session {
  readonly ctx?: GpuContext;
  /** loss read back at these steps, for the chart */
  readonly series = { step: [] as number[], loss: [] as number[] };
  onProgress?: (p: Progress) => void;

  private spec!: Spec;
  private config!: TrainConfig;
  private engine!: Engine;
  private vocabulary!: Vocab;
  private trainer?: Trainer;
  private data?: Uint32Array;
  private summaryInfo!: ModelSummary;
  private stepWithoutTrainer = 0;
  private lastLoss = NaN;
  private speed = 0;
  private running?: Promise<void>;
  private stopRequested = false;
  private sampleToken = 0;
  /** Model changes (build, device switch, checkpoint load, starting to train) run one at a
   * time, in the order asked: a second text choice waits for the first to finish building. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(ctx?: GpuContext) {
    this.ctx = ctx;
  }

  static async create(ctx: GpuContext | undefined, spec: Spec): Promise<Session> {
    const s = new Session(ctx);
    await s.rebuild(spec);
    return s;
  }

  get vocab(): Vocab {
    return this.vocabulary;
  }

  get summary(): ModelSummary {
    return this.summaryInfo;
  }

  /** The settings the current model trains with, `seqLen` as set (0 = the whole text). */
  get settings(): TrainConfig {
    return { ...this.config, seqLen: this.spec.config.seqLen };
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  get progress(): Progress {
    return {
      step: this.trainer?.step ?? this.stepWithoutTrainer,
      epoch: this.trainer?.cursor.epoch ?? 0,
      loss: this.lastLoss,
      charsPerSec: this.speed,
      running: this.isRunning,
    };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A fresh model from the seed for `spec`. On error the old model stays. */
  build(spec: Spec): Promise<void> {
    return this.exclusive(() => this.rebuild(spec));
  }

  /** A new engine for `spec`, from `start`'s weights or fresh ones. */
  private async rebuild(spec: Spec, start?: Start & { checkpoint?: string }, keepSeries = false): Promise<void> {
    if (spec.text.length === 0)
      throw new TextError('The text is empty: pick a bundled text, paste or type at least 2 characters, or open a file.');
    const model = start ? { cell: start.cell ?? 'rnn', layers: start.layers ?? 1 } : {};
    const cfg = validateConfig({ ...spec.config, hidden: start?.hidden ?? spec.config.hidden, ...model });
    const vocab = start ? new Vocab(start.vocab) : Vocab.fromText(spec.text);
    let data: Uint32Array | undefined;
    let textProblem: string | undefined;
    try {
      data = vocab.encode(spec.text, 'the training text');
    } catch (e) {
      if (!(start && e instanceof VocabularyError)) throw e;
      textProblem = `${e.message} Sampling and "Look inside" work; to train, use a text made of the model's characters.`;
    }
    const plan = data ? planBatches(data.length, cfg.batch, cfg.seqLen, false) : { B: 1, T: 1 };
    const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T, cell: cfg.cell, layers: cfg.layers };
    const params = start?.params ?? initParams(shape, cfg.seed, cfg.initScale);
    await this.halt();
    const optimizer = { name: cfg.optimizer, lr: cfg.lr, clip: cfg.clip };
    // The tuned kernels of the one-layer tanh RNN have no dropout; the cell kernels do (as the CLI).
    const engine = await createEngine(spec.device, shape, optimizer, params, this.ctx, { layerKernels: cfg.dropout > 0 });
    this.engine?.destroy();
    this.sampleToken++;
    this.engine = engine;
    this.spec = spec;
    this.config = { ...cfg, seqLen: plan.T };
    this.vocabulary = vocab;
    this.data = data;
    this.trainer = data ? new Trainer(engine, data, this.config, start?.step ?? 0) : undefined;
    this.stepWithoutTrainer = start?.step ?? 0;
    this.summaryInfo = {
      ...shape, dropout: cfg.dropout, parameters: parameterCount(shape), device: spec.device, checkpoint: start?.checkpoint, textProblem,
    };
    if (!keepSeries) {
      this.series.step.length = 0;
      this.series.loss.length = 0;
      this.lastLoss = NaN;
      this.speed = 0;
    }
    this.emit();
  }

  /** Moves the current weights to the other engine (its optimizer state starts afresh). */
  setDevice(device: DeviceKind): Promise<void> {
    return this.exclusive(async () => {
      await this.halt();
      const start = { ...(await this.snapshot()), checkpoint: this.summaryInfo.checkpoint };
      await this.rebuild({ ...this.spec, device }, start, true);
    });
  }

  /** Runs `steps` steps (or until pause()); resolves when training stops. */
  async train(steps: number): Promise<void> {
    // Only the start is exclusive (wrapped, so the queue does not wait for the whole run):
    // a build queued meanwhile stops the run through halt().
    const { run } = await this.exclusive(async () => {
      if (this.running) return { run: this.running };
      if (!this.trainer) throw new TextError(this.summaryInfo.textProblem ?? 'There is no text to train on.');
      this.stopRequested = false;
      this.running = this.loop(this.trainer, steps).finally(() => {
        this.running = undefined;
        this.emit();
      });
      this.emit();
      return { run: this.running };
    });
    await run;
  }

  pause(): void {
    this.stopRequested = true;
  }

  private async halt(): Promise<void> {
    this.stopRequested = true;
    await this.running?.catch(() => undefined);
  }

  private async loop(trainer: Trainer, steps: number): Promise<void> {
    const { B, T } = trainer.cursor.plan;
    const target = trainer.step + steps;
    const first = trainer.step;
    const t0 = performance.now();
    const sizer = new ChunkSizer();
    const onLog = (e: LogEntry) => {
      this.lastLoss = e.loss;
      this.series.step.push(e.step);
      this.series.loss.push(e.loss);
      this.speed = ((e.step - first) * B * T) / Math.max((performance.now() - t0) / 1000, 1e-3);
      this.emit();
    };
    while (!this.stopRequested && trainer.step < target) {
      const n = Math.min(sizer.size, target - trainer.step);
      const c0 = performance.now();
      await trainer.run(n, { onLog, shouldStop: () => this.stopRequested });
      sizer.took(n, performance.now() - c0);
      await nextTask();
    }
  }

  /** Current weights, vocabulary and step, as a checkpoint would hold them. */
  async snapshot(): Promise<Start> {
    const { H, cell, layers } = this.summaryInfo;
    return { params: await this.engine.getParams(), vocab: this.vocabulary.chars, hidden: H, cell, layers, step: this.progress.step };
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
  private async current<T>(fn: (engine: Engine, vocab: Vocab, dims: ModelDims) => Promise<T>): Promise<T> {
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

  /** One greedy generation without streaming (the live preview while training). */
  async greedy(prime: string, length: number): Promise<string> {
    return this.current(async (engine, vocab) => (await sampleText(engine, vocab, { prime, length, greedy: true }))[0]);
  }

  inspect(text: string): Promise<Inspection> {
    return this.current(async (engine, vocab, dims) => inspectText(await engine.getParams(), vocab, dims, text));
  }

  /** Both engines from the current weights on the current text: the first step's tensors, then
   * CHECK_STEPS training steps (runCheck, as `char-rnn check` does), the optimizer's state
   * starting from zero. */
  async check(): Promise<CheckResult> {
    if (!this.ctx) throw new GpuError('Comparing the engines needs WebGPU, which this browser does not offer.');
    if (!this.data) throw new TextError(this.summaryInfo.textProblem ?? 'There is no text to compare on.');
    const params = await this.current((engine) => engine.getParams());
    const cfg = { ...this.config, steps: CHECK_STEPS, lr: Math.min(this.config.lr, CHECK_MAX_LR) };
    const report = await runCheck(this.ctx, this.data, this.vocabulary.size, cfg, { start: params });
    const model = `${cfg.cell}, ${cfg.layers} layer${cfg.layers > 1 ? 's' : ''}` + (cfg.dropout > 0 ? `, dropout ${cfg.dropout}` : '');
    return { report, steps: cfg.steps, optimizer: cfg.optimizer, lr: cfg.lr, capped: cfg.lr < this.config.lr, model };
  }

  /** The model as a safetensors checkpoint, the same file `char-rnn train --save` writes. */
  async saveCheckpoint(): Promise<Uint8Array> {
    const s = await this.snapshot();
    const params = {} as Params<Float32Array>;
    for (const k of paramNames(this.summaryInfo)) params[k] = Float32Array.from(s.params[k]);
    const metadata = { config: JSON.stringify(this.config) };
    const { cell, layers, dropout } = this.config;
    return saveCheckpoint({ params, vocab: [...s.vocab], hidden: s.hidden, step: s.step, cell, layers, dropout, metadata });
  }

  /** Loads a checkpoint (from the page or the CLI); training settings come from its metadata
   * where it has them. Returns the settings in use, for the controls. */
  loadCheckpoint(bytes: Uint8Array, name: string, text: string, device: DeviceKind): Promise<TrainConfig> {
    return this.exclusive(async () => {
      const c = loadCheckpoint(bytes, name);
      const model = { hidden: c.hidden, cell: c.cell ?? 'rnn', layers: c.layers ?? 1, dropout: c.dropout ?? 0 };
      const config = settingsFrom(c.metadata?.config, { ...this.spec.config, ...model });
      await this.rebuild({ text, config, device }, { ...c, checkpoint: name });
      return config;
    });
  }

  private emit(): void {
    this.onProgress?.(this.progress);
  }
}

/** Training settings from a checkpoint's `config` metadata, field by field over `base`. */
function settingsFrom(json: string | undefined, base: TrainConfig): TrainConfig {
  let saved: Record<string, unknown> = {};
  try {
    saved = json ? JSON.parse(json) : {};
  } catch {
    return base;
  }
  const merged = { ...base } as Record<string, unknown>;
  for (const k of ['lr', 'optimizer', 'clip', 'seed', 'seqLen', 'batch', 'dropout'] as const)
    if (typeof saved[k] === typeof base[k]) merged[k] = saved[k];
  try {
    return validateConfig(merged as unknown as TrainConfig);
  } catch {
    return base;
  }
}
