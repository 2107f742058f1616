import { CELLS, type Layout, type StepShape, modelOf } from '../model.js';
import type { GpuContext } from './context.js';
import { cells, grads, loss, matmul, optimizer, output } from './families.js';
import { type KernelOf, WG, makeKernel } from './kernel.js';
import { residentWorkgroups } from './residency.js';
import {
  type CellSweeps, type GpuEngineOptions, type GpuSchedule, GRID_MIN_UNITS, STEP_QUADS, chooseOneStream, generationFits, gridWords, hmaxOf,
  stepTileStreams, unitsPerInvocation,
} from './schedule.js';

// The kernels of a model's training step and generation, compiled once per device and
// constants (makeKernel caches them), by their role: src/gpu/cells.ts records the step's ops
// from them, src/gpu/generation.ts the sampler's.

type CellsFamily = ReturnType<typeof cells>;

/** The kernels of a step and of generation, by role. */
export interface CellKernels {
  /** which sweeps forward_sweep and backward_sweep are ('steps': forward_step and
   * backward_step, dispatched once per layer and timestep) */
  sweeps: CellSweeps;
  /** absent for the grid sweeps (grid.forward) */
  forward_sweep?: KernelOf<CellsFamily, 'forward_sweep'>;
  backward_sweep: KernelOf<CellsFamily, 'backward_sweep'>;
  /** the grid sweeps: forward_grid (backward_grid is backward_sweep), the sentinel fills of
   * what they exchange, and how many workgroups run them */
  grid?: {
    forward: KernelOf<CellsFamily, 'forward_grid'>;
    fillH: KernelOf<CellsFamily, 'grid_fill_h'>;
    fillX: KernelOf<CellsFamily, 'grid_fill_x'>;
    workgroups: number;
  };
  transpose_hh: KernelOf<CellsFamily, 'transpose_hh'>;
  /** the dropout kernels, where the engine has dropout */
  drop?: { forward: KernelOf<CellsFamily, 'drop_forward'>; backward: KernelOf<CellsFamily, 'drop_backward'> };
  /** generate_sweepN of shaders/cells_generate.wgsl (eight or four streams per workgroup) where
   * its workgroup memory fits, else generate_sweep (one workgroup per stream) */
  generate_sweep: KernelOf<CellsFamily, 'generate_sweep'>;
  generateStreams: 1 | 4 | 8;
  /** generate_sweep1 (one stream, units in the vec4 lanes) where H % 4 == 0 */
  generate_one?: KernelOf<CellsFamily, 'generate_sweep'>;
  /** generate_step (per layer and character) and generate_step_out (logits and draw), one
   * stream, where H % 4 == 0 */
  generate_step?: { layer: KernelOf<CellsFamily, 'generate_sweep'>; out: KernelOf<CellsFamily, 'generate_sweep'> };
  matmul: KernelOf<typeof matmul, 'matmul'>;
  matmul8: KernelOf<typeof matmul, 'matmul8'>;
  col_sum: KernelOf<typeof matmul, 'col_sum'>;
  /** a small step (schedule.ts smallStep): every gradient in one dispatch, and the output layer */
  small?: { grads: KernelOf<typeof grads, 'grads_small'>; output: KernelOf<typeof output, 'output_small'> };
  softmax_xent: KernelOf<typeof output, 'softmax_xent'>;
  dW_xh: KernelOf<typeof output, 'dW_xh_sorted4'>;
  update: KernelOf<typeof optimizer, 'update'>;
  grad_norm: KernelOf<typeof optimizer, 'grad_norm_reduce'>;
  loss_mean: KernelOf<typeof loss, 'loss_mean'>;
}

/** Compiles (or finds in the device's cache) the kernels of the schedule (chooseSchedule of
 * schedule.ts), and the generation kernels that fit (generationFits). */
