import type { Batch } from '../engine.js';
import type { StepShape } from '../model.js';
import { type Buffers, type GpuMemory, storageUsage } from './buffers.js';
import type { GpuContext } from './context.js';
import type { Op, Recorder } from './ops.js';

// The mean loss of a text: chunks of T characters through the forward phase of an engine of
// B = 1, the hidden state carried from chunk to chunk; per-position losses are gathered on
// the GPU and read back in blocks of `block` positions.

export interface EvaluationIo {
  ctx: GpuContext;
  shape: StepShape;
  mem: GpuMemory;
  buf: Buffers;
  recorder: Recorder;
  /** positions gathered per readback */
  block: number;
  /** the forward phase of the current schedule */
  forward(): Op[];
  writeBatch(batch: Batch): void;
  read(src: GPUBuffer, bytes: number, reuse: string): Promise<Float32Array>;
  /** drops profiling timestamps of work that is not a training step */
  notAStep(): void;
}

export async function evaluateText(io: EvaluationIo, data: Uint32Array): Promise<{ loss: number; count: number }> {
  const { T } = io.shape;
  const n = data.length - 1;
  if (n < 1) return { loss: NaN, count: 0 };
  const chunks = Math.ceil(n / T);
  const d = io.ctx.device;
  // per-position losses of up to `per` chunks gathered on the GPU, then read back at once
  const per = Math.min(chunks, Math.max(1, Math.floor(io.block / T)));
  const all = io.mem.scratchBuffer('evaluate.losses', 4 * per * T, storageUsage());
  const batch = { inputs: new Uint32Array(T), targets: new Uint32Array(T) };
  let sum = 0;
  for (let c = 0; c < chunks; c++) {
    const start = c * T;
    const len = Math.min(T, n - start);
    batch.inputs.fill(0);
    batch.targets.fill(0);
    batch.inputs.set(data.subarray(start, start + len));
    batch.targets.set(data.subarray(start + 1, start + 1 + len));
    io.writeBatch(batch);
    let enc = d.createCommandEncoder({ label: 'evaluate' });
    if (c === 0) enc.clearBuffer(io.buf.carry);
    enc = io.recorder.encode(enc, io.forward());
    enc.copyBufferToBuffer(io.buf.losses, 0, all, 4 * (c % per) * T, 4 * T);
    io.notAStep();
    d.queue.submit([enc.finish()]);
    if (c % per === per - 1 || c === chunks - 1) {
      const first = c - (c % per);
      const losses = await io.read(all, 4 * per * T, 'evaluate.staging');
      for (let k = first; k <= c; k++) for (let t = 0; t < Math.min(T, n - k * T); t++) sum += losses[(k - first) * T + t];
    }
  }
  return { loss: sum / n, count: n };
}
