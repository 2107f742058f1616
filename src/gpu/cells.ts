import type { Dropout, OptimizerConfig } from '../engine.js';
import { extraBiasRow } from '../cells.js';
import { CELLS, type Layout, type ModelDims, type StepShape, modelOf, paramTable } from '../model.js';
import { type Buffers, type GpuMemory, paramBinding, storageUsage } from './buffers.js';
import type { GpuContext } from './context.js';
import { Drop, Hyper, Launch, Layer, Mm, launchSlots } from './families.js';
import { type StructValues, WG, pack } from './kernel.js';
import type { CellKernels } from './cellKernels.js';
import { type Op, at, copy, indirect, op } from './ops.js';
import { SWEEP_STREAMS, matmulBlock, stepTileStreams } from './schedule.js';

// The training step of every model: any cell, depth and dropout, the tutorial's one-layer tanh
// RNN included (schedule.ts picks the sweeps). Per layer l, bottom up:
//
//   ax      (N, G*H) = hd[l-1] (N, H) . W_xh.l^T            (l > 0: one product over all
//                                                              positions; layer 0 gathers
//                                                              columns of W_xh.0 in the sweep)
//   forward_sweep    h, c, saved gate values over t          (shaders/cells*.wgsl)
//   drop_forward     hd[l] = h ⊙ mask                        (with dropout: the next layer's, or
//                                                              W_hy's, input; else h from hs)
//   logits (N, V) = hd[L-1] . W_hy^T, softmax_xent           (shaders/matmul.wgsl, output.wgsl)
//
// and backward, top down: dh = dy . W_hy, ⊙ mask of layer L-1; per layer the backward sweep
// (dpre = dLoss/d ax, dah = dLoss/d ah), then products over all positions:
//   dW_hh.l = dah^T h[t-1] / B,  db_h.l = 1^T dpre / B,  db_hn.l = 1^T dah_n / B (GRU),
//   dW_xh.l = dpre^T hd[l-1] / B (l > 0; layer 0: the sorted gather of output.wgsl),
//   dh = dpre . W_xh.l, ⊙ mask of layer l-1;
// then dW_hy = dy^T hd[L-1] / B, db_y = 1^T dy / B. N = T*B positions. A small step (below
// SMALL_STEP) computes the logits, softmax and dy in one dispatch (output_small) and every
// gradient in one more (shaders/grads.wgsl), where dispatches, not arithmetic, cost the time.

/** Control words of a grid sweep per layer and direction, in dnext after its 2*B*H (x, y, z,
 * failure, repairs: shaders/cells_grid.wgsl ctrl_at). */
export const GRID_CTRL = 8;

/** The buffers of the layers beside bufferTable's (element counts, 4 bytes each). `dropout`:
 * the engine's (GpuEngineOptions.dropout); without it the layers' outputs are read from hs. */
export function cellBufferTable(s: StepShape, dropout = 0) {
  const { H, B, T } = s;
  const { cell, layers: L } = modelOf(s);
  const G = CELLS[cell].gates;
  const N = T * B;
  const extra = !!CELLS[cell].extraBias;
  return {
    cs: CELLS[cell].cellState ? L * (T + 1) * B * H : 0, // (L, T+1, B, H) the LSTM's c
    act: L * N * CELLS[cell].saved * H, // (L, T, B, S*H) saved by the cell (S of its WGSL file)
    ax: L > 1 ? N * G * H : 0, // (T, B, G*H) W_xh.l times the layer below's output (l > 0), one layer at a time
    hd: dropout > 0 ? L * N * H : 0, // (L, T, B, H) each layer's output after dropout
    dpre: L * N * G * H, // (L, T, B, G*H) dLoss/d ax per layer
    // (T, B, G*H) dLoss/d ah, one layer at a time: a cell without an extra bias has dah = dpre
    dah: extra ? N * G * H : 0,
    // (2, B, H) the backward sweep's carried dh and dc, then the grid sweeps' control words: 8
    // per layer and direction (shaders/cells_grid.wgsl ctrl_at)
    dnext: 2 * B * H + GRID_CTRL * 2 * L,
    W_hhT: G * H * H, // (H, G*H) W_hh.l transposed, one layer at a time (the persistent forward sweeps)
  };
}
export type CellBuffers = Record<keyof ReturnType<typeof cellBufferTable>, GPUBuffer>;