export async function compileCellKernels(
  ctx: GpuContext, shape: StepShape, lay: Layout, schedule: GpuSchedule, options: GpuEngineOptions = {},
): Promise<CellKernels> {
  const m = modelOf(shape);
  const f = cells(m.cell);
  const GH = CELLS[m.cell].gates * shape.H;
  const wg = { WG };
  const { sweeps, smallStep: small } = schedule;
  const dropout = (options.dropout ?? 0) > 0;
  const HMAX = hmaxOf(shape.H);
  const G = CELLS[m.cell].gates;
  // invocations per workgroup: UF, UB units or QP quads each (shaders/cells_persistent.wgsl)
  const UF = unitsPerInvocation(G);
  const sets = { HMAX, SETS: sweeps === 'streams8' ? 2 : 1 };
  const GW = { WG, GW: gridWords(shape) };
  const [forward, backward]: [Promise<CellKernels['forward_sweep']>, Promise<CellKernels['backward_sweep']>] =
    sweeps === 'grid' ? [Promise.resolve(undefined), makeKernel(ctx, f, 'backward_grid', GW)]
    : sweeps === 'reference' ? [makeKernel(ctx, f, 'forward_sweep', wg), makeKernel(ctx, f, 'backward_sweep', wg)]
    : sweeps === 'steps' ? [makeKernel(ctx, f, 'forward_step', { WG, BT: stepTileStreams(shape.B) }), makeKernel(ctx, f, 'backward_step', { WG, BT: stepTileStreams(shape.B) })]
    : sweeps === 'streams1' ? [makeKernel(ctx, f, 'forward_sweep1', { HMAX, WQ: HMAX / 8 }), makeKernel(ctx, f, 'backward_sweep1', { HMAX, WQ: HMAX / 8 })]
    : [makeKernel(ctx, f, 'forward_sweepN', { ...sets, WGF: HMAX / UF }), makeKernel(ctx, f, 'backward_sweepN', { ...sets, WGB: HMAX / 8 })];
  const genSets = generationFits(ctx.device.limits, shape).sets;
  const oneStream = chooseOneStream(ctx, shape, options);
  const kernel = <E extends keyof CellsFamily['entries'] & string>(entry: E, c: Record<string, number> = wg) => makeKernel(ctx, f, entry, c);
  const both = <A, B>(a: Promise<A>, b: Promise<B>) => Promise.all([a, b]);
  // every pipeline compiles at once, each by its role (no list to keep in step with a destructuring)
  return all({
    sweeps, forward_sweep: forward, backward_sweep: backward,
    grid: sweeps === 'grid'
      ? all({
          forward: makeKernel(ctx, f, 'forward_grid', GW), fillH: kernel('grid_fill_h'), fillX: kernel('grid_fill_x'),
          workgroups: options.gridWorkgroups ?? residentWorkgroups(ctx, WG, 4 * GW.GW).then((n) => Math.min(n, Math.ceil(shape.H / GRID_MIN_UNITS))),
        })
      : undefined,
    transpose_hh: kernel('transpose_hh'),
    drop: dropout ? both(kernel('drop_forward'), kernel('drop_backward')).then(([forward, backward]) => ({ forward, backward })) : undefined,
    generate_sweep: genSets ? kernel('generate_sweepN', { HMAX, WGF: HMAX / UF, SETS: genSets }) : kernel('generate_sweep'),
    generateStreams: (genSets ? 4 * genSets : 1) as 1 | 4 | 8,
    generate_one: oneStream === 'persistent' ? kernel('generate_sweep1', { HMAX, WQ: HMAX / 8 }) : undefined,
    generate_step: oneStream === 'steps'
      ? both(kernel('generate_step', { WGS: STEP_QUADS }), kernel('generate_step_out')).then(([layer, out]) => ({ layer, out })) : undefined,
    matmul: makeKernel(ctx, matmul, 'matmul', wg),
    matmul8: makeKernel(ctx, matmul, 'matmul8', wg),
    col_sum: makeKernel(ctx, matmul, 'col_sum', wg),
    small: small ? both(makeKernel(ctx, grads, 'grads_small', wg), makeKernel(ctx, output, 'output_small', wg)).then(([g, o]) => ({ grads: g, output: o })) : undefined,
    softmax_xent: makeKernel(ctx, output, 'softmax_xent', wg),
    dW_xh: makeKernel(ctx, output, GH % 4 === 0 ? 'dW_xh_sorted4' : 'dW_xh_sorted', wg),
    update: makeKernel(ctx, optimizer, 'update', { TOTAL: lay.total, WG }),
    grad_norm: makeKernel(ctx, optimizer, 'grad_norm_reduce', { TOTAL: lay.total }),
    loss_mean: makeKernel(ctx, loss, 'loss_mean', { N: shape.T * shape.B }),
  });
}

/** Awaits every promise of a record at once (other values pass through). */
async function all<T extends Record<string, unknown>>(o: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const entries = await Promise.all(Object.entries(o).map(async ([key, v]) => [key, await v] as const));
  return Object.fromEntries(entries) as { [K in keyof T]: Awaited<T[K]> };
}
