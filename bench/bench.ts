import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TUTORIAL_CONFIG, optimizerOf } from '../src/config.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { BatchCursor, planBatches } from '../src/data.js';
import type { Batch, OptimizerConfig } from '../src/engine.js';
import type { GpuContext } from '../src/gpu/context.js';
import { GpuEngine } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
import { CELLS, type CellName, type Params, type StepShape } from '../src/model.js';
import { nodeContext } from '../src/node/gpu.js';
import { decodeUtf8 } from '../src/text.js';
import { Vocab } from '../src/vocab.js';
import { type TfBackendName, type TfjsInfo, initTfjs, takeWebgpuErrors, tfTensorCount } from './tfjs.js';
import { TfjsSampler, TfjsTrainer } from './tfjsModel.js';

// `npm run bench`: this project's GPU engine (WGSL on WebGPU) and CPU engine (float64 JS)
// against TensorFlow.js on its webgpu backend (same Dawn adapter) and its wasm backend, in one
// process, one case after another, the four engines taking turns within each case.
//
// What is measured (wall clock, performance.now()):
// - training: a rep is k consecutive optimizer steps on consecutive batches of the text (the
//   state carried between them as in real training), the loss read back only at the last one,
//   which waits until the device has finished all k. chars/s = k*B*T / rep time. Before the reps:
//   one warm-up step (its loss, from identical weights and batch on every engine, is the
//   sanity check) and one timed probe step that sizes k so a rep lasts about --min-time.
// - hello: the tutorial's whole run, 1000 steps on "hello" from fresh weights, engine creation
//   excluded, the loss read once at the end; seconds per run.
// - sampling: a rep is one generate() of n characters in each of S streams (this project: one
//   GPU dispatch and one readback; TF.js: one model call, tf.multinomial and one readback per
//   character), chars/s = S*n / rep time; n sized like k.
// Each cell runs --reps reps (fewer where one rep is so slow that they would not fit in
// --max-cell-time; the table then says how many) and reports the median and the min–max.

const ENGINES = ['gpu', 'cpu', 'tfjs-webgpu', 'tfjs-wasm'] as const;
type EngineName = (typeof ENGINES)[number];

interface TrainCase {
  kind: 'train';
  name: string;
  label: string;
  H: number;
  B: number;
  T: number;
  optimizer: OptimizerConfig;
  /** the model's cell and depth (default: one layer of rnn, the tutorial's model) */
  cell?: CellName;
  layers?: number;
}
interface HelloCase {
  kind: 'hello';
  name: string;
  label: string;
  H: number;
  steps: number;
  optimizer: OptimizerConfig;
}
interface SampleCase {
  kind: 'sample';
  name: string;
  label: string;
  H: number;
  streams: number;
}
type Case = TrainCase | HelloCase | SampleCase;

const ADAM: OptimizerConfig = { name: 'adam', lr: 0.002, clip: 0 };
const T_MAIN = 64;

/** Every case of the default run, in run order. */
function allCases(): Case[] {
  const cases: Case[] = [];
  for (const H of [64, 256, 512])
    for (const B of [1, 32])
      cases.push({ kind: 'train', name: `h${H}-b${B}`, label: `H=${H} B=${B} T=${T_MAIN} adam`, H, B, T: T_MAIN, optimizer: ADAM });
  cases.push({
    kind: 'train', name: 'min-char-rnn', label: 'min-char-rnn: H=100 B=1 T=25 adagrad lr 0.1 clip 5',
    H: 100, B: 1, T: 25, optimizer: { name: 'adagrad', lr: 0.1, clip: 5 },
  });
  // The tutorial's settings (src/config.ts TUTORIAL_CONFIG): H=3, sgd lr 0.01, no clipping,
  // seqLen 0 = the whole text in one step (T = 4 on "hello"), 1000 steps.
  const tut = TUTORIAL_CONFIG;
  cases.push({
    kind: 'hello', name: 'hello',
    label: `hello: V=4 H=${tut.hidden} B=1 T=4 ${tut.optimizer} lr ${tut.lr}, ${tut.steps} steps`,
    H: tut.hidden, steps: tut.steps, optimizer: optimizerOf(tut),
  });
  // Other cells and depths (the GPU engine's layer kernels; TF.js is not given these models)
  for (const [cell, layers, B] of [['lstm', 1, 1], ['lstm', 1, 32], ['gru', 1, 32], ['lstm', 2, 32]] as [CellName, number, number][]) {
    const name = `${cell}${layers > 1 ? layers : ''}-h256-b${B}`;
    cases.push({ kind: 'train', name, label: `${cell} x${layers} H=256 B=${B} T=${T_MAIN} adam`, H: 256, B, T: T_MAIN, optimizer: ADAM, cell, layers });
  }
  for (const S of [1, 32]) cases.push({ kind: 'sample', name: `sample-${S}`, label: `sampling H=256, ${S} stream${S > 1 ? 's' : ''}`, H: 256, streams: S });
  return cases;
}
const QUICK_CASES = ['h64-b1', 'h64-b32', 'min-char-rnn', 'hello', 'sample-1', 'sample-32'];