/** Elements of cellBufferTable that hold a step's activations and their gradients (not the
 * scratch: dnext, W_hhT). */
export function cellActivations(s: StepShape, dropout = 0): number {
  const { cs, act, ax, hd, dpre, dah } = cellBufferTable(s, dropout);
  return cs + act + ax + hd + dpre + dah;
}

/** `Drop` of shaders/cells.wgsl for one step (no dropout: every mask 1). */
export function dropBytes(d: Dropout | undefined, out = new ArrayBuffer(Drop.bytes)): ArrayBuffer {
  const p = d?.p ?? 0;
  return pack(Drop, { keep_from: Math.ceil(p * 2 ** 24), scale: p > 0 ? 1 / (1 - p) : 1, seed: (d?.seed ?? 0) >>> 0, step: (d?.step ?? 0) >>> 0 }, out);
}

type MmValues = Omit<StructValues<typeof Mm>, 'A_OFF' | 'B_OFF' | 'ALPHA'> & { A_OFF?: number; B_OFF?: number; ALPHA?: number };

/** The phases of a training step, in order. */
export interface Phases {
  forward: Op[];
  backward: Op[];
  update: Op[];
  loss: Op[];
}

/** The ops of a training step, made once from the kernels and the engine's buffers. */
export interface StepOps {
  phases: Phases;
  /** the global gradient norm, added to the backward phase of a step that reports it */
  gradNorm: Op;
  /** `hyper` of the update (optimizer.wgsl), copied from each step's upload slot */
  hyper: GPUBuffer;
  /** `drop` of the dropout kernels, copied from each step's upload slot (an engine with dropout) */
  drop?: GPUBuffer;
}

/** What the ops of a step share: sizes, uniforms, bindings by tensor name, the product and
 * dispatch helpers. */
