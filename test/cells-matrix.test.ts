import { describe, expect, test, vi } from 'vitest';
import { type CheckReport, runCheck } from '../src/check.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../src/config.js';
import { BatchCursor, planBatches } from '../src/data.js';
import { GpuEngine } from '../src/gpu/engine.js';
import type { CellSweeps } from '../src/gpu/schedule.js';
import { CELL_NAMES, CELLS, type CellName, type ModelDims, type Params, paramNames, paramTable } from '../src/model.js';
import { randomArray, useGpu } from './helpers.js';

// The layer kernels' whole matrix, each member by the local comparison of src/check.ts (every
// timestep of every layer recomputed in float64 from the GPU's own previous state, so a row's
// tolerance means the same at any size): cell (rnn, lstm, gru) x layers L = 1, 2, 3 x dropout
// 0, 0.3 x schedule (reference, streams4, streams8, streams1, steps, grid; forced, the one-layer rnn too) x H
// x B, with V = 11 and T = 4. H = 17, 37, 130 and B = 1, 3, 9 are multiples of no tile: lanes
// of a set of four or eight streams repeated, units past the first 64 of a workgroup. streams1
// runs only B = 1 with H % 4 == 0, so it takes H = 20, 36, 132 (multiples of 4, not of 8: a
// half-used quad pair) at B = 1. The dropout-0 member starts from W_xh.0 and b_h.0 in [-60, 60)
// (layer 0's pre-activations past |90|: saturated gates), the dropout-0.3 member from weights
// in [-0.3, 0.3). Every row of every member within its tolerance; one wrong weight on the GPU
// fails by many times it.
//
// The relu cell saturates nowhere: past |90| its states grow through the layers and timesteps
// into the thousands, the softmax's logits with them (p of the target 0 in float32, the loss
// infinite), and h = ax + ah keeps float32's rounding of those large sums (eps * sum|terms|),
// which the value-relative hs tolerance was never meant to cover. Its large member starts from
// W_xh.0 and b_h.0 in [-6, 6) instead: pre-activations of both signs up to about 12 (past 8,
// where a clamp or a tanh in its place would fail hs by far). Its other weights are uniform in
// [-s, s) with s = min(0.3, 1/sqrt(H)) (PyTorch's nn.RNN bound at H = 130): at 0.3 each layer
// and timestep multiplies the states by about 0.3 * sqrt(H/3), 2 at H = 130, and the target's
// p underflows to 0 in float32 again. So the states and logits stay finite, and the relu is
// held to the same tolerances as every other cell.

const gpu = useGpu();
/** The engine runCheck creates, to read back which sweeps ran and on which shape. */
const created = vi.spyOn(GpuEngine, 'create');

const V = 11;
const T = 4;
const SWEEPS: CellSweeps[] = ['reference', 'streams4', 'streams8', 'streams1', 'steps', 'grid'];
const HS = { any: [17, 37, 130], streams1: [20, 36, 132] };
const BS = { any: [1, 3, 9], streams1: [1] };
const LAYERS = [1, 2, 3];
const DROPOUTS = [0, 0.3];
const SCALE = 0.3;
const LARGE = 60;
/** The relu cell's large scale and the |pre-activation| its large members must reach (see the top). */
const RELU_LARGE = 6;
const largeOf = (cell: CellName) => (cell === 'relu' ? RELU_LARGE : LARGE);
const largePre = (cell: CellName) => (cell === 'relu' ? 8 : 90);
const scaleOf = (m: { cell: CellName; H: number }) => (m.cell === 'relu' ? Math.min(SCALE, 1 / Math.sqrt(m.H)) : SCALE);

/** The engine's words for forced sweeps (src/gpu/schedule.ts chooseSchedule). */
const SWEEPS_REASON: Record<CellSweeps, string> = {
  reference: 'reference sweeps, one workgroup per stream (asked)',
  streams1: 'persistent sweep of one stream, units in the vec4 lanes (asked)',
  streams4: 'persistent sweeps, 4 streams per workgroup (asked)',
  streams8: 'persistent sweeps, 8 streams per workgroup (asked)',
  steps: 'one dispatch per layer and timestep over the whole adapter (asked)',
  grid: 'grid-persistent sweeps, the units split over workgroups that run at once (asked)',
};

