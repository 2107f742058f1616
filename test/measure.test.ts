import { describe, expect, test, vi } from 'vitest';
import { GpuEngine } from '../src/gpu/engine.js';
import { MEASURE_FROM, type ScheduleCache, type ScheduleMeasurement, candidateSchedules, measurementKey, worthMeasuring } from '../src/gpu/measure.js';
import { initParams } from '../src/init.js';
import { useGpu } from './helpers.js';

// The schedule chosen by measurement (cellSweeps 'measure'): every candidate that fits timed
// on this adapter, the fastest kept in the cache and found there the next time.

const gpu = useGpu();
const opt = { name: 'adam' as const, lr: 0.002, clip: 0 };
// T*B*H*H = 2^22: just worth measuring; B = 2 rules out the one-stream sweep
const shape = { V: 13, H: 128, B: 2, T: 128 };

function memoryCache(): ScheduleCache & { kept: Map<string, ScheduleMeasurement> } {
  const kept = new Map<string, ScheduleMeasurement>();
  return { kept, get: (k) => kept.get(k), set: (m) => void kept.set(m.key, m) };
}

describe("cellSweeps 'measure'", () => {
  test('times every schedule that fits, keeps the fastest, and finds it in the cache the next time', async () => {
    expect(worthMeasuring(shape)).toBe(true);
    const candidates = candidateSchedules(gpu().device.limits, shape);
    expect(candidates).toEqual(['streams4', 'streams8', 'reference', 'steps', 'grid']);
    const cache = memoryCache();
    const create = vi.spyOn(GpuEngine, 'create');
    const e = await GpuEngine.create(gpu(), shape, opt, initParams(shape, 1), undefined, { cellSweeps: 'measure', scheduleCache: cache });
    const m = e.schedule.measured!;
    expect(m.key).toBe(measurementKey(gpu(), shape));
    // the candidates in their order, as many as fit the time budget (all of them here, unless a
    // cold shader cache compiles slowly): the first k
    const timed = m.times.map((t) => t.sweeps).sort((a, b) => candidates.indexOf(a) - candidates.indexOf(b));
    expect(timed).toEqual(candidates.slice(0, timed.length));
    const ms = m.times.map((t) => t.msPerStep);
    expect(ms.every((x) => x > 0)).toBe(true);
    expect(ms).toEqual([...ms].sort((a, b) => a - b));
    expect(e.schedule.sweeps).toBe(m.pick);
    expect(m.pick).toBe(m.times[0].sweeps);
    expect(e.schedule.reason).toMatch(new RegExp(`\\(the fastest measured here: ${m.times.map((t) => `${t.sweeps} [\\d.]+ ms`).join(', ')}\\)$`));
    expect([...cache.kept.values()]).toEqual([m]);
    // one engine per candidate timed, and the one asked for
    expect(create).toHaveBeenCalledTimes(timed.length + 1);
    e.destroy();

    // the next engine of that shape takes the kept choice without measuring
    create.mockClear();
    const again = await GpuEngine.create(gpu(), shape, opt, initParams(shape, 1), undefined, { cellSweeps: 'measure', scheduleCache: cache });
    expect(create).toHaveBeenCalledTimes(1);
    expect(again.schedule.measured).toEqual(m);
    again.destroy();

    // a kept choice this shape cannot run (from another adapter's limits, or an edited file) is measured again
    cache.set({ ...m, pick: 'streams1' });
    create.mockClear();
    const third = await GpuEngine.create(gpu(), shape, opt, initParams(shape, 1), undefined, { cellSweeps: 'measure', scheduleCache: cache });
    expect(create.mock.calls.length).toBeGreaterThanOrEqual(2); // measured again: at least one candidate, and the engine
    expect(third.schedule.sweeps).not.toBe('streams1');
    third.destroy();
    create.mockRestore();
  });

  test('below MEASURE_FROM multiply-adds it measures nothing and chooses by shape', async () => {
    const small = { V: 13, H: 16, B: 2, T: 8 };
    expect(small.T * small.B * small.H * small.H).toBeLessThan(MEASURE_FROM);
    const cache = memoryCache();
    const e = await GpuEngine.create(gpu(), small, opt, initParams(small, 1), undefined, { cellSweeps: 'measure', scheduleCache: cache });
    expect(e.schedule.measured).toBeUndefined();
    expect(e.schedule.sweeps).toBe((await GpuEngine.create(gpu(), small, opt, initParams(small, 1))).schedule.sweeps);
    expect(cache.kept.size).toBe(0);
    e.destroy();
  });
});