function wiring(ctx: GpuContext, mem: GpuMemory, buf: Buffers, cb: CellBuffers, lay: Layout, shape: StepShape, k: CellKernels) {
  const m: ModelDims = modelOf(shape);
  const { V, H, B, T } = shape;
  const L = m.layers;
  const G = CELLS[m.cell].gates;
  const GH = G * H;
  const N = T * B;
  const uniform = (label: string, bytes: ArrayBuffer) => mem.uniform(`engine.${label}`, bytes);
  const launch = uniform('launch', pack(Launch, { t: 0, V, H, B, T, L }));
  // dW_xh_sorted4 reads its row count from launch.H: G*H rows here
  const launchGates = uniform('launch.gates', pack(Launch, { t: 0, V, H: GH, B, T, L }));
  const drop = k.drop ? uniform('drop', dropBytes(undefined)) : undefined;
  const table = paramTable(m);
  const extra = CELLS[m.cell].extraBias;
  const name = (role: string, l: number) => table.find((p) => p.role === role && p.layer === l)!.name;
  const layerU = Array.from({ length: L }, (_, l) =>
    uniform(`layer${l}`, pack(Layer, {
      layer: l, off_W_xh: lay.offset[name('W_xh', l)], off_W_hh: lay.offset[name('W_hh', l)], off_b_h: lay.offset[name('b_h', l)],
      off_b_hn: extra ? lay.offset[name(extra.name, l)] : 0,
    })),
  );
  const p = (n: string) => paramBinding(lay, n, buf.params);
  const g = (n: string) => paramBinding(lay, n, buf.grads);
  const groups = (n: number) => Math.ceil(n / WG);
  const mm = (label: string, r: { A: GPUBuffer; Bm: GPUBuffer | GPUBufferBinding; C: GPUBuffer | GPUBufferBinding }, v: MmValues) => {
    const big = matmulBlock(ctx, v.M, v.N) === 8;
    const b = big ? 8 : 4;
    const u = uniform(`mm.${label}`, pack(Mm, { ...v, A_OFF: v.A_OFF ?? 0, B_OFF: v.B_OFF ?? 0, ALPHA: v.ALPHA ?? 1 }));
    return op(ctx, label, big ? k.matmul8 : k.matmul, r, groups(Math.ceil(v.M / b) * Math.ceil(v.N / b)), u);
  };
  // C (1, N) = ALPHA * 1^T B: sums over the K = N positions of B (col_sum of matmul.wgsl; A unread)
  const colSum = (label: string, Bm: GPUBuffer, C: GPUBufferBinding, v: { N: number; B_K: number; B_OFF?: number }) => {
    const u = uniform(`mm.${label}`, pack(Mm, { M: 1, N: v.N, K: T * B, A_M: 0, A_K: 0, A_OFF: 0, B_K: v.B_K, B_N: 1, B_OFF: v.B_OFF ?? 0, C_M: v.N, C_N: 1, ALPHA: 1 / B }));
    return op(ctx, label, k.col_sum, { A: Bm, Bm, C }, groups(v.N), u);
  };
  // the persistent sweeps: one workgroup per 1, 4 or 8 streams; the steps: tiles of WG/BT units
  // of BT streams; both read W_hh.l transposed before its forward
  const steps = k.sweeps === 'steps';
  const fast = k.sweeps !== 'reference';
  const BT = stepTileStreams(B);
  const sweepGroups = k.grid ? k.grid.workgroups
    : steps ? Math.ceil(H / (WG / BT)) * Math.ceil(B / BT)
    : fast ? Math.ceil(B / SWEEP_STREAMS[k.sweeps as keyof typeof SWEEP_STREAMS]) : B;
  // the steps' launch uniform: slot t holds timestep t
  const launchSteps = steps ? uniform('launch.steps', launchSlots({ V, H, B, T, L }, T)) : undefined;
  // a sweep op as recorded: once, or (steps) once per timestep in the order given
  const overTime = (o: Op, order: number[]): Op[] => (steps ? order.map((t) => at(ctx, o, t)) : [o]);
  const upward = Array.from({ length: T }, (_, t) => t);
  // the grid sweep of layer l in direction d (0 forward, 1 backward): the sentinel fill of what it
  // exchanges, the sweep, its control words copied to the repair's indirect size, the repair
  const gridArgs = k.grid ? mem.alloc('engine.grid_args', 16 * 2 * L, GPUBufferUsage.INDIRECT | GPUBufferUsage.COPY_DST) : undefined;
  const gridSweep = (l: number, d: 0 | 1, fill: Op, sweep: Op): Op[] => {
    const slot = 2 * l + d;
    return [fill, sweep, copy(cb.dnext, 4 * (2 * B * H + GRID_CTRL * slot), gridArgs!, 16 * slot, 16), indirect(sweep, gridArgs!, 16 * slot)];
  };
  // the carried state of layer l into hs/cs slot 0 before its steps or grid sweep, out of slot T after
  const carried = (l: number, dir: 'in' | 'out'): Op[] => {
    if (!steps && !k.grid) return [];
    const bh = 4 * B * H;
    const slot = (l * (T + 1) + (dir === 'in' ? 0 : T)) * bh;
    const pairs: [GPUBuffer, number, GPUBuffer, number][] = [[buf.carry, l * bh, buf.hs, slot]];
    if (cb.cs.size > 16) pairs.push([buf.carry, (L + l) * bh, cb.cs, slot]);
    return pairs.map(([c, co, s, so]) => (dir === 'in' ? copy(c, co, s, so, bh) : copy(s, so, c, co, bh)));
  };
  // dh ⊙= layer l's dropout mask (nothing without dropout)
  const dropBackward = (l: number): Op[] =>
    k.drop ? [op(ctx, 'drop_backward', k.drop.backward, { cell: layerU[l], drop: drop!, dh_rw: buf.dhs }, groups(N * H), launch)] : [];
  // layer l's output as the layer above and W_hy read it, (N, H) from element `off`: hd[l] after
  // dropout, else h_1 .. h_T of layer l in hs
  const out = (l: number) => (k.drop ? { buf: cb.hd, off: l * N * H } : { buf: buf.hs, off: (l * (T + 1) + 1) * B * H });
  // dLoss/d ah of layer l, (N, G*H) from element `off`: dah, or dpre[l] where the cell has no
  // extra bias (then they are equal, and the sweeps store dpre only)
  const dAh = (l: number) => (extra ? { buf: cb.dah, off: 0 } : { buf: cb.dpre, off: l * N * GH });

  return {
    ctx, mem, lay, buf, cb, k, m, V, H, B, T, L, GH, N, launch, launchGates, launchSteps, drop, layerU, extra, name, p, g, groups, mm, colSum, fast, sweepGroups,
    overTime, upward, carried, gridSweep, dropBackward, out, dAh,
  };
}
type Wiring = ReturnType<typeof wiring>;

