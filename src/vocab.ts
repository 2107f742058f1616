import { VocabularyError } from './errors.js';

// The vocabulary is the sorted set of the text's characters, where a character is a Unicode
// code point (an emoji is one character). Sorted by code point, as Python's sorted(set(text)).

export function describeChar(c: string): string {
  const cp = c.codePointAt(0)!;
  const u = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
  const shown = cp < 0x20 || cp === 0x7f ? JSON.stringify(c) : `'${c}'`;
  return `${shown} (${u})`;
}

export class Vocab {
  readonly chars: readonly string[];
  private readonly index: Map<number, number>;

  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new VocabularyError('The vocabulary is empty.');
    this.chars = chars;
    this.index = new Map();
    chars.forEach((c, i) => {
      const cp = c.codePointAt(0);
      if (cp === undefined || [...c].length !== 1)
        throw new VocabularyError(`Vocabulary entry ${i} (${JSON.stringify(c)}) is not exactly one character.`);
      if (this.index.has(cp)) throw new VocabularyError(`Vocabulary lists ${describeChar(c)} twice.`);
      this.index.set(cp, i);
    });
  }

  static fromText(text: string): Vocab {
    const seen = new Set<number>();
    for (const c of text) seen.add(c.codePointAt(0)!);
    return new Vocab([...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp)));
  }

  get size(): number {
    return this.chars.length;
  }

  has(c: string): boolean {
    return this.index.has(c.codePointAt(0)!);
  }

  indexOf(c: string): number {
    const i = this.index.get(c.codePointAt(0)!);
    if (i === undefined) throw this.unknown(c);
    return i;
  }

  unknown(c: string, where = ''): VocabularyError {
    const list = this.chars.length <= 100 ? `: ${this.chars.map((x) => JSON.stringify(x)).join(' ')}` : '';
    return new VocabularyError(
      `Character ${describeChar(c)}${where} is not in the vocabulary of this model (${this.size} characters${list}). ` +
        `Use only characters the model was trained on, or retrain on text that contains it.`,
    );
  }

  /** Text to indices, one per code point. */
  encode(text: string, what = 'the text'): Uint32Array {
    const out = new Uint32Array(countCodePoints(text));
    let n = 0;
    for (const c of text) {
      const i = this.index.get(c.codePointAt(0)!);
      if (i === undefined) throw this.unknown(c, ` at character ${n + 1} of ${what}`); // (counted from 1, as people count)
      out[n++] = i;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let k = 0; k < ids.length; k++) s += this.chars[ids[k]];
    return s;
  }
}

export function countCodePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
