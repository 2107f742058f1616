import {
  type Activations,
  type Batch,
  type Engine,
  type EngineState,
  type GenerateOptions,
  OPTIMIZERS,
  type OptimizerConfig,
  type StepOptions,
  withDefaults,
} from '../engine.js';
import { GpuError } from '../errors.js';
import { type Layout, PARAM_NAMES, type Params, type StepShape, layout } from '../model.js';
import type { GpuContext } from './context.js';
import { type Kernel, bindGroup, dispatch, makeKernel } from './kernel.js';

// The WebGPU engine. Every buffer is allocated once, in the constructor, from the table in
// BUFFERS; one training step (forward over all timesteps, BPTT, update) is one command buffer
// with no CPU round trip inside; only the loss (when asked) and generated text are read back.

/** Invocations per workgroup for every kernel (portable: at most 256). */
const WG = 64;

/** GPU buffers of the engine: element counts from the step shape (f32 or u32, 4 bytes each). */
function bufferTable(s: StepShape, lay: Layout) {
  const { V, H, B, T } = s;
  return {
    params: lay.total, // W_xh | W_hh | b_h | W_hy | b_y, flat (src/model.ts layout)
    grads: lay.total, // dW_xh | ... | db_y, same layout
    m: lay.total, // optimizer state, same layout
    v: lay.total, // second optimizer state (Adam's v), same layout
    grad_norm: 4, // [0] global gradient norm of the step
    inputs: T * B, // u32 (T, B)
    targets: T * B, // u32 (T, B)
    hs: (T + 1) * B * H, // (T+1, B, H)
    hprev: B * H, // (B, H) state carried between steps
    ps: T * B * V, // (T, B, V)
    losses: T * B, // (T, B)
    loss: 4, // [0] mean loss of the step, [1] its gradient norm
    dhs: T * B * H, // (T, B, H) W_hy^T dy, then dtanh
    dh_next: B * H, // (B, H) scratch of the backward sweep
  };
}
type BufferName = keyof ReturnType<typeof bufferTable>;


export class GpuEngine implements Engine {
  readonly device = 'gpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  readonly layout: Layout;
  gradNorm = NaN;
  private t = 0; // optimizer steps taken (Adam's bias correction)
  private readonly ctx: GpuContext;
  private readonly buf: Record<BufferName, GPUBuffer>;
  private readonly hyper: GPUBuffer;
  private readonly lossStaging: GPUBuffer;
  private readonly passes: { kernel: Kernel; group: GPUBindGroup; x: number }[][];
  private readonly sampler: Kernel;
  private readonly genUniform: GPUBuffer;
  private lastLoss = NaN;
  private destroyed = false;

