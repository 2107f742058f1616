import type { OptimizerConfig } from '../engine.js';
import { CELLS, type StepShape, modelOf } from '../model.js';
import type { GpuContext } from './context.js';
import type { GpuEngine } from './engine.js';
import { CELL_SWEEPS, type CellSweeps, type GpuEngineOptions, chooseSchedule } from './schedule.js';

// Which recurrent schedule trains a model fastest on this adapter, found by timing each one
// that fits for a few steps (GpuEngineOptions.cellSweeps 'measure'), not guessed from the
// adapter's name. The result is kept in a ScheduleCache under the adapter and the shape: the
// CLI keeps it in a file under the user's cache folder (src/node/scheduleCache.ts), the page
// in localStorage. Every schedule computes the same numbers (the same sums in the same order:
// test/kernels.test.ts), so the choice changes the speed only.

/** What was measured for one (adapter, cell, L, H, B, T, dropout): each candidate's time per
 * training step, fastest first. */
export interface ScheduleMeasurement {
  key: string;
  /** the fastest */
  pick: CellSweeps;
  times: { sweeps: CellSweeps; msPerStep: number }[];
  /** when it was measured (ISO 8601) */
  date: string;
}

/** Where measurements are kept between runs. */
export interface ScheduleCache {
  get(key: string): ScheduleMeasurement | undefined;
  set(m: ScheduleMeasurement): void;
}

/** What storageCache needs of a Web Storage (the page's localStorage). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A cache in a Web Storage (the page's localStorage), one item per key. */
export function storageCache(storage: KeyValueStorage, prefix = 'char-rnn-webgpu.schedule.'): ScheduleCache {
  return {
    get(key) {
      try {
        const v = storage.getItem(prefix + key);
        return v ? (JSON.parse(v) as ScheduleMeasurement) : undefined;
      } catch {
        return undefined;
      }
    },
    set(m) {
      try {
        storage.setItem(prefix + m.key, JSON.stringify(m));
      } catch {
        // a full or unavailable storage only means measuring again next time
      }
    },
  };
}

/** Multiply-adds of a step's recurrence, T*B*G*H*H*(2L-1), below which 'measure' does not
 * measure (nothing to gain where a step takes a millisecond) and takes the 'auto' choice. */
export const MEASURE_FROM = 1 << 22;

/** Timed training steps per candidate, after one untimed (compiling) step; the fastest of
 * MEASURE_REPS repetitions counts. */
const MEASURE_STEPS = 2;
const MEASURE_REPS = 2;
/** A candidate whose first timed step is this many times the best so far is not timed further. */
const HOPELESS = 3;
/** Milliseconds of measuring after which the candidates left are not tried (the persistent
 * sweeps come first), so that a large model on a slow adapter waits seconds, not minutes. */
const MEASURE_BUDGET_MS = 20_000;

/** The key of a measurement: the adapter, the model and the step's shape. */
export function measurementKey(ctx: GpuContext, s: StepShape, dropout = 0): string {
  const m = modelOf(s);
  return `${ctx.adapterName}|${m.cell}|L=${m.layers}|H=${s.H}|B=${s.B}|T=${s.T}|V=${s.V}${dropout > 0 ? '|dropout' : ''}`;
}

/** Whether a step of this shape is large enough to measure (MEASURE_FROM). */
export function worthMeasuring(s: StepShape): boolean {
  const m = modelOf(s);
  return s.T * s.B * CELLS[m.cell].gates * s.H * s.H * (2 * m.layers - 1) >= MEASURE_FROM;
}

/** The schedules this adapter can run for the shape (chooseSchedule accepts them forced). */
export function candidateSchedules(limits: GPUSupportedLimits, s: StepShape, options: GpuEngineOptions = {}): CellSweeps[] {
  return CELL_SWEEPS.filter((c) => {
    try {
      chooseSchedule(limits, s, { ...options, cellSweeps: c });
      return true;
    } catch {
      return false;
    }
  });
}

/** Times every candidate schedule on this adapter with a fixed batch and fresh weights. */
export async function measureSchedules(
  ctx: GpuContext, s: StepShape, optimizer: OptimizerConfig, options: GpuEngineOptions,
  create: (o: GpuEngineOptions) => Promise<GpuEngine>,
): Promise<ScheduleMeasurement> {
  const n = s.T * s.B;
  const batch = { inputs: Uint32Array.from({ length: n }, (_, i) => (i * 7 + 1) % s.V), targets: Uint32Array.from({ length: n }, (_, i) => (i * 5 + 2) % s.V) };
  const times: ScheduleMeasurement['times'] = [];
  const t0 = performance.now();
  for (const sweeps of candidateSchedules(ctx.device.limits, s, options)) {
    if (times.length > 0 && performance.now() - t0 > MEASURE_BUDGET_MS) break;
    const e = await create({ ...options, cellSweeps: sweeps, profile: false });
    try {
      await e.step(batch, { wantLoss: true });
      let best = Infinity;
      for (let r = 0; r < MEASURE_REPS; r++) {
        const t0 = performance.now();
        for (let i = 0; i < MEASURE_STEPS; i++) await e.step(batch, { wantLoss: i === MEASURE_STEPS - 1 });
        best = Math.min(best, (performance.now() - t0) / MEASURE_STEPS);
        if (best > HOPELESS * Math.min(...times.map((t) => t.msPerStep))) break;
      }
      times.push({ sweeps, msPerStep: best });
    } finally {
      e.destroy();
    }
  }
  times.sort((a, b) => a.msPerStep - b.msPerStep);
  return { key: measurementKey(ctx, s, options.dropout), pick: times[0].sweeps, times, date: new Date().toISOString() };
}
