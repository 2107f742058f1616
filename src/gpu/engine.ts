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
import { type Layout, PARAM_NAMES, type ParamName, type Params, type StepShape, layout } from '../model.js';
import type { GpuContext } from './context.js';
import { type BindingKind, type Kernel, MAX_WORKGROUPS, STEP_SLOT, bindGroup, dispatch, makeKernel } from './kernel.js';
import type { ShaderName } from './shaders.js';
import { checkBuffersFit, maxGenerateLength, mib } from './limits.js';

// The WebGPU engine. Every buffer is allocated once, in the constructor, from bufferTable();
// one training step (forward over all timesteps, BPTT, update) is one command buffer
// with no CPU round trip inside; only the loss (when asked) and generated text are read back.

/** Invocations per workgroup for every kernel (portable: at most 256). */
const WG = 64;

/** 'tiled': the fast kernels (register-tiled products over all positions, recurrence four
 * streams per vec4). 'reference': the simple kernels of rnn_forward/rnn_backward.wgsl, one
 * output per invocation, kept as the variant the fast ones are tested against. */
export type KernelVariant = 'tiled' | 'reference';
/** How the sequential sweep runs ('tiled' kernels): one persistent workgroup per four streams
 * looping over T, or one dispatch per timestep. */
export type RecurrenceSchedule = 'persistent' | 'step';

/** The persistent sweep kernels chosen for a shape (recurrence.wgsl): one stream with its
 * rows in the vec4 lanes, or four or eight streams per workgroup. */
interface Sweep {
  forward: string;
  backward: string;
  streams: 1 | 4 | 8;
}

export interface GpuEngineOptions {
  /** 'auto' (default): 'reference' for tiny steps (below SMALL_STEP multiply-adds), where the
   * number of dispatches decides the speed and the simple kernels need fewer; else 'tiled'. */
  kernels?: KernelVariant | 'auto';
  /** 'auto' (default): 'persistent' where its workgroup memory fits and it is not slower,
   * measured on this adapter for large shapes. */
  recurrence?: RecurrenceSchedule | 'auto';
  /** Time every kernel with timestamp queries (each step then waits for its timings). */
  profile?: boolean;
  /** Positions whose losses evaluate() gathers on the GPU per readback (default 4M, 16 MiB). */
  evaluateBlock?: number;
  /** Streams per workgroup of the persistent sweep (default: one for B = 1 with H % 4 == 0,
   * else eight where B > 4 and the workgroup memory allows, else four). The tests force each;
   * one that does not fit the shape or the adapter is an error. */
  streams?: 1 | 4 | 8;
}

/** GPU time per training step by kernel, averaged over the profiled steps. */
export interface Profile {
  adapter: string;
  variant: KernelVariant;
  recurrence: RecurrenceSchedule;
  /** the schedule in words (streams per workgroup) */
  detail: string;
  /** why that schedule (limits, or the measured times) */
  reason: string;
  steps: number;
  /** GPU ms per step by kernel, slowest first */
  kernels: { name: string; ms: number }[];
  totalMs: number;
}

/** GPU memory of the engine against what the model needs. */
export interface MemoryReport {
  /** bytes of every GPU buffer this engine allocated */
  bytes: number;
  /** the part of it that is model state: parameters, gradients, optimizer state, activations */
  tensors: { params: number; grads: number; optimizer: number; activations: number };
}

/** GPU buffers of the engine: element counts from the step shape (f32 or u32, 4 bytes each). */
function bufferTable(s: StepShape, lay: Layout = layout(s)) {
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
    ps: T * B * V, // (T, B, V) logits, then probabilities
    dy: T * B * V, // (T, B, V) p - onehot(target)
    losses: T * B, // (T, B)
    loss: 4, // [0] mean loss of the step
    dhs: T * B * H, // (T, B, H) W_hy^T dy, then dtanh
    dh_next: B * H, // (B, H) scratch of the backward sweep
    W_hhT: H * H, // (H, H) W_hh transposed, for the forward sweep and generation
    W_hyT: H * V, // (H, V) W_hy transposed, for generation
    by_input: T * B, // u32 (T*B) positions sorted by their input character (for dW_xh)
    starts: V + 1, // u32 (V+1) where each character's positions start in by_input
  };
}
type BufferName = keyof ReturnType<typeof bufferTable>;

/** One recorded piece of a step: a kernel dispatch (per-timestep kernels carry their t) or a
 * buffer copy (which ends the compute pass it follows). */
type Op =
  | { kind: 'dispatch'; name: string; kernel: Kernel; group: GPUBindGroup; x: number; launch?: { group: GPUBindGroup; slot: number } }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

/** The phases of a training step, in order. */
interface Phases {
  forward: Op[];
  backward: Op[];
  update: Op[];
  loss: Op[];
}

/** Multiply-adds per step, T*B*H*(H+V), below which 'auto' picks the reference kernels: on
 * lavapipe they were faster up to 0.03M (H=16, T=25) and slower from 0.2M (H=32, T=64). */
export const SMALL_STEP = 1 << 16;

/** Training steps recorded into one command buffer when their losses are not wanted. */
const STEPS_PER_SUBMIT = 8;
/** Dispatches recorded into one command buffer before it is submitted and a new one begun:
 * lavapipe crashes the process (SIGSEGV) on a command buffer of about 24,000 dispatches
 * (the per-timestep sweep at T = 8192), so long ones are cut into several submits. */
const DISPATCHES_PER_SUBMIT = 4096;
/** Losses that may be in flight (asked for, not yet read back) at once. */
const LOSSES_IN_FLIGHT = 4;

/** Floats of workgroup memory per hidden unit in the persistent sweeps (two vec4 arrays). */
const PERSISTENT_BYTES_PER_H = 32;
/** The same for the eight-stream sweeps (forward_persistent8, backward_persistent8). */
const PERSISTENT8_BYTES_PER_H = 64;

/** Below this many multiply-adds per step in the sweeps, the schedule is not worth measuring. */
const MEASURE_ABOVE = 1 << 24;

export class GpuEngine implements Engine {
  readonly device = 'gpu' as const;
  readonly shape: StepShape;
  readonly optimizer: Required<OptimizerConfig>;
  readonly layout: Layout;
  readonly kernels: KernelVariant;
  recurrence: RecurrenceSchedule;
  recurrenceReason: string;
  kernelsReason = '';
  /** the persistent sweep's kernels, where it fits */
  private readonly sweep?: Sweep;

