import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, type Stats, statSync, writeSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { CheckpointError, TextError, UsageError } from '../errors.js';
import { decodeUtf8 } from '../text.js';

// File access for the CLI: clear errors for missing or unusable files, output paths checked
// before any work, atomic writes.

/** The largest text read: the file and its indices are held in memory, about twice its size. */
export const MAX_TEXT_BYTES = 2 ** 30;
/** The largest checkpoint read: Node reads at most 2 GiB - 1 into one buffer. */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

/** What a path that is not a regular file is, for messages. */
export function kindOfFile(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** `205,312 bytes`, and the MiB from 1 MiB on: `12,582,912 bytes (12.0 MiB)`. */
export const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes${n >= 2 ** 20 ? ` (${(n / 2 ** 20).toFixed(1)} MiB)` : ''}`;

function readBytes(path: string, what: string, Err: typeof TextError | typeof CheckpointError, max: number): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Err(`${what} ${path} does not exist. Check the path.`);
  }
  if (st.isDirectory()) throw new Err(`${what} ${path} is a directory, not a file.`);
  // a device or a pipe has no size to check and may never end (/dev/zero)
  if (!st.isFile())
    throw new Err(`${what} ${path} is ${kindOfFile(st)}, not a regular file: char-rnn reads only files, whose size it checks first. Save the data to a file and give that.`);
  if (st.size > max)
    throw new Err(`${what} ${path} is ${bytes(st.size)}, more than the ${bytes(max)} char-rnn reads (${what === 'Text file' ? 'a text and its indices are held in memory' : "Node's largest file read"}). Give a smaller file.`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Err(`${what} ${path} cannot be read: ${(e as Error).message}`);
  }
}

/** A text file's bytes, checked: exists, is a file, not empty (UTF-8 is checked by scanUtf8). */
export function readTextBytes(path: string): Uint8Array {
  const bytes = readBytes(path, 'Text file', TextError, MAX_TEXT_BYTES);
  if (bytes.length === 0) throw new TextError(`Text file ${path} is empty. Give a file with at least 2 characters.`);
  return bytes;
}

/** A UTF-8 text file, checked: exists, not empty, valid UTF-8 (else says where it is not). */
export function readTextFile(path: string): string {
  return decodeUtf8(readTextBytes(path), `Text file ${path}`);
}

export function readCheckpointFile(path: string): Uint8Array {
  return readBytes(path, 'Checkpoint', CheckpointError, MAX_CHECKPOINT_BYTES);
}

const tmpName = (path: string, pid: number) => join(dirname(path), `.${basename(path)}.${pid}.tmp`);

function isDirectory(p: string): boolean | undefined {
  try {
    return statSync(p).isDirectory();
  } catch {
    return undefined; // does not exist (or cannot be looked at)
  }
}

/** mkdir -p that says which part is in the way. (Node's own recursive mkdir never returns
 * for some unwritable paths, e.g. under /proc.) */
function makeDirectory(dir: string, option: string, path: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (isDirectory(d) === undefined && dirname(d) !== d) {
    missing.unshift(d);
    d = dirname(d);
  }
  if (isDirectory(d) === false)
    throw new UsageError(`${option} ${path}: cannot create its directory, ${d} is a file. Give a path in a directory.`);
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      throw new UsageError(`${option} ${path}: cannot create the directory ${m} (${(e as NodeJS.ErrnoException).code}). Give a path in a directory you can write to.`);
    }
  }
}

/** Checks, before any work, that `path` can be written as `option` says (creating missing
 * directories): not a directory, and its directory takes a new file (a probe file is created
 * and removed). With `append`, the file itself is opened for appending. */
export function checkOutputPath(path: string, option: string, append = false): void {
  if (path === '' || path.endsWith('/')) throw new UsageError(`${option} '${path}' is not a file name. Give a file path, e.g. ${path || 'runs/'}model.safetensors.`);
  if (isDirectory(path)) throw new UsageError(`${option} ${path} is a directory. Give a file path, e.g. ${join(path, append ? 'log.jsonl' : 'model.safetensors')}.`);
  makeDirectory(dirname(path), option, path);
  const probe = append ? path : tmpName(path, process.pid);
  try {
    closeSync(openSync(probe, append ? 'a' : 'w'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${option} ${path} cannot be written (${code}: ${append ? 'cannot open the file for appending' : `cannot create files in ${dirname(path)}`}). Choose another path or fix the permissions.`);
  }
  if (!append) rmSync(probe, { force: true });
}

/** Whether a process of this host runs under `pid`. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but not ours
  }
}

/** Removes `.NAME.PID.tmp` files beside `path` left by processes that died while saving. */
export function removeStaleTemporaries(path: string): string[] {
  const prefix = `.${basename(path)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(n.slice(prefix.length)) : null;
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    rmSync(join(dirname(path), n), { force: true });
    removed.push(n);
  }
  return removed;
}

/** Writes to a temporary file beside the target, flushes it, then renames it over the target:
 * a reader (or a crash) sees the old file or the new one, never half of one. Temporary files
 * of earlier processes that were killed while saving are removed first. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  removeStaleTemporaries(path);
  const tmp = tmpName(path, process.pid);
  try {
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CheckpointError(`Could not write ${path}: ${(e as Error).message}`);
  }
}
