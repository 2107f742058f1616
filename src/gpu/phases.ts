import type { OptimizerConfig } from '../engine.js';
import type { Layout, ParamName, StepShape } from '../model.js';
import { type Buffers, type GpuMemory, paramBinding } from './buffers.js';
import type { GpuContext } from './context.js';
import { Hyper, Launch, Mm } from './families.js';
import { STEP_SLOT, type StructValues, pack } from './kernel.js';
import { type Op, at, copy, op } from './ops.js';
import { type Kernels, type RecurrenceSchedule, WG, matmulBlock } from './plan.js';

// The ops of a training step, made once from the kernels of the plan and the engine's
// buffers: bind groups and uniforms are built here and never again.

/** The phases of a training step, in order. */
export interface Phases {
  forward: Op[];
  backward: Op[];
  update: Op[];
  loss: Op[];
}

export interface StepOps {
  /** the step's phases by recurrence schedule (the reference kernels run as 'persistent') */
  schedules: Partial<Record<RecurrenceSchedule, Phases>>;
  /** the global gradient norm, added to the backward phase of a step that reports it */
  gradNorm: Op;
  /** W_hhT and W_hyT from the live weights, before generation */
  transposes: Op[];
  /** `hyper` of the update (optimizer.wgsl), copied from each step's upload slot */
  hyper: GPUBuffer;
}

type MmValues = Omit<StructValues<typeof Mm>, 'A_OFF' | 'B_OFF' | 'ALPHA'> & { A_OFF?: number; B_OFF?: number; ALPHA?: number };

interface Env {
  ctx: GpuContext;
  mem: GpuMemory;
  buf: Buffers;
  lay: Layout;
  shape: StepShape;
  k: Kernels;
  /** the engine's launch uniform: slot t holds the step's sizes at timestep t */
  launch: GPUBuffer;
}

