import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ScheduleCache, ScheduleMeasurement } from '../gpu/measure.js';
import { writeFileAtomic } from './files.js';

// The CLI's ScheduleCache (src/gpu/measure.ts): one JSON file of measurements by key, under
// $XDG_CACHE_HOME/char-rnn-webgpu (~/.cache/char-rnn-webgpu without it), written atomically.
// A file that cannot be read or written only means measuring again: it never stops a run.

/** The cache file. */
export function scheduleCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'char-rnn-webgpu', 'schedules.json');
}

export function fileScheduleCache(path = scheduleCachePath()): ScheduleCache {
  const load = (): Record<string, ScheduleMeasurement> => {
    try {
      const v = JSON.parse(readFileSync(path, 'utf8'));
      return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
    } catch {
      return {};
    }
  };
  return {
    get: (key) => load()[key],
    set(m) {
      try {
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify({ ...load(), [m.key]: m }, null, 1)}\n`));
      } catch {
        // not kept: the next run measures again
      }
    },
  };
}
