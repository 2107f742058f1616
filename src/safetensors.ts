import { CheckpointError } from './errors.js';

// safetensors files (https://huggingface.co/docs/safetensors), the format of checkpoints:
//
//   u64 little-endian N | N bytes of UTF-8 JSON header, space-padded | raw little-endian data
//
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}, offsets
// relative to the start of the data section, plus "__metadata__": a string-to-string map.
// Tensors are packed in the order written, without gaps, and the data section starts at a
// multiple of 8 bytes. F32 and F64 tensors are written and read (the model's five are F32;
// F64 holds the CPU engine's exact state for resuming). This module works on Uint8Array
// alone, so the browser and Node share it; the caller reads and writes the bytes.

export type FloatArray = Float32Array | Float64Array;

export interface SafetensorsTensor {
  shape: number[];
  dtype: string;
  data: FloatArray;
}

const BYTES = { F32: 4, F64: 8 } as const;
const dtypeOf = (a: FloatArray) => (a instanceof Float64Array ? 'F64' : 'F32');

const METADATA_KEY = '__metadata__';

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function showShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function encodeSafetensors(
  tensors: { name: string; shape: number[]; data: FloatArray }[],
  metadata: Record<string, string>,
): Uint8Array {
  const seen = new Set<string>();
  const entries: string[] = [];
  const meta = Object.entries(metadata);
  for (const [k, v] of meta)
    if (typeof v !== 'string')
      throw new CheckpointError(`Cannot save: metadata entry ${JSON.stringify(k)} is a ${typeof v}, not a string.`);
  entries.push(`${JSON.stringify(METADATA_KEY)}:{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);

  let offset = 0;
  for (const t of tensors) {
    if (t.name === '' || t.name === METADATA_KEY)
      throw new CheckpointError(`Cannot save: ${JSON.stringify(t.name)} is not a usable tensor name.`);
    if (seen.has(t.name)) throw new CheckpointError(`Cannot save: two tensors are named ${JSON.stringify(t.name)}.`);
    seen.add(t.name);
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegativeInteger))
      throw new CheckpointError(`Cannot save tensor ${t.name}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers.`);
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array))
      throw new CheckpointError(`Cannot save tensor ${t.name}: its data is not a Float32Array or Float64Array.`);
    if (numel(t.shape) !== t.data.length)
      throw new CheckpointError(
        `Cannot save tensor ${t.name}: shape ${showShape(t.shape)} holds ${numel(t.shape)} values but the data has ${t.data.length}.`,
      );
    const end = offset + BYTES[dtypeOf(t.data)] * t.data.length;
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }

  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // so that 8 + N is a multiple of 8
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);

  let at = 8 + headerLength;
  for (const t of tensors) {
    // DataView writes little-endian on every platform.
    if (t.data instanceof Float64Array) for (let i = 0; i < t.data.length; i++, at += 8) view.setFloat64(at, t.data[i], true);
    else for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}

export interface Decoded {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
  hasMetadata: boolean;
}

type Entry = { name: string; dtype: string; shape: number[]; begin: number; end: number };
const DAMAGED = 'The file is damaged or was not written by a safetensors writer.';

/** The header of a safetensors file as a JSON object, and its length in bytes. */
function readHeader(bytes: Uint8Array, source: string): { header: Record<string, unknown>; n: number } {
  // what a file that is not a checkpoint at all is told first; the details follow
  const notOne = `${source} is not a char-rnn checkpoint (a .safetensors file), or it is damaged:`;
  const notSafetensors = 'Check that it is a checkpoint written by char-rnn-webgpu.';
  if (bytes.length < 8)
    throw new CheckpointError(
      `${notOne} the file is only ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length. ` +
        `It is truncated or not a safetensors file. ${notSafetensors}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  const available = bytes.length - 8;
  if (headerLength > BigInt(available))
    throw new CheckpointError(
      `${notOne} the header length field says ${headerLength} bytes, but only ${available} bytes follow it: ` +
        `truncated or not a safetensors file. ${notSafetensors} If it is one, it was cut off while being written or copied; ` +
        `save it again or use an earlier checkpoint.`,
    );
  const n = Number(headerLength);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new CheckpointError(
      `${notOne} the ${n}-byte header is not valid UTF-8. ${notSafetensors}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(
      `${notOne} the ${n}-byte header is not valid JSON (${(e as Error).message}). ${notSafetensors}`,
    );
  }
  if (!isPlainObject(header))
    throw new CheckpointError(`${notOne} the header is JSON but not an object. ${notSafetensors}`);

  return { header, n };
}

/** The header's __metadata__ (strings to strings), and whether it has one. */
function readMetadata(header: Record<string, unknown>, source: string): { metadata: Record<string, string>; hasMetadata: boolean } {
  const metadata: Record<string, string> = {};
  const hasMetadata = Object.prototype.hasOwnProperty.call(header, METADATA_KEY);
  if (hasMetadata) {
    const m = header[METADATA_KEY];
    if (!isPlainObject(m)) throw new CheckpointError(`${source}: "${METADATA_KEY}" in the header is not a JSON object. ${DAMAGED}`);
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string')
        throw new CheckpointError(`${source}: metadata entry ${JSON.stringify(k)} is not a string (safetensors metadata maps strings to strings). ${DAMAGED}`);
      metadata[k] = v;
    }
  }

  return { metadata, hasMetadata };
}

/** The header's tensor entries, each checked on its own: dtype, shape, offsets that fit its size. */
function readEntries(header: Record<string, unknown>, source: string): Entry[] {
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const bad = (what: string) => new CheckpointError(`${source}: tensor ${name} in the header ${what}. ${DAMAGED}`);
    if (!isPlainObject(value)) throw bad('is not a JSON object');
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw bad('has no dtype');
    if (dtype !== 'F32' && dtype !== 'F64')
      throw new CheckpointError(
        `${source}: tensor ${name} has dtype ${dtype}; only F32 (float32) tensors are supported (and F64 for saved engine state). ` +
          `Convert the tensor to float32 and save the file again.`,
      );
    const size = BYTES[dtype as 'F32' | 'F64'];
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) throw bad(`has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1])
      throw bad(`has data_offsets ${JSON.stringify(offsets)} out of range (expected [begin, end] with 0 <= begin <= end)`);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== size * numel(shape))
      throw bad(`has data_offsets [${begin},${end}] covering ${end - begin} bytes, but shape ${showShape(shape)} of ${dtype} needs ${size * numel(shape)}`);
    entries.push({ name, dtype, shape, begin, end });
  }

  return entries;
}