export function stepOps(ctx: GpuContext, mem: GpuMemory, buf: Buffers, lay: Layout, shape: StepShape, k: Kernels, opt: Required<OptimizerConfig>): StepOps {
  const env: Env = { ctx, mem, buf, lay, shape, k, launch: launchUniform(ctx, mem, shape) };
  const { H, V } = shape;
  const p = (n: ParamName) => paramBinding(lay, n, buf.params);
  const transposes = [
    op(ctx, 'transpose_hh', k.transpose_hh, { W_src: p('W_hh'), W_dst: buf.W_hhT }, Math.ceil((H * H) / WG), env.launch),
    op(ctx, 'transpose_hy', k.transpose_hy, { W_src: p('W_hy'), W_dst: buf.W_hyT }, Math.ceil((H * V) / WG), env.launch),
  ];
  // The global gradient norm is computed only where it is used: global-norm clipping, or a
  // step that reports it (the engine then adds it to the backward phase).
  const gradNorm = op(ctx, 'grad_norm', k.grad_norm, { g_all: buf.grads, norm_out: buf.grad_norm }, 1);
  const hyper = mem.alloc('engine.hyper', Hyper.bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const update = [
    ...(opt.clipNorm > 0 ? [gradNorm] : []),
    op(ctx, 'update', k.update, { hyper, grads: buf.grads, params: buf.params, m: buf.m, v: buf.v, grad_norm: buf.grad_norm, decay: buf.decay }, Math.ceil(lay.total / WG)),
  ];
  const loss = [op(ctx, 'loss_mean', k.loss_mean, { losses: buf.losses, loss: buf.loss }, 1)];
  const schedules: StepOps['schedules'] = {};
  if (k.reference) schedules.persistent = { ...referencePhases(env, k.reference), update, loss };
  if (k.tiled?.persistent) schedules.persistent = { ...tiledPhases(env, k.tiled, 'persistent'), update, loss };
  if (k.tiled?.step) schedules.step = { ...tiledPhases(env, k.tiled, 'step'), update, loss };
  return { schedules, gradNorm, transposes, hyper };
}

/** `launch` of shaders/common.wgsl: one STEP_SLOT-byte slot per timestep t holding {t, V, H, B, T}. */
function launchUniform(ctx: GpuContext, mem: GpuMemory, shape: StepShape): GPUBuffer {
  const { V, H, B, T } = shape;
  const u = mem.alloc('engine.launch', T * STEP_SLOT, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const data = new ArrayBuffer(T * STEP_SLOT);
  for (let t = 0; t < T; t++) pack(Launch, { t, V, H, B, T }, data, t * STEP_SLOT);
  ctx.device.queue.writeBuffer(u, 0, data);
  return u;
}

/** `mm` of shaders/matmul.wgsl for one product: C (M,N) = ALPHA * A B with these strides. */
function mmUniform(env: Env, name: string, m: MmValues): GPUBuffer {
  const u = env.mem.alloc(`engine.mm.${name}`, 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  env.ctx.device.queue.writeBuffer(u, 0, pack(Mm, { ...m, A_OFF: m.A_OFF ?? 0, B_OFF: m.B_OFF ?? 0, ALPHA: m.ALPHA ?? 1 }));
  return u;
}

/** The simple kernels: one output per invocation. */
function referencePhases(env: Env, k: NonNullable<Kernels['reference']>): Pick<Phases, 'forward' | 'backward'> {
  const { ctx, buf: b, lay, shape } = env;
  const { H, B, T } = shape;
  const p = (n: ParamName) => paramBinding(lay, n, b.params);
  const groups = (n: number) => Math.ceil(n / WG);
  return {
    forward: [
      op(ctx, 'forward_recurrence', k.forward_recurrence, { W_xh: p('W_xh'), W_hh: p('W_hh'), b_h: p('b_h'), inputs: b.inputs, hs: b.hs, hprev: b.hprev }, B),
      op(ctx, 'output_softmax', k.output_softmax, { W_hy: p('W_hy'), b_y: p('b_y'), hs_in: b.hs, targets: b.targets, ps: b.ps, losses: b.losses }, groups(T * B)),
    ],
    backward: [
      op(ctx, 'output_backprop', k.output_backprop, { W_hy: p('W_hy'), ps: b.ps, targets: b.targets, dhs: b.dhs }, groups(T * B * H)),
      op(ctx, 'backward_recurrence', k.backward_recurrence, { W_hh: p('W_hh'), hs: b.hs, dhs_rw: b.dhs, dh_next: b.dh_next }, B),
      op(ctx, 'grad_reduce', k.grad_reduce,
        { g_hs: b.hs, g_ps: b.ps, g_dtanh: b.dhs, g_inputs: b.inputs, g_targets: b.targets, grads: b.grads }, groups(lay.total)),
    ],
  };
}

/** The fast kernels (shaders/recurrence.wgsl, matmul.wgsl, output.wgsl). */
function tiledPhases(env: Env, k: NonNullable<Kernels['tiled']>, schedule: RecurrenceSchedule): Pick<Phases, 'forward' | 'backward'> {
  const { ctx, buf: b, lay, shape, launch } = env;
  const { V, H, B, T } = shape;
  const p = (n: ParamName) => paramBinding(lay, n, b.params);
  const g = (n: ParamName) => paramBinding(lay, n, b.grads);
  const groups = (n: number) => Math.ceil(n / WG);
  const N = T * B;
  const G = Math.ceil(B / 4); // stream groups of four
  const tiles = (m: number, n: number) => groups(Math.ceil(m / 4) * Math.ceil(n / 4));
  const tiles8 = (m: number, n: number) => groups(Math.ceil(m / 8) * Math.ceil(n / 8));
  // the four products of the step (shaders/matmul.wgsl), each with the block size for its size
  const mm = (name: string, r: { A: GPUBuffer; Bm: GPUBuffer | GPUBufferBinding; C: GPUBufferBinding | GPUBuffer }, m: MmValues) => {
    const big = matmulBlock(ctx, m.M, m.N) === 8;
    return op(ctx, name, big ? k.matmul8 : k.matmul, r, big ? tiles8(m.M, m.N) : tiles(m.M, m.N), mmUniform(env, name, m));
  };
  const hsBytes = 4 * B * H;

  const forward: Op[] = [op(ctx, 'transpose_hh', env.k.transpose_hh, { W_src: p('W_hh'), W_dst: b.W_hhT }, groups(H * H), launch)];
  const fwd = { W_xh: p('W_xh'), W_hhT: b.W_hhT, b_h: p('b_h'), inputs: b.inputs, hs: b.hs, hprev: b.hprev };
  const sweep = k.persistent!;
  if (schedule === 'persistent') forward.push(op(ctx, 'forward_recurrence', sweep.forward, fwd, Math.ceil(B / sweep.streams), launch));
  else {
    const f = op(ctx, 'forward_recurrence', k.step!.forward, fwd, groups(G * H), launch);
    forward.push(copy(b.hprev, 0, b.hs, 0, hsBytes));
    for (let t = 0; t < T; t++) forward.push(at(ctx, f, t));
    forward.push(copy(b.hs, T * hsBytes, b.hprev, 0, hsBytes));
  }
  forward.push(
    // logits (N,V) = hs[1..] (N,H) . W_hy^T
    mm('output_logits', { A: b.hs, Bm: p('W_hy'), C: b.ps }, { M: N, N: V, K: H, A_M: H, A_K: 1, A_OFF: B * H, B_K: 1, B_N: H, C_M: V, C_N: 1 }),
    op(ctx, 'softmax_xent', k.softmax_xent, { b_y: p('b_y'), targets: b.targets, ps: b.ps, dy: b.dy, losses: b.losses }, groups(N), launch),
  );

  // dhs (N,H) = dy (N,V) . W_hy (V,H)
  const backward: Op[] = [mm('output_backprop', { A: b.dy, Bm: p('W_hy'), C: b.dhs }, { M: N, N: H, K: V, A_M: V, A_K: 1, B_K: H, B_N: 1, C_M: H, C_N: 1 })];
  const bwd = { W_hh: p('W_hh'), hs_in: b.hs, dhs: b.dhs, dh_next: b.dh_next };
  if (schedule === 'persistent') backward.push(op(ctx, 'backward_recurrence', sweep.backward, bwd, Math.ceil(B / sweep.streams), launch));
  else {
    const dtanh = op(ctx, 'backward_recurrence', k.step!.dtanh, bwd, groups(B * H), launch);
    const dnext = op(ctx, 'backward_recurrence', k.step!.dnext, bwd, groups(G * H), launch);
    for (let t = T - 1; t >= 0; t--) {
      backward.push(at(ctx, dtanh, t));
      if (t > 0) backward.push(at(ctx, dnext, t));
    }
  }
  const dW_xh = { dtanh: b.dhs, by_input: b.by_input, starts: b.starts, dW_xh: g('W_xh') };
  backward.push(
    // dW_hy (V,H) = dy^T (V,N) . hs[1..] (N,H) / B
    mm('dW_hy', { A: b.dy, Bm: b.hs, C: g('W_hy') }, { M: V, N: H, K: N, A_M: 1, A_K: V, B_K: H, B_N: 1, B_OFF: B * H, C_M: H, C_N: 1, ALPHA: 1 / B }),
    // dW_hh (H,H) = dtanh^T (H,N) . hs[..T] (N,H) / B
    mm('dW_hh', { A: b.dhs, Bm: b.hs, C: g('W_hh') }, { M: H, N: H, K: N, A_M: 1, A_K: H, B_K: H, B_N: 1, C_M: H, C_N: 1, ALPHA: 1 / B }),
    op(ctx, 'dW_xh', k.dW_xh, dW_xh, H % 4 === 0 ? groups((V * H) / 4) : groups(V * H), launch),
    op(ctx, 'bias_grads', k.bias_grads, { g_dtanh: b.dhs, g_dy: b.dy, db_h: g('b_h'), db_y: g('b_y') }, groups(H + V), launch),
  );
  return { forward, backward };
}
