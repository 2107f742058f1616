import { type Layout, PARAM_NAMES, type StepShape } from '../model.js';
import type { GpuContext } from './context.js';
import { workgroupFits } from './limits.js';
import { type KernelOf, makeKernel } from './kernel.js';
import { loss, matmul, optimizer, output, recurrence, rnn_backward, rnn_forward, sample } from './families.js';

// The plan of the one-layer tanh RNN's tuned kernels (schedule.ts picks them for that model
// without dropout): which kernels (tiled or reference), which recurrence sweep (persistent
// with 1, 4 or 8 streams per workgroup, or one dispatch per timestep, measured where it
// matters), which samplers fit, which matmul block; and the typed record of the kernels
// compiled for that plan. A sweep that does not fit the adapter is never planned: the
// per-timestep sweep and the reference kernels fit any H.

/** 'tiled': the fast kernels (register-tiled products over all positions, recurrence four
 * streams per vec4). 'reference': the simple kernels of rnn_forward/rnn_backward.wgsl, one
 * output per invocation, kept as the variant the fast ones are tested against. */
export type KernelVariant = 'tiled' | 'reference';
/** How the sequential sweep runs ('tiled' kernels): one persistent workgroup per four streams
 * looping over T, or one dispatch per timestep. */
export type RecurrenceSchedule = 'persistent' | 'step';

export interface GpuEngineOptions {
  /** 'auto' (default): 'reference' for tiny steps (below SMALL_STEP multiply-adds), where the
   * number of dispatches decides the speed and the simple kernels need fewer; else 'tiled'. */
  kernels?: KernelVariant | 'auto';
  /** 'auto' (default): 'persistent' where its workgroup memory fits and it is not slower,
   * measured on this adapter for large shapes. 'persistent' where it does not fit falls back
   * to 'step', and the engine's recurrenceReason says so. */
  recurrence?: RecurrenceSchedule | 'auto';
  /** Time every kernel with timestamp queries (each step then waits for its timings). */
  profile?: boolean;
  /** Positions whose losses evaluate() gathers on the GPU per readback (default 4M, 16 MiB). */
  evaluateBlock?: number;
  /** Streams per workgroup of the persistent sweep (default: one for B = 1 with H % 4 == 0,
   * else eight where B > 4 and the workgroup memory allows, else four). The tests force each;
   * one that does not fit the shape or the adapter falls back to the default, and the engine's
   * recurrenceReason says so. */
  streams?: 1 | 4 | 8;
  /** The model's dropout probability (TrainConfig.dropout, default 0), which each step's
   * StepOptions.dropout then applies: above 0 the engine runs the layer kernels of cells.ts,
   * which apply it (the tuned one-layer tanh kernels have none). */
  dropout?: number;
  /** Run the layer kernels of cells.ts for the one-layer tanh RNN without dropout too (the
   * tests force them). Other cells, depths and dropout always run them. */
  layerKernels?: boolean;
  /** Every gradient of a step in one dispatch (shaders/grads.wgsl) instead of one product or sum
   * per tensor: default below SMALL_STEP multiply-adds (schedule.ts smallStep). The tests force
   * both. */
  smallStep?: boolean;
  /** Sweeps of the layer kernels: 'auto' (default) the persistent sweeps of
   * shaders/cells_persistent.wgsl (one stream with units in the vec4 lanes for B = 1 and
   * H % 4 == 0, else eight or four streams per workgroup) where their workgroup memory fits,
   * else the reference sweeps of shaders/cells.wgsl (one workgroup per stream). The tests
   * force each; one that does not fit the shape or the adapter is an error. */
  cellSweeps?: CellSweeps | 'auto';
  /** Generation of one stream by the layer kernels where H % 4 == 0: 'steps' one dispatch per
   * layer and character over many workgroups, then one for the logits and the draw
   * (generate_step, generate_step_out); 'persistent' one workgroup looping over all characters
   * (generate_cells1). Default: by size on lavapipe (schedule.ts ONE_STREAM_STEPS_ABOVE, where
   * it was measured), 'persistent' on others. The tests force each. */
  oneStream?: 'steps' | 'persistent';
}

/** The sweeps of the layer kernels (src/gpu/cells.ts). */
export type CellSweeps = 'streams1' | 'streams4' | 'streams8' | 'reference';

/** Invocations per workgroup for every kernel (portable: at most 256). */
export const WG = 64;

/** Multiply-adds per step, T*B*H*(H+V), below which 'auto' picks the reference kernels: on
 * lavapipe they were faster up to 0.03M (H=16, T=25) and slower from 0.2M (H=32, T=64). */
export const SMALL_STEP = 1 << 16;

