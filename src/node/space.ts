import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CELLS, type ModelDims, paramTable } from '../model.js';
import { UsageError } from '../errors.js';
import { bytes } from './files.js';

// Free space for checkpoints: checked before any work against the most a run's checkpoint can
// take, and again before each save against its exact size, so that a full disk is found before
// the training, not at its end, and a save that does not fit leaves the last checkpoint as it was.

/** What a file system has left for us (statfs: blocks available to this user, block size). */
export interface Space {
  free: number;
  block: number;
}

export type StatFs = (path: string) => { bavail: number | bigint; bsize: number | bigint };

/** The space left in the directory of `path`; undefined where the file system cannot say. */
export function spaceFor(path: string, statfs: StatFs = statfsSync): Space | undefined {
  try {
    const s = statfs(dirname(resolve(path)));
    return { free: Number(s.bavail) * Number(s.bsize), block: Math.max(1, Number(s.bsize)) };
  } catch {
    return undefined;
  }
}

/** Whether a new file of `n` bytes fits: its whole blocks and one more (for the file system's
 * own records). The old file is still there while the new one is written (an atomic save). */
export function fits(n: number, s: Space): boolean {
  return (Math.ceil(n / s.block) + 1) * s.block <= s.free;
}

/** What decides a run checkpoint's size (src/state.ts runCheckpoint): the model, the streams B
 * whose state is carried, the engine (the CPU's also writes float64 copies), and the metadata. */
export interface CheckpointSize {
  model: ModelDims;
  B: number;
  device: 'cpu' | 'gpu';
  /** what goes into the metadata as JSON (vocabulary, configuration, text record, ...) */
  metadata: unknown[];
  /** most points of the loss curve it will carry */
  historyPoints: number;
}

/** The most bytes saveCheckpoint writes for a run: exact for the tensors (the parameters and the
 * optimizer's two states of each as float32, the carried h (and c) of L x B x H; with the CPU
 * engine all again in float64), an over-estimate for the header: 256 bytes per tensor entry,
 * each metadata JSON twice (escaped inside the header's JSON), 80 bytes per loss point, 2 KiB
 * for the rest. Tested against saved files. */
export function checkpointBytesBound(s: CheckpointSize): number {
  const table = paramTable(s.model);
  const P = table.reduce((n, p) => n + p.size, 0);
  const states = CELLS[s.model.cell].cellState ? 2 : 1;
  const carried = states * s.model.layers * s.B * s.model.H;
  const copies = s.device === 'cpu' ? 2 : 1;
  const data = 4 * (3 * P + carried) + (copies - 1) * 8 * (3 * P + carried);
  const entries = copies * (3 * table.length + states);
  const utf8 = (x: unknown) => Buffer.byteLength(JSON.stringify(x) ?? '');
  const metadata = s.metadata.reduce<number>((n, x) => n + 2 * utf8(x), 0);
  return 8 + 2048 + 256 * entries + metadata + 80 * s.historyPoints + data;
}

/** Refuses, before any work, a checkpoint of up to `need` bytes where it does not fit. */
export function requireSpace(path: string, option: string, need: number, statfs?: StatFs): void {
  const s = spaceFor(path, statfs);
  if (!s || fits(need, s)) return;
  throw new UsageError(
    `${option} ${path}: ${dirname(resolve(path))} has ${bytes(s.free)} free, but this run's checkpoint takes up to ${bytes(need)} ` +
      '(its weights, optimizer state and carried state, with room for the metadata). Free some space there, or save on another disk.',
  );
}

/** Before a save of exactly `n` bytes: undefined when it fits, else what is missing, for a warning. */
export function shortage(path: string, n: number, statfs?: StatFs): string | undefined {
  const s = spaceFor(path, statfs);
  if (!s || fits(n, s)) return undefined;
  return `${dirname(resolve(path))} has ${bytes(s.free)} free, the checkpoint needs ${bytes(n)}`;
}
