import type { GenerateOptions } from '../engine.js';
import { GpuError } from '../errors.js';
import { CELLS, type Layout, type StepShape, modelOf, paramTable } from '../model.js';
import { type Buffers, type GpuMemory, storageUsage } from './buffers.js';
import type { CellKernels } from './cellKernels.js';
import { STEP_QUADS } from './schedule.js';
import type { GpuContext } from './context.js';
import { Gen, GenHead, GenLayer, Launch, Layer, launchSlots } from './families.js';
import { MAX_WORKGROUPS, STEP_SLOT, WG, pack } from './kernel.js';
import { maxGenerateLength, mib } from './limits.js';
import { type Op, type Recorder, at, copy, op } from './ops.js';

// Generation for any cell and depth (shaders/cells_generate.wgsl): the transposes of the live
// recurrent and inter-layer weights, then one dispatch for all streams and all characters (or,
// one stream by steps, one dispatch per layer and character and one for each draw), one
// readback at the end. The dispatches are kept and made again only when a scratch buffer grew
// or the stream count changed.

export class Sampler {
  private readonly gen: GPUBuffer;
  /** GenHead, then one GenLayer per layer (families.ts, shaders/cells_generate.wgsl) */
  private readonly gl: GPUBuffer;
  /** the family's group(1) uniform: the sizes transpose_hh reads */
  private readonly launch: GPUBuffer;
  /** W_hh.l^T and (l > 0) W_xh.l^T, (H, G*H) each, then a copy of W_hy (V, H) where a
   * one-stream kernel exists, in slots of a multiple of 64 elements */
  private readonly WT: GPUBuffer;
  private readonly transposes: Op[];
  /** W_hy into its slot of WT (generate_sweep1 only) */
  private readonly hyCopy?: Op;
  /** the dispatch of each stream count generated, over the scratch buffers it was made with */
  private readonly made = new Map<number, { buffers: GPUBuffer[]; op: Op }>();
  /** generate_step's launch uniform: slot l holds t = l (the layer) */
  private readonly layerLaunch?: GPUBuffer;
  /** generate_step of each layer, then generate_step_out, over the current scratch buffers */
  private madeSteps?: { buffers: GPUBuffer[]; ops: Op[] };