/** Bytes of workgroup memory per hidden unit in the persistent sweeps (two vec4 arrays). */
const PERSISTENT_BYTES_PER_H = 32;
/** The same for the eight-stream sweeps (forward_persistent8, backward_persistent8). */
const PERSISTENT8_BYTES_PER_H = 64;

/** Below this many multiply-adds per step in the sweeps, the schedule is not worth measuring. */
const MEASURE_ABOVE = 1 << 24;

/** The persistent sweep kernels by streams per workgroup (shaders/recurrence.wgsl). */
const SWEEPS = {
  1: ['forward_persistent1', 'backward_persistent1'],
  4: ['forward_persistent', 'backward_persistent'],
  8: ['forward_persistent8', 'backward_persistent8'],
} as const;

/** What GpuEngine.create decided from the options, the shape and the adapter's limits. */
export interface Plan {
  kernels: KernelVariant;
  kernelsReason: string;
  /** the schedule asked for */
  recurrence: RecurrenceSchedule | 'auto';
  recurrenceReason: string;
  profile: boolean;
  evaluateBlock: number;
  /** the persistent sweep fits the workgroup memory */
  persistentFits: boolean;
  streams: 1 | 4 | 8;
  /** compile the persistent sweep (tiled kernels) */
  persistent: boolean;
  /** compile the per-timestep sweep (tiled kernels) */
  step: boolean;
}

/** Workgroup-array size of the persistent kernels for H: a power of two >= H, at least 64. */
export function hmaxOf(H: number): number {
  return Math.max(64, 2 ** Math.ceil(Math.log2(H)));
}

export function plan(limits: GPUSupportedLimits, shape: StepShape, options: GpuEngineOptions): Plan {
  const { V, H, B, T } = shape;
  const small = T * B * H * (H + V) < SMALL_STEP;
  const kernelsAuto = (options.kernels ?? 'auto') === 'auto';
  const kernels: KernelVariant = kernelsAuto ? (small ? 'reference' : 'tiled') : (options.kernels as KernelVariant);
  const recurrence = options.recurrence ?? 'auto';
  const HMAX = hmaxOf(H);
  // the sweeps of 1 and 8 streams: HMAX/8 invocations; of 4: HMAX/4
  const persistentFits = workgroupFits(limits, PERSISTENT_BYTES_PER_H * HMAX, HMAX / 4);
  const fits = (n: 1 | 4 | 8) =>
    n === 4 ? persistentFits
    : n === 8 ? workgroupFits(limits, PERSISTENT8_BYTES_PER_H * HMAX, HMAX / 8)
    : B === 1 && H % 4 === 0 && workgroupFits(limits, PERSISTENT_BYTES_PER_H * HMAX, HMAX / 8);
  // one stream with H % 4 == 0: rows in the vec4 lanes (aligned vec4 loads of the weights);
  // more than four streams: eight per workgroup where the memory allows; else four. The
  // one- and eight-stream sweeps own eight rows per invocation (HMAX/8 invocations). Asked
  // for what does not fit, the plan falls back to what does, and says so.
  const auto = fits(1) ? 1 : B > 4 && fits(8) ? 8 : 4;
  const streams = options.streams && fits(options.streams) ? options.streams : auto;
  const notFit = `the persistent sweep needs ${PERSISTENT_BYTES_PER_H * HMAX} bytes of workgroup memory at H=${H}, the adapter offers ${limits.maxComputeWorkgroupStorageSize}`;
  const fallback =
    recurrence === 'persistent' && !persistentFits ? `persistent asked, but ${notFit}: one dispatch per timestep`
    : options.streams && options.streams !== streams ? `${options.streams} stream(s) per workgroup asked, which do not fit B=${B}, H=${H}: ${streams}`
    : '';
  const measureWorthIt = 2 * T * B * H * H > MEASURE_ABOVE;
  return {
    kernels,
    kernelsReason: kernelsAuto
      ? `${small ? 'below' : 'above'} ${SMALL_STEP} multiply-adds per step (T*B*H*(H+V) = ${T * B * H * (H + V)})`
      : 'chosen by the caller',
    recurrence,
    recurrenceReason: kernels === 'reference' ? 'reference kernels (one stream per workgroup)' : fallback || (recurrence === 'auto' ? '' : 'chosen by the caller'),
    profile: options.profile ?? false,
    evaluateBlock: options.evaluateBlock ?? 1 << 22,
    persistentFits,
    streams,
    persistent: kernels === 'tiled' && persistentFits && recurrence !== 'step',
    step: kernels === 'tiled' && (recurrence === 'step' || !persistentFits || (recurrence === 'auto' && measureWorthIt)),
  };
}