  /** Use GpuEngine.create (pipelines compile asynchronously). */
  private constructor(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    kernels: Record<string, Kernel>,
    sharedParams?: GPUBuffer,
  ) {
    this.ctx = ctx;
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    this.layout = layout(shape);
    const d = ctx.device;
    const table = bufferTable(shape, this.layout);
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.buf = {} as Record<BufferName, GPUBuffer>;
    for (const [name, n] of Object.entries(table) as [BufferName, number][])
      if (!(name === 'params' && sharedParams))
        this.buf[name] = d.createBuffer({ label: `engine.${name}`, size: Math.max(16, 4 * n), usage: STORAGE });
    if (sharedParams) this.buf.params = sharedParams;
    this.ownsParams = !sharedParams;
    this.hyper = d.createBuffer({ label: 'engine.hyper', size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.genUniform = d.createBuffer({ label: 'engine.gen', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.lossStaging = d.createBuffer({ label: 'engine.lossStaging', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.sampler = kernels.generate;

    const { H, B, T } = shape;
    const b = this.buf;
    const lay = this.layout;
    const param = (k: (typeof PARAM_NAMES)[number], buffer = b.params): GPUBufferBinding => ({
      buffer,
      offset: 4 * lay.offset[k],
      size: 4 * lay.size[k],
    });
    const run = (kernel: Kernel, buffers: (GPUBuffer | GPUBufferBinding)[], x: number) => ({
      kernel,
      group: bindGroup(ctx, kernel, buffers),
      x,
    });
    const groups = (n: number) => Math.ceil(n / WG);
    // Forward, backward, update: the passes of one step, in order.
    this.passes = [
      [
        run(kernels.forward_recurrence, [param('W_xh'), param('W_hh'), param('b_h'), b.inputs, b.hs, b.hprev], B),
        run(kernels.output_softmax, [param('W_hy'), param('b_y'), b.hs, b.targets, b.ps, b.losses], groups(T * B)),
      ],
      [
        run(kernels.output_backprop, [param('W_hy'), b.ps, b.targets, b.dhs], groups(T * B * H)),
        run(kernels.backward_recurrence, [param('W_hh'), b.hs, b.dhs, b.dh_next], B),
        run(kernels.grad_reduce, [b.hs, b.ps, b.dhs, b.inputs, b.targets, b.grads], groups(lay.total)),
      ],
      [
        run(kernels.grad_norm_reduce, [b.grads, b.grad_norm], 1),
        run(kernels.update, [this.hyper, b.grads, b.params, b.m, b.v, b.grad_norm], groups(lay.total)),
      ],
      [run(kernels.loss_mean, [b.losses, b.loss], 1)],
    ];
  }

  private readonly ownsParams: boolean;

  /** `shareParamsWith`: read and write that engine's parameter buffer instead of owning one
   * (an evaluator of B = 1 over the live weights of a training engine). */
  static async create(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    params: Params | undefined,
    shareParamsWith?: GpuEngine,
  ): Promise<GpuEngine> {
    const { V, H, B, T } = shape;
    const lay = layout(shape);
    const sizes = { V, H, B, T, WG };
    const offsets = Object.fromEntries(PARAM_NAMES.map((k) => [`OFF_${k}`, lay.offset[k]]));
    const spec = [
      ['rnn_forward', 'forward_recurrence', ['read', 'read', 'read', 'read', 'storage', 'storage'], sizes],
      ['rnn_forward', 'output_softmax', ['read', 'read', 'read', 'read', 'storage', 'storage'], sizes],
      ['rnn_backward', 'output_backprop', ['read', 'read', 'read', 'storage'], sizes],
      ['rnn_backward', 'backward_recurrence', ['read', 'read', 'storage', 'storage'], sizes],
      ['rnn_backward', 'grad_reduce', ['read', 'read', 'read', 'read', 'read', 'storage'], { ...sizes, ...offsets, TOTAL: lay.total }],
      ['optimizer', 'update', ['uniform', 'read', 'storage', 'storage', 'storage', 'read'],
        { TOTAL: lay.total, WG, OFF_b_h: lay.offset.b_h, OFF_W_hy: lay.offset.W_hy, OFF_b_y: lay.offset.b_y }],
      ['optimizer', 'grad_norm_reduce', ['read', 'storage'], { TOTAL: lay.total }],
      ['loss', 'loss_mean', ['read', 'storage'], { N: T * B }],
      ['sample', 'generate', ['uniform', 'read', 'read', 'storage', 'storage'], { V, H, WG, ...offsets }],
    ] as const;
    const kernels: Record<string, Kernel> = {};
    await Promise.all(
      spec.map(async ([shader, entry, bindings, constants]) => {
        kernels[entry] = await makeKernel(ctx, { shader, entry, bindings: [...bindings], constants });
      }),
    );
    const e = new GpuEngine(ctx, shape, optimizer, kernels, shareParamsWith?.buf.params);
    if (params) e.setParams(params);
    return e;
  }

  /** uniform Hyper of shaders/optimizer.wgsl for the next step (t = this.t + 1). */
  private writeHyper(lr: number): void {
    const o = this.optimizer;
    const t = this.t + 1;
    const u = new ArrayBuffer(48);
    new Float32Array(u, 0, 11).set([
      lr, o.clip, o.clipNorm, o.eps, o.momentum, o.alpha, o.beta1, o.beta2,
      1 - Math.pow(o.beta1, t), 1 - Math.pow(o.beta2, t), o.weightDecay,
    ]);
    new Uint32Array(u, 44, 1)[0] = OPTIMIZERS.indexOf(o.name);
    this.ctx.device.queue.writeBuffer(this.hyper, 0, u);
  }

  evaluator(T: number): Promise<GpuEngine> {
    return GpuEngine.create(this.ctx, { ...this.shape, B: 1, T }, this.optimizer, undefined, this);
  }

  private check(): void {
    if (this.destroyed) throw new GpuError('This GPU engine was destroyed.');
    const f = this.ctx.failure();
    if (f) throw f;
  }

  setParams(p: Params): void {
    this.check();
    const flat = new Float32Array(this.layout.total);
    for (const k of PARAM_NAMES) {
      if (p[k].length !== this.layout.size[k])
        throw new Error(`setParams: ${k} has ${p[k].length} elements, expected ${this.layout.size[k]}`);
      flat.set(p[k], this.layout.offset[k]);
    }
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.params, 0, flat);
    q.writeBuffer(this.buf.m, 0, new Float32Array(this.layout.total));
    q.writeBuffer(this.buf.v, 0, new Float32Array(this.layout.total));
    q.writeBuffer(this.buf.hprev, 0, new Float32Array(this.shape.B * this.shape.H));
    this.t = 0;
  }

  private flatten(p: Params): Float32Array {
    const flat = new Float32Array(this.layout.total);
    for (const k of PARAM_NAMES) flat.set(p[k], this.layout.offset[k]);
    return flat;
  }

  async getState(): Promise<EngineState> {
    const [p, m, v, h] = await Promise.all([this.read(this.buf.params), this.read(this.buf.m), this.read(this.buf.v), this.hiddenState()]);
    return { params: this.unflatten(p), m: this.unflatten(m), v: this.unflatten(v), hprev: h, t: this.t };
  }

  setState(s: EngineState): void {
    this.setParams(s.params);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.m, 0, this.flatten(s.m));
    q.writeBuffer(this.buf.v, 0, this.flatten(s.v));
    q.writeBuffer(this.buf.hprev, 0, Float32Array.from(s.hprev));
    this.t = s.t;
  }

  async evaluate(data: Uint32Array): Promise<{ loss: number; count: number }> {
    const { T, B } = this.shape;
    if (B !== 1) throw new Error('evaluate needs an engine with B = 1 (see evaluator())');
    this.check();
    const n = data.length - 1;
    if (n < 1) return { loss: NaN, count: 0 };
    const chunks = Math.ceil(n / T);
    const d = this.ctx.device;
    // per-position losses of every chunk gathered on the GPU, read back once
    const all = d.createBuffer({ label: 'evaluate.losses', size: 4 * chunks * T, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const batch = { inputs: new Uint32Array(T), targets: new Uint32Array(T) };
    for (let c = 0; c < chunks; c++) {
      const start = c * T;
      const len = Math.min(T, n - start);
      batch.inputs.fill(0);
      batch.targets.fill(0);
      batch.inputs.set(data.subarray(start, start + len));
      batch.targets.set(data.subarray(start + 1, start + 1 + len));
      this.writeBatch(batch);
      const enc = d.createCommandEncoder({ label: 'evaluate' });
      if (c === 0) enc.clearBuffer(this.buf.hprev);
      const pass = enc.beginComputePass({ label: 'evaluate.forward' });
      for (const r of this.passes[0]) dispatch(pass, r.kernel, r.group, r.x);
      pass.end();
      enc.copyBufferToBuffer(this.buf.losses, 0, all, 4 * c * T, 4 * T);
      d.queue.submit([enc.finish()]);
    }
    const losses = await this.read(all);
    all.destroy();
    let sum = 0;
    for (let c = 0; c < chunks; c++) for (let t = 0; t < Math.min(T, n - c * T); t++) sum += losses[c * T + t];
    return { loss: sum / n, count: n };
  }

  private unflatten(flat: Float32Array): Params<Float32Array> {
    const out = {} as Params<Float32Array>;
    for (const k of PARAM_NAMES)
      out[k] = flat.slice(this.layout.offset[k], this.layout.offset[k] + this.layout.size[k]);
    return out;
  }

  async getParams(): Promise<Params<Float32Array>> {
    return this.unflatten(await this.read(this.buf.params));
  }

  private writeBatch(batch: Batch): void {
    const n = this.shape.T * this.shape.B;
    if (batch.inputs.length !== n || batch.targets.length !== n)
      throw new Error(`batch holds ${batch.inputs.length} inputs and ${batch.targets.length} targets, expected ${n} (T*B)`);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.buf.inputs, 0, batch.inputs);
    q.writeBuffer(this.buf.targets, 0, batch.targets);
  }

  /** Records passes [from, to) of a step into one command buffer and submits it. */
  private submit(passes: number[], reset: boolean, wantLoss: boolean): void {
    const d = this.ctx.device;
    const enc = d.createCommandEncoder({ label: 'engine.step' });
    if (reset) enc.clearBuffer(this.buf.hprev);
    for (const i of passes) {
      const pass = enc.beginComputePass({ label: `engine.pass${i}` });
      for (const r of this.passes[i]) dispatch(pass, r.kernel, r.group, r.x);
      pass.end();
    }
    if (wantLoss) {
      enc.copyBufferToBuffer(this.buf.loss, 0, this.lossStaging, 0, 4);
      enc.copyBufferToBuffer(this.buf.grad_norm, 0, this.lossStaging, 4, 4);
    }
    d.queue.submit([enc.finish()]);
  }

  private async readLoss(): Promise<number> {
    await this.lossStaging.mapAsync(GPUMapMode.READ);
    const [loss, norm] = new Float32Array(this.lossStaging.getMappedRange(0, 8));
    this.lossStaging.unmap();
    this.check();
    this.gradNorm = norm;
    return (this.lastLoss = loss);
  }

  async step(batch: Batch, opts: StepOptions = {}): Promise<number | undefined> {
    this.check();
    this.writeBatch(batch);
    this.writeHyper(opts.lr ?? this.optimizer.lr);
    this.t++;
    // the loss pass reads losses[] of this step's forward pass (the update does not touch them)
    this.submit(opts.wantLoss ? [0, 1, 2, 3] : [0, 1, 2], opts.reset ?? false, opts.wantLoss ?? false);
    return opts.wantLoss ? this.readLoss() : undefined;
  }

  async forwardBackward(batch: Batch, opts: { reset?: boolean } = {}): Promise<number> {
    this.check();
    this.writeBatch(batch);
    this.submit([0, 1, 3], opts.reset ?? false, true);
    return this.readLoss();
  }

  /** Copies a buffer (or the first `bytes` of it) to a new staging buffer and reads it. Not
   * used by the training loop: for inspection, checkpoints and generation only. */
  private async read(src: GPUBuffer, bytes = src.size): Promise<Float32Array> {
    const d = this.ctx.device;
    const staging = d.createBuffer({ label: 'engine.read', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = d.createCommandEncoder({ label: 'engine.read' });
    enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
    d.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    this.check();
    return out;
  }

  async inspect(): Promise<Activations> {
    const { V, H, B, T } = this.shape;
    const [hs, ps, grads] = await Promise.all([
      this.read(this.buf.hs, 4 * (T + 1) * B * H),
      this.read(this.buf.ps, 4 * T * B * V),
      this.read(this.buf.grads),
    ]);
    return { hs, ps, grads: this.unflatten(grads), loss: this.lastLoss };
  }

  /** Carried hidden state (B, H), for checkpoints and comparisons. */
  async hiddenState(): Promise<Float32Array> {
    return this.read(this.buf.hprev, 4 * this.shape.B * this.shape.H);
  }

  async generate(o: GenerateOptions): Promise<Uint32Array[]> {
    this.check();
    const d = this.ctx.device;
    const streams = o.streams ?? 1;
    const { V, H } = this.shape;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    const u = new ArrayBuffer(32);
    new Uint32Array(u, 0, 4).set([o.prime.length, o.length, o.greedy ? 1 : 0, (o.seed ?? 0) >>> 0]);
    new Float32Array(u, 16, 1)[0] = o.temperature ?? 1;
    new Uint32Array(u, 20, 1)[0] = o.topK ?? 0;
    new Float32Array(u, 24, 1)[0] = o.topP ?? 1;
    d.queue.writeBuffer(this.genUniform, 0, u);
    if (o.length === 0) return Array.from({ length: streams }, () => new Uint32Array(0));
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const prime = d.createBuffer({ label: 'generate.prime', size: Math.max(16, 4 * o.prime.length), usage: STORAGE });
    const out = d.createBuffer({ label: 'generate.out', size: 4 * streams * o.length, usage: STORAGE });
    const scratch = d.createBuffer({ label: 'generate.scratch', size: 4 * streams * (2 * H + V), usage: STORAGE });
    d.queue.writeBuffer(prime, 0, o.prime);
    const enc = d.createCommandEncoder({ label: 'generate' });
    const pass = enc.beginComputePass({ label: 'generate' });
    dispatch(pass, this.sampler, bindGroup(this.ctx, this.sampler, [this.genUniform, this.buf.params, prime, out, scratch]), streams);
    pass.end();
    d.queue.submit([enc.finish()]);
    const flat = new Uint32Array((await this.read(out)).buffer);
    for (const b of [prime, out, scratch]) b.destroy();
    return Array.from({ length: streams }, (_, s) => flat.slice(s * o.length, (s + 1) * o.length));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const [name, b] of Object.entries(this.buf)) if (name !== 'params' || this.ownsParams) b.destroy();
    for (const b of [this.hyper, this.genUniform, this.lossStaging]) b.destroy();
  }
}
