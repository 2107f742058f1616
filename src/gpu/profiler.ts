import { CELLS, type StepShape, modelOf } from '../model.js';
import type { GpuContext } from './context.js';
import type { GpuSchedule } from './schedule.js';

/** Model FLOPs of one training step, forward + backward (2 per multiply-add, three products
 * per weight: the forward one, the gradient of its input and of the weight):
 * 6 T B (G H^2 (2L - 1) + V H): W_hh (G gate blocks of H x H) of every layer, W_xh of the L - 1
 * layers above the first, W_hy. Layer 0's W_xh is a gather of one column per character (the
 * input is one-hot), counted as none; so are the cell's pointwise math, the softmax and the
 * update. The one-layer tanh RNN (G = 1, L = 1): 6 T B (H^2 + V H). */
export function modelFlops(s: StepShape): number {
  const { cell, layers: L } = modelOf(s);
  return 6 * s.T * s.B * (CELLS[cell].gates * s.H * s.H * (2 * L - 1) + s.V * s.H);
}

/** modelFlops per character, in words. */
export const MODEL_FLOPS_FORMULA = '6(G*H^2*(2L-1) + V*H) per character: W_hh of each layer, W_xh above layer 0 (a gather at layer 0, not counted), W_hy';

/** GPU time per training step by kernel, averaged over the profiled steps. */
export interface Profile {
  adapter: string;
  /** the recurrent sweeps in words (streams per workgroup) */
  detail: string;
  /** why those sweeps ('' where nothing needs saying) */
  reason: string;
  /** every gradient in one dispatch (a small step) */
  smallStep: boolean;
  steps: number;
  /** GPU ms per step by kernel, slowest first */
  kernels: { name: string; ms: number }[];
  totalMs: number;
}

/** Timestamp queries around every compute pass of a step (one pass per kernel, consecutive
 * dispatches of one kernel share a pass), read back after each step and summed by kernel. */
export class Profiler {
  private static readonly MAX_PASSES = 1024;
  private readonly querySet?: GPUQuerySet;
  private readonly resolveBuf?: GPUBuffer;
  private readonly staging?: GPUBuffer;
  private names: string[] = [];
  private readonly ns = new Map<string, number>();
  private steps = 0;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
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

  /** The timings so far, with the schedule they were taken with. */
  report(schedule: GpuSchedule): Profile {
    const steps = Math.max(1, this.steps);
    const kernels = [...this.ns].map(([name, ns]) => ({ name, ms: ns / 1e6 / steps })).sort((a, b) => b.ms - a.ms);
    return {
      adapter: this.ctx.adapterName + (this.querySet ? '' : ' (no timestamp-query: no kernel timings)'),
      detail: schedule.detail,
      reason: schedule.sweepsWhy,
      smallStep: schedule.smallStep,
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
