import type { OptimizerConfig } from '../engine.js';
import { CELLS, type Layout, type Params, type StepShape, TENSOR_ALIGN, layout, modelOf, paramTable } from '../model.js';
import type { GpuContext } from './context.js';
import { STEP_SLOT } from './kernel.js';

// Every GPU buffer of an engine: the one table of the step's tensors (allocated once, before
// any kernel runs), the small uniforms and staging buffers beside it, and the scratch buffers
// of generation and evaluation (kept between calls). memory() counts them all.

/** The named tensors of `p` in one flat array of layout `lay` (the params buffer's). */
export function flattenParams(lay: Layout, names: string[], p: Params): Float32Array {
  const flat = new Float32Array(lay.total);
  for (const k of names) flat.set(p[k], lay.offset[k]);
  return flat;
}

/** The named tensors of a flat array of layout `lay`. */
export function unflattenParams(lay: Layout, names: string[], flat: Float32Array): Params<Float32Array> {
  const out = {} as Params<Float32Array>;
  for (const k of names) out[k] = flat.slice(lay.offset[k], lay.offset[k] + lay.size[k]);
  return out;
}

/** GPU buffers of the engine: element counts from the step shape (f32 or u32, 4 bytes each). */
export function bufferTable(s: StepShape, lay: Layout = layout(s)) {
  const { V, H, B, T } = s;
  const { cell, layers: L } = modelOf(s);
  const carried = CELLS[cell].cellState ? 2 : 1; // h, and the LSTM's c
  return {
    params: lay.total, // W_xh | W_hh | b_h | W_hy | b_y, flat (src/model.ts layout)
    grads: lay.total, // dW_xh | ... | db_y, same layout
    m: lay.total, // optimizer state, same layout
    v: lay.total, // second optimizer state (Adam's v), same layout
    grad_norm: 4, // [0] global gradient norm of the step
    inputs: T * B, // u32 (T, B)
    targets: T * B, // u32 (T, B)
    hs: L * (T + 1) * B * H, // (L, T+1, B, H)
    carry: carried * L * B * H, // (L, B, H) h carried between steps (EngineState.hprev), then the LSTM's c (L, B, H) (cprev)
    ps: T * B * V, // (T, B, V) logits, then probabilities
    dy: T * B * V, // (T, B, V) p - onehot(target)
    losses: T * B, // (T, B)
    loss: 4, // [0] mean loss of the step
    dhs: T * B * H, // (T, B, H) dLoss/d h of the layer the backward pass is at (W_hy^T dy at the top)
    by_input: T * B, // u32 (T*B) positions sorted by their input character (for dW_xh)
    starts: V + 1, // u32 (V+1) where each character's positions start in by_input
    decay: lay.total / TENSOR_ALIGN, // u32 per TENSOR_ALIGN block of params: 1 on a matrix (weight decay), 0 on a bias
  };
}
export type BufferName = keyof ReturnType<typeof bufferTable>;
export type Buffers = Record<BufferName, GPUBuffer>;

/** Usage of the tensors and scratch buffers (a function: GPUBufferUsage exists only once a
 * WebGPU implementation is loaded). */
export const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** GPU memory of the engine against what the model needs. */
export interface MemoryReport {
  /** bytes of every GPU buffer this engine allocated */
  bytes: number;
  /** the part of it that is model state: parameters, gradients, optimizer state, activations */
  tensors: { params: number; grads: number; optimizer: number; activations: number };
}

/** The buffers an engine holds: each is counted from creation to destroy(). */
export class GpuMemory {
  private readonly allocated = new Map<GPUBuffer, number>();
  private readonly scratch = new Map<string, GPUBuffer>();
  constructor(private readonly ctx: GpuContext) {}

  /** Creates a GPU buffer and counts it in memory(). */
  alloc(label: string, bytes: number, usage: number): GPUBuffer {
    const b = this.ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    this.allocated.set(b, b.size);
    return b;
  }

  /** A uniform buffer holding `bytes` (at least one slot, so that any slot binds). */
  uniform(label: string, bytes: ArrayBuffer): GPUBuffer {
    const u = this.alloc(label, Math.max(bytes.byteLength, STEP_SLOT), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.ctx.device.queue.writeBuffer(u, 0, bytes);
    return u;
  }

  private free(b: GPUBuffer): void {
    this.allocated.delete(b);
    b.destroy();
  }

  /** A scratch buffer kept between calls (grown when a larger one is needed): generation and
   * evaluation allocate only on their first call or a larger request. */
  scratchBuffer(name: string, bytes: number, usage: number): GPUBuffer {
    const have = this.scratch.get(name);
    if (have && have.size >= bytes) return have;
    if (have) this.free(have);
    const b = this.alloc(`engine.${name}`, bytes, usage);
    this.scratch.set(name, b);
    return b;
  }

  /** The step's tensors of bufferTable; `params` is `sharedParams` where given (an evaluator
   * reads the live weights of a training engine). */
  tensors(shape: StepShape, lay: Layout, sharedParams?: GPUBuffer): Buffers {
    const buf = {} as Buffers;
    for (const [name, n] of Object.entries(bufferTable(shape, lay)) as [BufferName, number][])
      if (!(name === 'params' && sharedParams)) buf[name] = this.alloc(`engine.${name}`, 4 * n, storageUsage());
    if (sharedParams) buf.params = sharedParams;
    return buf;
  }

  bytes(): number {
    let bytes = 0;
    for (const n of this.allocated.values()) bytes += n;
    return bytes;
  }

  destroy(): void {
    for (const [b] of this.allocated) b.destroy();
    this.allocated.clear();
  }
}

/** `decay` of bufferTable: which blocks of the flat buffer hold a matrix, from the `kind` of
 * each tensor (every tensor starts on a block). */
export function decayMask(s: StepShape, lay: Layout): Uint32Array {
  const mask = new Uint32Array(lay.total / TENSOR_ALIGN);
  for (const p of paramTable(modelOf(s)))
    if (p.kind === 'matrix') mask.fill(1, lay.offset[p.name] / TENSOR_ALIGN, Math.ceil((lay.offset[p.name] + p.size) / TENSOR_ALIGN));
  return mask;
}

/** Parameter (or gradient, optimizer state) `k` inside a flat buffer of the model layout. */
export function paramBinding(lay: Layout, k: string, buffer: GPUBuffer): GPUBufferBinding {
  return { buffer, offset: 4 * lay.offset[k], size: 4 * lay.size[k] };
}

/** GPU bytes held, against the model's own tensors. */
/** `cellActivations`: elements of the layers' activations (cells.ts cellBufferTable)
 * where the engine runs them. */
export function memoryReport(bytes: number, shape: StepShape, lay: Layout, opt: Required<OptimizerConfig>, cellActivations = 0): MemoryReport {
  const b = bufferTable(shape, lay);
  const P = 4 * lay.total;
  const o = opt.name;
  const states = o === 'adam' || o === 'adamw' ? 2 : o === 'sgd' && !opt.momentum ? 0 : 1;
  return {
    bytes,
    tensors: { params: P, grads: P, optimizer: states * P, activations: 4 * (b.hs + b.ps + b.dy + b.dhs + b.losses + cellActivations) },
  };
}
