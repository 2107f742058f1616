import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { kindOfFile } from './files.js';

// Outputs checked against inputs before any work. A file a command writes (--save,
// --log-file, export --pytorch) may not be a file it reads (the training text, the checkpoint
// of --init, --resume or --checkpoint) nor another of its outputs: the same path, or the same
// file under another name (a symlink, a hard link, `a/../b`). The one exception is how a run
// continues, `--resume X --save X`. An existing file is replaced (or appended to) without
// --force only when it is one of ours: a checkpoint of char-rnn-webgpu for --save, a PyTorch
// export of ours for --pytorch, a log of ours for --log-file; an empty file holds nothing to lose.

/** A file named by an option: `--save runs/a.safetensors`, `--text story.txt`. */
export interface FileArg {
  option: string;
  path: string;
  /** what an input is where no option names it ("the training text recorded in run.safetensors") */
  what?: string;
}

/** The file a path names, as far as it can be known: its resolved path (through symlinked
 * directories) and, when it exists, its device and inode. */
function identity(path: string): { path: string; inode?: string } {
  let real = resolve(path);
  try {
    real = realpathSync(path);
  } catch {
    try {
      real = resolve(realpathSync(dirname(path)), basename(path));
    } catch {
      // its directory does not exist (yet): the resolved path is all there is
    }
  }
  try {
    const st = statSync(path);
    return { path: real, inode: `${st.dev}:${st.ino}` };
  } catch {
    return { path: real };
  }
}

export function sameFile(a: string, b: string): boolean {
  const x = identity(a);
  const y = identity(b);
  return x.path === y.path || (x.inode !== undefined && x.inode === y.inode);
}

const named = (f: FileArg) => `${f.option} ${f.path}`;

/** Refuses an output that is an input or another output. `allowed` lists [output option,
 * input option] pairs that may name the same file (`['--save', '--resume']`). */
export function checkDistinct(outputs: FileArg[], inputs: FileArg[], allowed: [string, string][] = []): void {
  for (const [i, o] of outputs.entries()) {
    for (const input of inputs) {
      if (allowed.some(([a, b]) => a === o.option && b === input.option) || !sameFile(o.path, input.path)) continue;
      const alias = resolve(o.path) === resolve(input.path) ? '' : ' (the same file under another name)';
      const it = input.what ? `${input.what}, ${input.path}` : `the file ${named(input)} reads`;
      throw new UsageError(`${named(o)} is ${it}${alias}: writing it would destroy what is being read. Give ${o.option} another path.`);
    }
    for (const other of outputs.slice(i + 1))
      if (sameFile(o.path, other.path))
        throw new UsageError(`${named(o)} and ${named(other)} are the same file: one would overwrite the other. Give them different paths.`);
  }
}

/** The first `n` bytes of a file (fewer if it is shorter). */
function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(n);
    let got = 0;
    for (let k = 1; got < n && k > 0; got += k) k = readSync(fd, b, got, n - got, got);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The metadata `format` of a safetensors file, read from its header alone; undefined when the
 * file is not a safetensors file (or its header has no format). */
export function safetensorsFormat(path: string, size: number): string | undefined {
  const prefix = head(path, 8);
  if (prefix.length < 8) return undefined;
  const n = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (n > 100 * 2 ** 20 || n > size - 8) return undefined; // safetensors headers are at most 100 MB
  try {
    const header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head(path, 8 + n).subarray(8))) as { __metadata__?: { format?: unknown } };
    const format = header.__metadata__?.format;
    return typeof format === 'string' ? format : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the first line of a file is one of the JSON lines `train --log-file` writes. */
function isOurLog(path: string): boolean {
  const text = new TextDecoder().decode(head(path, 65536));
  try {
    const first = JSON.parse(text.slice(0, text.indexOf('\n') < 0 ? undefined : text.indexOf('\n'))) as Record<string, unknown>;
    return typeof first === 'object' && first !== null && typeof first.step === 'number' && 'train_loss' in first;
  } catch {
    return false;
  }
}

/** What an output may replace: a checkpoint of ours (--save), a PyTorch export of ours
 * (--pytorch: a run's checkpoint holds a training state an export would lose), or a log of
 * ours (--log-file, appended to). */
export type OutputKind = 'checkpoint' | 'pytorch' | 'log';

export const OURS = 'char-rnn-webgpu/';
export const OUR_EXPORT = 'char-rnn-webgpu/pytorch';

/** Refuses to replace (or append to) an existing file that is not of `kind`, unless `force`;
 * a checkpoint is never written over something that is not a regular file (the rename of an
 * atomic write would replace the device itself). */
export function checkOverwrite(f: FileArg, kind: OutputKind, force: boolean): void {
  let st;
  try {
    st = statSync(f.path);
  } catch {
    return; // a new file
  }
  if (!st.isFile()) {
    if (kind === 'log') return; // appending to a device or a pipe replaces nothing
    throw new UsageError(`${named(f)} is ${kindOfFile(st)}, not a regular file: saving would replace it. Give a file path.`);
  }
  if (st.size === 0) return;
  const fix = `Give ${f.option} another path, or add --force to ${kind === 'log' ? 'append to' : 'replace'} it.`;
  if (kind === 'log') {
    if (!force && !isOurLog(f.path))
      throw new UsageError(`${named(f)} exists and is not a log of char-rnn (its first line is not one of the JSON lines --log-file writes): appending would mix the log into it. ${fix}`);
    return;
  }
  const format = safetensorsFormat(f.path, st.size);
  if (force || (kind === 'checkpoint' ? format?.startsWith(OURS) : format === OUR_EXPORT)) return;
  const what = !format ? 'is not a char-rnn checkpoint' : format.startsWith(OURS) ? `is a char-rnn checkpoint (format ${format}), not a PyTorch export` : `is a safetensors file of another program (format ${format})`;
  throw new UsageError(`${named(f)} exists and ${what}: ${kind === 'pytorch' ? 'exporting' : 'saving'} would replace it. ${fix}`);
}
