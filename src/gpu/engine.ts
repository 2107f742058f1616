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
import { compileCellKernels } from './cellKernels.js';
import { type CellBuffers, GRID_CTRL, type StepOps, type Phases, allocCellBuffers, cellActivations, cellBufferTable, cellOps, dropBytes } from './cells.js';
import type { GpuContext } from './context.js';
import { evaluateText } from './evaluation.js';
import { Sampler } from './generation.js';
import { initParams } from '../init.js';
import { inspectStep } from './inspect.js';
import { type ScheduleMeasurement, candidateSchedules, measureSchedules, measurementKey, worthMeasuring } from './measure.js';
import { checkBuffersFit } from './limits.js';
import { type Op, Recorder } from './ops.js';
import { type Profile, Profiler } from './profiler.js';
import { type CellSweeps, type GpuEngineOptions, type GpuSchedule, chooseSchedule } from './schedule.js';
import { STEPS_PER_SUBMIT, Submitter } from './submit.js';

export type { CellSweeps, GpuEngineOptions, GpuSchedule } from './schedule.js';
export { SMALL_STEP, chooseSchedule } from './schedule.js';
export { MODEL_FLOPS_FORMULA, modelFlops, type Profile } from './profiler.js';
export type { MemoryReport } from './buffers.js';

// The WebGPU engine, wiring its parts: the schedule (schedule.ts) picks the sweeps, every
// buffer is allocated once (buffers.ts, cells.ts), the ops of a step are built once (cells.ts);
// one training step (forward over all timesteps and layers, BPTT, update) is one command buffer
// with no CPU round trip inside (submit.ts); only the loss (when asked), generated text
// (generation.ts) and evaluation losses (evaluation.ts) are read back. One path serves every
// cell, depth and dropout, the tutorial's one-layer tanh RNN included.

export class GpuEngine implements Engine {
  readonly device = 'gpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  readonly layout: Layout;
  /** the recurrent sweeps that run, in words and why, and whether a step is small (schedule.ts) */
  readonly schedule: GpuSchedule;
  gradNorm = NaN;

  private t = 0; // optimizer steps taken (Adam's bias correction)
  private readonly ctx: GpuContext;
  private readonly evaluateBlock: number;
  private readonly mem: GpuMemory;
  private readonly buf: Buffers;
  private readonly cellBuf: CellBuffers;
  private readonly ops: StepOps;
  private readonly phases: Phases;
  /** the backward phase and the gradient norm after it, for a step that reports the norm */
  private readonly backwardNorm: Op[];
  private readonly recorder: Recorder;
  private readonly submitter: Submitter;
  private readonly sampler: Sampler;
  /** the dropout uniform (an engine created with dropout) */
  private readonly drop?: GPUBuffer;
  private readonly dropScratch = new ArrayBuffer(16);
  private readonly names: string[];
  private readonly profiler?: Profiler;
  /** the engine whose parameters an evaluator reads: its recorded steps go first */
  private parent?: GpuEngine;
  private lastLoss = NaN;
  private destroyed = false;

  /** the workgroups of the grid sweeps (schedule 'grid') */
  private readonly gridWorkgroups?: number;

  /** Use GpuEngine.create (pipelines compile asynchronously). */
  private constructor(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    schedule: GpuSchedule,
    options: GpuEngineOptions,
    kernels: Awaited<ReturnType<typeof compileCellKernels>>,
    sharedParams?: GPUBuffer,
  ) {
    this.ctx = ctx;
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    this.layout = layout(shape);
    this.names = paramNames(shape);
    this.schedule = schedule;
    this.gridWorkgroups = kernels.grid?.workgroups;
    this.evaluateBlock = options.evaluateBlock ?? 1 << 22;
    this.mem = new GpuMemory(ctx);
    this.buf = this.mem.tensors(shape, this.layout, sharedParams);
    ctx.device.queue.writeBuffer(this.buf.decay, 0, decayMask(shape, this.layout));
    if (options.profile) this.profiler = new Profiler(ctx);
    this.recorder = new Recorder(ctx, this.profiler);
    this.cellBuf = allocCellBuffers(this.mem, shape, options.dropout);
    this.ops = cellOps(ctx, this.mem, this.buf, this.cellBuf, this.layout, this.shape, kernels, this.optimizer);
    this.phases = this.ops.phases;
    this.backwardNorm = [...this.phases.backward, this.ops.gradNorm];
    this.drop = this.ops.drop;
    this.sampler = new Sampler(ctx, this.mem, this.buf, this.shape, this.layout, kernels, this.recorder);
    this.submitter = new Submitter(ctx, this.mem, this.buf, this.shape, this.ops.hyper, this.recorder, options.profile ? 1 : STEPS_PER_SUBMIT, this.profiler, this.drop);
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
    const measured = options.cellSweeps === 'measure' && worthMeasuring(shape) ? await measureOrRecall(ctx, shape, optimizer, options) : undefined;
    const schedule = chooseSchedule(ctx.device.limits, shape, options, measured); // (refuses a forced one that cannot run, before any work)
    checkBuffersFit(ctx.device.limits, shape, (s) => ({ ...bufferTable(s), ...cellBufferTable(s, options.dropout) }));
    const kernels = await compileCellKernels(ctx, shape, layout(shape), schedule, options);
    const e = new GpuEngine(ctx, shape, optimizer, schedule, options, kernels, shareParamsWith?.buf.params);
    if (params) e.setParams(params);
    return e;
  }

