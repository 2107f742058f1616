import { BatchCursor, planBatches } from '../src/data.js';
import { GpuEngine, type MemoryReport, type Profile } from '../src/gpu/engine.js';
import type { Params, StepShape } from '../src/model.js';
import type { TrainCase } from './cases.js';
import type { Env } from './engines.js';

// --profile: per-kernel GPU times and memory of this project's GPU engine per training case.

export interface ProfileResult {
  case: string;
  error?: string;
  profile?: Profile;
  memory?: MemoryReport;
}

/** A separate engine created with { profile: true } after the timed cells (so the timings are of
 * the plain engine): one warm-up step, 3 steps, then engine.profile() and engine.memory(). */
export async function profileCase(env: Env, c: TrainCase, shape: StepShape, data: Uint32Array, params: Params): Promise<ProfileResult> {
  const res: ProfileResult = { case: c.name };
  if (!env.ctx) return { ...res, error: `no GPU context: ${env.ctxError}` };
  let e: GpuEngine | undefined;
  try {
    e = await GpuEngine.create(env.ctx, shape, c.optimizer, params, undefined, { profile: true, dropout: c.dropout });
    const cursor = new BatchCursor(data, planBatches(data.length, shape.B, shape.T));
    for (let i = 0; i < 4; i++) {
      const reset = cursor.next();
      await e.step(cursor.batch, { reset, wantLoss: i === 0 || i === 3, dropout: c.dropout > 0 ? { p: c.dropout, seed: 1, step: i } : undefined });
    }
    res.profile = e.profile();
    res.memory = e.memory();
    return res;
  } catch (err) {
    return { ...res, error: (err as Error).message };
  } finally {
    e?.destroy();
  }
}
