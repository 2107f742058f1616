import { type Comparison, compare, GPU_TOLERANCE, SPREAD_MULTIPLE, type Tolerance } from './compare.js';
import { type TrainConfig, optimizerOf } from './config.js';
import { CpuEngine } from './cpu/engine.js';
import { localCells } from './cpu/localCells.js';
import { type Activations, type Batch, type Dropout, type Engine, type EngineState } from './engine.js';
import { BatchCursor, planBatches } from './data.js';
import type { GpuContext } from './gpu/context.js';
import { GpuEngine, type GpuEngineOptions } from './gpu/engine.js';
import { initParams } from './init.js';
import { type Params, type StepShape, isTutorialModel, modelOf, paramNames, toFloat64 } from './model.js';
import { randU32 } from './rng.js';

// GPU vs CPU on the same initial weights and text, in two ways. Backs `char-rnn check`, the
// page's comparison panel and the tests.
//
// - Local step: the GPU runs the first step's forward and backward pass; the CPU recomputes
//   every timestep from the GPU's own values at the step before (src/cpu/localCells.ts), one
//   layer and timestep at a time: each layer's h_t (c_t) from the
//   GPU's h_{t-1} (c_{t-1}) and input (x_t, or the GPU's h_t of the layer below times the same
//   dropout mask), dpre_t from the GPU's dpre of the layer above and of t+1, every gradient
//   from the GPU's per-position values; rows per layer (`hs.1`, `dpre.0`). After the training
//   steps, the last update from the GPU's weights, optimizer state and gradients before it. The
//   tolerance bounds one step's float32 rounding, whatever T and however chaotic the
//   recurrence: this measures the kernels.
// - Trajectory: both engines run the whole first step and then `steps` training steps on their
//   own. A chaotic recurrence (spectral radius of W_hh above 1) amplifies any rounding
//   difference exponentially in t, so the drift max|gpu - cpu| is judged against the CPU's own
//   sensitivity: the spread max|cpu' - cpu| of a second CPU run from weights nudged by one
//   float32 ulp. A row passes within its tolerance, or when drift <= SPREAD_MULTIPLE * spread.

export type CheckKind = 'local step' | 'trajectory';

export interface CheckRow extends Comparison {
  kind: CheckKind;
  /** what rtol multiplies: the value (|want|), or, for a recomputed sum, the sum of its terms'
   * absolute values (dtanh and the gradients in the local comparison) */
  rtolOf: 'value' | 'terms';
  /** trajectory rows: max |cpu' - cpu|, cpu' the CPU run from weights one float32 ulp away */
  spread?: number;
  /** trajectory rows: max|gpu - cpu| / spread */
  ratio?: number;
  /** trajectory rows: passed by drift <= SPREAD_MULTIPLE * spread, not by the tolerance */
  bySpread?: boolean;
}

export interface CheckReport {
  ok: boolean;
  tensors: CheckRow[];
  /** loss of each training step: GPU, CPU, and the CPU from nudged weights */
  loss: { cpu: number[]; gpu: number[]; nudged: number[] };
  /** the multiple of the float64 spread a trajectory's drift may reach */
  spreadMultiple: number;
  /** the GPU engine's recurrent schedule, in words (and why) */
  schedule: string;
}

export interface CheckOptions {
  /** weights both engines start from (default: initParams with cfg.seed and cfg.initScale) */
  start?: Params;
  /** the GPU engine's options (the tests force its sweeps) */
  gpu?: GpuEngineOptions;
  /** the weights uploaded to the GPU engine, if not `start` (the tests plant a fault here) */
  upload?: Params;
  /** false: the local comparison only (no trajectories, no training steps). Default true. */
  trajectory?: boolean;
}

