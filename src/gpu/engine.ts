import {
  type Activations,
  type Batch,
  type Dropout,
  type Engine,
  type EngineState,
  type GenerateOptions,
  type OptimizerConfig,
  type StepOptions,
  withDefaults,
} from '../engine.js';
import { GpuError } from '../errors.js';
import { CELLS, type Layout, type Params, type StepShape, layout, modelOf, paramNames } from '../model.js';
import { type Buffers, GpuMemory, type MemoryReport, bufferTable, decayMask, flattenParams, memoryReport, unflattenParams } from './buffers.js';
import { type CellBuffers, type CellKernels, type CellOps, allocCellBuffers, cellActivations, cellBufferTable, cellOps, compileCellKernels, dropBytes } from './cells.js';
import { CellSampler } from './cellGeneration.js';
import type { GpuContext } from './context.js';
import { evaluateText } from './evaluation.js';
import { inspectStep } from './inspect.js';
import { Sampler } from './generation.js';
import { checkBuffersFit } from './limits.js';
import { type Op, Recorder } from './ops.js';
import { type Phases, type StepOps, stepOps } from './phases.js';
import {
  type CellSweeps,
  type GpuEngineOptions,
  type KernelVariant,
  type Plan,
  type RecurrenceSchedule,
  chooseRecurrence,
  compileKernels,
  describeRecurrence,
} from './plan.js';
import { type Profile, Profiler } from './profiler.js';
import { type Schedule, chooseSchedule } from './schedule.js';
import { STEPS_PER_SUBMIT, Submitter } from './submit.js';

export type { CellSweeps, GpuEngineOptions, KernelVariant, RecurrenceSchedule } from './plan.js';
export { SMALL_STEP } from './plan.js';
export { chooseSchedule, isCellModel, type Schedule } from './schedule.js';
export { MODEL_FLOPS_FORMULA, modelFlops, type Profile } from './profiler.js';
export type { MemoryReport } from './buffers.js';

// The WebGPU engine, wiring its parts: the schedule (schedule.ts) picks the kernels and the
// sweeps, every buffer is allocated once (buffers.ts), the ops of a step are built once;
// one training step (forward over all timesteps, BPTT, update) is one command buffer with no
// CPU round trip inside (submit.ts); only the loss (when asked), generated text (generation.ts)
// and evaluation losses (evaluation.ts) are read back. The one-layer tanh RNN without dropout
// runs the tuned kernels of phases.ts (planned by plan.ts); every other cell, depth or dropout
// the layer kernels of cells.ts.

/** Which kernels ran: the tuned one-layer tanh kernels ('tiled' or 'reference'), or the layer
 * kernels of cells.ts ('layers'). */
export type EngineKernels = KernelVariant | 'layers';

export class GpuEngine implements Engine {
  readonly device = 'gpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  readonly layout: Layout;
  readonly kernels: EngineKernels;
  recurrence: RecurrenceSchedule;
  /** why this recurrence schedule (limits, measured times, or the layer kernels' sweeps) */
  recurrenceReason: string;
  /** why these kernels */
  kernelsReason: string;
  gradNorm = NaN;

  /** The recurrence schedule in words, e.g. "persistent, 8 streams per workgroup". */
  get recurrenceDetail(): string {
    return this.sched.path === 'layers' ? this.sched.detail : describeRecurrence(this.sched.plan, this.recurrence);
  }

  private t = 0; // optimizer steps taken (Adam's bias correction)
  private readonly ctx: GpuContext;
  private readonly sched: Schedule;
  private readonly evaluateBlock: number;
  private readonly mem: GpuMemory;
  private readonly buf: Buffers;
  private readonly ops: StepOps;
  private phases: Phases;
  private readonly recorder: Recorder;
  private readonly submitter: Submitter;
  private readonly sampler: Sampler | CellSampler;
  /** the layer kernels' buffers and dropout uniform (cell models only) */
  private readonly cellBuf?: CellBuffers;
  private readonly drop?: GPUBuffer;
  /** the layer kernels' sweeps (cell models only): an evaluator runs the same */
  private readonly cellSweeps?: CellSweeps;
  private readonly dropScratch = new ArrayBuffer(16);
  private readonly names: string[];
  private readonly profiler?: Profiler;
  /** the engine whose parameters an evaluator reads: its recorded steps go first */
  private parent?: GpuEngine;
  private lastLoss = NaN;
  private destroyed = false;

