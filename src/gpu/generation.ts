import type { GenerateOptions } from '../engine.js';
import { GpuError } from '../errors.js';
import type { Layout, StepShape } from '../model.js';
import { type Buffers, type GpuMemory, storageUsage } from './buffers.js';
import type { GpuContext } from './context.js';
import { Gen } from './families.js';
import { type Kernel, MAX_WORKGROUPS, pack } from './kernel.js';
import { maxGenerateLength, mib } from './limits.js';
import { type Op, type Recorder, op } from './ops.js';
import type { Kernels } from './plan.js';

// Generation (shaders/sample.wgsl): one dispatch for all streams and all characters after
// the transposes of the live weights, one readback at the end. The sampler's bind group is
// kept and made again only when a scratch buffer grew.

export class Sampler {
  private readonly gen: GPUBuffer;
  /** generate's dispatch per sampler, with the scratch buffers and workgroup count it was made for */
  private readonly made = new Map<Kernel, { buffers: GPUBuffer[]; x: number; op: Op }>();

  constructor(
    private readonly ctx: GpuContext,
    private readonly mem: GpuMemory,
    private readonly buf: Buffers,
    private readonly shape: StepShape,
    private readonly lay: Layout,
    private readonly k: Pick<Kernels, 'generate' | 'generate1' | 'generate8'>,
    /** W_hhT and W_hyT from the live weights */
    private readonly transposes: Op[],
    private readonly recorder: Recorder,
  ) {
    this.gen = mem.alloc('engine.gen', 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /** Records and submits generation; `read` reads the output back (after the submit). */
  async generate(o: GenerateOptions, read: (src: GPUBuffer, bytes: number, reuse: string) => Promise<Float32Array>, notAStep: () => void): Promise<Uint32Array[]> {
    const d = this.ctx.device;
    const streams = o.streams ?? 1;
    const { V, H } = this.shape;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    if (o.length === 0) return Array.from({ length: streams }, () => new Uint32Array(0));
    const limit = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    const logitsBytes = 4 * (streams * V + Math.ceil(streams / 4) * 8 * H);
    if (logitsBytes > limit || streams > 4 * MAX_WORKGROUPS)
      throw new GpuError(`${streams} streams are more than this GPU generates at once with this model (${mib(logitsBytes)} of logits for V=${V}): generate fewer streams (--num), or use --device cpu.`);
    if (o.length > maxGenerateLength(d.limits, streams))
      throw new GpuError(
        `${o.length} characters in each of ${streams} stream${streams > 1 ? 's' : ''} need ${mib(4 * streams * o.length)} of GPU memory in one buffer, more than ` +
          `the ${mib(limit)} this adapter allows: generate at most ${maxGenerateLength(d.limits, streams)} characters per stream (--length), ` +
          `fewer streams (--num), or use --device cpu.`,
      );
    const lay = this.lay;
    d.queue.writeBuffer(this.gen, 0, pack(Gen, {
      prime_len: o.prime.length, length: o.length, greedy: o.greedy ? 1 : 0, seed: (o.seed ?? 0) >>> 0,
      temperature: o.temperature ?? 1, top_k: o.topK ?? 0, top_p: o.topP ?? 1,
      streams, V, H, off_W_xh: lay.offset.W_xh, off_b_h: lay.offset.b_h, off_b_y: lay.offset.b_y,
    }));
    const prime = this.mem.scratchBuffer('generate.prime', 4 * o.prime.length, storageUsage());
    const out = this.mem.scratchBuffer('generate.out', 4 * streams * o.length, storageUsage());
    // logits (streams, V), then for generate (four streams per workgroup) h: 2 halves x H x 4 streams per group
    const logits = this.mem.scratchBuffer('generate.logits', logitsBytes, storageUsage());
    d.queue.writeBuffer(prime, 0, o.prime);
    const { generate, generate1, generate8 } = this.k;
    const [sampler, perGroup] = streams === 1 && generate1 ? [generate1, 1] : streams > 4 && generate8 ? [generate8, 8] : [generate, 4];
    const x = Math.ceil(streams / perGroup);
    const made = this.made.get(sampler);
    const buffers = [prime, out, logits];
    const dispatch = made && made.x === x && made.buffers.every((b, i) => b === buffers[i]) ? made.op
      : op(this.ctx, 'generate', sampler, { gen: this.gen, params: this.buf.params, W_hhT: this.buf.W_hhT, W_hyT: this.buf.W_hyT, prime, out, logits }, x);
    this.made.set(sampler, { buffers, x, op: dispatch });
    const enc = this.recorder.encode(d.createCommandEncoder({ label: 'generate' }), [...this.transposes, dispatch]);
    notAStep();
    d.queue.submit([enc.finish()]);
    const flat = new Uint32Array((await read(out, 4 * streams * o.length, 'generate.staging')).buffer);
    return Array.from({ length: streams }, (_, s) => flat.slice(s * o.length, (s + 1) * o.length));
  }
}