/** How many times its tolerance the planted fault's row must use at least. */
const FAULT_CAUGHT = 20;

interface Member {
  cell: CellName;
  layers: number;
  dropout: number;
  sweeps: CellSweeps;
  H: number;
  B: number;
}

const label = (m: Member) => `${m.cell} L=${m.layers} ${m.sweeps} H=${m.H} B=${m.B} dropout ${m.dropout}`;

/** Seeded character ids in [0, V): B streams of exactly T inputs and their targets. */
function randomText(n: number, seed: number): Uint32Array {
  return Uint32Array.from(randomArray(n, seed), (u) => Math.min(V - 1, Math.floor(((u + 1) / 2) * V)));
}

/** Uniform in [-scale, scale); `large`: W_xh.0 and b_h.0 in [-largeOf(cell), largeOf(cell)) (as
 * test/cells-gpu.test.ts: the pre-activation an exact gather and one addition in float32). */
function randomParams(m: ModelDims, seed: number, scale: number, large: boolean): Params<Float32Array> {
  const p: Params<Float32Array> = {};
  paramTable(m).forEach((t, i) => {
    const big = large && t.layer === 0 && (t.role === 'W_xh' || t.role === 'b_h');
    p[t.name] = randomArray(t.size, seed * 31 + i + 1, big ? largeOf(m.cell) : scale);
  });
  return p;
}

/** A distinct seed per member. */
const seedOf = (m: Member) =>
  1 + CELL_NAMES.indexOf(m.cell) + 3 * (m.layers + 4 * (DROPOUTS.indexOf(m.dropout) + 2 * (SWEEPS.indexOf(m.sweeps) + 4 * (m.H + 200 * m.B))));

/** The member's text, weights and configuration. */
function setup(m: Member) {
  const seed = seedOf(m);
  const data = randomText(m.B * T + 1, seed);
  const dims: ModelDims = { V, H: m.H, cell: m.cell, layers: m.layers };
  const start = randomParams(dims, seed, scaleOf(m), m.dropout === 0);
  const cfg: TrainConfig = {
    ...DEFAULT_CONFIG, cell: m.cell, layers: m.layers, dropout: m.dropout, hidden: m.H, batch: m.B, seqLen: T,
    optimizer: 'adam', lr: 0.002, clip: 0, steps: 0, seed,
  };
  return { data, dims, start, cfg };
}

/** Layer 0's largest |pre-activation| at t = 0 (h_0 = 0 after the reset): |b_h.0 + W_xh.0[:, x]|. */
function maxPre0(m: Member, p: Params, data: Uint32Array): number {
  const plan = planBatches(data.length, m.B, T);
  const cursor = new BatchCursor(data, plan);
  cursor.next();
  const [W, b] = ['W_xh', 'b_h'].map((role) => p[paramTable({ V, H: m.H, cell: m.cell, layers: m.layers }).find((t) => t.role === role && t.layer === 0)!.name]);
  let max = 0;
  for (let s = 0; s < m.B; s++)
    for (let r = 0; r < CELLS[m.cell].gates * m.H; r++) max = Math.max(max, Math.abs(b[r] + W[r * V + cursor.batch.inputs[s]]));
  return max;
}

/** The rows the local comparison of this model has, in order (src/check.ts cellRows). */
function rowNames(m: Member): string[] {
  const tutorial = m.cell === 'rnn' && m.layers === 1;
  const per = (name: string) => (tutorial ? [name === 'dpre' ? 'dtanh' : name] : Array.from({ length: m.layers }, (_, l) => `${name}.${l}`));
  return [...per('hs'), ...(CELLS[m.cell].cellState ? per('cs') : []), 'ps', 'loss', ...per('dpre'), ...paramNames({ V, H: m.H, cell: m.cell, layers: m.layers }).map((k) => `d${k}`)];
}