/** The forward ops, per layer bottom up, then the output layer. */
function forwardOps(w: Wiring): Op[] {
  const { ctx, buf, cb, k, V, H, L, GH, N, launch, launchSteps, drop, layerU, name, p, groups, mm, fast, sweepGroups, overTime, upward, carried, gridSweep, out } = w;
  const forward: Op[] = [];
  for (let l = 0; l < L; l++) {
    // ax (N, GH) = hd[l-1] (N, H) . W_xh.l^T
    if (l > 0)
      forward.push(mm(`ax${l}`, { A: out(l - 1).buf, Bm: p(name('W_xh', l)), C: cb.ax }, { M: N, N: GH, K: H, A_M: H, A_K: 1, A_OFF: out(l - 1).off, B_K: 1, B_N: H, C_M: GH, C_N: 1 }));
    if (fast) forward.push(op(ctx, 'transpose_hh', k.transpose_hh, { cell: layerU[l], params: buf.params, W_hhT_out: cb.W_hhT }, groups(GH * H), launch));
    if (k.grid) {
      const res = { cell: layerU[l], params: buf.params, inputs: buf.inputs, ax: cb.ax, hs: buf.hs, cs: cb.cs, act: cb.act, ctrl: cb.dnext, W_hhT: cb.W_hhT };
      const fill = op(ctx, 'grid_fill_h', k.grid.fillH, res, groups(w.T * w.B * H), launch);
      forward.push(...carried(l, 'in'), ...gridSweep(l, 0, fill, op(ctx, 'forward_grid', k.grid.forward, res, sweepGroups, launch)), ...carried(l, 'out'));
    } else {
      const sweep = op(ctx, 'forward_sweep', k.forward_sweep!,
        { cell: layerU[l], params: buf.params, inputs: buf.inputs, ax: cb.ax, hs: buf.hs, cs: cb.cs, act: cb.act, carry: buf.carry, W_hhT: cb.W_hhT }, sweepGroups, launchSteps ?? launch);
      forward.push(...carried(l, 'in'), ...overTime(sweep, upward), ...carried(l, 'out'));
    }
    if (k.drop) forward.push(op(ctx, 'drop_forward', k.drop.forward, { cell: layerU[l], drop: drop!, drop_h: buf.hs, hd: cb.hd }, groups(N * H), launch));
  }
  if (k.small)
    // the output layer in one dispatch (a small step)
    forward.push(op(ctx, 'output_small', k.small.output,
      { b_y: p('b_y'), targets: buf.targets, ps: buf.ps, dy: buf.dy, losses: buf.losses, W_hy: p('W_hy'), out_h: buf.hs }, groups(N), launch));
  else
    forward.push(
      // logits (N, V) = hd[L-1] (N, H) . W_hy^T
      mm('output_logits', { A: out(L - 1).buf, Bm: p('W_hy'), C: buf.ps }, { M: N, N: V, K: H, A_M: H, A_K: 1, A_OFF: out(L - 1).off, B_K: 1, B_N: H, C_M: V, C_N: 1 }),
      op(ctx, 'softmax_xent', k.softmax_xent, { b_y: p('b_y'), targets: buf.targets, ps: buf.ps, dy: buf.dy, losses: buf.losses }, groups(N), launch),
    );

  return forward;
}

/** The backward ops: the output layer, then per layer top down (the sweep, the layer's
 * gradients, dh for the layer below), then W_hy and b_y; a small step computes every gradient
 * in one dispatch at the end instead (gradsSmall). */
