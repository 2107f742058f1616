import type { DeviceKind } from './engines.js';
import { UsageError } from './errors.js';
import { bufferTable } from './gpu/buffers.js';
import { cellBufferTable } from './gpu/cells.js';
import type { GpuContext } from './gpu/context.js';
import { mib } from './gpu/limits.js';
import { type GpuEngineOptions, softwareAdapter } from './gpu/schedule.js';
import { CELLS, type StepShape, modelOf, parameterCount } from './model.js';

// What a model takes before it is made: every array or buffer an engine allocates when it is
// created (parameters, gradients, optimizer state, the activations of B x T positions), and
// the initial weights its caller draws (initParams), so that a model too large for the adapter
// or the machine is refused at once, naming the sizes and the options that lower them, rather
// than after minutes of drawing weights and gigabytes allocated. Generation and evaluation
// add scratch later (streams x length, one stream of 256): not counted.

/** One array or buffer: its name, where it lives, and what it holds. */
export interface Allocation {
  name: string;
  bytes: number;
  on: 'host' | 'gpu';
  holds: 'initial weights' | 'parameters' | 'gradients' | 'optimizer state' | 'transposed weights' | 'activations';
}

/** The memory a model takes on an engine. */
export interface ModelSize {
  device: DeviceKind;
  allocations: Allocation[];
  /** bytes in host memory: the initial weights, and the CPU engine's arrays */
  host: number;
  /** bytes of GPU buffers (0 on the CPU engine) */
  gpu: number;
}

/** Elements of the CPU engine's float64 arrays (src/cpu/engine.ts, src/cpu/network.ts);
 * test/memory.test.ts compares them with a live engine's. */
export function cpuTable(s: StepShape): Record<string, number> {
  const { V, H, B, T } = s;
  const { cell, layers: L } = modelOf(s);
  const G = CELLS[cell].gates;
  const P = parameterCount(s);
  const N = T * B;
  const c = CELLS[cell].cellState ? 1 : 0;
  return {
    params: P, grads: P, m: P, v: P,
    hprev: L * B * H, cprev: c * L * B * H, // (L, B, H) carried between steps
    hs: L * (T + 1) * B * H, cs: c * L * (T + 1) * B * H, // per layer (T+1, B, H)
    act: L * N * G * H, // per layer (T, B, G*H) gate values
    extra: (CELLS[cell].saved - CELLS[cell].gates) * L * N * H, // per layer (T, B, H) what a cell saves beyond its gates (the GRU's ah_n + b_hn)
    masks: L * N * H, // per layer (T, B, H) dropout scales
    dpre: L * N * G * H, // per layer (T, B, G*H)
    ys: N * V, ps: N * V, losses: N,
  };
}

/** Elements of the GPU buffers beside bufferTable and cellBufferTable that grow with the model:
 * the layer kernels' generation weights (src/gpu/cellGeneration.ts: W_hh.l of every layer and
 * W_xh.l of those above the first, transposed, 256-byte aligned; then W_hy for the one-stream
 * kernels where H % 4 == 0). The small uniforms and staging buffers are not counted. */
export function generationTable(s: StepShape): Record<string, number> {
  const { cell, layers: L } = modelOf(s);
  const align = (n: number) => Math.ceil(n / 64) * 64;
  return { WT: (2 * L - 1) * align(CELLS[cell].gates * s.H * s.H) + (s.H % 4 === 0 ? align(s.V * s.H) : 0) };
}

const HOLDS: Record<string, Allocation['holds']> = {
  params: 'parameters', grads: 'gradients', m: 'optimizer state', v: 'optimizer state',
  'cells.W_hhT': 'transposed weights', 'gen.WT': 'transposed weights',
};

/** The arrays and buffers an engine for `shape` allocates when it is created, and the
 * initial weights (float32) its caller holds. `gpuOptions`: those the GPU engine is given. */
export function modelSize(shape: StepShape, device: DeviceKind, gpuOptions: GpuEngineOptions = {}): ModelSize {
  const list: Allocation[] = [{ name: 'initial weights', bytes: 4 * parameterCount(shape), on: 'host', holds: 'initial weights' }];
  const add = (table: Record<string, number>, bytesPer: number, on: Allocation['on'], prefix = '') => {
    for (const [name, n] of Object.entries(table))
      if (n) list.push({ name: prefix + name, bytes: bytesPer * n, on, holds: HOLDS[prefix + name] ?? 'activations' });
  };
  if (device === 'cpu') add(cpuTable(shape), 8, 'host');
  else {
    add(bufferTable(shape), 4, 'gpu');
    add(cellBufferTable(shape, gpuOptions.dropout), 4, 'gpu', 'cells.');
    add(generationTable(shape), 4, 'gpu', 'gen.');
  }
  const sum = (on: Allocation['on']) => list.filter((a) => a.on === on).reduce((n, a) => n + a.bytes, 0);
  return { device, allocations: list, host: sum('host'), gpu: sum('gpu') };
}

