import { TextError } from './errors.js';
import { describeChar, Vocab } from './vocab.js';

// A training text straight from its UTF-8 bytes to vocabulary indices, without building a
// string of it: one pass checks the bytes, collects the characters (code points), counts
// them, hashes them and notes CRLF line ends; a second pass writes one index per character
// into the smallest typed array that holds the vocabulary. A 200 MB text then costs its bytes
// plus one byte per character (V <= 256), not a string and a Uint32Array of it.

/** Vocabulary indices of a text: Uint8Array when V <= 256, Uint16Array when V <= 65536. */
export type IndexArray = Uint8Array | Uint16Array | Uint32Array;

/** What the first pass learns about a text. */
export interface TextScan {
  /** the distinct code points, sorted */
  codePoints: number[];
  /** characters (code points), byte-order mark excluded */
  chars: number;
  /** content hash: 64-bit FNV-1a-style hex over the code points (same text, same hash) */
  hash: string;
  /** the first code point (the CLI's default prime) */
  first: number;
  /** "\r\n" pairs: a Windows text, whose "\r" becomes a character of the vocabulary */
  crlf: number;
  /** bytes of a UTF-8 byte-order mark skipped at the start (0 or 3) */
  bom: number;
}

/** Calls `each(cp)` for every code point of UTF-8 `b` from byte `start`; on a bad sequence,
 * returns its byte offset (else -1). The one decoder, so both passes agree. */
function walkUtf8(b: Uint8Array, start: number, each: (cp: number) => void): number {
  const n = b.length;
  let i = start;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      each(c);
      i++;
      continue;
    }
    let k: number, min: number, cp: number;
    if (c >= 0xc2 && c <= 0xdf) { k = 1; min = 0x80; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { k = 2; min = 0x800; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { k = 3; min = 0x10000; cp = c & 0x07; }
    else return i;
    if (i + k >= n) return i; // truncated at the end
    for (let j = 1; j <= k; j++) {
      const d = b[i + j];
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    each(cp);
    i += k + 1;
  }
  return -1;
}

function bomLength(b: Uint8Array): number {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

/** The error for bytes that are not UTF-8: where (byte, line, column) and how to convert. */
export function notUtf8Error(b: Uint8Array, at: number, name: string): TextError {
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))) {
    const order = b[0] === 0xff ? 'little-endian' : 'big-endian';
    return new TextError(
      `${name} looks like UTF-16 (${order}: it starts with the byte-order mark ${hex(b, 0, 2)}), not UTF-8. ` +
        `Convert it first, e.g. iconv -f utf-16 -t utf-8 FILE > FILE.utf8.txt.`,
    );
  }
  let line = 1;
  let column = 1;
  walkUtf8(b.subarray(0, at), bomLength(b), (cp) => {
    if (cp === 10) { line++; column = 1; }
    else column++;
  });
  return new TextError(
    `${name} is not valid UTF-8: bad byte sequence at byte ${at} (line ${line}, column ${column}: ${hex(b, at, 4)}). ` +
      `Convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8.`,
  );
}

const hex = (b: Uint8Array, at: number, n: number) => Array.from(b.subarray(at, at + n), (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Decodes UTF-8 into a string (small texts: the page, `--string`, the prime); on invalid
 * input says where, as scanUtf8 does. */
export function decodeUtf8(bytes: Uint8Array, name = 'the text'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw notUtf8Error(bytes, Math.max(0, walkUtf8(bytes, bomLength(bytes), () => undefined)), name);
  }
}

/** First pass: checks the UTF-8 and learns the characters, their count, hash and CRLF pairs. */
export function scanUtf8(b: Uint8Array, name = 'the text'): TextScan {
  const bom = bomLength(b);
  const seen = new Uint8Array(0x110000);
  // two 32-bit FNV-1a lanes with different offsets and primes make a 64-bit hash
  let h1 = 0x811c9dc5;
  let h2 = 0x6c62272e;
  let chars = 0;
  let first = -1;
  let crlf = 0;
  let prev = -1;
  const bad = walkUtf8(b, bom, (cp) => {
    seen[cp] = 1;
    h1 = Math.imul(h1 ^ cp, 0x01000193);
    h2 = Math.imul(h2 ^ cp, 0x01000197) ^ (h2 >>> 15);
    if (cp === 10 && prev === 13) crlf++;
    prev = cp;
    if (chars++ === 0) first = cp;
  });
  if (bad >= 0) throw notUtf8Error(b, bad, name);
  const codePoints: number[] = [];
  for (let cp = 0; cp < seen.length; cp++) if (seen[cp]) codePoints.push(cp);
  const hash = (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  return { codePoints, chars, hash, first, crlf, bom };
}

/** A typed array for `n` indices of a vocabulary of `V` characters. */
export function indexArray(n: number, V: number): IndexArray {
  return V <= 0x100 ? new Uint8Array(n) : V <= 0x10000 ? new Uint16Array(n) : new Uint32Array(n);
}

/** Second pass: one vocabulary index per character. A character outside `vocab` throws,
 * naming it and its position, unless `unknown` gives an index to write for it (eval counts
 * and skips those; `onUnknown` sees each). */
export function encodeUtf8(
  b: Uint8Array,
  scan: TextScan,
  vocab: Vocab,
  o: { name?: string; unknown?: number; onUnknown?: (cp: number) => void } = {},
): IndexArray {
  const lookup = new Int32Array(0x110000).fill(-1);
  vocab.chars.forEach((c, i) => (lookup[c.codePointAt(0)!] = i));
  const out = indexArray(scan.chars, o.unknown === undefined ? vocab.size : Math.max(vocab.size, o.unknown + 1));
  let n = 0;
  walkUtf8(b, scan.bom, (cp) => {
    let i = lookup[cp];
    if (i < 0) {
      if (o.unknown === undefined) throw vocab.unknown(String.fromCodePoint(cp), ` at character ${n + 1} of ${o.name ?? 'the text'}`); // (counted from 1)
      o.onUnknown?.(cp);
      i = o.unknown;
    }
    out[n++] = i;
  });
  return out;
}

/** The vocabulary of a scanned text (its sorted characters). */
export function vocabOf(scan: TextScan): Vocab {
  return new Vocab(scan.codePoints.map((cp) => String.fromCodePoint(cp)));
}

/** A summary note for texts with Windows line ends. */
export function crlfNote(scan: TextScan): string | undefined {
  if (!scan.crlf) return undefined;
  return `${scan.crlf.toLocaleString('en-US')} Windows line ends (\\r\\n): ${describeChar('\r')} is a character of the vocabulary ` +
    `(convert with dos2unix or tr -d '\\r' to train without it)`;
}