function backwardOps(w: Wiring): Op[] {
  const { ctx, buf, cb, k, H, L, GH, N, layerU, name, p, mm, colSum, sweepGroups, dropBackward, launch, launchSteps, overTime, upward, gridSweep, groups, out, g, V } = w;
  const backward: Op[] = [
    // dh (N, H) = dy (N, V) . W_hy (V, H)
    mm('output_backprop', { A: buf.dy, Bm: p('W_hy'), C: buf.dhs }, { M: N, N: H, K: V, A_M: V, A_K: 1, B_K: H, B_N: 1, C_M: H, C_N: 1 }),
    ...dropBackward(L - 1),
  ];
  for (let l = L - 1; l >= 0; l--) {
    const res = { cell: layerU[l], params: buf.params, hs_in: buf.hs, cs_in: cb.cs, act_in: cb.act, dh: buf.dhs, dpre: cb.dpre, dah: cb.dah, dnext: cb.dnext };
    const sweep = op(ctx, 'backward_sweep', k.backward_sweep, res, sweepGroups, launchSteps ?? launch);
    if (k.grid) backward.push(...gridSweep(l, 1, op(ctx, 'grid_fill_x', k.grid.fillX, res, groups(w.T * w.B * GH), launch), sweep));
    else backward.push(...overTime(sweep, [...upward].reverse()));
    if (!k.small) backward.push(...layerGrads(w, l));
    if (l > 0)
      backward.push(
        // dh (N, H) = dpre[l] (N, GH) . W_xh.l (GH, H): the gradient at layer l-1's output
        mm(`dh${l}`, { A: cb.dpre, Bm: p(name('W_xh', l)), C: buf.dhs },
          { M: N, N: H, K: GH, A_M: GH, A_K: 1, A_OFF: l * N * GH, B_K: H, B_N: 1, C_M: H, C_N: 1 }),
        ...dropBackward(l - 1),
      );
  }
  if (k.small) backward.push(gradsSmall(w));
  else
    backward.push(
      // dW_hy (V, H) = dy^T (V, N) . hd[L-1] (N, H) / B;  db_y (1, V) = 1^T . dy / B
      mm('dW_hy', { A: buf.dy, Bm: out(L - 1).buf, C: g('W_hy') }, { M: V, N: H, K: N, A_M: 1, A_K: V, B_K: H, B_N: 1, B_OFF: out(L - 1).off, C_M: H, C_N: 1, ALPHA: 1 / w.B }),
      colSum('db_y', buf.dy, g('b_y'), { N: V, B_K: V }),
    );
  return backward;
}

/** The gradients of layer l's tensors, once its backward sweep has run. */
function layerGrads(w: Wiring, l: number): Op[] {
  const { ctx, buf, cb, k, m, V, H, B, T, GH, N, launchGates, extra, name, g, groups, mm, colSum, out, dAh } = w;
  const ops = [
    // dW_hh.l (GH, H) = dah^T (GH, N) . h[t-1] of layer l (N, H) / B
    mm(`dW_hh${l}`, { A: dAh(l).buf, Bm: buf.hs, C: g(name('W_hh', l)) },
      { M: GH, N: H, K: N, A_M: 1, A_K: GH, A_OFF: dAh(l).off, B_K: H, B_N: 1, B_OFF: l * (T + 1) * B * H, C_M: H, C_N: 1, ALPHA: 1 / B }),
    // db_h.l (1, GH) = 1^T (1, N) . dpre[l] (N, GH) / B
    colSum(`db_h${l}`, cb.dpre, g(name('b_h', l)), { N: GH, B_K: GH, B_OFF: l * N * GH }),
  ];
  // db_hn.l (1, H) = 1^T . dah of its gate block (the GRU's n) / B
  if (extra) ops.push(colSum(`d${extra.name}${l}`, cb.dah, g(name(extra.name, l)), { N: H, B_K: GH, B_OFF: extraBiasRow(m.cell, H)! }));
  if (l === 0) {
    // dW_xh.0 (GH, V): per input character, the sum of its positions' dpre rows / B
    const rows = { dpre: { buffer: cb.dpre, offset: 0, size: 4 * N * GH }, by_input: buf.by_input, starts: buf.starts, dW_xh: g(name('W_xh', 0)) };
    ops.push(op(ctx, 'dW_xh', k.dW_xh, rows, GH % 4 === 0 ? groups((V * GH) / 4) : groups(V * GH), launchGates));
  } else {
    // dW_xh.l (GH, H) = dpre[l]^T (GH, N) . hd[l-1] (N, H) / B
    ops.push(mm(`dW_xh${l}`, { A: cb.dpre, Bm: out(l - 1).buf, C: g(name('W_xh', l)) },
      { M: GH, N: H, K: N, A_M: 1, A_K: GH, A_OFF: l * N * GH, B_K: H, B_N: 1, B_OFF: out(l - 1).off, C_M: H, C_N: 1, ALPHA: 1 / B }));
  }
  return ops;
}