  /** The recurrence schedule in words, e.g. "persistent, 8 streams per workgroup". */
  get recurrenceDetail(): string {
    if (this.kernels === 'reference') return 'persistent, 1 stream per workgroup';
    return this.recurrence === 'persistent'
      ? `persistent, ${this.sweep!.streams === 1 ? '1 stream, rows in the vec4 lanes' : `${this.sweep!.streams} streams per workgroup`}`
      : 'one dispatch per timestep, 4 streams per invocation';
  }
  gradNorm = NaN;
  private t = 0; // optimizer steps taken (Adam's bias correction)
  private readonly ctx: GpuContext;
  private readonly buf: Record<BufferName, GPUBuffer>;
  private readonly hyper: GPUBuffer;
  private readonly hyperScratch = new ArrayBuffer(48);
  /** staging buffers for losses in flight (read back asynchronously, in order) */
  private readonly lossRing: { buffer: GPUBuffer; inFlight: boolean }[];
  /** per-step uploads: step k of an unsubmitted group copies its batch and hyperparameters
   * from slot k (queue.writeBuffer lands before the submit, so each step needs its own slot) */
  private readonly uploads: GPUBuffer;
  private readonly slotBytes: number;
  /** the counting sort of a step's inputs (by_input, starts), reused every step */
  private readonly sortScratch: { order: Uint32Array; starts: Uint32Array; next: Uint32Array };
  /** steps recorded but not yet submitted, at most STEPS_PER_SUBMIT */
  private pending?: GPUCommandEncoder;
  private pendingSteps = 0;
  /** the engine whose parameters an evaluator reads: its recorded steps go first */
  private parent?: GpuEngine;
  private phases: Phases;
  private readonly schedules: Partial<Record<RecurrenceSchedule, Phases>>;
  /** the samplers of shaders/sample.wgsl: any stream count (generate); one stream with H a
   * multiple of 4 (generate1); more than four streams (generate8), where their workgroup
   * memory fits */
  private readonly sampler: Kernel;
  private readonly sampler1?: Kernel;
  private readonly sampler8?: Kernel;
  /** W_hhT and W_hyT from the live weights, before generation */
  private readonly transposes: Op[];
  private readonly launch: GPUBuffer;
  private readonly genUniform: GPUBuffer;
  private readonly allocated = new Map<GPUBuffer, number>();
  private readonly scratch = new Map<string, GPUBuffer>();
  /** generate's dispatch per sampler, with the scratch buffers and workgroup count it was made for */
  private readonly samplerOps = new Map<Kernel, { buffers: GPUBuffer[]; x: number; op: Op }>();
  private readonly profiler?: Profiler;
  private lastLoss = NaN;
  private readonly evaluateBlock: number;
  private destroyed = false;

