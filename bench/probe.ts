import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { create, globals } from 'webgpu';
import { gitState, packageVersion, slug } from './meta.js';
import { ROOT } from './options.js';
import discoverSource from '../shaders/residency.wgsl?raw';
import source from './probe.wgsl?raw';

// `npm run probe`: what this adapter offers the recurrent schedules, measured on it (kernels:
// bench/probe.wgsl). Run it first on any new GPU; it writes
// bench/results/<date>-<adapter>-probe.json and prints the same in short:
//   - the adapter: its info, features and limits;
//   - dispatches: the GPU time (timestamps, unquantized where Dawn allows) and the wall time of
//     N dependent one-invocation dispatches in one compute pass, and the cost per dispatch;
//   - handoff: the time of one handoff of a word between two workgroups through storage
//     atomics (or that the two never ran at once);
//   - residency: how many workgroups of each size (and workgroup memory) were resident at once
//     (the engine's own discovery, shaders/residency.wgsl, which the grid sweeps rely on).

const USAGE = `npm run probe [-- --out DIR] [--reps N]
  --out DIR   where the JSON goes (default bench/results)
  --reps N    repetitions of each timing, the median reported (default 5)`;

const { values } = parseArgs({ args: process.argv.slice(2), options: { out: { type: 'string' }, reps: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got '${values.reps}'\n${USAGE}`);
const outDir = values.out ? resolve(values.out) : join(ROOT, 'bench/results');

/** Polls a wait may take before it gives up (the failure flag): far more than a handoff needs,
 * so that a thread of a software adapter descheduled for a while on a loaded machine is no failure. */
const SPINS = 1 << 24;
/** Polls without a new arrival after which discovery closes (on a GPU about a second; on
 * lavapipe a thread's start can take longer than 2^18 polls). */
const QUIET = 1 << 20;
const DISPATCH_COUNTS = [1, 64, 512];
const HANDOFF_ROUNDS = 2000;
const RESIDENCY_DISPATCH = 1024;

Object.assign(globalThis, globals);
// unquantized timestamps where Dawn lets Node ask (Chrome and Dawn round them otherwise)
const gpu = create(['disable-dawn-features=timestamp_quantization']) as unknown as GPU;
(globalThis as { probeGpu?: GPU }).probeGpu = gpu; // kept referenced: dawn.node crashes if it is collected while its device lives
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('No WebGPU adapter: nothing to probe. See the README (scripts/setup.sh installs a software one).');
const timestamps = adapter.features.has('timestamp-query');
const device = await adapter.requestDevice({
  requiredFeatures: timestamps ? ['timestamp-query'] : [],
  requiredLimits: {
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
  },
});
const module = device.createShaderModule({ code: source, label: 'bench/probe.wgsl' });
const words = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
const wordsOut = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : undefined;
const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const stamps = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

device.onuncapturederror = (e) => {
  console.error(`probe: WebGPU error: ${e.error.message}`);
  process.exit(1);
};
const layout = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
const group = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: uniform } }, { binding: 1, resource: { buffer: words } }] });
const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });

function pipeline(entryPoint: string, constants: Record<string, number> = {}) {
  return { p: device.createComputePipeline({ layout: pipelineLayout, compute: { module, entryPoint, constants } }), group };
}

// shaders/residency.wgsl binds the words alone
const discoverLayout = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } }] });
const discoverModule = device.createShaderModule({ code: discoverSource, label: 'shaders/residency.wgsl' });
function discoverPipeline(constants: Record<string, number>) {
  const p = device.createComputePipeline({ layout: device.createPipelineLayout({ bindGroupLayouts: [discoverLayout] }), compute: { module: discoverModule, entryPoint: 'discover', constants } });
  return { p, group: device.createBindGroup({ layout: discoverLayout, entries: [{ binding: 0, resource: { buffer: words } }] }) };
}

interface Timed {
  /** GPU time of the pass from its timestamps (undefined without timestamp-query) */
  gpuUs?: number;
  /** submit to results read back */
  wallUs: number;
  /** words[0..3] after the pass */
  words: Uint32Array;
}

/** One compute pass of `dispatches` (pipeline, workgroups) with words zeroed and `rounds`,
 * `spins` in the uniform; its times and the words after it. */
async function run(dispatches: [{ p: GPUComputePipeline; group: GPUBindGroup }, number][], rounds = 0, spins = SPINS): Promise<Timed> {
  device.queue.writeBuffer(words, 0, new Uint32Array(4));
  device.queue.writeBuffer(uniform, 0, Uint32Array.of(rounds, spins, 0, 0));
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (const [{ p, group: g }, x] of dispatches) {
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(x);
  }
  pass.end();
  if (querySet) {
    enc.resolveQuerySet(querySet, 0, 2, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, stamps, 0, 16);
  }
  enc.copyBufferToBuffer(words, 0, wordsOut, 0, 16);
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await Promise.all([wordsOut.mapAsync(GPUMapMode.READ), querySet ? stamps.mapAsync(GPUMapMode.READ) : undefined]);
  const wallUs = (performance.now() - t0) * 1000;
  const w = new Uint32Array(wordsOut.getMappedRange().slice(0));
  wordsOut.unmap();
  let gpuUs: number | undefined;
  if (querySet) {
    const [begin, end] = new BigUint64Array(stamps.getMappedRange().slice(0));
    stamps.unmap();
    gpuUs = end > begin ? Number(end - begin) / 1000 : undefined;
  }
  return { gpuUs, wallUs, words: w };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const medianOf = (xs: (number | undefined)[]) => (xs.every((x) => x !== undefined) ? median(xs as number[]) : undefined);

async function dispatchCost() {
  const tick = pipeline('tick');
  await run([[tick, 1]]); // compiles
  const rows = [];
  for (const n of DISPATCH_COUNTS) {
    const runs: Timed[] = [];
    for (let r = 0; r < reps; r++) runs.push(await run(Array.from({ length: n }, () => [tick, 1] as [typeof tick, number])));
    if (runs.some((t) => t.words[0] !== n)) throw new Error(`tick: ${n} dependent dispatches counted ${runs.map((t) => t.words[0]).join(', ')}`);
    rows.push({ dispatches: n, gpuUs: medianOf(runs.map((t) => t.gpuUs)), wallUs: median(runs.map((t) => t.wallUs)) });
  }
  const [first, last] = [rows[0], rows[rows.length - 1]];
  const per = (a?: number, b?: number) => (a !== undefined && b !== undefined ? (b - a) / (last.dispatches - first.dispatches) : undefined);
  return { rows, perDispatchGpuUs: per(first.gpuUs, last.gpuUs), perDispatchWallUs: per(first.wallUs, last.wallUs) };
}

async function handoff() {
  const pp = pipeline('pingpong');
  const runs: Timed[] = [];
  for (let r = 0; r < reps; r++) runs.push(await run([[pp, 2]], HANDOFF_ROUNDS));
  const ok = runs.every((t) => t.words[1] === 0 && t.words[0] === 2 * HANDOFF_ROUNDS);
  const us = (t: Timed) => (t.gpuUs ?? t.wallUs) / (2 * HANDOFF_ROUNDS);
  return ok
    ? { ok, rounds: HANDOFF_ROUNDS, perHandoffUs: median(runs.map(us)), timedBy: timestamps ? 'timestamps' : 'wall clock' }
    : { ok, rounds: HANDOFF_ROUNDS, failure: 'a wait ran out: the two workgroups did not run at the same time (no forward progress between them)' };
}

async function residency() {
  const limits = device.limits;
  const sizes = [32, 64, 128, 256].filter((s) => s <= Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX));
  const memories = [4, 16384].filter((b) => b <= limits.maxComputeWorkgroupStorageSize);
  const rows = [];
  for (const size of sizes)
    for (const bytes of memories) {
      const d = discoverPipeline({ WGSIZE: size, WMEM: bytes / 4, QUIET });
      const counts: number[] = [];
      let failed = false;
      for (let r = 0; r < Math.min(reps, 3); r++) {
        const t = await run([[d, RESIDENCY_DISPATCH]]);
        failed ||= t.words[1] !== 0;
        counts.push(t.words[0] & 0x7fffffff);
      }
      rows.push({ invocations: size, workgroupBytes: bytes, resident: median(counts), min: Math.min(...counts), max: Math.max(...counts), failed });
    }
  return { dispatched: RESIDENCY_DISPATCH, rows };
}

const info = adapter.info;
const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
const limits: Record<string, number> = {};
for (const k in adapter.limits) limits[k] = (adapter.limits as unknown as Record<string, number>)[k];
const t0 = performance.now();
const result = {
  date: new Date().toISOString(),
  commit: gitState(),
  node: process.version,
  webgpu: packageVersion(join(ROOT, 'node_modules/webgpu/package.json')),
  host: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
  adapter: {
    name: adapterName,
    info: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize },
    features: [...adapter.features].sort(),
    limits,
  },
  timestamps: timestamps ? 'timestamp-query, timestamp_quantization disabled' : 'none (wall clock only)',
  dispatches: await dispatchCost(),
  handoff: await handoff(),
  residency: await residency(),
  seconds: 0,
};
result.seconds = Math.round((performance.now() - t0) / 10) / 100;
device.destroy();

const d = new Date();
const pad = (n: number) => String(n).padStart(2, '0');
const file = join(outDir, `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}-${slug(adapterName)}-probe.json`);
mkdirSync(outDir, { recursive: true });
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

const us = (x?: number) => (x === undefined ? '–' : `${x.toFixed(1)} µs`);
console.log(`${adapterName}: ${result.adapter.features.length} features (subgroups ${result.adapter.features.includes('subgroups') ? 'yes' : 'no'}, shader-f16 ${result.adapter.features.includes('shader-f16') ? 'yes' : 'no'}); ${result.timestamps}`);
console.log(`dependent dispatches in one pass: ${result.dispatches.rows.map((r) => `${r.dispatches}: ${us(r.gpuUs)} GPU, ${us(r.wallUs)} wall`).join('; ')}`);
console.log(`  per dispatch: ${us(result.dispatches.perDispatchGpuUs)} GPU, ${us(result.dispatches.perDispatchWallUs)} wall`);
const h = result.handoff;
console.log(`handoff between two workgroups: ${h.ok ? `${us(h.perHandoffUs)} each (${h.rounds} round trips, ${h.timedBy})` : h.failure}`);
console.log(`resident workgroups (of ${result.residency.dispatched}): ${result.residency.rows.map((r) => `${r.invocations}x${r.workgroupBytes}B ${r.resident}${r.failed ? ' (a wait ran out)' : ''}`).join(', ')}`);
console.log(`wrote ${file} (${result.seconds} s)`);
// the GPU object stays referenced until here (dawn.node crashes if it is collected first)
void gpu;