const HELP = `npm run bench [-- options]

Trains and samples the same character-level RNN with this project's GPU and CPU engines and
with TensorFlow.js (webgpu backend on the same Dawn adapter, wasm backend) and writes
bench/results/<date>-<adapter>.md and .json.

  --quick               a small subset (${QUICK_CASES.join(', ')}), 3 reps, --min-time 0.15
  --reps N              timed repetitions per cell (default 5)
  --min-time S          seconds one rep should last at least (default 0.3)
  --max-cell-time S     seconds one engine may spend on one case, warm-up included; fewer
                        reps where they would not fit, at least 1 (default 60)
  --engines LIST        comma list of ${ENGINES.join(', ')} (default all)
  --cases LIST          comma list of case names or prefixes (default all):
                        ${allCases().map((c) => c.name).join(', ')}
  --text FILE           training text (default corpus/lighthouse.txt)
  --profile             per-kernel GPU times and memory of this project's GPU engine per
                        training case (GpuEngine.create(..., { profile: true }))
  --tfjs-sync-every N   a TF.js training step waits for its device at least every N steps
                        (default 16; 1 = every step, as model.fit does). Unbounded queues
                        crash TF.js webgpu on Dawn; see bench/tfjs.ts
  --out DIR             where results go (default bench/results)
  --seed N              weight initialisation seed (default 42)
  -h, --help
`;

interface Options {
  quick: boolean;
  reps: number;
  minTime: number;
  maxCellTime: number;
  engines: EngineName[];
  cases: Case[];
  text: string;
  profile: boolean;
  tfjsSyncEvery: number;
  out: string;
  seed: number;
}

/** The repository root: the nearest folder above this script whose package.json is the project's. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'char-rnn-webgpu') return d;
    const up = dirname(d);
    if (up === d) throw new Error('bench: cannot find the char-rnn-webgpu repository root above ' + fileURLToPath(import.meta.url));
    d = up;
  }
}
const ROOT = repoRoot();

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      'min-time': { type: 'string' },
      'max-cell-time': { type: 'string', default: '60' },
      engines: { type: 'string' },
      cases: { type: 'string' },
      text: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'tfjs-sync-every': { type: 'string', default: '16' },
      out: { type: 'string' },
      seed: { type: 'string', default: '42' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, int = false) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min || (int && !Number.isInteger(x))) throw new Error(`--${name} must be ${int ? 'an integer' : 'a number'} >= ${min}, got ${v}`);
    return x;
  };
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

  const engines = list(values.engines) ?? [...ENGINES];
  for (const e of engines) if (!ENGINES.includes(e as EngineName)) throw new Error(`unknown engine '${e}'; engines: ${ENGINES.join(', ')}`);
  const all = allCases();
  const wanted = list(values.cases) ?? (values.quick ? QUICK_CASES : undefined);
  let cases = all;
  if (wanted) {
    for (const w of wanted)
      if (!all.some((c) => c.name.startsWith(w))) throw new Error(`no case named '${w}'; cases: ${all.map((c) => c.name).join(', ')}`);
    cases = all.filter((c) => wanted.some((w) => c.name.startsWith(w)));
  }
  const cwd = process.env.INIT_CWD ?? process.cwd(); // npm run changes to the root; INIT_CWD is where it was typed
  return {
    quick: values.quick,
    reps: num('reps', values.reps ?? (values.quick ? '3' : '5'), 1, true),
    minTime: num('min-time', values['min-time'] ?? (values.quick ? '0.15' : '0.3'), 0),
    maxCellTime: num('max-cell-time', values['max-cell-time'], 0),
    engines: engines as EngineName[],
    cases,
    text: values.text ? resolve(cwd, values.text) : join(ROOT, 'corpus/lighthouse.txt'),
    profile: values.profile,
    tfjsSyncEvery: num('tfjs-sync-every', values['tfjs-sync-every'], 1, true),
    out: values.out ? resolve(cwd, values.out) : join(ROOT, 'bench/results'),
    seed: num('seed', values.seed, 0, true),
  };
}

// ---------------------------------------------------------------------------------------------
// The engines behind one interface

/** One engine set up for a training case. */
interface Trainee {
  step(batch: Batch, opts: { reset: boolean; wantLoss: boolean }): Promise<number | undefined>;
  /** between reps, untimed (TF.js frees the states its stateful RNN keeps) */
  settle(): void;
  /** fresh weights, optimizer state and hidden state */
  restart(p: Params): void;
  /** live TF.js tensors (TF.js engines only) */
  tensors?(): number;
  destroy(): void;
}

/** One engine set up for a sampling case (fixed number of streams). */
interface Sampler {
  generate(prime: Uint32Array, length: number, seed: number): Promise<void>;
  tensors?(): number;
  destroy(): void;
}

const tfBackend = (e: EngineName): TfBackendName => (e === 'tfjs-webgpu' ? 'webgpu' : 'wasm');

interface Env {
  ctx?: GpuContext;
  ctxError?: string;
  tf: TfjsInfo;
}

function unavailable(e: EngineName, env: Env): string | undefined {
  if (e === 'gpu' && !env.ctx) return `no GPU context: ${env.ctxError}`;
  if (e === 'tfjs-webgpu' && env.tf.webgpuError) return `TF.js webgpu backend: ${env.tf.webgpuError}`;
  if (e === 'tfjs-wasm' && env.tf.wasmError) return `TF.js wasm backend: ${env.tf.wasmError}`;
  return undefined;
}