  /** Use GpuEngine.create (pipelines compile asynchronously). */
  private constructor(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    sched: Schedule,
    options: GpuEngineOptions,
    kernels: { rnn: Awaited<ReturnType<typeof compileKernels>> } | { cells: CellKernels },
    sharedParams?: GPUBuffer,
  ) {
    this.ctx = ctx;
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    this.layout = layout(shape);
    this.names = paramNames(shape);
    this.sched = sched;
    this.kernels = sched.path === 'tanh' ? sched.plan.kernels : 'layers';
    this.kernelsReason = sched.path === 'tanh' ? sched.plan.kernelsReason : sched.why;
    this.evaluateBlock = options.evaluateBlock ?? 1 << 22;
    this.mem = new GpuMemory(ctx);
    this.buf = this.mem.tensors(shape, this.layout, sharedParams);
    ctx.device.queue.writeBuffer(this.buf.decay, 0, decayMask(shape, this.layout));
    if (options.profile) this.profiler = new Profiler(ctx);
    this.recorder = new Recorder(ctx, this.profiler);
    if ('rnn' in kernels) {
      this.ops = stepOps(ctx, this.mem, this.buf, this.layout, this.shape, kernels.rnn, this.optimizer);
      this.sampler = new Sampler(ctx, this.mem, this.buf, this.shape, this.layout, kernels.rnn, this.ops.transposes, this.recorder);
    } else {
      this.cellBuf = allocCellBuffers(this.mem, shape, options.dropout);
      const ops: CellOps = cellOps(ctx, this.mem, this.buf, this.cellBuf, this.layout, this.shape, kernels.cells, this.optimizer);
      this.ops = ops;
      this.drop = ops.drop;
      this.cellSweeps = kernels.cells.sweeps;
      this.sampler = new CellSampler(ctx, this.mem, this.buf, this.shape, this.layout, kernels.cells, this.recorder);
    }
    this.submitter = new Submitter(ctx, this.mem, this.buf, this.shape, this.ops.hyper, this.recorder, options.profile ? 1 : STEPS_PER_SUBMIT, this.profiler, this.drop);
    const { schedules } = this.ops;
    this.recurrence = sched.path === 'tanh' && (sched.plan.recurrence === 'step' || !schedules.persistent) ? 'step' : 'persistent';
    this.recurrenceReason = sched.path === 'layers' ? sched.reason : sched.plan.recurrenceReason;
    this.phases = schedules[this.recurrence]!;
  }

  /** `shareParamsWith`: read and write that engine's parameter buffer instead of owning one
   * (an evaluator of B = 1 over the live weights of a training engine). */
  static async create(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    params: Params | undefined,
    shareParamsWith?: GpuEngine,
    options: GpuEngineOptions = {},
  ): Promise<GpuEngine> {
    const sched = chooseSchedule(ctx.device.limits, shape, options);
    checkBuffersFit(ctx.device.limits, shape, sched.path === 'layers' ? (s) => ({ ...bufferTable(s), ...cellBufferTable(s, options.dropout) }) : bufferTable);
    const kernels = sched.path === 'layers'
      ? { cells: await compileCellKernels(ctx, shape, layout(shape), sched, options) }
      : { rnn: await compileKernels(ctx, shape, layout(shape), sched.plan) };
    const e = new GpuEngine(ctx, shape, optimizer, sched, options, kernels, shareParamsWith?.buf.params);
    if (params) e.setParams(params);
    if (sched.path === 'tanh' && sched.plan.kernels === 'tiled' && sched.plan.recurrence === 'auto') await e.chooseRecurrence(sched.plan);
    return e;
  }

  /** Picks the recurrence schedule (plan.ts chooseRecurrence), timing both sweeps where it
   * measures; the sweeps leave the carried state as it was. */
  private async chooseRecurrence(p: Plan): Promise<void> {
    const d = this.ctx.device;
    const saved = p.persistentFits && p.step ? await this.read(this.buf.hprev) : undefined;
    const time = async (s: RecurrenceSchedule) => {
      const ops = [...this.ops.schedules[s]!.forward, ...this.ops.schedules[s]!.backward];
      const t0 = performance.now();
      const enc = this.recorder.encode(d.createCommandEncoder({ label: 'engine.tune' }), ops);
      d.queue.submit([enc.finish()]);
      await d.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const chosen = await chooseRecurrence(p, this.shape.H, time);
    if (saved) {
      d.queue.writeBuffer(this.buf.hprev, 0, saved);
      this.profiler?.discard();
    }
    this.recurrenceReason = chosen.reason;
    if (!chosen.recurrence) return;
    this.recurrence = chosen.recurrence;
    this.phases = this.ops.schedules[this.recurrence]!;
  }

  async evaluator(T: number): Promise<GpuEngine> {
    // one stream: the sweeps of B = 1, unless the reference ones were asked for
    const cellSweeps = this.cellSweeps === 'reference' ? 'reference' : 'auto';
    const e = await GpuEngine.create(this.ctx, { ...this.shape, B: 1, T }, this.optimizer, undefined, this, { layerKernels: this.kernels === 'layers', cellSweeps });
    e.parent = this;
    return e;
  }

  /** Throws on a destroyed engine or a GPU error; submits recorded steps first, so that what
   * follows (a buffer write, a read, another engine on the same parameters) sees them. */
  private check(): void {
    this.assertLive();
    this.submitter.flush();
    this.parent?.submitter.flush();
  }

  /** Throws on a destroyed engine or a GPU error. */
  private assertLive(): void {
    if (this.destroyed) throw new GpuError('This GPU engine was destroyed.');
    const f = this.ctx.failure();
    if (f) throw f;
  }

  setParams(p: Params): void {
    this.check();
    for (const k of this.names)
      if (p[k]?.length !== this.layout.size[k]) throw new Error(`setParams: ${k} has ${p[k].length} elements, expected ${this.layout.size[k]}`);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.params, 0, this.flatten(p));
    q.writeBuffer(this.buf.m, 0, new Float32Array(this.layout.total));
    q.writeBuffer(this.buf.v, 0, new Float32Array(this.layout.total));
    q.writeBuffer(this.buf.hprev, 0, new Float32Array(this.buf.hprev.size / 4));
    this.t = 0;
  }

