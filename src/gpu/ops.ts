import type { GpuContext } from './context.js';
import { type Bindings, type Kernel, MAX_WORKGROUPS, type Resources, bindGroup, dispatch, launchGroup } from './kernel.js';
import type { Profiler } from './profiler.js';

// Recorded work: an Op is one kernel dispatch with its bind groups made (once, when the engine
// is built) or one buffer copy; encode() records a list of them into a command encoder.

/** One recorded piece of a step: a kernel dispatch (per-timestep kernels carry their t) or a
 * buffer copy (which ends the compute pass it follows). */
export type Op =
  | { kind: 'dispatch'; name: string; kernel: Kernel; group: GPUBindGroup; x: number; launch?: { group: GPUBindGroup; uniform: GPUBuffer } }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

/** Dispatches recorded into one command buffer before it is submitted and a new one begun:
 * lavapipe crashes the process (SIGSEGV) on a command buffer of about 24,000 dispatches
 * (the per-timestep sweep at T = 8192), so long ones are cut into several submits. */
export const DISPATCHES_PER_SUBMIT = 4096;

/** A dispatch of `x` workgroups of `kernel` over these buffers (by binding name); kernels
 * with a launch uniform read slot 0 of `launch` (see at()). */
export function op<B extends Bindings>(ctx: GpuContext, name: string, kernel: Kernel<B>, resources: Resources<B>, x: number, launch?: GPUBuffer): Op {
  if (x > MAX_WORKGROUPS && !kernel.grid) // (the shape checks of create() keep these in range)
    throw new Error(`${kernel.label}: ${x} workgroups, over ${MAX_WORKGROUPS}, for a kernel that is not laid out in rows`);
  const group = bindGroup(ctx, kernel, resources);
  const lg = kernel.launchLayout ? { group: launchGroup(ctx, kernel, launch!), uniform: launch! } : undefined;
  return { kind: 'dispatch', name, kernel, group, x: Math.max(1, x), launch: lg };
}

/** The same dispatch reading slot t of its launch uniform (a per-timestep or per-layer
 * dispatch): its own group(1) bind group, made once with the ops. */
export function at(ctx: GpuContext, o: Op, t: number): Op {
  return o.kind === 'dispatch' && o.launch ? { ...o, launch: { ...o.launch, group: launchGroup(ctx, o.kernel, o.launch.uniform, t) } } : o;
}

export function copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): Op {
  return { kind: 'copy', src, srcOffset, dst, dstOffset, size };
}

export class Recorder {
  /** Dispatches recorded so far into each open command encoder. */
  private readonly dispatches = new WeakMap<GPUCommandEncoder, number>();
  constructor(
    private readonly ctx: GpuContext,
    private readonly profiler?: Profiler,
  ) {}

  /** Records ops into the encoder: consecutive dispatches share one compute pass (each kernel
   * gets its own pass, with timestamps, when profiling). An encoder that reaches
   * DISPATCHES_PER_SUBMIT is submitted and recording goes on in a new one: record into the
   * encoder returned. */
  encode(enc: GPUCommandEncoder, ops: Op[]): GPUCommandEncoder {
    let pass: GPUComputePassEncoder | undefined;
    let passName = '';
    let count = this.dispatches.get(enc) ?? 0;
    const end = () => {
      pass?.end();
      pass = undefined;
    };
    for (const o of ops) {
      if (o.kind === 'copy') {
        end();
        enc.copyBufferToBuffer(o.src, o.srcOffset, o.dst, o.dstOffset, o.size);
        continue;
      }
      if (pass && this.profiler && passName !== o.name) end();
      if (count >= DISPATCHES_PER_SUBMIT) {
        end();
        this.ctx.device.queue.submit([enc.finish()]);
        enc = this.ctx.device.createCommandEncoder({ label: 'engine.continued' });
        count = 0;
      }
      if (!pass) {
        passName = o.name;
        pass = enc.beginComputePass({ label: `engine.${o.name}`, timestampWrites: this.profiler?.next(o.name) });
      }
      dispatch(pass, o.kernel, o.group, o.x, o.launch?.group);
      count++;
    }
    end();
    this.dispatches.set(enc, count);
    return enc;
  }
}