  /** Use GpuEngine.create (pipelines compile asynchronously). */
  private constructor(
    ctx: GpuContext,
    shape: StepShape,
    optimizer: OptimizerConfig,
    kernels: Record<string, Kernel>,
    opts: Required<GpuEngineOptions> & { kernels: KernelVariant },
    sweep: Sweep | undefined,
    sharedParams?: GPUBuffer,
  ) {
    this.ctx = ctx;
    this.shape = { ...shape };
    this.optimizer = withDefaults(optimizer);
    this.layout = layout(shape);
    this.kernels = opts.kernels;
    this.evaluateBlock = opts.evaluateBlock;
    const table = bufferTable(shape, this.layout);
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.buf = {} as Record<BufferName, GPUBuffer>;
    for (const [name, n] of Object.entries(table) as [BufferName, number][])
      if (!(name === 'params' && sharedParams)) this.buf[name] = this.alloc(`engine.${name}`, 4 * n, STORAGE);
    if (sharedParams) this.buf.params = sharedParams;
    this.hyper = this.alloc('engine.hyper', 48, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.genUniform = this.alloc('engine.gen', 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.lossRing = Array.from({ length: LOSSES_IN_FLIGHT }, (_, i) => ({
      buffer: this.alloc(`engine.loss${i}`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      inFlight: false,
    }));
    // slot: inputs | targets | by_input (T*B u32 each) | starts (V+1 u32) | hyper (48 bytes),
    // 256-byte aligned
    this.slotBytes = Math.ceil((12 * shape.T * shape.B + 4 * (shape.V + 1) + 48) / 256) * 256;
    this.sortScratch = { order: new Uint32Array(shape.T * shape.B), starts: new Uint32Array(shape.V + 1), next: new Uint32Array(shape.V) };
    const slots = opts.profile ? 1 : STEPS_PER_SUBMIT;
    this.uploads = this.alloc('engine.uploads', slots * this.slotBytes, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.stepsPerSubmit = slots;
    this.sampler = kernels.generate;
    this.sampler1 = kernels.generate1;
    this.sampler8 = kernels.generate8;
    this.launch = this.launchUniform();
    this.transposes = [
      this.op('transpose_hh', kernels.transpose_hh, [this.param('W_hh'), this.buf.W_hhT], Math.ceil((shape.H * shape.H) / WG)),
      this.op('transpose_hy', kernels.transpose_hy, [this.param('W_hy'), this.buf.W_hyT], Math.ceil((shape.H * shape.V) / WG)),
    ];
    this.schedules = {};
    if (opts.kernels === 'reference') this.schedules.persistent = this.referencePhases(kernels);
    else {
      this.sweep = sweep;
      if (sweep) this.schedules.persistent = this.tiledPhases(kernels, 'persistent');
      if (kernels.forward_step) this.schedules.step = this.tiledPhases(kernels, 'step');
    }
    this.recurrence = opts.recurrence === 'step' || !this.schedules.persistent ? 'step' : 'persistent';
    this.recurrenceReason =
      opts.kernels === 'reference' ? 'reference kernels (one stream per workgroup)' : opts.recurrence === 'auto' ? '' : 'chosen by the caller';
    this.phases = this.schedules[this.recurrence]!;
    if (opts.profile) this.profiler = new Profiler(this, ctx);
  }

  /** Creates a GPU buffer and counts it in memory(). */
  private alloc(label: string, bytes: number, usage: number): GPUBuffer {
    const b = this.ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    this.allocated.set(b, b.size);
    return b;
  }

  private free(b: GPUBuffer): void {
    this.allocated.delete(b);
    b.destroy();
  }

  /** A scratch buffer kept between calls (grown when a larger one is needed): generation and
   * evaluation allocate only on their first call or a larger request. */
  private scratchBuffer(name: string, bytes: number, usage: number): GPUBuffer {
    const have = this.scratch.get(name);
    if (have && have.size >= bytes) return have;
    if (have) this.free(have);
    const b = this.alloc(`engine.${name}`, bytes, usage);
    this.scratch.set(name, b);
    return b;
  }

  /** `launch` of shaders/common.wgsl: one 256-byte slot per timestep t holding {t, V, H, B, T}. */
  private launchUniform(): GPUBuffer {
    const { V, H, B, T } = this.shape;
    const u = this.alloc('engine.launch', T * STEP_SLOT, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const data = new Uint32Array((T * STEP_SLOT) / 4);
    for (let t = 0; t < T; t++) data.set([t, V, H, B, T], (t * STEP_SLOT) / 4);
    this.ctx.device.queue.writeBuffer(u, 0, data);
    return u;
  }

  /** `mm` of shaders/matmul.wgsl for one product: C (M,N) = alpha * A B with these strides. */
  private mmUniform(name: string, m: { M: number; N: number; K: number; A_M: number; A_K: number; A_OFF?: number;
    B_K: number; B_N: number; B_OFF?: number; C_M: number; C_N: number; ALPHA?: number }): GPUBuffer {
    const u = this.alloc(`engine.mm.${name}`, 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const data = new ArrayBuffer(48);
    new Uint32Array(data, 0, 11).set([m.M, m.N, m.K, m.A_M, m.A_K, m.A_OFF ?? 0, m.B_K, m.B_N, m.B_OFF ?? 0, m.C_M, m.C_N]);
    new Float32Array(data, 44, 1)[0] = m.ALPHA ?? 1;
    this.ctx.device.queue.writeBuffer(u, 0, data);
    return u;
  }

  private param(k: ParamName, buffer = this.buf.params): GPUBufferBinding {
    return { buffer, offset: 4 * this.layout.offset[k], size: 4 * this.layout.size[k] };
  }

  /** A dispatch of x workgroups; kernels with a launch uniform read slot `slot` (timestep t)
   * of `launch` (default: the engine's step sizes). */
  private op(name: string, kernel: Kernel, buffers: (GPUBuffer | GPUBufferBinding)[], x: number, slot = 0, launch = this.launch): Op {
    if (x > MAX_WORKGROUPS && !kernel.grid) // (the shape checks of create() keep these in range)
      throw new Error(`${kernel.label}: ${x} workgroups, over ${MAX_WORKGROUPS}, for a kernel that is not laid out in rows`);
    const group = bindGroup(this.ctx, kernel, buffers);
    const launchGroup = kernel.launchLayout
      ? this.ctx.device.createBindGroup({ label: `${kernel.label}.launch`, layout: kernel.launchLayout, entries: [{ binding: 0, resource: { buffer: launch, size: 64 } }] })
      : undefined;
    return { kind: 'dispatch', name, kernel, group, x: Math.max(1, x), launch: launchGroup && { group: launchGroup, slot } };
  }

  /** The simple kernels: one output per invocation. */
  private referencePhases(k: Record<string, Kernel>): Phases {
    const { H, B, T } = this.shape;
    const b = this.buf;
    const p = (n: ParamName) => this.param(n);
    const groups = (n: number) => Math.ceil(n / WG);
    return {
      forward: [
        this.op('forward_recurrence', k.forward_recurrence, [p('W_xh'), p('W_hh'), p('b_h'), b.inputs, b.hs, b.hprev], B),
        this.op('output_softmax', k.output_softmax, [p('W_hy'), p('b_y'), b.hs, b.targets, b.ps, b.losses], groups(T * B)),
      ],
      backward: [
        this.op('output_backprop', k.output_backprop, [p('W_hy'), b.ps, b.targets, b.dhs], groups(T * B * H)),
        this.op('backward_recurrence', k.backward_recurrence, [p('W_hh'), b.hs, b.dhs, b.dh_next], B),
        this.op('grad_reduce', k.grad_reduce, [b.hs, b.ps, b.dhs, b.inputs, b.targets, b.grads], groups(this.layout.total)),
      ],
      update: this.updateOps(k),
      loss: [this.op('loss_mean', k.loss_mean, [b.losses, b.loss], 1)],
    };
  }

  /** The global gradient norm is computed only where it is used: global-norm clipping, or a
   * step that reports it (the loss phase then adds it, see submit). */
  private updateOps(k: Record<string, Kernel>): Op[] {
    const b = this.buf;
    this.gradNormOp = this.op('grad_norm', k.grad_norm_reduce, [b.grads, b.grad_norm], 1);
    return [
      ...(this.optimizer.clipNorm > 0 ? [this.gradNormOp] : []),
      this.op('update', k.update, [this.hyper, b.grads, b.params, b.m, b.v, b.grad_norm], Math.ceil(this.layout.total / WG)),
    ];
  }

  private gradNormOp!: Op;
  private readonly stepsPerSubmit: number;

  /** The fast kernels (shaders/recurrence.wgsl, matmul.wgsl, output.wgsl). */
  private tiledPhases(k: Record<string, Kernel>, schedule: RecurrenceSchedule): Phases {
    const { V, H, B, T } = this.shape;
    const b = this.buf;
    const p = (n: ParamName) => this.param(n);
    const g = (n: ParamName) => this.param(n, b.grads);
    const groups = (n: number) => Math.ceil(n / WG);
    const N = T * B;
    const G = Math.ceil(B / 4); // stream groups of four
    const tiles = (m: number, n: number) => groups(Math.ceil(m / 4) * Math.ceil(n / 4));
    const tiles8 = (m: number, n: number) => groups(Math.ceil(m / 8) * Math.ceil(n / 8));
    // the four products of the step (shaders/matmul.wgsl), each with the block size for its size
    const mm = (name: string, buffers: (GPUBuffer | GPUBufferBinding)[], m: Parameters<GpuEngine['mmUniform']>[1]) => {
      const big = matmulBlock(this.ctx, m.M, m.N) === 8;
      return this.op(name, big ? k.matmul8 : k.matmul, buffers, big ? tiles8(m.M, m.N) : tiles(m.M, m.N), 0, this.mmUniform(name, m));
    };
    const hsBytes = 4 * B * H;
    // per-timestep dispatches share their kernel's bind groups and differ only in the launch slot
    const at = (o: Op, t: number): Op => (o.kind === 'dispatch' && o.launch ? { ...o, launch: { ...o.launch, slot: t } } : o);
    const copy = (src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number): Op => ({
      kind: 'copy', src, srcOffset, dst, dstOffset, size: hsBytes,
    });

    const forward: Op[] = [this.op('transpose_hh', k.transpose_hh, [p('W_hh'), b.W_hhT], groups(H * H))];
    const fwdBindings = [p('W_xh'), b.W_hhT, p('b_h'), b.inputs, b.hs, b.hprev];
    const sweep = this.sweep!;
    if (schedule === 'persistent') forward.push(this.op('forward_recurrence', k[sweep.forward], fwdBindings, Math.ceil(B / sweep.streams)));
    else {
      const fwd = this.op('forward_recurrence', k.forward_step, fwdBindings, groups(G * H));
      forward.push(copy(b.hprev, 0, b.hs, 0));
      for (let t = 0; t < T; t++) forward.push(at(fwd, t));
      forward.push(copy(b.hs, T * hsBytes, b.hprev, 0));
    }
    forward.push(
      // logits (N,V) = hs[1..] (N,H) . W_hy^T
      mm('output_logits', [b.hs, p('W_hy'), b.ps], { M: N, N: V, K: H, A_M: H, A_K: 1, A_OFF: B * H, B_K: 1, B_N: H, C_M: V, C_N: 1 }),
      this.op('softmax_xent', k.softmax_xent, [p('b_y'), b.targets, b.ps, b.dy, b.losses], groups(N)),
    );

    // dhs (N,H) = dy (N,V) . W_hy (V,H)
    const backward: Op[] = [mm('output_backprop', [b.dy, p('W_hy'), b.dhs], { M: N, N: H, K: V, A_M: V, A_K: 1, B_K: H, B_N: 1, C_M: H, C_N: 1 })];
    const bwdBindings = [p('W_hh'), b.hs, b.dhs, b.dh_next];
    if (schedule === 'persistent') backward.push(this.op('backward_recurrence', k[sweep.backward], bwdBindings, Math.ceil(B / sweep.streams)));
    else {
      const dtanh = this.op('backward_recurrence', k.backward_dtanh_step, bwdBindings, groups(B * H));
      const dnext = this.op('backward_recurrence', k.backward_dnext_step, bwdBindings, groups(G * H));
      for (let t = T - 1; t >= 0; t--) {
        backward.push(at(dtanh, t));
        if (t > 0) backward.push(at(dnext, t));
      }
    }
    backward.push(
      // dW_hy (V,H) = dy^T (V,N) . hs[1..] (N,H) / B
      mm('dW_hy', [b.dy, b.hs, g('W_hy')], { M: V, N: H, K: N, A_M: 1, A_K: V, B_K: H, B_N: 1, B_OFF: B * H, C_M: H, C_N: 1, ALPHA: 1 / B }),
      // dW_hh (H,H) = dtanh^T (H,N) . hs[..T] (N,H) / B
      mm('dW_hh', [b.dhs, b.hs, g('W_hh')], { M: H, N: H, K: N, A_M: 1, A_K: H, B_K: H, B_N: 1, C_M: H, C_N: 1, ALPHA: 1 / B }),
      H % 4 === 0
        ? this.op('dW_xh', k.dW_xh_sorted, [b.dhs, b.by_input, b.starts, g('W_xh')], groups((V * H) / 4))
        : this.op('dW_xh', k.dW_xh_sorted1, [b.dhs, b.by_input, b.starts, g('W_xh')], groups(V * H)),
      this.op('bias_grads', k.bias_grads, [b.dhs, b.dy, g('b_h'), g('b_y')], groups(H + V)),
    );
    return { forward, backward, update: this.updateOps(k), loss: [this.op('loss_mean', k.loss_mean, [b.losses, b.loss], 1)] };
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
    const { V, H, B, T } = shape;
    checkBuffersFit(ctx.device.limits, shape, bufferTable);
    const small = T * B * H * (H + V) < SMALL_STEP;
    const kernelsAuto = (options.kernels ?? 'auto') === 'auto';
    const opts = {
      recurrence: 'auto',
      profile: false,
      evaluateBlock: 1 << 22,
      ...options,
      kernels: kernelsAuto ? (small ? 'reference' : 'tiled') : options.kernels,
    } as Required<GpuEngineOptions> & { kernels: KernelVariant };
    const lay = layout(shape);
    const N = T * B;
    const sizes = { V, H, B, T, WG };
    const offsets = Object.fromEntries(PARAM_NAMES.map((k) => [`OFF_${k}`, lay.offset[k]]));
    const wgMemory = ctx.device.limits.maxComputeWorkgroupStorageSize;
    const persistentFits = PERSISTENT_BYTES_PER_H * hmaxOf(H) <= wgMemory;
    const eightStreams = B > 4 && PERSISTENT8_BYTES_PER_H * hmaxOf(H) <= wgMemory;
    if (opts.recurrence === 'persistent' && !persistentFits)
      throw new GpuError(
        `The persistent recurrence needs ${PERSISTENT_BYTES_PER_H * hmaxOf(H)} bytes of workgroup memory at H=${H}; this adapter offers ` +
          `${ctx.device.limits.maxComputeWorkgroupStorageSize}. Use the per-timestep schedule (recurrence 'step' or 'auto').`,
      );
    type Spec = readonly [ShaderName, string, readonly BindingKind[], Record<string, number>];
    const common: Spec[] = [
      ['optimizer', 'update', ['uniform', 'read', 'storage', 'storage', 'storage', 'read'],
        { TOTAL: lay.total, WG, OFF_b_h: lay.offset.b_h, OFF_W_hy: lay.offset.W_hy, OFF_b_y: lay.offset.b_y }],
      ['optimizer', 'grad_norm_reduce', ['read', 'storage'], { TOTAL: lay.total }],
      ['loss', 'loss_mean', ['read', 'storage'], { N }],
      ['sample', 'generate', ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'], { HMAX: hmaxOf(H), WGR: Math.min(256, hmaxOf(H) / 4) }],
      // the samplers that keep h in workgroup memory, where it fits (generate8: 2 halves x 2 sets
      // x HMAX vec4 + 8 u32; generate1: 2 halves of HMAX floats + 4 u32)
      ...(64 * hmaxOf(H) + 32 <= wgMemory
        ? ([['sample', 'generate8', ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'], { HMAX: hmaxOf(H), WGR: hmaxOf(H) / 8 }]] as Spec[])
        : []),
      ...(H % 4 === 0 && 8 * hmaxOf(H) + 16 <= wgMemory
        ? ([['sample', 'generate1', ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'], { HMAX: hmaxOf(H), WGR: hmaxOf(H) / 8 }]] as Spec[])
        : []),
      ['recurrence', 'transpose_hh', ['read', 'storage'], { WG }],
      ['recurrence', 'transpose_hy', ['read', 'storage'], { WG }],
    ];
    const reference: Spec[] = [
      ['rnn_forward', 'forward_recurrence', ['read', 'read', 'read', 'read', 'storage', 'storage'], sizes],
      ['rnn_forward', 'output_softmax', ['read', 'read', 'read', 'read', 'storage', 'storage'], sizes],
      ['rnn_backward', 'output_backprop', ['read', 'read', 'read', 'storage'], sizes],
      ['rnn_backward', 'backward_recurrence', ['read', 'read', 'storage', 'storage'], sizes],
      ['rnn_backward', 'grad_reduce', ['read', 'read', 'read', 'read', 'read', 'storage'], { ...sizes, ...offsets, TOTAL: lay.total }],
    ];
    const rec = ['read', 'read', 'read', 'read', 'storage', 'storage'] as const;
    const bwd = ['read', 'read', 'storage', 'storage'] as const;
    const wantPersistent = persistentFits && opts.recurrence !== 'step';
    const wantStep = opts.recurrence !== 'persistent' && (opts.recurrence === 'step' || !persistentFits || measureWorthIt(shape));
    // sizes come from the launch uniform; only the workgroup arrays are sized at compile time
    const wg = { WG };
    const hmax = { HMAX: hmaxOf(H) };
    const hmax8 = { HMAX: hmaxOf(H), WGR: hmaxOf(H) / 8 };
    // one stream with H % 4 == 0: rows in the vec4 lanes (aligned vec4 loads of the weights);
    // more than four streams: eight per workgroup where the memory allows; else four. The
    // one- and eight-stream sweeps own eight rows per invocation (HMAX/8 invocations).
    const streams = options.streams ?? (B === 1 && H % 4 === 0 ? 1 : eightStreams ? 8 : 4);
    if ((streams === 1 && (B !== 1 || H % 4 !== 0)) || (streams === 8 && PERSISTENT8_BYTES_PER_H * hmaxOf(H) > wgMemory))
      throw new GpuError(`The persistent sweep of ${streams} stream(s) per workgroup does not fit B=${B}, H=${H} on this adapter: leave 'streams' out.`);
    const suffix = streams === 4 ? '' : String(streams);
    const sweep: Sweep | undefined =
      opts.kernels === 'tiled' && wantPersistent ? { forward: `forward_persistent${suffix}`, backward: `backward_persistent${suffix}`, streams } : undefined;
    const tiled: Spec[] = [
      ...(sweep
        ? ([
            ['recurrence', sweep.forward, rec, streams === 4 ? hmax : hmax8],
            ['recurrence', sweep.backward, bwd, streams === 4 ? hmax : hmax8],
          ] as Spec[])
        : []),
      ...(wantStep
        ? ([
            ['recurrence', 'forward_step', rec, wg],
            ['recurrence', 'backward_dtanh_step', bwd, wg],
            ['recurrence', 'backward_dnext_step', bwd, wg],
          ] as Spec[])
        : []),
      ['matmul', 'matmul', ['read', 'read', 'storage'], wg],
      ['matmul', 'matmul8', ['read', 'read', 'storage'], wg],
      ['output', 'softmax_xent', ['read', 'read', 'storage', 'storage', 'storage'], wg],
      ['output', H % 4 === 0 ? 'dW_xh_sorted' : 'dW_xh_sorted1', ['read', 'read', 'read', 'storage'], wg],
      ['output', 'bias_grads', ['read', 'read', 'storage', 'storage'], wg],
    ];
    const spec = [...common, ...(opts.kernels === 'reference' ? reference : tiled)];
    const kernels: Record<string, Kernel> = {};
    await Promise.all(
      spec.map(async ([shader, entry, bindings, constants]) => {
        const launch = ['recurrence', 'matmul', 'output'].includes(shader);
        kernels[entry] = await makeKernel(ctx, { shader, entry, bindings: [...bindings], constants, launch });
      }),
    );
    const e = new GpuEngine(ctx, shape, optimizer, kernels, opts, sweep, shareParamsWith?.buf.params);
    e.kernelsReason = kernelsAuto
      ? `${small ? 'below' : 'above'} ${SMALL_STEP} multiply-adds per step (T*B*H*(H+V) = ${T * B * H * (H + V)})`
      : 'chosen by the caller';
    if (params) e.setParams(params);
    if (opts.kernels === 'tiled' && opts.recurrence === 'auto') await e.chooseRecurrence(persistentFits);
    return e;
  }

  /** Picks the recurrence schedule: by the adapter's limits, else by timing both sweeps on this
   * shape (large shapes only; below MEASURE_ABOVE the persistent sweep is kept). */
  private async chooseRecurrence(persistentFits: boolean): Promise<void> {
    if (!persistentFits) {
      this.recurrenceReason = `workgroup memory: the persistent sweep needs ${PERSISTENT_BYTES_PER_H * hmaxOf(this.shape.H)} bytes`;
      return;
    }
    if (!this.schedules.step) {
      this.recurrenceReason = 'small shape, not measured';
      return;
    }
    const ms: Partial<Record<RecurrenceSchedule, number>> = {};
    const d = this.ctx.device;
    const saved = await this.read(this.buf.hprev); // the sweeps below must leave the state as it was
    for (const s of ['persistent', 'step'] as const) {
      const ops = [...this.schedules[s]!.forward, ...this.schedules[s]!.backward];
      const best = [];
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        const enc = this.encode(d.createCommandEncoder({ label: 'engine.tune' }), ops);
        d.queue.submit([enc.finish()]);
        await d.queue.onSubmittedWorkDone();
        if (rep > 0) best.push(performance.now() - t0); // the first run compiles
      }
      ms[s] = Math.min(...best);
    }
    d.queue.writeBuffer(this.buf.hprev, 0, saved);
    this.profiler?.discard();
    this.recurrence = ms.step! < ms.persistent! ? 'step' : 'persistent';
    this.phases = this.schedules[this.recurrence]!;
    this.recurrenceReason = `measured forward+backward: persistent ${ms.persistent!.toFixed(2)} ms, per-timestep ${ms.step!.toFixed(2)} ms`;
  }

  /** uniform Hyper of shaders/optimizer.wgsl for the next step (t = this.t + 1), in a buffer
   * reused every step (queue.writeBuffer copies it at once). */
  private hyperBytes(lr: number): ArrayBuffer {
    const o = this.optimizer;
    const t = this.t + 1;
    const u = this.hyperScratch;
    new Float32Array(u, 0, 11).set([
      lr, o.clip, o.clipNorm, o.eps, o.momentum, o.alpha, o.beta1, o.beta2,
      1 - Math.pow(o.beta1, t), 1 - Math.pow(o.beta2, t), o.weightDecay,
    ]);
    new Uint32Array(u, 44, 1)[0] = OPTIMIZERS.indexOf(o.name);
    return u;
  }

  async evaluator(T: number): Promise<GpuEngine> {
    const e = await GpuEngine.create(this.ctx, { ...this.shape, B: 1, T }, this.optimizer, undefined, this);
    e.parent = this;
    return e;
  }

  /** Throws on a destroyed engine or a GPU error; submits recorded steps first, so that what
   * follows (a buffer write, a read, another engine on the same parameters) sees them. */
  private check(): void {
    this.assertLive();
    this.flush();
    this.parent?.flush();
  }

  /** Throws on a destroyed engine or a GPU error. */
  private assertLive(): void {
    if (this.destroyed) throw new GpuError('This GPU engine was destroyed.');
    const f = this.ctx.failure();
    if (f) throw f;
  }

  /** Submits the steps recorded so far. */
  private flush(): void {
    if (!this.pending) return;
    this.profiler?.resolve(this.pending);
    this.ctx.device.queue.submit([this.pending.finish()]);
    this.pending = undefined;
    this.pendingSteps = 0;
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
    this.setParams(s.params); // (checks, and so submits recorded steps first)
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
    // per-position losses of up to `per` chunks gathered on the GPU, then read back at once
    const per = Math.min(chunks, Math.max(1, Math.floor(this.evaluateBlock / T)));
    const all = this.scratchBuffer('evaluate.losses', 4 * per * T, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const batch = { inputs: new Uint32Array(T), targets: new Uint32Array(T) };
    let sum = 0;
    for (let c = 0; c < chunks; c++) {
      const start = c * T;
      const len = Math.min(T, n - start);
      batch.inputs.fill(0);
      batch.targets.fill(0);
      batch.inputs.set(data.subarray(start, start + len));
      batch.targets.set(data.subarray(start + 1, start + 1 + len));
      this.writeBatch(batch);
      let enc = d.createCommandEncoder({ label: 'evaluate' });
      if (c === 0) enc.clearBuffer(this.buf.hprev);
      enc = this.encode(enc, this.phases.forward);
      enc.copyBufferToBuffer(this.buf.losses, 0, all, 4 * (c % per) * T, 4 * T);
      this.profiler?.discard(); // not a training step
      d.queue.submit([enc.finish()]);
      if (c % per === per - 1 || c === chunks - 1) {
        const first = c - (c % per);
        const losses = await this.read(all, 4 * per * T, 'evaluate.staging');
        for (let k = first; k <= c; k++) for (let t = 0; t < Math.min(T, n - k * T); t++) sum += losses[(k - first) * T + t];
      }
    }
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

  /** Records ops into the encoder: consecutive dispatches share one compute pass (each kernel
   * gets its own pass, with timestamps, when profiling). An encoder that reaches
   * DISPATCHES_PER_SUBMIT is submitted and recording goes on in a new one: record into the
   * encoder returned. */
  private encode(enc: GPUCommandEncoder, ops: Op[]): GPUCommandEncoder {
    let pass: GPUComputePassEncoder | undefined;
    let passName = '';
    let count = this.dispatches.get(enc) ?? 0;
    const end = () => {
      pass?.end();
      pass = undefined;
    };
    for (const o of ops) {
      if (o.kind === 'copy') {
        end();
        enc.copyBufferToBuffer(o.src, o.srcOffset, o.dst, o.dstOffset, o.size);
        continue;
      }
      if (pass && this.profiler && passName !== o.name) end();
      if (count >= DISPATCHES_PER_SUBMIT) {
        end();
        this.ctx.device.queue.submit([enc.finish()]);
        enc = this.ctx.device.createCommandEncoder({ label: 'engine.continued' });
        count = 0;
      }
      if (!pass) {
        passName = o.name;
        pass = enc.beginComputePass({ label: `engine.${o.name}`, timestampWrites: this.profiler?.next(o.name) });
      }
      dispatch(pass, o.kernel, o.group, o.x, o.launch);
      count++;
    }
    end();
    this.dispatches.set(enc, count);
    return enc;
  }

  /** Dispatches recorded so far into each open command encoder. */
  private readonly dispatches = new WeakMap<GPUCommandEncoder, number>();

  /** Records the given phases of a step into the pending command buffer (up to
   * STEPS_PER_SUBMIT steps share one submit); its batch and hyperparameters come from upload
   * slot k. With `wantLoss` the loss and gradient norm are copied to a staging buffer, the
   * command buffer is submitted, and the returned promise reads them back. */
  private record(
    batch: Batch,
    hyper: ArrayBuffer | undefined,
    phases: (keyof Phases)[],
    reset: boolean,
    wantLoss: boolean,
    onGradNorm?: (norm: number) => void,
  ): Promise<number> | undefined {
    const d = this.ctx.device;
    const n = 4 * this.shape.T * this.shape.B;
    const slot = this.pendingSteps * this.slotBytes;
    const { order, starts } = this.sortInputs(batch.inputs);
    const hyperAt = slot + 3 * n + 4 * starts.length;
    d.queue.writeBuffer(this.uploads, slot, batch.inputs);
    d.queue.writeBuffer(this.uploads, slot + n, batch.targets);
    d.queue.writeBuffer(this.uploads, slot + 2 * n, order);
    d.queue.writeBuffer(this.uploads, slot + 3 * n, starts);
    if (hyper) d.queue.writeBuffer(this.uploads, hyperAt, hyper);
    let enc = (this.pending ??= d.createCommandEncoder({ label: 'engine.steps' }));
    this.pendingSteps++;
    enc.copyBufferToBuffer(this.uploads, slot, this.buf.inputs, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + n, this.buf.targets, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + 2 * n, this.buf.by_input, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + 3 * n, this.buf.starts, 0, 4 * starts.length);
    if (hyper) enc.copyBufferToBuffer(this.uploads, hyperAt, this.hyper, 0, 48);
    if (reset) enc.clearBuffer(this.buf.hprev);
    const normNeeded = wantLoss && this.optimizer.clipNorm === 0;
    for (const ph of phases) enc = this.encode(enc, ph === 'backward' && normNeeded ? [...this.phases.backward, this.gradNormOp] : this.phases[ph]);
    this.pending = enc;
    if (!wantLoss) {
      if (this.pendingSteps >= this.stepsPerSubmit) this.flush();
      return undefined;
    }
    // a staging buffer whose previous loss has been read (the ring grows if all are in flight)
    let r = this.lossRing.find((x) => !x.inFlight);
    if (!r) this.lossRing.push((r = { buffer: this.alloc(`engine.loss${this.lossRing.length}`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST), inFlight: false }));
    const staging = r;
    staging.inFlight = true;
    enc.copyBufferToBuffer(this.buf.loss, 0, staging.buffer, 0, 4);
    enc.copyBufferToBuffer(this.buf.grad_norm, 0, staging.buffer, 4, 4);
    this.flush();
    return (async () => {
      try {
        await staging.buffer.mapAsync(GPUMapMode.READ);
        const [loss, norm] = new Float32Array(staging.buffer.getMappedRange(0, 8));
        staging.buffer.unmap();
        this.assertLive();
        this.gradNorm = norm;
        onGradNorm?.(norm);
        return (this.lastLoss = loss);
      } finally {
        staging.inFlight = false;
      }
    })();
  }

  /** Counting sort of the positions of a step by input character: by_input lists the
   * positions of character 0, then 1, ...; character c's run is [starts[c], starts[c+1]). */
  private sortInputs(inputs: Uint32Array): { order: Uint32Array; starts: Uint32Array } {
    const { order, starts, next } = this.sortScratch;
    const V = this.shape.V;
    starts.fill(0);
    for (const x of inputs) {
      if (x >= V) throw new Error(`batch input ${x} is outside the vocabulary of ${V} characters`);
      starts[x + 1]++;
    }
    for (let c = 0; c < V; c++) starts[c + 1] += starts[c];
    next.set(starts.subarray(0, V));
    for (let p = 0; p < inputs.length; p++) order[next[inputs[p]]++] = p;
    return { order, starts };
  }

  /** Records one step; it is submitted with the next ones (see record), and only a step that
   * wants its loss waits for the GPU. The returned promises resolve in step order. Callers
   * may record further steps before awaiting a loss: the queue keeps running meanwhile. */
  async step(batch: Batch, opts: StepOptions = {}): Promise<number | undefined> {
    if (this.profiler) await this.profiler.idle(); // one step's timings at a time
    this.assertLive(); // (no flush: the step joins the recorded ones)
    this.checkBatch(batch);
    const hyper = this.hyperBytes(opts.lr ?? this.optimizer.lr);
    this.t++;
    // the loss pass reads losses[] of this step's forward pass (the update does not touch them)
    const phases: (keyof Phases)[] = opts.wantLoss ? ['forward', 'backward', 'update', 'loss'] : ['forward', 'backward', 'update'];
    const loss = this.record(batch, hyper, phases, opts.reset ?? false, opts.wantLoss ?? false, opts.onGradNorm);
    if (this.profiler) {
      this.flush();
      await this.profiler.collect();
    }
    return loss;
  }

  async forwardBackward(batch: Batch, opts: { reset?: boolean } = {}): Promise<number> {
    this.check();
    this.checkBatch(batch);
    const loss = this.record(batch, undefined, ['forward', 'backward', 'loss'], opts.reset ?? false, true)!;
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
    const staging = reuse ? this.scratchBuffer(reuse, bytes, usage) : d.createBuffer({ label: 'engine.read', size: Math.max(16, bytes), usage });
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
    const { V, H, B, T } = this.shape;
    const [hs, ps, grads, dtanh] = await Promise.all([
      this.read(this.buf.hs, 4 * (T + 1) * B * H),
      this.read(this.buf.ps, 4 * T * B * V),
      this.read(this.buf.grads),
      this.read(this.buf.dhs, 4 * T * B * H), // dtanh after the backward sweep, in both kernel variants
    ]);
    return { hs, ps, grads: this.unflatten(grads), dtanh, loss: this.lastLoss };
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
    if (o.length === 0) return Array.from({ length: streams }, () => new Uint32Array(0));
    const limit = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    const logitsBytes = 4 * (streams * V + Math.ceil(streams / 4) * 8 * H);
    if (logitsBytes > limit || streams > 4 * MAX_WORKGROUPS)
      throw new GpuError(`${streams} streams are more than this GPU generates at once with this model (${mib(logitsBytes)} of logits for V=${V}): generate fewer streams (--num), or use --device cpu.`);
    if (o.length > maxGenerateLength(d.limits, streams))
      throw new GpuError(
        `${o.length} characters in each of ${streams} stream${streams > 1 ? 's' : ''} need ${mib(4 * streams * o.length)} of GPU memory in one buffer, more than ` +
          `the ${mib(limit)} this adapter allows: generate at most ${maxGenerateLength(d.limits, streams)} characters per stream (--length), ` +
          `fewer streams (--num), or use --device cpu.`,
      );
    const lay = this.layout;
    const u = new ArrayBuffer(52); // struct Gen of shaders/sample.wgsl
    new Uint32Array(u, 0, 4).set([o.prime.length, o.length, o.greedy ? 1 : 0, (o.seed ?? 0) >>> 0]);
    new Float32Array(u, 16, 1)[0] = o.temperature ?? 1;
    new Uint32Array(u, 20, 1)[0] = o.topK ?? 0;
    new Float32Array(u, 24, 1)[0] = o.topP ?? 1;
    new Uint32Array(u, 28, 6).set([streams, V, H, lay.offset.W_xh, lay.offset.b_h, lay.offset.b_y]);
    d.queue.writeBuffer(this.genUniform, 0, u);
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const prime = this.scratchBuffer('generate.prime', 4 * o.prime.length, STORAGE);
    const out = this.scratchBuffer('generate.out', 4 * streams * o.length, STORAGE);
    // logits (streams, V), then for generate (four streams per workgroup) h: 2 halves x H x 4 streams per group
    const logits = this.scratchBuffer('generate.logits', logitsBytes, STORAGE);
    d.queue.writeBuffer(prime, 0, o.prime);
    const [sampler, perGroup] =
      streams === 1 && this.sampler1 ? [this.sampler1, 1] : streams > 4 && this.sampler8 ? [this.sampler8, 8] : [this.sampler, 4];
    // the sampler's bind group is made again only when a scratch buffer grew
    const x = Math.ceil(streams / perGroup);
    const made = this.samplerOps.get(sampler);
    const op = made && made.x === x && made.buffers.every((b, i) => b === [prime, out, logits][i]) ? made.op
      : this.op('generate', sampler, [this.genUniform, this.buf.params, this.buf.W_hhT, this.buf.W_hyT, prime, out, logits], x);
    this.samplerOps.set(sampler, { buffers: [prime, out, logits], x, op });
    const enc = this.encode(d.createCommandEncoder({ label: 'generate' }), [...this.transposes, op]);
    this.profiler?.discard(); // not a training step
    d.queue.submit([enc.finish()]);
    const flat = new Uint32Array((await this.read(out, 4 * streams * o.length, 'generate.staging')).buffer);
    return Array.from({ length: streams }, (_, s) => flat.slice(s * o.length, (s + 1) * o.length));
  }

  /** GPU bytes this engine holds, against the model's own tensors. */
  memory(): MemoryReport {
    const b = bufferTable(this.shape, this.layout);
    const P = 4 * this.layout.total;
    const o = this.optimizer.name;
    const states = o === 'adam' || o === 'adamw' ? 2 : o === 'sgd' && !this.optimizer.momentum ? 0 : 1;
    let bytes = 0;
    for (const n of this.allocated.values()) bytes += n;
    return {
      bytes,
      tensors: {
        params: P,
        grads: P,
        optimizer: states * P,
        activations: 4 * (b.hs + b.ps + b.dy + b.dhs + b.losses),
      },
    };
  }

  /** Kernel timings so far (needs `profile: true` at creation). */
  profile(): Profile {
    if (!this.profiler) throw new Error('profile(): create the engine with { profile: true }');
    return this.profiler.report();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.pending = undefined;
    this.destroyed = true;
    for (const [b] of this.allocated) b.destroy();
    this.allocated.clear();
    this.profiler?.destroy();
  }
}

/** Output block per invocation of a product: 8x8 halves the loads per multiply-add (on lavapipe
 * 5.7-7.2 GFLOP/s against 3.8-4.1 with 4x4 for the products of H=256, T*B=2048); on a hardware
 * GPU, where parallelism matters more, only when there are at least 2048 such blocks. */
function matmulBlock(ctx: GpuContext, M: number, N: number): 4 | 8 {
  const info = ctx.adapter.info;
  const software = info?.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(ctx.adapterName);
  return software || Math.ceil(M / 8) * Math.ceil(N / 8) >= 2048 ? 8 : 4;
}

/** Workgroup-array size of the persistent kernels for H: a power of two >= H, at least 64. */
function hmaxOf(H: number): number {
  return Math.max(64, 2 ** Math.ceil(Math.log2(H)));
}

function measureWorthIt(s: StepShape): boolean {
  return 2 * s.T * s.B * s.H * s.H > MEASURE_ABOVE;
}

/** Timestamp queries around every compute pass of a step (one pass per kernel, consecutive
 * dispatches of one kernel share a pass), read back after each step and summed by kernel. */
class Profiler {
  private static readonly MAX_PASSES = 1024;
  private readonly querySet?: GPUQuerySet;
  private readonly resolveBuf?: GPUBuffer;
  private readonly staging?: GPUBuffer;
  private names: string[] = [];
  private readonly ns = new Map<string, number>();
  private steps = 0;
  private readonly engine: GpuEngine;
  private readonly ctx: GpuContext;

  constructor(engine: GpuEngine, ctx: GpuContext) {
    this.engine = engine;
    this.ctx = ctx;
    if (!ctx.device.features.has('timestamp-query')) return;
    const n = 2 * Profiler.MAX_PASSES;
    this.querySet = ctx.device.createQuerySet({ label: 'engine.profile', type: 'timestamp', count: n });
    this.resolveBuf = ctx.device.createBuffer({ label: 'engine.profile.resolve', size: 8 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = ctx.device.createBuffer({ label: 'engine.profile.staging', size: 8 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** timestampWrites for the next pass, named after its kernel. */
  next(name: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.names.length >= Profiler.MAX_PASSES) return undefined;
    const i = this.names.push(name) - 1;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Forgets passes recorded outside a step (the schedule measurement). */
  discard(): void {
    this.names = [];
  }

  resolve(enc: GPUCommandEncoder): void {
    if (!this.querySet || this.names.length === 0) return;
    const n = 2 * this.names.length;
    enc.resolveQuerySet(this.querySet, 0, n, this.resolveBuf!, 0);
    enc.copyBufferToBuffer(this.resolveBuf!, 0, this.staging!, 0, 8 * n);
  }

  private collecting: Promise<void> = Promise.resolve();

  /** Resolves when no step's timings are being read back. */
  idle(): Promise<void> {
    return this.collecting;
  }

  collect(): Promise<void> {
    return (this.collecting = this.read());
  }

  private async read(): Promise<void> {
    this.steps++;
    if (!this.staging || this.names.length === 0) return;
    const n = 2 * this.names.length;
    await this.staging.mapAsync(GPUMapMode.READ, 0, 8 * n);
    const t = new BigInt64Array(this.staging.getMappedRange(0, 8 * n));
    this.names.forEach((name, i) => this.ns.set(name, (this.ns.get(name) ?? 0) + Number(t[2 * i + 1] - t[2 * i])));
    this.staging.unmap();
    this.names = [];
  }

  report(): Profile {
    const steps = Math.max(1, this.steps);
    const kernels = [...this.ns].map(([name, ns]) => ({ name, ms: ns / 1e6 / steps })).sort((a, b) => b.ms - a.ms);
    return {
      adapter: this.ctx.adapterName + (this.querySet ? '' : ' (no timestamp-query: no kernel timings)'),
      variant: this.engine.kernels,
      recurrence: this.engine.recurrence,
      detail: this.engine.recurrenceDetail,
      reason: this.engine.recurrenceReason,
      steps: this.steps,
      kernels,
      totalMs: kernels.reduce((a, b) => a + b.ms, 0),
    };
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.staging?.destroy();
  }
}