  constructor(
    private readonly ctx: GpuContext,
    private readonly mem: GpuMemory,
    private readonly buf: Buffers,
    private readonly shape: StepShape,
    lay: Layout,
    private readonly kernels: Pick<CellKernels, 'generate_sweep' | 'generateStreams' | 'generate_one' | 'generate_step' | 'transpose_hh'>,
    private readonly recorder: Recorder,
  ) {
    const q = ctx.device.queue;
    this.gen = mem.alloc('engine.gen', 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const m = modelOf(shape);
    this.launch = mem.uniform('engine.gen.launch', pack(Launch, { t: 0, V: shape.V, H: shape.H, B: shape.B, T: shape.T, L: m.layers }));
    const table = paramTable(m);
    const at = (role: string, l: number) => {
      const p = table.find((q) => q.role === role && q.layer === l);
      return p ? lay.offset[p.name] : 0;
    };
    // slots of WT: W_hh.0, then W_hh.l and W_xh.l for l > 0 (offsets in elements, 256-byte aligned)
    const GH = CELLS[m.cell].gates * shape.H;
    const slot = Math.ceil((GH * shape.H) / 64) * 64;
    const sources: { src: number; at: number }[] = [];
    // then, for the one-stream kernels' logits (vec4 rows), a copy of W_hy (V, H)
    const hySlot = kernels.generate_one || kernels.generate_step ? Math.ceil((shape.V * shape.H) / 64) * 64 : 0;
    const glBytes = new ArrayBuffer(GenHead.bytes + m.layers * GenLayer.bytes);
    for (let l = 0; l < m.layers; l++) {
      const hh = { src: at('W_hh', l), at: sources.length * slot };
      sources.push(hh);
      const xh = l > 0 ? { src: at('W_xh', l), at: sources.length * slot } : undefined;
      if (xh) sources.push(xh);
      const layer = { W_xh: at('W_xh', l), W_hh: at('W_hh', l), b_h: at('b_h', l), b_hn: at('b_hn', l), WT_hh: hh.at, WT_xh: xh?.at ?? 0 };
      pack(GenLayer, layer, glBytes, GenHead.bytes + l * GenLayer.bytes);
    }
    const hyAt = sources.length * slot;
    pack(GenHead, { L: m.layers, W_hy: at('W_hy', -1), b_y: at('b_y', -1), WT_hy: hyAt }, glBytes);
    this.gl = mem.alloc('engine.gen.layers', glBytes.byteLength, storageUsage());
    q.writeBuffer(this.gl, 0, glBytes);
    this.WT = mem.alloc('engine.gen.WT', 4 * (hyAt + hySlot), storageUsage());
    // transpose_hh reads its source at cell.off_W_hh and writes (H, G*H) from its binding's start
    this.transposes = sources.map(({ src, at: dst }, i) =>
      op(ctx, 'transpose_gen', kernels.transpose_hh, {
        cell: mem.uniform(`engine.gen.transpose${i}`, pack(Layer, { layer: 0, off_W_xh: 0, off_W_hh: src, off_b_h: 0, off_b_hn: 0 })),
        params: buf.params,
        W_hhT_out: { buffer: this.WT, offset: 4 * dst, size: 4 * GH * shape.H },
      }, Math.ceil((GH * shape.H) / WG), this.launch),
    );
    if (kernels.generate_step) {
      this.layerLaunch = mem.uniform('engine.gen.layers.launch', launchSlots({ V: shape.V, H: shape.H, B: shape.B, T: shape.T, L: m.layers }, m.layers));
    }
    if (kernels.generate_one || kernels.generate_step) this.hyCopy = copy(buf.params, 4 * at('W_hy', -1), this.WT, 4 * hyAt, 4 * shape.V * shape.H);
  }

  /** Records and submits generation; `read` reads the output back (after the submit). */
  async generate(o: GenerateOptions, read: (src: GPUBuffer, bytes: number, reuse: string) => Promise<Float32Array>, notAStep: () => void): Promise<Uint32Array[]> {
    const d = this.ctx.device;
    const streams = o.streams ?? 1;
    const { V, H } = this.shape;
    const L = modelOf(this.shape).layers;
    if (o.prime.length === 0) throw new Error('generate: the prime must hold at least one character');
    if (o.length === 0) return Array.from({ length: streams }, () => new Uint32Array(0));
    // one stream: by steps or units in the vec4 lanes where H allows (chooseOneStream), else the
    // streams in them. (Nothing here may yield before the submit: a concurrent call could
    // replace the scratch buffers.)
    const steps = streams === 1 ? this.kernels.generate_step : undefined;
    const one = streams === 1 && !steps ? this.kernels.generate_one : undefined;
    const limit = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    const stateBytes = 4 * streams * L * 3 * H + 8; // (+ generate_step's input character and step)
    if (stateBytes > limit || 4 * streams * V > limit || streams > MAX_WORKGROUPS)
      throw new GpuError(`${streams} streams are more than this GPU generates at once with this model (${mib(Math.max(stateBytes, 4 * streams * V))} of state): generate fewer streams (--num), or use --device cpu.`);
    if (o.length > maxGenerateLength(d.limits, streams))
      throw new GpuError(`${o.length} characters in each of ${streams} stream(s) need more than the ${mib(limit)} this adapter allows in one buffer: generate at most ${maxGenerateLength(d.limits, streams)} characters per stream (--length), fewer streams (--num), or use --device cpu.`);
    d.queue.writeBuffer(this.gen, 0, pack(Gen, {
      prime_len: o.prime.length, length: o.length, greedy: o.greedy ? 1 : 0, seed: (o.seed ?? 0) >>> 0,
      temperature: o.temperature ?? 1, top_k: o.topK ?? 0, top_p: o.topP ?? 1,
      streams, V, H,
    }));
    const prime = this.mem.scratchBuffer('generate.prime', 4 * o.prime.length, storageUsage());
    const out = this.mem.scratchBuffer('generate.out', 4 * streams * o.length, storageUsage());
    const logits = this.mem.scratchBuffer('generate.logits', 4 * streams * V, storageUsage());
    const gstate = this.mem.scratchBuffer('generate.state', stateBytes, storageUsage());
    d.queue.writeBuffer(prime, 0, o.prime);
    const buffers = [prime, out, logits, gstate];
    if (steps) {
      const init = new Uint32Array(L * 3 * H + 2); // h = c = 0, x = the prime's first character, n = 0
      init[L * 3 * H] = o.prime[0];
      d.queue.writeBuffer(gstate, 0, init);
      const made = this.madeSteps;
      let ops: Op[];
      if (made && made.buffers.every((b, i) => b === buffers[i])) ops = made.ops;
      else {
        const res = { gen: this.gen, params: this.buf.params, gl: this.gl, gstate, prime, out, logits, WT: this.WT };
        const layer = op(this.ctx, 'generate_step', steps.layer, res, Math.ceil(H / 4 / STEP_QUADS), this.layerLaunch);
        ops = [...Array.from({ length: L }, (_, l) => at(this.ctx, layer, l)), op(this.ctx, 'generate_step_out', steps.out, res, 1, this.launch)];
      }
      this.madeSteps = { buffers, ops };
      const all = [...this.transposes, this.hyCopy!];
      for (let n = 0; n < o.prime.length - 1 + o.length; n++) all.push(...ops);
      const enc = this.recorder.encode(d.createCommandEncoder({ label: 'generate' }), all);
      notAStep();
      d.queue.submit([enc.finish()]);
      return [new Uint32Array((await read(out, 4 * o.length, 'generate.staging')).buffer).slice(0, o.length)];
    }
    const made = this.made.get(streams);
    let dispatch: Op;
    if (made && made.buffers.every((b, i) => b === buffers[i])) dispatch = made.op;
    else {
      const groups = one ? 1 : Math.ceil(streams / this.kernels.generateStreams);
      dispatch = op(this.ctx, 'generate', one ?? this.kernels.generate_sweep, { gen: this.gen, params: this.buf.params, gl: this.gl, gstate, prime, out, logits, WT: this.WT }, groups, this.launch);
      if (this.made.size >= 8) this.made.clear(); // (a few stream counts at a time)
    }
    this.made.set(streams, { buffers, op: dispatch });
    const enc = this.recorder.encode(d.createCommandEncoder({ label: 'generate' }), [...this.transposes, ...(one && this.hyCopy ? [this.hyCopy] : []), dispatch]);
    notAStep();
    d.queue.submit([enc.finish()]);
    const flat = new Uint32Array((await read(out, 4 * streams * o.length, 'generate.staging')).buffer);
    return Array.from({ length: streams }, (_, s) => flat.slice(s * o.length, (s + 1) * o.length));
  }
}
