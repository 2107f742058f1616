import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { alive } from './files.js';

// One run per output file. A run that writes a file (a checkpoint, a log) first creates
// `.NAME.lock` beside it, atomically (O_EXCL: of two runs, exactly one creates it), holding its
// PID, host, start time and command as JSON; a second run onto the same file stops before any
// work and names the first. The lock is removed when the process exits, however it exits
// through Node (the end of the command, an error, process.exit after a signal). A lock left by
// a process that died outright (kill -9, a crash) names a PID that no longer runs on this host:
// the next run takes it over and says so. A lock of another host (a shared file system) is
// never taken over: its process cannot be checked from here.

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken */
  since: string;
  command: string;
}

export interface RunLock {
  /** the lock file */
  path: string;
  /** Removes the lock if it is still this process's (also done at exit). */
  release(): void;
}

export const lockPathOf = (target: string) => join(dirname(target), `.${basename(target)}.lock`);

/** The owner recorded in a lock file; 'gone' when there is no file, undefined when it cannot be read. */
function readOwner(path: string): LockOwner | 'gone' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isSafeInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined; // being written at this moment, or damaged
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Moves a dead owner's lock aside and removes it, unless another process took it over first
 * (then its lock is put back). */
function takeOver(path: string, dead: LockOwner): boolean {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // someone else moved it first
  }
  const moved = readOwner(aside);
  if (moved !== 'gone' && moved !== undefined && moved.pid === dead.pid && moved.host === dead.host && moved.since === dead.since) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, path); // a live lock taken by mistake goes back (unless a third run holds the name now)
  } catch {
    // the name is taken again: that run holds it
  }
  rmSync(aside, { force: true });
  return false;
}

function held(path: string, me: LockOwner): RunLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const now = readOwner(path);
    if (now !== 'gone' && now?.pid === me.pid && now.host === me.host && now.since === me.since) rmSync(path, { force: true });
  };
  process.on('exit', release);
  return { path, release };
}

function describeOwner(o: LockOwner): string {
  return `process ${o.pid} on ${o.host}, since ${o.since}${o.command ? ` (char-rnn ${o.command})` : ''}`;
}

/** Takes the lock of `target`, the file `option` names, for this process; throws UsageError
 * naming the run that holds it. `note` is told when a dead process's lock is taken over. */
export function lockOutput(target: string, option: string, note: (line: string) => void): RunLock {
  const path = lockPathOf(target);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: process.argv.slice(2).join(' ') };
  let unreadable = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me) + '\n');
      } finally {
        closeSync(fd);
      }
      return held(path, me);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST')
        throw new UsageError(`${option} ${target}: cannot create its lock file ${path} (${code}). Choose a path in a directory you can write to.`);
    }
    const owner = readOwner(path);
    if (owner === 'gone') continue; // released in the meantime
    if (owner === undefined) {
      if (++unreadable > 5)
        throw new UsageError(`${option} ${target} is locked by ${path}, which cannot be read. If no char-rnn run is writing ${target}, remove ${path}.`);
      sleep(20); // its writer may be between creating and writing it
      continue;
    }
    if (owner.host === me.host && !alive(owner.pid)) {
      if (takeOver(path, owner))
        note(`char-rnn: ${path} was left by ${describeOwner(owner)}, which no longer runs: taking it over.`);
      continue;
    }
    throw new UsageError(
      `${option} ${target} is being written by another char-rnn run: ${describeOwner(owner)}. ` +
        'Wait for it to end or stop it, or give another path.' +
        (owner.host === me.host ? '' : ` (That host's processes cannot be checked from here: if that run is gone, remove ${path}.)`),
    );
  }
  throw new UsageError(`${option} ${target}: its lock ${path} keeps changing hands. Give another path.`);
}
