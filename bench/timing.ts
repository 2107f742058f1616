import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { BatchCursor } from '../src/data.js';
import type { Batch } from '../src/engine.js';
import type { Params } from '../src/model.js';
import type { EngineName, Options } from './options.js';

/** Why an engine's loss is not expected to agree with this project's engines'. */
export interface LossCaveat {
  short: string;
  why: string;
}

// Timing (wall clock, performance.now()):
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


/** One engine set up for a training case. */
export interface Trainee {
  step(batch: Batch, opts: { reset: boolean; wantLoss: boolean }): Promise<number | undefined>;
  /** between reps, untimed (TF.js frees the states its stateful RNN keeps) */
  settle(): void;
  /** fresh weights, optimizer state and hidden state */
  restart(p: Params): void;
  /** this project's GPU engine: its recurrent schedule, in words */
  schedule?: string;
  /** live TF.js tensors (TF.js engines only) */
  tensors?(): number;
  destroy(): void;
}

/** One engine set up for a sampling case (fixed number of streams). */
export interface Sampler {
  generate(prime: Uint32Array, length: number, seed: number): Promise<void>;
  tensors?(): number;
  destroy(): void;
}

export interface Cell {
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
  /** this project's GPU engine: the recurrent schedule it trained with, and why */
  schedule?: string;
  /** training: loss of the warm-up step (same weights and batch on every engine) */
  firstLoss?: number;
  /** why this engine's loss is not expected to agree with the others' (a different model,
   * other dropout masks), in a few words and in full; the report then shows the difference
   * without flagging it */
  notComparable?: LossCaveat;
  /** training, where notComparable: the warm-up step's loss of the engine's own model in
   * float64 from the same weights and batch (TF.js's GRU: bench/kerasGru.ts), which its
   * firstLoss must agree with */
  ownReference?: { name: string; loss: number };
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

export const now = () => performance.now() / 1000;

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
export function contentionMeter(): () => number | undefined {
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

export function median(xs: number[]): number {
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

export async function timeTraining(tr: Trainee, cursor: BatchCursor, o: Options, cell: Cell, started: number): Promise<void> {
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

export async function timeHello(tr: Trainee, cursor: BatchCursor, params: Params, steps: number, o: Options, cell: Cell, started: number): Promise<void> {
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

export async function timeSampling(s: Sampler, streams: number, prime: Uint32Array, o: Options, cell: Cell, started: number): Promise<void> {
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
