import type { Activations } from '../engine.js';
import { CELLS, type StepShape, modelOf } from '../model.js';
import type { Buffers } from './buffers.js';
import type { CellBuffers } from './cells.js';

/** A step's activations as inspect() returns them, read from the engine's buffers: every
 * layer's h (and c), dpre and the cell's saved values per layer; the gradients as the flat buffer and no loss, which
 * the engine fills in. */
export async function inspectStep(
  s: StepShape, buf: Buffers, cb: CellBuffers, read: (src: GPUBuffer, bytes?: number) => Promise<Float32Array>,
): Promise<Omit<Activations, 'grads' | 'loss'> & { grads: Float32Array }> {
  const { V, H, B, T } = s;
  const { layers: L, cell } = modelOf(s);
  const GH = CELLS[cell].gates * H;
  const [hs, cs, ps, grads, dpre, act] = await Promise.all([
    read(buf.hs, 4 * L * (T + 1) * B * H),
    CELLS[cell].cellState ? read(cb.cs, 4 * L * (T + 1) * B * H) : undefined,
    read(buf.ps, 4 * T * B * V),
    read(buf.grads),
    read(cb.dpre, 4 * L * T * B * GH),
    read(cb.act, 4 * L * T * B * CELLS[cell].saved * H),
  ]);
  return cs ? { hs, cs, ps, grads, dpre, act } : { hs, ps, grads, dpre, act };
}
