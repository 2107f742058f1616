import { GpuError } from '../errors.js';
import { CELLS, type StepShape, modelOf } from '../model.js';
import type { GpuContext } from './context.js';
import { workgroupFits } from './limits.js';
import type { ScheduleCache, ScheduleMeasurement } from './measure.js';

// How the engine's kernels (cells.ts) run a model's training step and generation on an adapter:
// one function of the adapter's limits, the cell, L, H, B and T (chooseSchedule), which always
// finds a schedule that fits (the reference sweeps fit any H), and the engine's options that
// force one (the tests force each).

export interface GpuEngineOptions {
  /** Time every kernel with timestamp queries (each step then waits for its timings). */
  profile?: boolean;
  /** Positions whose losses evaluate() gathers on the GPU per readback (default 4M, 16 MiB). */
  evaluateBlock?: number;
  /** The model's dropout probability (TrainConfig.dropout, default 0), which each step's
   * StepOptions.dropout then applies: above 0 the engine builds the dropout kernels. */
  dropout?: number;
  /** Every gradient of a step in one dispatch (shaders/grads.wgsl) instead of one product or
   * sum per tensor: default below SMALL_STEP multiply-adds (smallStep). The tests force both. */
  smallStep?: boolean;
  /** The recurrent schedule: 'measure' the fastest of those that fit, timed on this adapter
   * the first time a shape is met (src/gpu/measure.ts; 'auto' below MEASURE_FROM); 'auto'
   * (default) the persistent sweeps of
   * shaders/cells_persistent.wgsl (one stream with units in the vec4 lanes for B = 1 and
   * H % 4 == 0, else eight or four streams per workgroup) where their workgroup memory fits,
   * else the reference sweeps of shaders/cells.wgsl (one workgroup per stream). The tests
   * force each, and 'steps' and 'grid'; one that does not fit the shape or the adapter is an
   * error. */
  cellSweeps?: Recurrence;
  /** Where 'measure' keeps and finds its measurements (none: it measures every time). */
  scheduleCache?: ScheduleCache;
  /** The workgroups of the grid sweeps (default: as many as run at once, src/gpu/residency.ts,
   * at most H / GRID_MIN_UNITS). More than run at once makes their waits run out and the
   * repair finish the step (the tests force that). */
  gridWorkgroups?: number;
  /** Generation of one stream where H % 4 == 0: 'steps' one dispatch per layer and character
   * over many workgroups, then one for the logits and the draw (generate_step,
   * generate_step_out); 'persistent' one workgroup looping over all characters
   * (generate_sweep1). Default: by size (ONE_STREAM_STEPS_ABOVE, measured on lavapipe), on
   * every adapter: no choice is made by the adapter's name. The tests force each. */
  oneStream?: 'steps' | 'persistent';
}

/** The recurrent schedules (src/gpu/cells.ts): the persistent sweeps of 1, 4 or 8 streams per
 * workgroup, the reference sweeps (one workgroup per stream), or 'steps': one dispatch per
 * layer and timestep over the whole adapter (shaders/cells_steps.wgsl). */
export type CellSweeps = 'streams1' | 'streams4' | 'streams8' | 'reference' | 'steps' | 'grid';

/** What GpuEngineOptions.cellSweeps (the CLI's --recurrence) takes. */
export type Recurrence = CellSweeps | 'auto' | 'measure';

/** Every schedule, in the order the tests and the measurement try them. */
export const CELL_SWEEPS: readonly CellSweeps[] = ['streams1', 'streams4', 'streams8', 'reference', 'steps', 'grid'];

/** Bytes of workgroup memory the grid sweeps stage each timestep's vectors in at most (the
 * portable default limit), unless one stream's dLoss/d ah needs more. */
export const GRID_STAGE_BYTES = 16384;

/** Words of workgroup memory of the grid sweeps (GW of shaders/cells_grid.wgsl): G*H per stream
 * (backward stages dLoss/d ah_{t+1}; forward stages h_{t-1}, H per stream, G times as many
 * streams), for as many streams as fit GRID_STAGE_BYTES, at least one. */