/** The options that lower a quantity of the shape, the most effective first: each halved in
 * turn, kept where that saves at least 1% of it. */
function levers(s: StepShape, measure: (s: StepShape) => number): string {
  const { layers } = modelOf(s);
  const dims = [
    { key: 'H', now: s.H, say: `--hidden (${s.H})` },
    { key: 'layers', now: layers, say: `--layers (${layers})` },
    { key: 'B', now: s.B, say: `--batch (${s.B})` },
    { key: 'T', now: s.T, say: `--seq-len (${s.T})` },
    { key: 'V', now: s.V, say: `the vocabulary (a text of fewer distinct characters than ${s.V})` },
  ];
  const whole = measure(s);
  const found = dims
    .map((d) => ({ ...d, saves: whole - measure({ ...s, [d.key]: Math.ceil(d.now / 2) }) }))
    .filter((d) => d.saves >= 0.01 * whole)
    .sort((a, b) => b.saves - a.saves);
  const says = found.map((d) => d.say);
  return says.length > 1 ? `${says.slice(0, -1).join(', ')} or ${says[says.length - 1]}` : (says[0] ?? '--hidden');
}

/** "on the CPU engine (float64): parameters 7.50 GiB, ...; initial weights (float32) 3.75 GiB" */
function breakdown(size: ModelSize): string {
  const by = new Map<string, number>();
  for (const a of size.allocations) if (a.holds !== 'initial weights') by.set(a.holds, (by.get(a.holds) ?? 0) + a.bytes);
  const engine = size.device === 'cpu' ? 'on the CPU engine (float64)' : 'in GPU buffers (float32)';
  const weights = size.allocations.find((a) => a.holds === 'initial weights')!;
  return `${engine}: ${[...by].map(([holds, bytes]) => `${holds} ${mib(bytes)}`).join(', ')}; initial weights (float32) ${mib(weights.bytes)}`;
}

export interface SizeOptions {
  /** Bytes of memory the model may take: the CLI passes the machine's (os.totalmem()). Without
   * it, only the adapter's buffer limits are checked. */
  memory?: number;
  /** the options the GPU engine is given (its layer kernels allocate more) */
  gpuOptions?: GpuEngineOptions;
}

/** The memory a model takes (modelSize); throws UsageError, before anything is allocated,
 * when one of its GPU buffers is larger than the adapter allows, or it needs more memory than
 * `memory`, naming the sizes and the options to lower. createEngine calls it. */
export function checkModelSize(shape: StepShape, device: DeviceKind, ctx?: GpuContext, opts: SizeOptions = {}): ModelSize {
  const size = modelSize(shape, device, opts.gpuOptions);
  const of = (s: StepShape) => modelSize(s, device, opts.gpuOptions);
  const { cell, layers } = modelOf(shape);
  const model = `This model (${cell}, ${layers} layer${layers > 1 ? 's' : ''} of H=${shape.H}, B=${shape.B}, T=${shape.T}, V=${shape.V})`;
  const cpuFits = opts.memory !== undefined && modelSize(shape, 'cpu').host <= opts.memory;
  const orCpu = device === 'gpu' && cpuFits ? ', or use the CPU engine (--device cpu)' : '';
  if (device === 'gpu' && ctx) {
    const limit = Math.min(ctx.device.limits.maxStorageBufferBindingSize, ctx.device.limits.maxBufferSize);
    const big = size.allocations.filter((a) => a.on === 'gpu' && a.bytes > limit).sort((a, b) => b.bytes - a.bytes)[0];
    if (big) {
      const bytesOf = (s: StepShape) => of(s).allocations.find((a) => a.name === big.name)?.bytes ?? 0;
      throw new UsageError(
        `${model} does not fit this GPU: its buffer ${big.name} (${big.holds}) needs ${mib(big.bytes)}, more than the ${mib(limit)} ` +
          `the adapter (${ctx.adapterName}) allows in one buffer. Lower ${levers(shape, bytesOf)}${orCpu}.`,
      );
    }
  }
  if (opts.memory === undefined) return size;
  // a software adapter's buffers are host memory; a GPU's own memory is rarely larger than the host's
  const shared = device === 'gpu' && ctx !== undefined && softwareAdapter(ctx);
  const need = (z: ModelSize) => (shared ? z.host + z.gpu : Math.max(z.host, z.gpu));
  if (need(size) > opts.memory) {
    throw new UsageError(
      `${model} needs ${mib(need(size))} of memory (${breakdown(size)}), more than the ${mib(opts.memory)} there is. ` +
        `Lower ${levers(shape, (s) => need(of(s)))}.`,
    );
  }
  return size;
}
