import type { Activations } from '../engine.js';
import { CELLS, type StepShape, modelOf } from '../model.js';
import type { Buffers } from './buffers.js';
import type { CellBuffers } from './cells.js';

/** A step's activations as inspect() returns them, read from the engine's buffers (`cb`: the
 * layer kernels' buffers, absent on the tuned tanh path); the gradients as the flat buffer and
 * no loss, which the engine fills in. Tuned tanh path: hs, ps, dtanh (dhs after the backward
 * sweep, in both kernel variants). Layer kernels: every layer's h (and c), and dpre per layer. */
export async function inspectStep(
  s: StepShape, buf: Buffers, cb: CellBuffers | undefined, read: (src: GPUBuffer, bytes?: number) => Promise<Float32Array>,
): Promise<Omit<Activations, 'grads' | 'loss'> & { grads: Float32Array }> {
  const { V, H, B, T } = s;
  if (!cb) {
    const [hs, ps, grads, dtanh] = await Promise.all([read(buf.hs, 4 * (T + 1) * B * H), read(buf.ps, 4 * T * B * V), read(buf.grads), read(buf.dhs, 4 * T * B * H)]);
    return { hs, ps, grads, dtanh };
  }
  const { layers: L, cell } = modelOf(s);
  const GH = CELLS[cell].gates * H;
  const [hs, cs, ps, grads, dpre] = await Promise.all([
    read(buf.hs, 4 * L * (T + 1) * B * H),
    CELLS[cell].cellState ? read(cb.cs, 4 * L * (T + 1) * B * H) : undefined,
    read(buf.ps, 4 * T * B * V),
    read(buf.grads),
    read(cb.dpre, 4 * L * T * B * GH),
  ]);
  return cs ? { hs, cs, ps, grads, dpre } : { hs, ps, grads, dpre };
}