/** The recurrence schedule in words, e.g. "persistent, 8 streams per workgroup". */
export function describeRecurrence(p: Plan, schedule: RecurrenceSchedule): string {
  if (p.kernels === 'reference') return 'persistent, 1 stream per workgroup';
  return schedule === 'persistent'
    ? `persistent, ${p.streams === 1 ? '1 stream, rows in the vec4 lanes' : `${p.streams} streams per workgroup`}`
    : 'one dispatch per timestep, 4 streams per invocation';
}

/** Picks the recurrence schedule of tiled kernels asked for 'auto': by the adapter's limits,
 * else by timing both sweeps on this shape (`time` runs forward+backward of one schedule once
 * and returns its milliseconds). Large shapes only: where the per-timestep sweep was not
 * compiled (below MEASURE_ABOVE) the persistent sweep is kept. */
export async function chooseRecurrence(
  p: Plan,
  H: number,
  time: (s: RecurrenceSchedule) => Promise<number>,
): Promise<{ recurrence?: RecurrenceSchedule; reason: string }> {
  if (!p.persistentFits) return { reason: `workgroup memory: the persistent sweep needs ${PERSISTENT_BYTES_PER_H * hmaxOf(H)} bytes` };
  if (!p.step) return { reason: 'small shape, not measured' };
  const ms: Partial<Record<RecurrenceSchedule, number>> = {};
  for (const s of ['persistent', 'step'] as const) {
    const best = [];
    for (let rep = 0; rep < 3; rep++) {
      const t = await time(s);
      if (rep > 0) best.push(t); // the first run compiles
    }
    ms[s] = Math.min(...best);
  }
  return {
    recurrence: ms.step! < ms.persistent! ? 'step' : 'persistent',
    reason: `measured forward+backward: persistent ${ms.persistent!.toFixed(2)} ms, per-timestep ${ms.step!.toFixed(2)} ms`,
  };
}

/** Output block per invocation of a product: 8x8 halves the loads per multiply-add (on lavapipe
 * 5.7-7.2 GFLOP/s against 3.8-4.1 with 4x4 for the products of H=256, T*B=2048); on a hardware
 * GPU, where parallelism matters more, only when there are at least 2048 such blocks. */
export function matmulBlock(ctx: GpuContext, M: number, N: number): 4 | 8 {
  return softwareAdapter(ctx) || Math.ceil(M / 8) * Math.ceil(N / 8) >= 2048 ? 8 : 4;
}

/** An adapter that runs invocations as the SIMD lanes of CPU cores (lavapipe, SwiftShader). */
export function softwareAdapter(ctx: GpuContext): boolean {
  return ctx.adapter.info?.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(ctx.adapterName);
}


/** The kernels of a plan, by role: a missing one is undefined, a misspelled one a compile error. */
export interface Kernels {
  update: KernelOf<typeof optimizer, 'update'>;
  grad_norm: KernelOf<typeof optimizer, 'grad_norm_reduce'>;
  loss_mean: KernelOf<typeof loss, 'loss_mean'>;
  transpose_hh: KernelOf<typeof recurrence, 'transpose_hh'>;
  transpose_hy: KernelOf<typeof recurrence, 'transpose_hy'>;
  /** the samplers of shaders/sample.wgsl: any stream count (generate); one stream with H a
   * multiple of 4 (generate1); more than four streams (generate8), where their workgroup
   * memory fits */
  generate: KernelOf<typeof sample, 'generate'>;
  generate1?: KernelOf<typeof sample, 'generate1'>;
  generate8?: KernelOf<typeof sample, 'generate8'>;
  reference?: {
    forward_recurrence: KernelOf<typeof rnn_forward, 'forward_recurrence'>;
    output_softmax: KernelOf<typeof rnn_forward, 'output_softmax'>;
    output_backprop: KernelOf<typeof rnn_backward, 'output_backprop'>;
    backward_recurrence: KernelOf<typeof rnn_backward, 'backward_recurrence'>;
    grad_reduce: KernelOf<typeof rnn_backward, 'grad_reduce'>;
  };
  tiled?: {
    /** the persistent sweep of plan.streams streams per workgroup */
    persistent?: {
      forward: KernelOf<typeof recurrence, 'forward_persistent'>;
      backward: KernelOf<typeof recurrence, 'backward_persistent'>;
      streams: 1 | 4 | 8;
    };
    step?: {
      forward: KernelOf<typeof recurrence, 'forward_step'>;
      dtanh: KernelOf<typeof recurrence, 'backward_dtanh_step'>;
      dnext: KernelOf<typeof recurrence, 'backward_dnext_step'>;
    };
    matmul: KernelOf<typeof matmul, 'matmul'>;
    matmul8: KernelOf<typeof matmul, 'matmul8'>;
    softmax_xent: KernelOf<typeof output, 'softmax_xent'>;
    /** dW_xh_sorted (vec4 rows, H % 4 == 0) or dW_xh_sorted1 */
    dW_xh: KernelOf<typeof output, 'dW_xh_sorted'>;
    bias_grads: KernelOf<typeof output, 'bias_grads'>;
  };
}