/** Every gradient in one dispatch (shaders/grads.wgsl): the table of GradTensor rows, one per
 * parameter, summing what layerGrads and dW_hy, db_y would (no dropout: outputs from hs). */
function gradsSmall(w: Wiring): Op {
  const { ctx, mem, buf, cb, k, m, V, H, GH, N, L, launch, out, dAh, lay } = w;
  const A = { dpre: 0, dah: 1, dy: 2 };
  const rows: number[] = [];
  for (const t of paramTable(m)) {
    const l = t.layer;
    const at = lay.offset[t.name];
    const row = (cols: number, kind: 0 | 1 | 2, a: number, a_off: number, a_step: number, b_off = 0) => rows.push(at, t.size, cols, kind, a, a_off, a_step, b_off);
    if (t.role === 'W_xh') l === 0 ? row(V, 2, A.dpre, 0, GH) : row(H, 0, A.dpre, l * N * GH, GH, out(l - 1).off);
    else if (t.role === 'W_hh') row(H, 0, dAh(l).buf === cb.dah ? A.dah : A.dpre, dAh(l).off, GH, l * (w.T + 1) * w.B * H);
    else if (t.role === 'b_h') row(GH, 1, A.dpre, l * N * GH, GH);
    else if (t.role === 'W_hy') row(H, 0, A.dy, 0, V, out(L - 1).off);
    else if (t.role === 'b_y') row(V, 1, A.dy, 0, V);
    else row(H, 1, A.dah, extraBiasRow(m.cell, H)!, GH); // the extra bias (the GRU's b_hn)
  }
  const table = mem.alloc('engine.grad_table', 4 * rows.length, storageUsage());
  ctx.device.queue.writeBuffer(table, 0, Uint32Array.from(rows));
  const res = { tensors: table, dpre: cb.dpre, dah: cb.dah, dy: buf.dy, hs: buf.hs, inputs: buf.inputs, grads: buf.grads };
  return op(ctx, 'grads_small', k.small!.grads, res, w.groups(lay.total), launch);
}

/** The ops of a training step, bind groups and uniforms made once. */
export function cellOps(
  ctx: GpuContext, mem: GpuMemory, buf: Buffers, cb: CellBuffers, lay: Layout, shape: StepShape, k: CellKernels, opt: Required<OptimizerConfig>,
): StepOps {
  const w = wiring(ctx, mem, buf, cb, lay, shape, k);
  const { groups, drop } = w;
  const forward = forwardOps(w);
  const backward = backwardOps(w);

  const gradNorm = op(ctx, 'grad_norm', k.grad_norm, { g_all: buf.grads, norm_out: buf.grad_norm }, 1);
  const hyper = mem.alloc('engine.hyper', Hyper.bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const update = [
    ...(opt.clipNorm > 0 ? [gradNorm] : []),
    op(ctx, 'update', k.update, { hyper, grads: buf.grads, params: buf.params, m: buf.m, v: buf.v, grad_norm: buf.grad_norm, decay: buf.decay }, groups(lay.total)),
  ];
  const lossOps = [op(ctx, 'loss_mean', k.loss_mean, { losses: buf.losses, loss: buf.loss }, 1)];
  return { phases: { forward, backward, update, loss: lossOps }, gradNorm, hyper, drop };
}

/** The buffers of cellBufferTable, allocated once. */
export function allocCellBuffers(mem: GpuMemory, s: StepShape, dropout = 0): CellBuffers {
  const out = {} as CellBuffers;
  for (const [n, size] of Object.entries(cellBufferTable(s, dropout)) as [keyof CellBuffers, number][]) out[n] = mem.alloc(`engine.${n}`, 4 * size, storageUsage());
  return out;
}
