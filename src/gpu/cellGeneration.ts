import type { GenerateOptions } from '../engine.js';
import { GpuError } from '../errors.js';
import { type Layout, type StepShape, modelOf, paramTable } from '../model.js';
import { type Buffers, type GpuMemory, storageUsage } from './buffers.js';
import type { CellKernels } from './cells.js';
import type { GpuContext } from './context.js';
import { Gen } from './families.js';
import { MAX_WORKGROUPS, STEP_SLOT, pack } from './kernel.js';
import { maxGenerateLength, mib } from './limits.js';
import { type Op, type Recorder, op } from './ops.js';

// Generation for any cell and depth (generate_cells of shaders/cells_generate.wgsl): one
// dispatch for all streams and all characters, one readback at the end. The dispatch is kept
// and made again only when a scratch buffer grew or the stream count changed.

export class CellSampler {
  private readonly gen: GPUBuffer;
  /** [L, off_W_hy, off_b_y, 0], then per layer [off_W_xh, off_W_hh, off_b_h, off_b_hn] */
  private readonly gl: GPUBuffer;
  /** the family's group(1) uniform, which generate_cells does not read but its layout holds */
  private readonly launch: GPUBuffer;
  private made?: { buffers: GPUBuffer[]; x: number; op: Op };

  constructor(
    private readonly ctx: GpuContext,
    private readonly mem: GpuMemory,
    private readonly buf: Buffers,
    private readonly shape: StepShape,
    lay: Layout,
    private readonly kernel: CellKernels['generate_cells'],
    private readonly recorder: Recorder,
  ) {
    this.gen = mem.alloc('engine.gen', 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.launch = mem.alloc('engine.gen.launch', STEP_SLOT, GPUBufferUsage.UNIFORM);
    const m = modelOf(shape);
    const table = paramTable(m);
    const at = (role: string, l: number) => {
      const p = table.find((q) => q.role === role && q.layer === l);
      return p ? lay.offset[p.name] : 0;
    };
    const offsets = [m.layers, at('W_hy', -1), at('b_y', -1), 0];
    for (let l = 0; l < m.layers; l++) offsets.push(at('W_xh', l), at('W_hh', l), at('b_h', l), at('b_hn', l));
    this.gl = mem.alloc('engine.gen.layers', 4 * offsets.length, storageUsage());
    ctx.device.queue.writeBuffer(this.gl, 0, Uint32Array.from(offsets));
  }

  /** Records and submits generation; `read` reads the output back (after the submit). */
  async generate(o: GenerateOptions, read: (src: GPUBuffer, bytes: number, reuse: string) => Promise<Float32Array>, notAStep: () => void): Promise<Uint32Array[]> {
    const d = this.ctx.device;
    const streams = o.streams ?? 1;
    const { V, H } = this.shape;
    const L = modelOf(this.shape).layers;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    if (o.length === 0) return Array.from({ length: streams }, () => new Uint32Array(0));
    const limit = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    const stateBytes = 4 * streams * L * 3 * H;
    if (stateBytes > limit || 4 * streams * V > limit || streams > MAX_WORKGROUPS)
      throw new GpuError(`${streams} streams are more than this GPU generates at once with this model (${mib(Math.max(stateBytes, 4 * streams * V))} of state): generate fewer streams (--num), or use --device cpu.`);
    if (o.length > maxGenerateLength(d.limits, streams))
      throw new GpuError(`${o.length} characters in each of ${streams} stream(s) need more than the ${mib(limit)} this adapter allows in one buffer: generate at most ${maxGenerateLength(d.limits, streams)} characters per stream (--length), fewer streams (--num), or use --device cpu.`);
    d.queue.writeBuffer(this.gen, 0, pack(Gen, {
      prime_len: o.prime.length, length: o.length, greedy: o.greedy ? 1 : 0, seed: (o.seed ?? 0) >>> 0,
      temperature: o.temperature ?? 1, top_k: o.topK ?? 0, top_p: o.topP ?? 1,
      streams, V, H, off_W_xh: 0, off_b_h: 0, off_b_y: 0, // (generate_cells reads its offsets from gl)
    }));
    const prime = this.mem.scratchBuffer('generate.prime', 4 * o.prime.length, storageUsage());
    const out = this.mem.scratchBuffer('generate.out', 4 * streams * o.length, storageUsage());
    const logits = this.mem.scratchBuffer('generate.logits', 4 * streams * V, storageUsage());
    const gstate = this.mem.scratchBuffer('generate.state', stateBytes, storageUsage());
    d.queue.writeBuffer(prime, 0, o.prime);
    const buffers = [prime, out, logits, gstate];
    const made = this.made;
    const dispatch = made && made.x === streams && made.buffers.every((b, i) => b === buffers[i]) ? made.op
      : op(this.ctx, 'generate', this.kernel, { gen: this.gen, params: this.buf.params, gl: this.gl, gstate, prime, out, logits }, streams, this.launch);
    this.made = { buffers, x: streams, op: dispatch };
    const enc = this.recorder.encode(d.createCommandEncoder({ label: 'generate' }), [dispatch]);
    notAStep();
    d.queue.submit([enc.finish()]);
    const flat = new Uint32Array((await read(out, 4 * streams * o.length, 'generate.staging')).buffer);
    return Array.from({ length: streams }, (_, s) => flat.slice(s * o.length, (s + 1) * o.length));
  }
}
