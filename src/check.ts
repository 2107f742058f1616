import { type Comparison, compare, GPU_TOLERANCE } from './compare.js';
import { type TrainConfig, optimizerOf } from './config.js';
import { CpuEngine } from './cpu/engine.js';
import { BatchCursor, planBatches } from './data.js';
import type { GpuContext } from './gpu/context.js';
import { GpuEngine } from './gpu/engine.js';
import { initParams } from './init.js';
import { PARAM_NAMES, type Params } from './model.js';

// GPU vs CPU on the same initial weights and text: hidden states, probabilities and every
// dW_* of the first step, then the loss of each of `steps` training steps and every parameter
// after them. Backs `char-rnn check`, the page's comparison panel and the tests.

export interface CheckReport {
  ok: boolean;
  tensors: Comparison[];
  loss: { cpu: number[]; gpu: number[] };
}

export async function runCheck(
  ctx: GpuContext,
  data: Uint32Array,
  V: number,
  cfg: TrainConfig,
  start?: Params,
): Promise<CheckReport> {
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen);
  const shape = { V, H: cfg.hidden, B: plan.B, T: plan.T };
  const p0 = start ?? initParams(shape, cfg.seed, cfg.initScale);
  const opt = optimizerOf(cfg);
  const cpu = new CpuEngine(shape, opt, p0);
  const gpu = await GpuEngine.create(ctx, shape, opt, p0);
  try {
    const tensors: Comparison[] = [];
    const first = new BatchCursor(data, plan);
    first.next();
    await cpu.forwardBackward(first.batch, { reset: true });
    await gpu.forwardBackward(first.batch, { reset: true });
    const [a, b] = [await cpu.inspect(), await gpu.inspect()];
    tensors.push(compare('hs (step 0)', b.hs, a.hs, GPU_TOLERANCE.hs));
    tensors.push(compare('ps (step 0)', b.ps, a.ps, GPU_TOLERANCE.ps));
    for (const k of PARAM_NAMES) tensors.push(compare(`d${k} (step 0)`, b.grads[k], a.grads[k], GPU_TOLERANCE.grads));

    const loss = { cpu: [] as number[], gpu: [] as number[] };
    const cc = new BatchCursor(data, plan);
    const gc = new BatchCursor(data, plan);
    for (let s = 0; s < cfg.steps; s++) {
      const reset = cc.next();
      gc.next();
      loss.cpu.push((await cpu.step(cc.batch, { reset, wantLoss: true }))!);
      loss.gpu.push((await gpu.step(gc.batch, { reset, wantLoss: true }))!);
    }
    if (cfg.steps > 0) tensors.push(compare(`loss (${cfg.steps} steps)`, loss.gpu, loss.cpu, GPU_TOLERANCE.loss));
    const [pc, pg] = [await cpu.getParams(), await gpu.getParams()];
    for (const k of PARAM_NAMES) tensors.push(compare(`${k} (after ${cfg.steps} steps)`, pg[k], pc[k], GPU_TOLERANCE.params));
    return { ok: tensors.every((t) => t.ok), tensors, loss };
  } finally {
    gpu.destroy();
  }
}