function summary(r: CheckReport, all = false): string {
  return r.tensors
    .filter((c) => all || !c.ok)
    .map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${(100 * c.used).toFixed(1)}% of tolerance, max|diff| ${c.maxAbs.toExponential(2)}, worst [${c.worst}] got ${c.got} want ${c.want}`)
    .join('\n');
}

/** One member: the local comparison on the GPU engine running the asked sweeps on the asked shape. */
async function check(m: Member, upload?: (p: Params<Float32Array>) => Params) {
  const { data, start, cfg } = setup(m);
  const plan = planBatches(data.length, m.B, T);
  expect([plan.B, plan.T, plan.stepsPerEpoch], label(m)).toEqual([m.B, T, 1]);
  created.mockClear();
  // the grid in one workgroup (its kernels' math at every shape, chunks of streams included): its
  // handoffs between workgroups are checked in test/kernels.test.ts and test/check.test.ts, as
  // two workgroups waiting on each other here would spin through every other file's CPU time
  const gridWorkgroups = m.sweeps === 'grid' ? 1 : undefined;
  const r = await runCheck(gpu(), data, V, cfg, { start, upload: upload?.(start), trajectory: false, gpu: { cellSweeps: m.sweeps, gridWorkgroups } });
  expect(created).toHaveBeenCalledTimes(1);
  const e: GpuEngine = await created.mock.results[0].value;
  expect({ ...e.shape, reason: e.schedule.reason }, label(m)).toEqual({ V, H: m.H, B: m.B, T, cell: m.cell, layers: m.layers, reason: SWEEPS_REASON[m.sweeps] });
  expect(r.tensors.map((c) => c.name), label(m)).toEqual(rowNames(m));
  expect(r.tensors.every((c) => c.kind === 'local step')).toBe(true);
  return { r, maxPre: m.dropout === 0 ? maxPre0(m, start, data) : 0 };
}

describe.each(CELL_NAMES)('%s: every layer count, dropout, sweep and shape, compared locally (V=11 T=4)', (cell) => {
  for (const sweeps of SWEEPS) {
    const Bs = sweeps === 'streams1' ? BS.streams1 : BS.any;
    for (const H of sweeps === 'streams1' ? HS.streams1 : HS.any)
      test(`${sweeps}, H=${H}: L=1,2,3 x B=${Bs.join(',')} x dropout 0 (|pre-activations| past ${largePre(cell)}), 0.3`, async () => {
        const failures: string[] = [];
        let maxPre = 0;
        for (const layers of LAYERS)
          for (const B of Bs)
            for (const dropout of DROPOUTS) {
              const m: Member = { cell, layers, dropout, sweeps, H, B };
              const c = await check(m);
              maxPre = Math.max(maxPre, c.maxPre);
              if (!c.r.ok || c.r.tensors.some((row) => !(row.used <= 1))) failures.push(`${label(m)}:\n${summary(c.r)}`);
            }
        expect(failures, failures.join('\n\n')).toEqual([]);
        expect(maxPre).toBeGreaterThan(largePre(cell));
      });
  }
});

/** A copy of `p` with W_hh.1[2H+5, 7] (in the LSTM's candidate rows g) moved by `by`. */
function planted(p: Params<Float32Array>, H: number, by: number): Params {
  const W = p['W_hh.1'].slice();
  W[(2 * H + 5) * H + 7] += by;
  return { ...p, 'W_hh.1': W };
}

// The same member passes unplanted in the matrix above (same seed and weights). Measured, hs.1
// used 81 times its tolerance by 0.1 (a third of the weights' scale), 8 times by 1e-2.
test('lstm L=2 streams4 H=37 B=3 dropout 0.3: a wrong W_hh.1 element on the GPU fails hs.1 by many times its tolerance', async () => {
  const m: Member = { cell: 'lstm', layers: 2, dropout: 0.3, sweeps: 'streams4', H: 37, B: 3 };
  const { r } = await check(m, (p) => planted(p, m.H, 0.1));
  expect(r.ok, summary(r, true)).toBe(false);
  const worst = (layer: number) => Math.max(...r.tensors.filter((c) => c.name.endsWith(`.${layer}`)).map((c) => c.used));
  expect(worst(0), summary(r, true)).toBeLessThanOrEqual(1); // layer 0 reads nothing of W_hh.1
  expect(r.tensors.find((c) => c.name === 'hs.1')!.used, summary(r, true)).toBeGreaterThan(FAULT_CAUGHT);
  const small = (await check(m, (p) => planted(p, m.H, 1e-2))).r;
  expect(small.tensors.find((c) => c.name === 'hs.1')!.used, summary(small, true)).toBeGreaterThan(1);
});