  async evaluator(T: number): Promise<GpuEngine> {
    // one stream: the sweeps of B = 1, unless the reference sweeps, the steps or the grid were asked for
    const kept = (['reference', 'steps', 'grid'] as CellSweeps[]).includes(this.schedule.sweeps);
    const cellSweeps: CellSweeps | 'auto' = kept ? this.schedule.sweeps : 'auto';
    const e = await GpuEngine.create(this.ctx, { ...this.shape, B: 1, T }, this.optimizer, undefined, this, { cellSweeps });
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
    q.writeBuffer(this.buf.carry, 0, new Float32Array(this.buf.carry.size / 4));
    this.t = 0;
  }

  private flatten(p: Params): Float32Array {
    return flattenParams(this.layout, this.names, p);
  }

  private unflatten(flat: Float32Array): Params<Float32Array> {
    return unflattenParams(this.layout, this.names, flat);
  }

  async getState(): Promise<EngineState> {
    const [p, m, v, carried] = await Promise.all([this.read(this.buf.params), this.read(this.buf.m), this.read(this.buf.v), this.read(this.buf.carry)]);
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
    q.writeBuffer(this.buf.carry, 0, Float32Array.from(s.hprev));
    if (this.hasCellState()) {
      if (s.cprev?.length !== n) throw new Error(`setState: this LSTM needs cprev of ${n} elements (layers x B x H)`);
      q.writeBuffer(this.buf.carry, 4 * n, Float32Array.from(s.cprev));
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

  /** Elements of the carried h of all layers (L, B, H); the LSTM's c follows them in carry. */
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
    const ops: Op[][] = phases.map((ph) => (ph === 'backward' && normNeeded ? this.backwardNorm : this.phases[ph]));
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
    return this.read(this.buf.carry, 4 * this.carriedSize());
  }

  /** The grid sweeps: their workgroups, and how many times so far their waits ran out and the
   * repair (one workgroup) finished the sweep, per layer and direction. Undefined for the other
   * schedules. */
  async gridReport(): Promise<{ workgroups: number; repairs: { layer: number; forward: number; backward: number }[] } | undefined> {
    const workgroups = this.gridWorkgroups;
    if (workgroups === undefined) return undefined;
    const { B, H } = this.shape;
    const L = modelOf(this.shape).layers;
    const words = new Uint32Array((await this.read(this.cellBuf.dnext, 4 * (2 * B * H + GRID_CTRL * 2 * L))).buffer);
    const repairs = (slot: number) => words[2 * B * H + GRID_CTRL * slot + 4];
    return { workgroups, repairs: Array.from({ length: L }, (_, l) => ({ layer: l, forward: repairs(2 * l), backward: repairs(2 * l + 1) })) };
  }

  /** One generate() at a time: each reads back through the same scratch staging buffer (the
   * page's live preview and "Let it write" ask at once; a second copy into a mapped buffer is a
   * validation error, and its read never resolves). */
  private generation: Promise<unknown> = Promise.resolve();

  async generate(o: GenerateOptions): Promise<Uint32Array[]> {
    this.check();
    const run = this.generation.then(() => this.sampler.generate(o, (src, bytes, reuse) => this.read(src, bytes, reuse), () => this.profiler?.discard()));
    this.generation = run.catch(() => undefined);
    return run;
  }

  /** GPU bytes this engine holds, against the model's own tensors. */
  memory(): MemoryReport {
    return memoryReport(this.mem.bytes(), this.shape, this.layout, this.optimizer, cellActivations(this.shape, this.drop ? 1 : 0));
  }

  /** Kernel timings so far (needs `profile: true` at creation). */
  profile(): Profile {
    if (!this.profiler) throw new Error('profile(): create the engine with { profile: true }');
    return this.profiler.report(this.schedule);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.submitter.drop();
    this.destroyed = true;
    this.mem.destroy();
    this.profiler?.destroy();
  }
}

/** The cached measurement of this shape where it is still valid (its pick fits), else a new one,
 * kept in the cache. */
async function measureOrRecall(ctx: GpuContext, shape: StepShape, optimizer: OptimizerConfig, options: GpuEngineOptions): Promise<ScheduleMeasurement> {
  const key = measurementKey(ctx, shape, options.dropout);
  const cached = options.scheduleCache?.get(key);
  if (cached && candidateSchedules(ctx.device.limits, shape, options).includes(cached.pick)) return cached;
  const params = initParams(shape, 1);
  const m = await measureSchedules(ctx, shape, optimizer, options, (o) => GpuEngine.create(ctx, shape, optimizer, params, undefined, o));
  options.scheduleCache?.set(m);
  return m;
}
