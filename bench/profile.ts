import { BatchCursor, planBatches } from '../src/data.js';
import type { OptimizerConfig } from '../src/engine.js';
import type { GpuContext } from '../src/gpu/context.js';
import { GpuEngine } from '../src/gpu/engine.js';
import type { Params, StepShape } from '../src/model.js';
import type { TrainCase } from './cases.js';
import type { Env } from './engines.js';

// --profile: per-kernel GPU times and memory of this project's GPU engine per training case.

export interface KernelProfile {
  recurrence: string;
  kernels: { name: string; ms: number }[];
  /** reported where the engine gives them */
  variant?: string;
  reason?: string;
  steps?: number;
  totalMs?: number;
}
export interface MemoryReport {
  bytes: number;
  tensors: Record<string, number>;
}
export interface ProfileResult {
  case: string;
  error?: string;
  profile?: KernelProfile;
  memory?: MemoryReport;
}
type ProfilingEngine = GpuEngine & { profile?: () => KernelProfile | Promise<KernelProfile>; memory?: () => MemoryReport };
type CreateWithOptions = (
  ctx: GpuContext, shape: StepShape, opt: OptimizerConfig, params: Params | undefined, share?: GpuEngine, options?: { profile?: boolean; dropout?: number },
) => Promise<ProfilingEngine>;

/** A separate engine created with { profile: true } after the timed cells (so the timings are of
 * the plain engine): one warm-up step, 3 steps, then engine.profile() and engine.memory(). */
export async function profileCase(env: Env, c: TrainCase, shape: StepShape, data: Uint32Array, params: Params): Promise<ProfileResult> {
  const res: ProfileResult = { case: c.name };
  if (!env.ctx) return { ...res, error: `no GPU context: ${env.ctxError}` };
  let e: ProfilingEngine | undefined;
  try {
    e = await (GpuEngine.create as unknown as CreateWithOptions)(env.ctx, shape, c.optimizer, params, undefined, { profile: true, dropout: c.dropout });
    if (typeof e.profile !== 'function')
      return { ...res, error: 'GpuEngine has no profile() method yet (GpuEngine.create(..., { profile: true }) and engine.profile() are still being added in src/gpu/engine.ts); nothing to profile' };
    const cursor = new BatchCursor(data, planBatches(data.length, shape.B, shape.T));
    for (let i = 0; i < 4; i++) {
      const reset = cursor.next();
      await e.step(cursor.batch, { reset, wantLoss: i === 0 || i === 3, dropout: c.dropout > 0 ? { p: c.dropout, seed: 1, step: i } : undefined });
    }
    res.profile = await e.profile();
    res.profile.kernels = [...res.profile.kernels].sort((a, b) => b.ms - a.ms);
    if (typeof e.memory === 'function') res.memory = e.memory();
    return res;
  } catch (err) {
    return { ...res, error: (err as Error).message };
  } finally {
    e?.destroy();
  }
}
