import { type Batch, OPTIMIZERS, type OptimizerConfig } from '../engine.js';
import type { StepShape } from '../model.js';
import type { Buffers, GpuMemory } from './buffers.js';
import type { GpuContext } from './context.js';
import { Drop, Hyper } from './families.js';
import { pack } from './kernel.js';
import type { Op, Recorder } from './ops.js';
import type { Profiler } from './profiler.js';

// Recording and submitting training steps: each step's batch and hyperparameters are uploaded
// to a slot of their own, its ops recorded into the pending command buffer (up to
// STEPS_PER_SUBMIT steps per submit), and a wanted loss read back through a ring of staging
// buffers while the next steps are already queued.

/** Training steps recorded into one command buffer when their losses are not wanted. */
export const STEPS_PER_SUBMIT = 8;
/** Losses that may be in flight (asked for, not yet read back) at once. */
const LOSSES_IN_FLIGHT = 4;

export class Submitter {
  /** per-step uploads: step k of an unsubmitted group copies its batch and hyperparameters
   * from slot k (queue.writeBuffer lands before the submit, so each step needs its own slot) */
  private readonly uploads: GPUBuffer;
  private readonly slotBytes: number;
  private readonly stepsPerSubmit: number;
  /** the counting sort of a step's inputs (by_input, starts), reused every step */
  private readonly sortScratch: { order: Uint32Array; starts: Uint32Array; next: Uint32Array };
  private readonly hyperScratch = new ArrayBuffer(Hyper.bytes);
  /** staging buffers for losses in flight (read back asynchronously, in order) */
  private readonly lossRing: { buffer: GPUBuffer; inFlight: boolean }[];
  /** steps recorded but not yet submitted, at most stepsPerSubmit */
  private pending?: GPUCommandEncoder;
  private pendingSteps = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly mem: GpuMemory,
    private readonly buf: Buffers,
    private readonly shape: StepShape,
    /** `hyper` of the update kernel */
    private readonly hyper: GPUBuffer,
    private readonly recorder: Recorder,
    /** steps per submit: 1 when profiling (each step's timings are read on their own) */
    slots: number,
    private readonly profiler?: Profiler,
    /** `drop` of the dropout kernels (shaders/cells.wgsl), uploaded with each step (an engine with dropout) */
    private readonly dropUniform?: GPUBuffer,
  ) {
    this.lossRing = Array.from({ length: LOSSES_IN_FLIGHT }, (_, i) => ({
      buffer: mem.alloc(`engine.loss${i}`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      inFlight: false,
    }));
    // slot: inputs | targets | by_input (T*B u32 each) | starts (V+1 u32) | hyper | drop, 256-byte aligned
    this.slotBytes = Math.ceil((12 * shape.T * shape.B + 4 * (shape.V + 1) + Hyper.bytes + (dropUniform ? Drop.bytes : 0)) / 256) * 256;
    this.sortScratch = { order: new Uint32Array(shape.T * shape.B), starts: new Uint32Array(shape.V + 1), next: new Uint32Array(shape.V) };
    this.uploads = mem.alloc('engine.uploads', slots * this.slotBytes, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.stepsPerSubmit = slots;
  }

  /** uniform Hyper of shaders/optimizer.wgsl for optimizer step t (1-based), in a buffer
   * reused every step (queue.writeBuffer copies it at once). */
  hyperBytes(o: Required<OptimizerConfig>, t: number, lr: number): ArrayBuffer {
    return pack(Hyper, {
      lr, clip: o.clip, clip_norm: o.clipNorm, eps: o.eps, momentum: o.momentum, alpha: o.alpha, beta1: o.beta1, beta2: o.beta2,
      bc1: 1 - Math.pow(o.beta1, t), bc2: 1 - Math.pow(o.beta2, t), weight_decay: o.weightDecay,
      optimizer: OPTIMIZERS.indexOf(o.name),
    }, this.hyperScratch);
  }

  /** Submits the steps recorded so far. */
  flush(): void {
    if (!this.pending) return;
    this.profiler?.resolve(this.pending);
    this.ctx.device.queue.submit([this.pending.finish()]);
    this.pending = undefined;
    this.pendingSteps = 0;
  }

  /** Forgets the recorded steps (the engine is being destroyed). */
  drop(): void {
    this.pending = undefined;
  }

  /** Records the ops of a step into the pending command buffer; its batch and
   * hyperparameters come from upload slot k. With `wantLoss` the loss and gradient norm are
   * copied to a staging buffer, the command buffer is submitted, and the returned promise
   * reads them back. */
  record(
    batch: Batch, hyper: ArrayBuffer | undefined, ops: Op[][], reset: boolean, wantLoss: boolean, drop?: ArrayBuffer,
  ): Promise<{ loss: number; norm: number }> | undefined {
    const d = this.ctx.device;
    const n = 4 * this.shape.T * this.shape.B;
    const slot = this.pendingSteps * this.slotBytes;
    const { order, starts } = this.sortInputs(batch.inputs);
    const hyperAt = slot + 3 * n + 4 * starts.length;
    d.queue.writeBuffer(this.uploads, slot, batch.inputs);
    d.queue.writeBuffer(this.uploads, slot + n, batch.targets);
    d.queue.writeBuffer(this.uploads, slot + 2 * n, order);
    d.queue.writeBuffer(this.uploads, slot + 3 * n, starts);
    if (hyper) d.queue.writeBuffer(this.uploads, hyperAt, hyper);
    const dropAt = hyperAt + Hyper.bytes;
    if (drop && this.dropUniform) d.queue.writeBuffer(this.uploads, dropAt, drop);
    let enc = (this.pending ??= d.createCommandEncoder({ label: 'engine.steps' }));
    this.pendingSteps++;
    enc.copyBufferToBuffer(this.uploads, slot, this.buf.inputs, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + n, this.buf.targets, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + 2 * n, this.buf.by_input, 0, n);
    enc.copyBufferToBuffer(this.uploads, slot + 3 * n, this.buf.starts, 0, 4 * starts.length);
    if (hyper) enc.copyBufferToBuffer(this.uploads, hyperAt, this.hyper, 0, Hyper.bytes);
    if (drop && this.dropUniform) enc.copyBufferToBuffer(this.uploads, dropAt, this.dropUniform, 0, Drop.bytes);
    if (reset) enc.clearBuffer(this.buf.carry);
    for (const o of ops) enc = this.recorder.encode(enc, o);
    this.pending = enc;
    if (!wantLoss) {
      if (this.pendingSteps >= this.stepsPerSubmit) this.flush();
      return undefined;
    }
    // a staging buffer whose previous loss has been read (the ring grows if all are in flight)
    let r = this.lossRing.find((x) => !x.inFlight);
    if (!r) this.lossRing.push((r = { buffer: this.mem.alloc(`engine.loss${this.lossRing.length}`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST), inFlight: false }));
    const staging = r;
    staging.inFlight = true;
    enc.copyBufferToBuffer(this.buf.loss, 0, staging.buffer, 0, 4);
    enc.copyBufferToBuffer(this.buf.grad_norm, 0, staging.buffer, 4, 4);
    this.flush();
    return (async () => {
      try {
        await staging.buffer.mapAsync(GPUMapMode.READ);
        const [loss, norm] = new Float32Array(staging.buffer.getMappedRange(0, 8));
        staging.buffer.unmap();
        return { loss, norm };
      } finally {
        staging.inFlight = false;
      }
    })();
  }

  /** Counting sort of the positions of a step by input character: by_input lists the
   * positions of character 0, then 1, ...; character c's run is [starts[c], starts[c+1]). */
  private sortInputs(inputs: Uint32Array): { order: Uint32Array; starts: Uint32Array } {
    const { order, starts, next } = this.sortScratch;
    const V = this.shape.V;
    starts.fill(0);
    for (const x of inputs) {
      if (x >= V) throw new Error(`batch input ${x} is outside the vocabulary of ${V} characters`);
      starts[x + 1]++;
    }
    for (let c = 0; c < V; c++) starts[c + 1] += starts[c];
    next.set(starts.subarray(0, V));
    for (let p = 0; p < inputs.length; p++) order[next[inputs[p]]++] = p;
    return { order, starts };
  }
}