async function makeTrainee(e: EngineName, env: Env, shape: StepShape, opt: OptimizerConfig, params: Params, o: Options): Promise<Trainee> {
  if (e === 'gpu' || e === 'cpu') {
    const engine = e === 'gpu' ? await GpuEngine.create(env.ctx!, shape, opt, params) : new CpuEngine(shape, opt, params);
    return {
      step: (b, o) => engine.step(b, o),
      settle: () => {},
      restart: (p) => engine.setParams(p),
      destroy: () => engine.destroy(),
    };
  }
  const t = await TfjsTrainer.create(tfBackend(e), shape, opt, params, o.tfjsSyncEvery);
  return {
    step: (b, o) => t.step(b, o),
    settle: () => t.settle(),
    restart: (p) => t.restart(p),
    tensors: tfTensorCount,
    destroy: () => t.destroy(),
  };
}

async function makeSampler(e: EngineName, env: Env, V: number, H: number, streams: number, params: Params): Promise<Sampler> {
  if (e === 'gpu' || e === 'cpu') {
    // generate() reads only V, H and the parameters; B and T size training buffers, kept minimal
    const shape = { V, H, B: 1, T: 1 };
    const engine = e === 'gpu' ? await GpuEngine.create(env.ctx!, shape, ADAM, params) : new CpuEngine(shape, ADAM, params);
    return {
      generate: async (prime, length, seed) => void (await engine.generate({ prime, length, streams, temperature: 1, seed })),
      destroy: () => engine.destroy(),
    };
  }
  const s = await TfjsSampler.create(tfBackend(e), { V, H, cell: 'rnn', layers: 1 }, streams, params);
  return {
    generate: async (prime, length) => void (await s.generate(prime, length, 1)),
    tensors: tfTensorCount,
    destroy: () => s.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Cell {
  case: string;
  engine: EngineName;
  status: 'ok' | 'failed';
  error?: string;
  /** 'chars/s' (training, sampling) or 's' (hello) */
  unit: 'chars/s' | 's';
  /** one value per timed rep, in unit */
  values: number[];
  median?: number;
  min?: number;
  max?: number;
  /** reps asked for; values.length < this when the cell's time cap cut them */
  repsWanted: number;
  /** training: steps per rep; sampling: characters per stream per rep; hello: steps per run */
  perRep?: number;
  /** training: loss of the warm-up step (same weights and batch on every engine) */
  firstLoss?: number;
  /** hello: loss of the last step of the last run; training: of the last rep */
  lastLoss?: number;
  /** TF.js engines: live tensors after each rep (must not grow) */
  tensors?: number[];
  /** wall-clock seconds this cell took, creation and warm-up included */
  seconds: number;
  /** share of the machine's CPU time (all cores) that other processes used during the cell
   * (Linux /proc/stat minus this process); high values mean the numbers are disturbed */
  otherCpu?: number;
}

const now = () => performance.now() / 1000;

/** Busy CPU seconds of the whole machine since boot (Linux /proc/stat, USER_HZ = 100), or
 * undefined where there is no /proc/stat. */
function machineBusySeconds(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
  } catch {
    return undefined;
  }
}

/** Measures what other processes take from the machine while a cell runs: busy CPU time of the
 * machine minus this process's (whose lavapipe and wasm threads are included), as a share of
 * wall time x cores. Another engineer's test run on the same 2 cores shows up here. */
function contentionMeter(): () => number | undefined {
  const busy0 = machineBusySeconds();
  const own0 = process.cpuUsage();
  const t0 = now();
  return () => {
    const busy1 = machineBusySeconds();
    if (busy0 === undefined || busy1 === undefined) return undefined;
    const own = process.cpuUsage(own0);
    const other = busy1 - busy0 - (own.user + own.system) / 1e6;
    return Math.max(0, other / (Math.max(now() - t0, 1e-3) * os.cpus().length));
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** How many reps in all (the one just done included) a cell gets: --reps, or fewer where the
 * rest would not fit in what is left of --max-cell-time. */
function repsThatFit(o: Options, started: number, repS: number): number {
  const left = o.maxCellTime - (now() - started);
  return Math.max(1, Math.min(o.reps, 1 + Math.floor(left / Math.max(repS, 1e-6))));
}

/** Finds how many units (steps, characters) one rep needs to last at least --min-time:
 * starting from `n`, runs `run(n)` and grows n until one run is long enough. Every run is a
 * whole rep after the warm-up, so the last one (of the returned n) counts as the first rep.
 * Returns n and that run's seconds. */
async function calibrate(run: (n: number) => Promise<number>, n: number, o: Options, max: number): Promise<{ n: number; seconds: number }> {
  let t = await run(n);
  while (t < o.minTime && n < max) {
    n = Math.min(max, Math.ceil(n * Math.min(10, Math.max(1.5, (1.2 * o.minTime) / Math.max(t, 1e-6)))));
    t = await run(n);
  }
  return { n, seconds: t };
}

async function timeTraining(tr: Trainee, cursor: BatchCursor, o: Options, cell: Cell, started: number): Promise<void> {
  const { B, T } = cursor.plan;
  const step = (wantLoss: boolean) => {
    const reset = cursor.next();
    return tr.step(cursor.batch, { reset, wantLoss });
  };
  /** k steps, the loss read back after the last only; seconds */
  const rep = async (k: number) => {
    const t0 = now();
    for (let i = 0; i < k - 1; i++) await step(false);
    cell.lastLoss = await step(true);
    return now() - t0;
  };
  cell.firstLoss = await step(true); // warm-up (compiles, allocates); its loss is the sanity check
  const { n: k, seconds } = await calibrate(rep, 1, o, 1 << 16);
  cell.perRep = k;
  const record = (s: number) => {
    cell.values.push((k * B * T) / s);
    tr.settle();
    if (tr.tensors) (cell.tensors ??= []).push(tr.tensors());
  };
  record(seconds);
  const more = repsThatFit(o, started, seconds) - 1;
  for (let r = 0; r < more; r++) record(await rep(k));
}

async function timeHello(tr: Trainee, cursor: BatchCursor, params: Params, steps: number, o: Options, cell: Cell, started: number): Promise<void> {
  const run = async (n: number) => {
    tr.restart(params); // untimed: fresh weights, optimizer and state, as a new run
    const t0 = now();
    let loss: number | undefined;
    for (let i = 0; i < n; i++) {
      const reset = cursor.next(); // always true: each step is the whole text from h = 0
      loss = await tr.step(cursor.batch, { reset, wantLoss: i === n - 1 });
    }
    return { s: now() - t0, loss };
  };
  cell.perRep = steps;
  await run(Math.min(steps, 20)); // warm-up
  for (let r = 0; r < o.reps; r++) {
    // the first run always; another only if it fits in the cell's time (judged by the last)
    if (r > 0 && now() - started + cell.values[r - 1] > o.maxCellTime) break;
    const x = await run(steps);
    cell.values.push(x.s);
    cell.lastLoss = x.loss;
    if (tr.tensors) (cell.tensors ??= []).push(tr.tensors());
  }
}

async function timeSampling(s: Sampler, streams: number, prime: Uint32Array, o: Options, cell: Cell, started: number): Promise<void> {
  await s.generate(prime, 4, 1); // warm-up
  let seed = 2;
  /** n characters per stream in one generate(); seconds */
  const rep = async (n: number) => {
    const t0 = now();
    await s.generate(prime, n, seed++);
    return now() - t0;
  };
  const { n, seconds } = await calibrate(rep, 16, o, 1 << 20);
  cell.perRep = n;
  const record = (t: number) => {
    cell.values.push((streams * n) / t);
    if (s.tensors) (cell.tensors ??= []).push(s.tensors());
  };
  record(seconds);
  const more = repsThatFit(o, started, seconds) - 1;
  for (let r = 0; r < more; r++) record(await rep(n));
}

// ---------------------------------------------------------------------------------------------
// Profile (--profile): the interface the GPU engine is getting; guarded until it exists.

interface KernelProfile {
  recurrence: string;
  kernels: { name: string; ms: number }[];
  /** reported where the engine gives them */
  variant?: string;
  reason?: string;
  steps?: number;
  totalMs?: number;
}
interface MemoryReport {
  bytes: number;
  tensors: Record<string, number>;
}
interface ProfileResult {
  case: string;
  error?: string;
  profile?: KernelProfile;
  memory?: MemoryReport;
}
type ProfilingEngine = GpuEngine & { profile?: () => KernelProfile | Promise<KernelProfile>; memory?: () => MemoryReport };
type CreateWithOptions = (
  ctx: GpuContext, shape: StepShape, opt: OptimizerConfig, params: Params | undefined, share?: GpuEngine, options?: { profile?: boolean },
) => Promise<ProfilingEngine>;

/** A separate engine created with { profile: true } after the timed cells (so the timings are of
 * the plain engine): one warm-up step, 3 steps, then engine.profile() and engine.memory(). */
async function profileCase(env: Env, c: TrainCase, shape: StepShape, data: Uint32Array, params: Params): Promise<ProfileResult> {
  const res: ProfileResult = { case: c.name };
  if (!env.ctx) return { ...res, error: `no GPU context: ${env.ctxError}` };
  let e: ProfilingEngine | undefined;
  try {
    e = await (GpuEngine.create as unknown as CreateWithOptions)(env.ctx, shape, c.optimizer, params, undefined, { profile: true });
    if (typeof e.profile !== 'function')
      return { ...res, error: 'GpuEngine has no profile() method yet (GpuEngine.create(..., { profile: true }) and engine.profile() are still being added in src/gpu/engine.ts); nothing to profile' };
    const cursor = new BatchCursor(data, planBatches(data.length, shape.B, shape.T));
    for (let i = 0; i < 4; i++) {
      const reset = cursor.next();
      await e.step(cursor.batch, { reset, wantLoss: i === 0 || i === 3 });
    }
    res.profile = await e.profile();
    res.profile.kernels = [...res.profile.kernels].sort((a, b) => b.ms - a.ms);
    if (typeof e.memory === 'function') res.memory = e.memory();
    return res;
  } catch (err) {
    return { ...res, error: (err as Error).message };
  } finally {
    e?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const oneLine = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 160);

function cellText(c: Cell | undefined): string {
  if (!c) return '–';
  if (c.status === 'failed') return `failed: ${oneLine(c.error ?? 'unknown')}`;
  const few = c.values.length < c.repsWanted ? `; ${c.values.length} rep${c.values.length > 1 ? 's' : ''}` : '';
  return `${fmt(c.median)} (${fmt(c.min)}–${fmt(c.max)}${few})`;
}

function ratio(a: Cell | undefined, b: Cell | undefined, higherIsBetter = true): string {
  if (!a?.median || !b?.median || a.status !== 'ok' || b.status !== 'ok') return '–';
  const r = higherIsBetter ? a.median / b.median : b.median / a.median;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** Losses are compared with the CPU engine's (float64), or the GPU engine's without it; a
 * difference over 1% marks a wrong result, not rounding (an engine fed garbage shows ~0 or
 * ln V). Returns the relative difference when it is over that, else undefined. */
function lossMismatch(cells: Cell[], c: Cell, pick: (x: Cell) => number | undefined): number | undefined {
  const mine = pick(c);
  const ref = ['cpu', 'gpu'].map((e) => cells.find((x) => x.case === c.case && x.engine === e)).find((x) => x && x !== c && pick(x) !== undefined);
  if (mine === undefined || !ref) return undefined;
  const r = pick(ref)!;
  const rel = Math.abs(mine - r) / Math.max(Math.abs(r), 1e-6);
  return rel > 0.01 || !Number.isFinite(mine) ? rel : undefined;
}

const lossText = (cells: Cell[], c: Cell | undefined, pick: (x: Cell) => number | undefined) => {
  const v = c && pick(c);
  if (v === undefined) return '–';
  const bad = lossMismatch(cells, c!, pick);
  return v.toFixed(5) + (bad !== undefined ? ` ⚠ ${(100 * bad).toFixed(0)}% off` : '');
};

/** Model FLOPs per trained character: forward 2(H^2 + VH), backward twice that. */
/** Model FLOPs per character, forward + backward: W_hh (G gate blocks) of every layer, W_xh of
 * the layers above the first (layer 0's is a gather), W_hy. */
const flopPerChar = (H: number, V: number, c?: { cell?: CellName; layers?: number }) => {
  const G = CELLS[c?.cell ?? 'rnn'].gates;
  const L = c?.layers ?? 1;
  return 6 * (G * H * H * (2 * L - 1) + V * H);
};

interface Meta {
  date: string;
  command: string;
  /** commit of the project's sources (and whether src/, shaders/ had uncommitted changes) */
  commit: string;
  node: string;
  cpu: string;
  cores: number;
  os: string;
  adapter: string;
  tfjsWebgpuAdapter: string;
  tfjs: TfjsInfo;
  versions: Record<string, string>;
  text: { file: string; chars: number; V: number };
  settings: { reps: number; minTime: number; maxCellTime: number; tfjsSyncEvery: number; engines: EngineName[]; cases: string[]; seed: number; profile: boolean };
  totalSeconds?: number;
}

function markdown(meta: Meta, cases: Case[], engines: EngineName[], cells: Cell[], profiles: ProfileResult[], V: number): string {
  const get = (c: string, e: EngineName) => cells.find((x) => x.case === c && x.engine === e);
  const L: string[] = [];
  const tf = meta.tfjs;
  L.push(`# char-rnn-webgpu benchmark, ${meta.date}`, '');
  L.push(`- Command: \`${meta.command}\`, sources at ${meta.commit}`);
  L.push(`- Adapter (this project's GPU engine): ${meta.adapter}`);
  if (engines.includes('tfjs-webgpu'))
    L.push(`- Adapter (TF.js webgpu backend, \`tf.getBackend()\` = ${tf.webgpuBackend ?? '–'}): ${meta.tfjsWebgpuAdapter}`);
  if (engines.includes('tfjs-wasm'))
    L.push(
      `- TF.js wasm backend: ${tf.wasmError ? 'failed: ' + tf.wasmError : `SIMD ${tf.wasmSimd ? 'on' : 'off'}, multithreading ${tf.wasmThreads ? 'on' : 'off'}, ${tf.wasmThreadCount} thread${tf.wasmThreadCount === 1 ? '' : 's'}`}`,
    );
  L.push(`- Node ${meta.node}, ${meta.os}; CPU: ${meta.cpu}, ${meta.cores} cores`);
  L.push(`- Packages: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push(`- Text: ${meta.text.file} (${meta.text.chars.toLocaleString('en-US')} characters, V=${meta.text.V})`);
  const s = meta.settings;
  L.push(`- Settings: ${s.reps} reps per cell, a rep lasts at least ${s.minTime} s, at most ${s.maxCellTime} s per engine and case (warm-up included; fewer reps where they did not fit, shown as "n reps"), seed ${s.seed}`);
  L.push(`- TF.js training steps wait for the device at least every ${s.tfjsSyncEvery} steps (\`--tfjs-sync-every\`), besides the last step of a rep`);
  if (meta.totalSeconds !== undefined) L.push(`- Total run time: ${fmt(meta.totalSeconds)} s`);
  L.push('');
  L.push('Cells: median (min–max over reps). Each engine warms up first (1 training step, its loss read back / a 4-character sample; untimed).');
  L.push('A training rep is k consecutive steps, the loss read back only after the last; k (and a sampling rep\'s length n) grows from 1');
  L.push('(16) until a rep lasts --min-time. chars/s = k·B·T / rep time (sampling: S·n / rep time). GFLOP/s = chars/s · 6(G·H²·(2L-1) + VH) / 1e9, G gate blocks, L layers');
  L.push('(model FLOPs of forward + backward, V from the text). Ratios: this project\'s GPU engine over TF.js (> 1: ours faster).');
  L.push('');

  const train = cases.filter((c): c is TrainCase => c.kind === 'train');
  if (train.length) {
    L.push('## Training, chars/s', '');
    const head = ['case', ...engines, ...engines.map((e) => `GFLOP/s ${e}`)];
    const ratios = engines.includes('gpu') ? (['tfjs-webgpu', 'tfjs-wasm'] as const).filter((e) => engines.includes(e)) : [];
    head.push(...ratios.map((e) => `gpu/${e}`));
    L.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const c of train) {
      const row = [c.label];
      for (const e of engines) row.push(cellText(get(c.name, e)));
      for (const e of engines) {
        const x = get(c.name, e);
        row.push(x?.status === 'ok' ? fmt((x.median! * flopPerChar(c.H, V, c)) / 1e9) : '–');
      }
      for (const e of ratios) row.push(ratio(get(c.name, 'gpu'), get(c.name, e)));
      L.push(`| ${row.join(' | ')} |`);
    }
    L.push('');
    L.push('Steps per rep (k) and first-step loss (warm-up step: same weights, same batch; should agree across engines):', '');
    L.push(`| case | ${engines.map((e) => `k ${e}`).join(' | ')} | ${engines.map((e) => `loss ${e}`).join(' | ')} |`);
    L.push(`|---|${engines.map(() => '---:').join('|')}|${engines.map(() => '---:').join('|')}|`);
    for (const c of train) {
      const cs = engines.map((e) => get(c.name, e));
      L.push(`| ${c.name} | ${cs.map((x) => (x?.perRep ? String(x.perRep) : '–')).join(' | ')} | ${cs.map((x) => lossText(cells, x, (y) => y.firstLoss)).join(' | ')} |`);
    }
    L.push('');
  }

  const hello = cases.filter((c): c is HelloCase => c.kind === 'hello');
  for (const c of hello) {
    L.push(`## The tutorial's "hello": whole run, seconds (lower is better)`, '', c.label + '; engine creation excluded, loss read once at the end.', '');
    L.push(`| | ${engines.join(' | ')} |`, `|---|${engines.map(() => '---:').join('|')}|`);
    L.push(`| seconds | ${engines.map((e) => cellText(get(c.name, e))).join(' | ')} |`);
    L.push(`| steps/s | ${engines.map((e) => { const x = get(c.name, e); return x?.status === 'ok' ? fmt(c.steps / x.median!) : '–'; }).join(' | ')} |`);
    L.push(`| final loss | ${engines.map((e) => lossText(cells, get(c.name, e), (y) => y.lastLoss)).join(' | ')} |`);
    if (engines.includes('gpu'))
      L.push(`| gpu speed-up | ${engines.map((e) => (e === 'gpu' ? '1×' : ratio(get(c.name, 'gpu'), get(c.name, e), false))).join(' | ')} |`);
    L.push('');
  }

  const sample = cases.filter((c): c is SampleCase => c.kind === 'sample');
  if (sample.length) {
    L.push('## Sampling, chars/s (temperature 1)', '');
    const ratios = engines.includes('gpu') ? (['tfjs-webgpu', 'tfjs-wasm'] as const).filter((e) => engines.includes(e)) : [];
    const head = ['case', ...engines, ...ratios.map((e) => `gpu/${e}`), `chars per stream per rep (${engines.join(' / ')})`];
    L.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const c of sample) {
      const row = [c.label, ...engines.map((e) => cellText(get(c.name, e))), ...ratios.map((e) => ratio(get(c.name, 'gpu'), get(c.name, e)))];
      row.push(engines.map((e) => String(get(c.name, e)?.perRep ?? '–')).join(' / '));
      L.push(`| ${row.join(' | ')} |`);
    }
    L.push('');
  }

  const tfCells = cells.filter((c) => c.tensors?.length);
  if (tfCells.length) {
    const growing = tfCells.filter((c) => c.tensors!.some((n) => n !== c.tensors![0]));
    L.push('## TF.js memory', '');
    L.push(
      growing.length
        ? `Live tensors grew between reps in: ${growing.map((c) => `${c.case}/${c.engine} (${c.tensors!.join(' → ')})`).join('; ')}.`
        : `\`tf.memory().numTensors\` stayed flat from rep to rep in all ${tfCells.length} TF.js cells.`,
      '',
    );
  }

  const shares = cells.map((c) => c.otherCpu).filter((x): x is number => x !== undefined);
  if (shares.length) {
    const busy = cells.filter((c) => (c.otherCpu ?? 0) > 0.1);
    L.push('## Other load on the machine', '');
    L.push(
      `CPU time other processes took during the cells, as a share of all ${meta.cores} cores: median ${(100 * median(shares)).toFixed(0)}%, ` +
        `max ${(100 * Math.max(...shares)).toFixed(0)}%. ` +
        (busy.length
          ? `Over 10% in ${busy.length} of ${cells.length} cells (${busy.map((c) => `${c.case}/${c.engine} ${(100 * c.otherCpu!).toFixed(0)}%`).join(', ')}): those numbers are disturbed.`
          : 'Under 10% in every cell.'),
      '',
    );
  }

  if (profiles.length) {
    L.push('## Profile of this project\'s GPU engine (--profile)', '');
    L.push('A separate engine created with `{ profile: true }` after the timed cells; GPU ms per step from timestamp queries.', '');
    for (const p of profiles) {
      L.push(`### ${p.case}`, '');
      if (p.error) {
        L.push(`Not profiled: ${p.error}`, '');
        continue;
      }
      const pr = p.profile!;
      L.push(`Recurrence: ${pr.recurrence}${pr.reason ? ` (${pr.reason})` : ''}${pr.variant ? `; kernels: ${pr.variant}` : ''}${pr.steps ? `; ${pr.steps} profiled steps` : ''}`, '');
      const total = p.profile!.kernels.reduce((a, k) => a + k.ms, 0);
      L.push('| kernel | ms/step | share |', '|---|---:|---:|');
      for (const k of p.profile!.kernels) L.push(`| ${k.name} | ${k.ms.toFixed(3)} | ${total > 0 ? ((100 * k.ms) / total).toFixed(1) : '–'}% |`);
      L.push(`| total | ${total.toFixed(3)} | |`, '');
      if (p.memory)
        L.push(`Memory: ${kib(p.memory.bytes)} in GPU buffers (${Object.entries(p.memory.tensors).map(([k, v]) => `${k} ${kib(v)}`).join(', ')})`, '');
    }
  }
  return L.join('\n');
}

function printCell(cells: Cell[], c: Cell, caseName: string, V: number, H?: number, m?: { cell?: CellName; layers?: number }): void {
  const what = c.status === 'failed' ? `failed: ${c.error}` : `${cellText(c)} ${c.unit}`;
  const per = c.perRep ? (c.unit === 's' ? `, ${c.perRep} steps` : c.case.startsWith('sample') ? `, ${c.perRep} chars/stream/rep` : `, ${c.perRep} steps/rep`) : '';
  const gf = c.status === 'ok' && c.unit === 'chars/s' && H && !c.case.startsWith('sample') ? `, ${fmt((c.median! * flopPerChar(H, V, m)) / 1e9)} GFLOP/s` : '';
  const loss = c.firstLoss !== undefined ? `, step-1 loss ${lossText(cells, c, (y) => y.firstLoss)}` : c.lastLoss !== undefined && c.unit === 's' ? `, final loss ${lossText(cells, c, (y) => y.lastLoss)}` : '';
  const mem = c.tensors?.length ? `, tensors ${c.tensors[0]}${c.tensors.some((n) => n !== c.tensors![0]) ? ' → ' + c.tensors[c.tensors.length - 1] + ' (GROWING)' : ' (flat)'}` : '';
  const other = (c.otherCpu ?? 0) > 0.1 ? `, other processes took ${(100 * c.otherCpu!).toFixed(0)}% of the CPU` : '';
  console.log(`  ${caseName.padEnd(13)} ${c.engine.padEnd(12)} ${what}${c.status === 'ok' ? `${per}${gf}${loss}${mem}` : ''} [${c.seconds.toFixed(1)} s${other}]`);
}

// ---------------------------------------------------------------------------------------------

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48).replace(/-$/, '');
}

/** The commit the project's sources are at, and whether src/ or shaders/ have changes on top. */
function gitState(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'shaders');
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/ or shaders/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = now();
  const text = decodeUtf8(readFileSync(o.text), o.text);
  const vocab = Vocab.fromText(text);
  const data = vocab.encode(text);
  const V = vocab.size;

  // One Dawn context for this project's engines; TF.js's webgpu backend asks the same GPU
  // object (ctx.gpu, kept referenced by the context) for its adapter.
  const env: Env = { tf: { versions: {} } };
  if (o.engines.includes('gpu') || o.engines.includes('tfjs-webgpu')) {
    try {
      env.ctx = await nodeContext('char-rnn-bench');
    } catch (e) {
      env.ctxError = (e as Error).message;
    }
  }
  env.tf = await initTfjs(env.ctx?.gpu);

  const args = process.argv.slice(2);
  const command = process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`
    : `node ${relative(process.cwd(), process.argv[1])}${args.length ? ' ' + args.join(' ') : ''}`;
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const adapter = env.ctx?.adapterName ?? `none (${env.ctxError ?? 'not requested'})`;
  const meta: Meta = {
    date,
    command,
    commit: gitState(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    adapter,
    tfjsWebgpuAdapter: env.tf.webgpuAdapter ?? `none (${env.tf.webgpuError})`,
    tfjs: env.tf,
    versions: {
      'char-rnn-webgpu': packageVersion(join(ROOT, 'package.json')),
      webgpu: packageVersion(join(ROOT, 'node_modules/webgpu/package.json')),
      ...Object.fromEntries(Object.entries(env.tf.versions).map(([k, v]) => [k.replace('@tensorflow/', ''), v])),
    },
    text: { file: relative(ROOT, o.text) || o.text, chars: data.length, V },
    settings: { reps: o.reps, minTime: o.minTime, maxCellTime: o.maxCellTime, tfjsSyncEvery: o.tfjsSyncEvery, engines: o.engines, cases: o.cases.map((c) => c.name), seed: o.seed, profile: o.profile },
  };

  console.log(`char-rnn-webgpu benchmark: ${meta.command}`);
  console.log(`  adapter (ours): ${adapter}`);
  console.log(`  adapter (TF.js webgpu, tf.getBackend() = ${env.tf.webgpuBackend ?? '–'}): ${meta.tfjsWebgpuAdapter}`);
  console.log(`  TF.js wasm: ${env.tf.wasmError ?? `SIMD ${env.tf.wasmSimd}, threads ${env.tf.wasmThreads}, thread count ${env.tf.wasmThreadCount}`}`);
  console.log(`  ${meta.cpu} x ${meta.cores}, Node ${meta.node}; text ${meta.text.file}: ${data.length} chars, V=${V}`);
  console.log(`  ${o.reps} reps, >= ${o.minTime} s per rep, <= ${o.maxCellTime} s per cell; engines ${o.engines.join(', ')}\n`);

  const stamp = `${date.replace(' ', '-').replace(':', '')}`;
  const base = join(o.out, `${stamp}-${slug(adapter)}${o.quick ? '-quick' : ''}`);
  const cells: Cell[] = [];
  const profiles: ProfileResult[] = [];
  const save = () => {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(`${base}.md`, markdown(meta, o.cases, o.engines, cells, profiles, V) + '\n');
    writeFileSync(`${base}.json`, JSON.stringify({ meta, cases: o.cases, cells, profiles }, null, 2) + '\n');
  };

  for (const c of o.cases) {
    console.log(`${c.name}: ${c.label}`);
    let caseData = data;
    let caseV = V;
    let shape: StepShape | undefined;
    let plan;
    try {
      if (c.kind === 'hello') {
        caseData = Vocab.fromText('hello').encode('hello');
        caseV = 4;
        plan = planBatches(caseData.length, 1, 0);
      } else if (c.kind === 'train') plan = planBatches(caseData.length, c.B, c.T);
      if (plan) shape = { V: caseV, H: c.H, B: plan.B, T: plan.T, ...(c.kind === 'train' && c.cell ? { cell: c.cell, layers: c.layers ?? 1 } : {}) };
    } catch (e) {
      console.log(`  skipped: ${(e as Error).message}`);
      continue;
    }
    const params = initParams(shape ?? { V: caseV, H: c.H }, o.seed);
    for (const e of o.engines) {
      const cell: Cell = { case: c.name, engine: e, status: 'ok', unit: c.kind === 'hello' ? 's' : 'chars/s', values: [], repsWanted: o.reps, seconds: 0 };
      const t0 = now();
      const contention = contentionMeter();
      if (e === 'tfjs-webgpu') takeWebgpuErrors(); // only this cell's count
      const why = unavailable(e, env);
      try {
        if (why) throw new Error(why);
        if (e.startsWith('tfjs') && c.kind === 'train' && c.cell)
          throw new Error(`not measured: TF.js is given the one-layer rnn only (bench/tfjs.ts); ${c.cell} x${c.layers ?? 1} runs on this project's engines`);
        if (c.kind === 'sample') {
          const s = await makeSampler(e, env, caseV, c.H, c.streams, params);
          try {
            await timeSampling(s, c.streams, data.subarray(0, 1), o, cell, t0);
          } finally {
            s.destroy();
          }
        } else {
          const tr = await makeTrainee(e, env, shape!, c.optimizer, params, o);
          try {
            const cursor = new BatchCursor(caseData, plan!);
            if (c.kind === 'hello') await timeHello(tr, cursor, params, c.steps, o, cell, t0);
            else await timeTraining(tr, cursor, o, cell, t0);
          } finally {
            tr.destroy();
          }
        }
        // a GPU error raised asynchronously during the cell makes it fail, not just warn
        const f = e === 'gpu' ? env.ctx?.failure() : undefined;
        if (f) throw f;
        const tfErrors = e === 'tfjs-webgpu' ? takeWebgpuErrors() : [];
        if (tfErrors.length) throw new Error(`${tfErrors.length} WebGPU error(s) on TF.js's device, first: ${tfErrors[0]}`);
        if (!cell.values.length) throw new Error('no timed rep');
        cell.median = median(cell.values);
        cell.min = Math.min(...cell.values);
        cell.max = Math.max(...cell.values);
      } catch (err) {
        cell.status = 'failed';
        cell.error = (err as Error).message?.split('\n')[0] || String(err);
      }
      cell.seconds = now() - t0;
      cell.otherCpu = contention();
      cells.push(cell);
      printCell(cells, cell, c.name, caseV, c.kind === 'train' ? c.H : undefined, c.kind === 'train' ? c : undefined);
    }
    if (o.profile && c.kind === 'train' && shape) {
      const p = await profileCase(env, c, shape, caseData, params);
      profiles.push(p);
      if (p.error) console.log(`  profile: ${p.error}`);
      else {
        const pr = p.profile!;
        console.log(`  profile (recurrence: ${pr.recurrence}${pr.reason ? ` (${pr.reason})` : ''}${pr.variant ? `, kernels ${pr.variant}` : ''}):`);
        for (const k of p.profile!.kernels) console.log(`    ${k.name.padEnd(24)} ${k.ms.toFixed(3)} ms/step`);
        if (p.memory) console.log(`    memory: ${kib(p.memory.bytes)} (${Object.entries(p.memory.tensors).map(([k, v]) => `${k} ${kib(v)}`).join(', ')})`);
      }
    }
    meta.totalSeconds = now() - started;
    save();
  }

  meta.totalSeconds = now() - started;
  save();
  const md = markdown(meta, o.cases, o.engines, cells, profiles, V);
  console.log('\n' + md);
  console.log(`\nwrote ${relative(process.cwd(), base)}.md and .json (${fmt(meta.totalSeconds)} s in all)`);
  env.ctx?.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench: ${(e as Error).message ?? e}`);
    process.exit(1);
  },
);