/** The entries together cover the data section exactly: no overlap, no gap, nothing past its end. */
function checkLayout(entries: Entry[], dataLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.begin < a.end)
      throw new CheckpointError(
        `${source}: tensors ${a.name} (bytes ${a.begin}-${a.end}) and ${b.name} (bytes ${b.begin}-${b.end}) overlap in the data section. ${DAMAGED}`,
      );
  }
  const needed = sorted.reduce((m, t) => Math.max(m, t.end), 0);
  if (needed > dataLength)
    throw new CheckpointError(
      `${source}: the file is truncated: the header places tensor data up to byte ${needed} of the data section, but the ` +
        `data section holds only ${dataLength} bytes (${needed - dataLength} bytes missing). It was cut off while being ` +
        `written or copied; save it again or use an earlier checkpoint.`,
    );
  // The format has no holes: the tensors cover the data section from its first byte to its last.
  for (let i = 0; i <= sorted.length; i++) {
    const at = i ? sorted[i - 1].end : 0;
    const next = i < sorted.length ? sorted[i].begin : dataLength;
    if (next !== at)
      throw new CheckpointError(
        `${source}: bytes ${at}-${next} of the data section belong to no tensor` +
          (i < sorted.length ? ` (before ${sorted[i].name})` : ' (after the last tensor)') +
          `; a safetensors file has no gaps. ${DAMAGED}`,
      );
  }

}

function decode(bytes: Uint8Array, source: string): Decoded {
  const { header, n } = readHeader(bytes, source);
  const { metadata, hasMetadata } = readMetadata(header, source);
  const entries = readEntries(header, source);
  const dataStart = 8 + n;
  checkLayout(entries, bytes.length - dataStart, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of entries) {
    // DataView reads little-endian on every platform.
    let data: FloatArray;
    if (t.dtype === 'F64') {
      data = new Float64Array((t.end - t.begin) / 8);
      for (let i = 0, at = dataStart + t.begin; i < data.length; i++, at += 8) data[i] = view.getFloat64(at, true);
    } else {
      data = new Float32Array((t.end - t.begin) / 4);
      for (let i = 0, at = dataStart + t.begin; i < data.length; i++, at += 4) data[i] = view.getFloat32(at, true);
    }
    tensors.set(t.name, { shape: t.shape, dtype: t.dtype, data });
  }
  return { tensors, metadata, hasMetadata };
}

/** Reads a safetensors file of F32 and F64 tensors. Throws CheckpointError naming `source` when
 * the bytes are not one: too short, truncated, a header that is not UTF-8 JSON, metadata that is
 * not strings, malformed, overlapping or gapped offsets, bytes after the last tensor, or another
 * dtype. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Decoded {
  return decode(bytes, source);
}
