import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { CheckpointError, TextError } from '../errors.js';
import { decodeUtf8 } from '../vocab.js';

// File access for the CLI: clear errors for missing or unusable files, atomic writes.

function readBytes(path: string, what: string, Err: typeof TextError | typeof CheckpointError): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Err(`${what} ${path} does not exist. Check the path.`);
  }
  if (st.isDirectory()) throw new Err(`${what} ${path} is a directory, not a file.`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Err(`${what} ${path} cannot be read: ${(e as Error).message}`);
  }
}

/** A UTF-8 text file, checked: exists, not empty, valid UTF-8 (else says where it is not). */
export function readTextFile(path: string): string {
  const bytes = readBytes(path, 'Text file', TextError);
  if (bytes.length === 0) throw new TextError(`Text file ${path} is empty. Give a file with at least 2 characters.`);
  return decodeUtf8(bytes, `Text file ${path}`);
}

export function readCheckpointFile(path: string): Uint8Array {
  return readBytes(path, 'Checkpoint', CheckpointError);
}

/** Writes to a temporary file beside the target, flushes it, then renames it over the target:
 * a reader (or a crash) sees the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
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