  private flatten(p: Params): Float32Array {
    return flattenParams(this.layout, this.names, p);
  }

  private unflatten(flat: Float32Array): Params<Float32Array> {
    return unflattenParams(this.layout, this.names, flat);
  }

  async getState(): Promise<EngineState> {
    const [p, m, v, carried] = await Promise.all([this.read(this.buf.params), this.read(this.buf.m), this.read(this.buf.v), this.read(this.buf.hprev)]);
    const n = this.carriedSize();
    const s: EngineState = { params: this.unflatten(p), m: this.unflatten(m), v: this.unflatten(v), hprev: carried.slice(0, n), t: this.t };
    if (this.hasCellState()) s.cprev = carried.slice(n, 2 * n);
    return s;
  }

  setState(s: EngineState): void {
    this.setParams(s.params); // (checks, and so submits recorded steps first)
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.m, 0, this.flatten(s.m));
    q.writeBuffer(this.buf.v, 0, this.flatten(s.v));
    const n = this.carriedSize();
    if (s.hprev.length !== n) throw new Error(`setState: hprev has ${s.hprev.length} elements, expected ${n} (layers x B x H)`);
    q.writeBuffer(this.buf.hprev, 0, Float32Array.from(s.hprev));
    if (this.hasCellState()) {
      if (s.cprev?.length !== n) throw new Error(`setState: this LSTM needs cprev of ${n} elements (layers x B x H)`);
      q.writeBuffer(this.buf.hprev, 4 * n, Float32Array.from(s.cprev));
    }
    this.t = s.t;
  }

  async getParams(): Promise<Params<Float32Array>> {
    return this.unflatten(await this.read(this.buf.params));
  }

  async evaluate(data: Uint32Array): Promise<{ loss: number; count: number }> {
    if (this.shape.B !== 1) throw new Error('evaluate needs an engine with B = 1 (see evaluator())');
    this.check();
    if (this.drop) this.ctx.device.queue.writeBuffer(this.drop, 0, dropBytes(undefined, this.dropScratch)); // no dropout
    return evaluateText(
      {
        ctx: this.ctx, shape: this.shape, mem: this.mem, buf: this.buf, recorder: this.recorder, block: this.evaluateBlock,
        forward: () => this.phases.forward,
        writeBatch: (b) => this.writeBatch(b),
        read: (src, bytes, reuse) => this.read(src, bytes, reuse),
        notAStep: () => this.profiler?.discard(),
      },
      data,
    );
  }

  /** Elements of the carried h of all layers (L, B, H); the LSTM's c follows them in hprev. */
  private carriedSize(): number {
    return modelOf(this.shape).layers * this.shape.B * this.shape.H;
  }

  private hasCellState(): boolean {
    return CELLS[modelOf(this.shape).cell].cellState;
  }

  private checkBatch(batch: Batch): void {
    const n = this.shape.T * this.shape.B;
    if (batch.inputs.length !== n || batch.targets.length !== n)
      throw new Error(`batch holds ${batch.inputs.length} inputs and ${batch.targets.length} targets, expected ${n} (T*B)`);
  }

  /** Writes a batch straight into the input buffers (nothing may be recorded and unsubmitted). */
  private writeBatch(batch: Batch): void {
    this.checkBatch(batch);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.inputs, 0, batch.inputs);
    q.writeBuffer(this.buf.targets, 0, batch.targets);
  }

  /** Records the given phases of a step (see Submitter.record); a step that wants its loss
   * also computes the gradient norm where the update did not. */
  private record(
    batch: Batch,
    hyper: ArrayBuffer | undefined,
    phases: (keyof Phases)[],
    reset: boolean,
    wantLoss: boolean,
    onGradNorm?: (norm: number) => void,
    dropout?: Dropout,
  ): Promise<number> | undefined {
    const normNeeded = wantLoss && this.optimizer.clipNorm === 0;
    const ops: Op[][] = phases.map((ph) => (ph === 'backward' && normNeeded ? [...this.phases.backward, this.ops.gradNorm] : this.phases[ph]));
    if (dropout && dropout.p > 0 && !this.drop)
      throw new Error(`This engine was created without dropout: create it with { dropout: ${dropout.p} } (the model's dropout probability).`);
    const drop = this.drop ? dropBytes(dropout, this.dropScratch) : undefined;
    const read = this.submitter.record(batch, hyper, ops, reset, wantLoss, drop);
    return read?.then(({ loss, norm }) => {
      this.assertLive();
      this.gradNorm = norm;
      onGradNorm?.(norm);
      return (this.lastLoss = loss);
    });
  }

  /** Records one step; it is submitted with the next ones (see Submitter), and only a step
   * that wants its loss waits for the GPU. The returned promises resolve in step order.
   * Callers may record further steps before awaiting a loss: the queue keeps running meanwhile. */
  async step(batch: Batch, opts: StepOptions = {}): Promise<number | undefined> {
    if (this.profiler) await this.profiler.idle(); // one step's timings at a time
    this.assertLive(); // (no flush: the step joins the recorded ones)
    this.checkBatch(batch);
    const hyper = this.submitter.hyperBytes(this.optimizer, this.t + 1, opts.lr ?? this.optimizer.lr);
    this.t++;
    // the loss pass reads losses[] of this step's forward pass (the update does not touch them)
    const phases: (keyof Phases)[] = opts.wantLoss ? ['forward', 'backward', 'update', 'loss'] : ['forward', 'backward', 'update'];
    const loss = this.record(batch, hyper, phases, opts.reset ?? false, opts.wantLoss ?? false, opts.onGradNorm, opts.dropout);
    if (this.profiler) {
      this.submitter.flush();
      await this.profiler.collect();
    }
    return loss;
  }

  async forwardBackward(batch: Batch, opts: { reset?: boolean; dropout?: Dropout } = {}): Promise<number> {
    this.check();
    this.checkBatch(batch);
    const loss = this.record(batch, undefined, ['forward', 'backward', 'loss'], opts.reset ?? false, true, undefined, opts.dropout)!;
    if (this.profiler) await this.profiler.collect();
    return loss;
  }

  /** Copies a buffer (or the first `bytes` of it) to a staging buffer and reads it. Reads that
   * recur (generation, evaluation) name a scratch staging buffer kept for the next call; the
   * others (inspection, checkpoints, which may run concurrently) get a temporary one. */
  private async read(src: GPUBuffer, bytes = src.size, reuse?: string): Promise<Float32Array> {
    this.check();
    const d = this.ctx.device;
    const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
    const staging = reuse ? this.mem.scratchBuffer(reuse, bytes, usage) : d.createBuffer({ label: 'engine.read', size: Math.max(16, bytes), usage });
    const enc = d.createCommandEncoder({ label: 'engine.read' });
    enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
    d.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    if (reuse) staging.unmap();
    else staging.destroy();
    this.check();
    return out;
  }

  async inspect(): Promise<Activations> {
    const a = await inspectStep(this.shape, this.buf, this.cellBuf, (src, bytes) => this.read(src, bytes));
    return { ...a, grads: this.unflatten(a.grads), loss: this.lastLoss };
  }

  /** Carried hidden state of every layer (L, B, H), for checkpoints and comparisons. */
  async hiddenState(): Promise<Float32Array> {
    return this.read(this.buf.hprev, 4 * this.carriedSize());
  }

  async generate(o: GenerateOptions): Promise<Uint32Array[]> {
    this.check();
    return this.sampler.generate(o, (src, bytes, reuse) => this.read(src, bytes, reuse), () => this.profiler?.discard());
  }

  /** GPU bytes this engine holds, against the model's own tensors. */
  memory(): MemoryReport {
    return memoryReport(this.mem.bytes(), this.shape, this.layout, this.optimizer, this.cellBuf ? cellActivations(this.shape, this.drop ? 1 : 0) : 0);
  }

  /** Kernel timings so far (needs `profile: true` at creation). */
  profile(): Profile {
    if (!this.profiler) throw new Error('profile(): create the engine with { profile: true }');
    const reason = this.sched.path === 'layers' ? this.sched.sweepsWhy : this.recurrenceReason;
    return this.profiler.report({ variant: this.kernels, kernelsReason: this.kernelsReason, recurrence: this.recurrence, detail: this.recurrenceDetail, reason });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.submitter.drop();
    this.destroyed = true;
    this.mem.destroy();
    this.profiler?.destroy();
  }
}