export async function runCheck(ctx: GpuContext, data: Uint32Array, V: number, cfg: TrainConfig, o: CheckOptions = {}): Promise<CheckReport> {
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen);
  const shape: StepShape = { V, H: cfg.hidden, B: plan.B, T: plan.T, cell: cfg.cell, layers: cfg.layers };
  const p0 = o.start ?? initParams(shape, cfg.seed, cfg.initScale);
  const opt = optimizerOf(cfg);
  const dropout = (step: number): Dropout | undefined => (cfg.dropout > 0 ? { p: cfg.dropout, seed: cfg.seed, step } : undefined);
  const gpu = await GpuEngine.create(ctx, shape, opt, o.upload ?? p0, undefined, { dropout: cfg.dropout, ...o.gpu });
  const report: CheckReport = { ok: false, tensors: [], loss: { cpu: [], gpu: [], nudged: [] }, spreadMultiple: SPREAD_MULTIPLE, schedule: gpu.schedule.reason };
  try {
    const first = new BatchCursor(data, plan);
    first.next();
    const gpuLoss = await gpu.forwardBackward(first.batch, { reset: true, dropout: dropout(0) });
    const got = { ...(await gpu.inspect()), loss: gpuLoss };
    report.tensors.push(...cellRows(p0, shape, first.batch, got, dropout(0)));
    if (o.trajectory ?? true) {
      const cpu = new CpuEngine(shape, opt, p0);
      const nudged = new CpuEngine(shape, opt, nudge(p0, cfg.seed, shape));
      report.tensors.push(...(await firstStepRows(first.batch, got, cpu, nudged, dropout(0))));
      report.tensors.push(...(await trainingRows(data, plan, cfg.steps, [gpu, cpu, nudged], report.loss, dropout)));
    }
  } finally {
    gpu.destroy();
  }
  report.ok = report.tensors.every((t) => t.ok);
  return report;
}

const localRow = (name: string, g: ArrayLike<number>, w: ArrayLike<number>, tol: Tolerance, scale?: ArrayLike<number>): CheckRow =>
  ({ ...compare(name, g, w, tol, scale), kind: 'local step', rtolOf: scale ? 'terms' : 'value' });

/** The name of layer l's part of a per-layer tensor: `hs.1`; the one-layer tanh RNN keeps the
 * tutorial's names (`hs`, and `dtanh` for its dpre). */
function layerName(s: StepShape, name: string, l: number): string {
  const m = modelOf(s);
  if (isTutorialModel(m)) return name === 'dpre' ? 'dtanh' : name;
  return `${name}.${l}`;
}

/** Layer l's part of a layer-major tensor of L equal parts. */
function part(a: ArrayLike<number> & { subarray(b: number, e: number): ArrayLike<number> }, l: number, L: number) {
  const n = a.length / L;
  return a.subarray(l * n, (l + 1) * n);
}

/** The local comparison of any cell, depth and dropout (src/cpu/localCells.ts), per layer. */
function cellRows(p: Params, s: StepShape, batch: Batch, got: Activations, dropout: Dropout | undefined): CheckRow[] {
  const m = modelOf(s);
  const want = localCells(p, { ...m, B: s.B, T: s.T }, batch, got, dropout);
  const layers = [...Array(m.layers).keys()];
  return [
    ...layers.map((l) => localRow(layerName(s, 'hs', l), part(got.hs, l, m.layers), want.hs[l], GPU_TOLERANCE.hs)),
    ...(got.cs ? layers.map((l) => localRow(layerName(s, 'cs', l), part(got.cs!, l, m.layers), want.cs[l], GPU_TOLERANCE.hs)) : []),
    localRow('ps', got.ps, want.ps, GPU_TOLERANCE.ps),
    localRow('loss', [got.loss], [want.loss], GPU_TOLERANCE.loss),
    ...layers.map((l) => localRow(layerName(s, 'dpre', l), part(got.dpre!, l, m.layers), want.dpre[l], GPU_TOLERANCE.sums, want.dpreScale[l])),
    ...paramNames(s).map((k) => localRow(`d${k}`, got.grads[k], want.grads[k], GPU_TOLERANCE.sums, want.scale[k])),
  ];
}

/** A whole-trajectory comparison, judged against the float64 spread (see the top of this file). */
export function trajectoryRow(name: string, got: ArrayLike<number>, want: ArrayLike<number>, nudged: ArrayLike<number>, tol: Tolerance): CheckRow {
  const c = compare(name, got, want, tol);
  let spread = 0;
  for (let i = 0; i < want.length; i++) spread = Math.max(spread, Math.abs(nudged[i] - want[i]));
  const ratio = c.maxAbs === 0 ? 0 : c.maxAbs / spread;
  const bySpread = !c.ok && ratio <= SPREAD_MULTIPLE;
  return { ...c, kind: 'trajectory', rtolOf: 'value', spread, ratio, bySpread, ok: c.ok || bySpread };
}