/** Awaits every promise of a record (undefined stays undefined). */
async function all<T extends Record<string, unknown>>(o: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const out = {} as Record<string, unknown>;
  await Promise.all(Object.entries(o).map(async ([k, v]) => (out[k] = await v)));
  return out as { [K in keyof T]: Awaited<T[K]> };
}

/** Compiles (or finds in the device's cache) the kernels of plan `p`. */
export async function compileKernels(ctx: GpuContext, shape: StepShape, lay: Layout, p: Plan): Promise<Kernels> {
  const { V, H, B, T } = shape;
  const limits = ctx.device.limits;
  const HMAX = hmaxOf(H);
  const sizes = { V, H, B, T, WG };
  const offsets = Object.fromEntries(PARAM_NAMES.map((k) => [`OFF_${k}`, lay.offset[k]]));
  // sizes of the tiled kernels come from the launch uniform; only workgroup arrays are compiled in
  const wg = { WG };
  const sweep: Record<string, number> = p.streams === 4 ? { HMAX } : { HMAX, WGR: HMAX / 8 };
  const [fwd, bwd] = SWEEPS[p.streams];
  return all({
    update: makeKernel(ctx, optimizer, 'update', { TOTAL: lay.total, WG }),
    grad_norm: makeKernel(ctx, optimizer, 'grad_norm_reduce', { TOTAL: lay.total }),
    loss_mean: makeKernel(ctx, loss, 'loss_mean', { N: T * B }),
    transpose_hh: makeKernel(ctx, recurrence, 'transpose_hh', wg),
    transpose_hy: makeKernel(ctx, recurrence, 'transpose_hy', wg),
    generate: makeKernel(ctx, sample, 'generate', { HMAX, WGR: Math.min(256, HMAX / 4) }),
    // the samplers that keep h in workgroup memory, where it fits (generate8: 2 halves x 2 sets
    // x HMAX vec4 + 8 u32; generate1: 2 halves of HMAX floats + 4 u32)
    generate8: workgroupFits(limits, 64 * HMAX + 32, HMAX / 8) ? makeKernel(ctx, sample, 'generate8', { HMAX, WGR: HMAX / 8 }) : undefined,
    generate1: H % 4 === 0 && workgroupFits(limits, 8 * HMAX + 16, HMAX / 8) ? makeKernel(ctx, sample, 'generate1', { HMAX, WGR: HMAX / 8 }) : undefined,
    reference:
      p.kernels === 'reference'
        ? all({
            forward_recurrence: makeKernel(ctx, rnn_forward, 'forward_recurrence', sizes),
            output_softmax: makeKernel(ctx, rnn_forward, 'output_softmax', sizes),
            output_backprop: makeKernel(ctx, rnn_backward, 'output_backprop', sizes),
            backward_recurrence: makeKernel(ctx, rnn_backward, 'backward_recurrence', sizes),
            grad_reduce: makeKernel(ctx, rnn_backward, 'grad_reduce', { ...sizes, ...offsets, TOTAL: lay.total }),
          })
        : undefined,
    tiled:
      p.kernels === 'tiled'
        ? all({
            persistent: p.persistent
              ? all({ forward: makeKernel(ctx, recurrence, fwd, sweep), backward: makeKernel(ctx, recurrence, bwd, sweep), streams: p.streams })
              : undefined,
            step: p.step
              ? all({
                  forward: makeKernel(ctx, recurrence, 'forward_step', wg),
                  dtanh: makeKernel(ctx, recurrence, 'backward_dtanh_step', wg),
                  dnext: makeKernel(ctx, recurrence, 'backward_dnext_step', wg),
                })
              : undefined,
            matmul: makeKernel(ctx, matmul, 'matmul', wg),
            matmul8: makeKernel(ctx, matmul, 'matmul8', wg),
            softmax_xent: makeKernel(ctx, output, 'softmax_xent', wg),
            dW_xh: makeKernel(ctx, output, H % 4 === 0 ? 'dW_xh_sorted' : 'dW_xh_sorted1', wg),
            bias_grads: makeKernel(ctx, output, 'bias_grads', wg),
          })
        : undefined,
  });
}