export function gridWords(s: StepShape): number {
  const GH = CELLS[modelOf(s).cell].gates * s.H;
  return Math.max(1, Math.min(s.B, Math.floor(GRID_STAGE_BYTES / (4 * GH)))) * GH;
}

/** Units per workgroup of the grid sweeps at least (fewer workgroups where H is small). */
export const GRID_MIN_UNITS = 8;

/** Streams per workgroup tile of forward_step and backward_step (BT of shaders/cells_steps.wgsl):
 * the power of two at most B, at most 8, so that a tile of WG invocations covers WG/BT units. */
export function stepTileStreams(B: number): number {
  return Math.min(8, 2 ** Math.floor(Math.log2(B)));
}

/** Workgroup-array size of the persistent kernels for H: a power of two >= H, at least 64. */
export function hmaxOf(H: number): number {
  return Math.max(64, 2 ** Math.ceil(Math.log2(H)));
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

/** The sweeps of a step, in words (`detail`), why ('' where nothing needs saying), and both as
 * the engine reports them (`reason`: "<detail> (<why>)"). */
export interface GpuSchedule {
  sweeps: CellSweeps;
  detail: string;
  sweepsWhy: string;
  reason: string;
  /** every gradient in one dispatch, and the output layer in another (smallStep) */
  smallStep: boolean;
  /** the measurement that chose the schedule (cellSweeps 'measure') */
  measured?: ScheduleMeasurement;
}

/** Multiply-adds per step of the model, T*B*H*(G*H*(2L-1) + V), below which a step computes
 * every gradient in one dispatch (shaders/grads.wgsl) and the output layer in another
 * (output_small) rather than one product per tensor: there the number of dispatches decides
 * the speed (on lavapipe some 25-40 us each; the tutorial's "hello" 1000 steps 0.27 -> 0.18 s). */
export const SMALL_STEP = 1 << 16;

/** Every gradient in one dispatch (grads_small): as asked (options.smallStep), else below
 * SMALL_STEP; never with dropout (it reads the layers' outputs from hs) nor for a cell with an
 * extra bias above one layer (its dah is kept one layer at a time). */
export function smallStep(s: StepShape, options: GpuEngineOptions = {}): boolean {
  const { cell, layers: L } = modelOf(s);
  const G = CELLS[cell].gates;
  const possible = (options.dropout ?? 0) === 0 && (L === 1 || !CELLS[cell].extraBias);
  if (options.smallStep && !possible)
    throw new GpuError(`Every gradient in one dispatch (smallStep) needs a model without dropout${CELLS[cell].extraBias ? ` and, for the ${cell}, one layer` : ''}. Leave smallStep unset.`);
  return options.smallStep ?? (possible && s.T * s.B * s.H * (G * s.H * (2 * L - 1) + s.V) < SMALL_STEP);
}

/** Streams per workgroup of each persistent sweep of shaders/cells_persistent.wgsl. */
export const SWEEP_STREAMS = { streams1: 1, streams4: 4, streams8: 8 } as const;
type Persistent = keyof typeof SWEEP_STREAMS;

/** Units per invocation of forward_sweepN and generate_sweepN (shaders/cells_persistent.wgsl):
 * eight rows of W_hh each, G rows per unit. */
export function unitsPerInvocation(G: number): number {
  return Math.max(1, Math.floor(8 / G));
}

/** Workgroup memory of a persistent sweep, the larger of its forward and backward: h_{t-1}
 * and h_t (two halves), dah_t (G rows per unit); vec4 per unit and set of four streams, or f32
 * per unit for one stream. */
export function sweepBytes(sweeps: Persistent, s: StepShape): number {
  const HMAX = hmaxOf(s.H);
  const G = CELLS[modelOf(s).cell].gates;
  const perUnit = sweeps === 'streams1' ? 4 : 16 * (SWEEP_STREAMS[sweeps] / 4);
  return perUnit * HMAX * Math.max(2, G);
}

/** Invocations per workgroup of a persistent sweep, the larger of its forward and backward
 * (WQ = HMAX/8 for one stream; WGF = HMAX/UF and WGB = HMAX/8 for more). */
function sweepInvocations(sweeps: Persistent, s: StepShape): number {
  const HMAX = hmaxOf(s.H);
  return sweeps === 'streams1' ? HMAX / 8 : HMAX / unitsPerInvocation(CELLS[modelOf(s).cell].gates);
}

/** Streams from which 'auto' picks the four-stream sweeps over the reference (B = 2: half
 * the lanes of one workgroup idle where the reference runs two), and above which it picks
 * the eight-stream ones. */
export const STREAMS4_FROM_B = 3;
export const STREAMS8_ABOVE_B = 4;

const sweepWords = (v: CellSweeps) =>
  v === 'reference' ? 'reference sweeps, one workgroup per stream'
  : v === 'steps' ? 'one dispatch per layer and timestep over the whole adapter'
  : v === 'grid' ? 'grid-persistent sweeps, the units split over workgroups that run at once'
  : v === 'streams1' ? 'persistent sweep of one stream, units in the vec4 lanes'
  : `persistent sweeps, ${SWEEP_STREAMS[v]} streams per workgroup`;

/** The schedule of a model on an adapter with these limits, in words and why: the persistent
 * sweeps where they fit and pay, else the reference sweeps (one workgroup of WG invocations per
 * stream, no workgroup array: any H), so always one that fits; a forced one the adapter cannot
 * run is an error naming the option. */
export function chooseSchedule(limits: GPUSupportedLimits, s: StepShape, options: GpuEngineOptions = {}, measured?: ScheduleMeasurement): GpuSchedule {
  const have = limits.maxComputeWorkgroupStorageSize;
  const asked = measured ? measured.pick : options.cellSweeps === 'measure' ? 'auto' : options.cellSweeps ?? 'auto';
  const fits = (v: Persistent) =>
    workgroupFits(limits, sweepBytes(v, s), sweepInvocations(v, s)) && (v !== 'streams1' || (s.B === 1 && s.H % 4 === 0));
  const small = smallStep(s, options);
  const out = (sweeps: CellSweeps, why: string) =>
    ({ sweeps, detail: sweepWords(sweeps), sweepsWhy: why, reason: `${sweepWords(sweeps)}${why ? ` (${why})` : ''}`, smallStep: small });
  if (asked !== 'auto') {
    if (asked === 'grid' && 4 * gridWords(s) > have)
      throw new GpuError(
        `The grid-persistent sweeps stage one stream's G*H = ${gridWords(s)} words in workgroup memory (${4 * gridWords(s)} bytes); this adapter offers ${have} bytes. ` +
          `Use a smaller --hidden or another schedule (--recurrence).`,
      );
    if (asked !== 'reference' && asked !== 'steps' && asked !== 'grid' && !fits(asked))
      throw new GpuError(
        `The ${sweepWords(asked)} do not fit B=${s.B}, H=${s.H} on this adapter (they need ${sweepBytes(asked, s)} bytes of workgroup memory and ` +
          `${sweepInvocations(asked, s)} invocations, it offers ${have} and ${limits.maxComputeInvocationsPerWorkgroup}` +
          `${asked === 'streams1' ? '; and B = 1 with H a multiple of 4' : ''}). Use cellSweeps 'auto' or 'reference'.`,
      );
    return measured ? { ...out(asked, `the fastest measured here: ${measurementWords(measured)}`), measured } : out(asked, 'asked');
  }
  const pick: Persistent | undefined =
    s.B === 1 && fits('streams1') ? 'streams1'
    : s.B > STREAMS8_ABOVE_B && fits('streams8') ? 'streams8'
    : s.B >= STREAMS4_FROM_B && fits('streams4') ? 'streams4'
    : undefined;
  if (pick) return out(pick, '');
  const why = s.B < STREAMS4_FROM_B && !(s.B === 1 && s.H % 4 === 0)
    ? `B=${s.B}${s.B === 1 ? ` and H=${s.H} not a multiple of 4` : ''}: the persistent sweeps would leave lanes idle`
    : `the persistent sweeps need ${sweepBytes('streams4', s)} bytes of workgroup memory and ${sweepInvocations('streams4', s)} invocations, ` +
      `the adapter offers ${have} and ${limits.maxComputeInvocationsPerWorkgroup}`;
  return out('reference', why);
}

/** Workgroups of generate_step: this many unit quads each (one SIMD register of lanes on
 * lavapipe, so that H=256 spreads over eight workgroups). */
export const STEP_QUADS = 8;

/** Multiply-adds per character of one stream's recurrent products, G*H*H*(2L-1), above which
 * one stream is generated by steps (many workgroups) rather than in one workgroup: on lavapipe
 * that is faster by steps (many workgroups over its cores) than in one workgroup
 * (measured: rnn H=256, 65k: 9.8k chars/s in one workgroup, 7.9k by steps; LSTM H=256, 262k:
 * 2.9k and 4.1k; rnn of 2 layers H=512, 786k: 1.0k and 1.2k). */
export const ONE_STREAM_STEPS_ABOVE = 1 << 17;

/** How the engine generates one stream where H % 4 == 0 (see GpuEngineOptions.oneStream):
 * as asked; by steps where generate_sweep1 does not fit or above ONE_STREAM_STEPS_ABOVE; else
 * in one workgroup. Undefined where H % 4 != 0 (generate_sweep runs). */
export function chooseOneStream(ctx: GpuContext, s: StepShape, options: GpuEngineOptions): 'steps' | 'persistent' | undefined {
  if (options.oneStream === 'steps' && s.H % 4 !== 0)
    throw new GpuError(`Generation of one stream by steps needs H a multiple of 4 (H=${s.H}). Use oneStream 'persistent' or leave it unset.`);
  if (s.H % 4 !== 0) return undefined;
  const loopFits = generationFits(ctx.device.limits, s).one;
  if (options.oneStream === 'persistent' && !loopFits)
    throw new GpuError(`Generation of one stream by one workgroup (generate_sweep1) does not fit H=${s.H} on this adapter. Use oneStream 'steps' or leave it unset.`);
  const { cell, layers } = modelOf(s);
  const perChar = CELLS[cell].gates * s.H * s.H * (2 * layers - 1);
  return options.oneStream ?? (perChar > ONE_STREAM_STEPS_ABOVE || !loopFits ? 'steps' : 'persistent');
}

/** Which generation kernels of shaders/cells_generate.wgsl fit: generate_sweepN with `sets`
 * vec4 sets of four streams per workgroup (two vec4 arrays of SETS*HMAX, 8 u32; HMAX/UF
 * invocations): 2 where that fits, else 1, else 0 (none); generate_sweep1 (one stream: two f32
 * arrays of HMAX, one u32; HMAX/8 invocations). generate_sweep (one workgroup of WG per stream)
 * and generate_step fit any H. */
export function generationFits(limits: GPUSupportedLimits, s: StepShape): { sets: 0 | 1 | 2; one: boolean } {
  const HMAX = hmaxOf(s.H);
  const G = CELLS[modelOf(s).cell].gates;
  const fits = (sets: number) => workgroupFits(limits, 32 * sets * HMAX + 32, HMAX / unitsPerInvocation(G));
  return { sets: fits(2) ? 2 : fits(1) ? 1 : 0, one: workgroupFits(limits, 8 * HMAX + 4, HMAX / 8) };
}

/** A measurement in words: "streams1 13.2 ms, steps 25.1 ms, ...". */
export function measurementWords(m: ScheduleMeasurement): string {
  return m.times.map((t) => `${t.sweeps} ${t.msPerStep.toFixed(1)} ms`).join(', ');
}