/** Hidden (and cell) states of every layer, probabilities and gradients of the first step,
 * each engine on its own. */
async function firstStepRows(batch: Batch, got: Activations, cpu: CpuEngine, nudged: CpuEngine, dropout: Dropout | undefined): Promise<CheckRow[]> {
  await cpu.forwardBackward(batch, { reset: true, dropout });
  await nudged.forwardBackward(batch, { reset: true, dropout });
  const [a, n] = [await cpu.inspect(), await nudged.inspect()];
  const s = cpu.shape;
  const L = modelOf(s).layers;
  const states = (k: 'hs' | 'cs') =>
    got[k] ? [...Array(L).keys()].map((l) => trajectoryRow(`${layerName(s, k, l)} (step 0)`, part(got[k]!, l, L), part(a[k]!, l, L), part(n[k]!, l, L), GPU_TOLERANCE.hs)) : [];
  return [
    ...states('hs'),
    ...states('cs'),
    trajectoryRow('ps (step 0)', got.ps, a.ps, n.ps, GPU_TOLERANCE.ps),
    ...paramNames(s).map((k) => trajectoryRow(`d${k} (step 0)`, got.grads[k], a.grads[k], n.grads[k], GPU_TOLERANCE.grads)),
  ];
}

/** `steps` training steps on each engine (GPU, CPU, CPU from nudged weights): the loss of every
 * step, every parameter at the end; and the last GPU step's update recomputed on the CPU from
 * the GPU's own weights, optimizer state and gradients (a local step of the optimizer). */
async function trainingRows(
  data: Uint32Array, plan: ReturnType<typeof planBatches>, steps: number,
  [gpu, cpu, nudged]: [GpuEngine, CpuEngine, CpuEngine], loss: CheckReport['loss'], dropout: (step: number) => Dropout | undefined,
): Promise<CheckRow[]> {
  if (steps === 0) return [];
  let before: EngineState | undefined;
  const engines: [Engine, number[]][] = [[gpu, loss.gpu], [cpu, loss.cpu], [nudged, loss.nudged]];
  for (const [e, out] of engines) {
    const cursor = new BatchCursor(data, plan);
    for (let s = 0; s < steps; s++) {
      const reset = cursor.next();
      if (e === gpu && s === steps - 1) before = await gpu.getState();
      out.push((await e.step(cursor.batch, { reset, wantLoss: true, dropout: dropout(s) }))!);
    }
  }
  const [pg, pc, pn] = [await gpu.getParams(), await cpu.getParams(), await nudged.getParams()];
  const update = new CpuEngine(gpu.shape, gpu.optimizer, before!.params);
  update.setState(before!);
  update.applyGradients((await gpu.inspect()).grads); // the gradients of the GPU's last step
  const pu = await update.getParams();
  const names = paramNames(gpu.shape);
  return [
    ...names.map((k): CheckRow => ({ ...compare(`${k} (update ${steps})`, pg[k], pu[k], GPU_TOLERANCE.update), kind: 'local step', rtolOf: 'value' })),
    trajectoryRow(`loss (${steps} steps)`, loss.gpu, loss.cpu, loss.nudged, GPU_TOLERANCE.loss),
    ...names.map((k) => trajectoryRow(`${k} (after ${steps} steps)`, pg[k], pc[k], pn[k], GPU_TOLERANCE.params)),
  ];
}

/** The weights moved by one float32 ulp each, up or down by a seeded coin (counter stream
 * 1000 + k of the seed for tensor k of the model's table). */
export function nudge(p: Params, seed: number, shape: StepShape): Params<Float64Array> {
  const out = toFloat64(p);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  paramNames(shape).forEach((k, stream) => {
    const w = out[k];
    for (let n = 0; n < w.length; n++) {
      f[0] = Math.abs(w[n]);
      const a = f[0];
      u[0]++;
      const ulp = f[0] - a;
      w[n] += randU32(seed, 1000 + stream, n) & 1 ? ulp : -ulp;
    }
  });
  return out;
}
