import { describe, expect, test } from 'vitest';
import { TextError, VocabularyError } from '../src/errors.js';
import { decodeUtf8, encodeUtf8, scanUtf8, vocabOf } from '../src/text.js';
import { Vocab } from '../src/vocab.js';

// The two-pass encoder of training texts (src/text.ts): bytes to indices without a string,
// checked against TextDecoder + Vocab on the same text.

const utf8 = (s: string) => new TextEncoder().encode(s);
const bytes = (...b: number[]) => Uint8Array.from(b);

describe('UTF-8 bytes to vocabulary indices', () => {
  const tricky = 'héllo\r\nwörld 😀 𝄞 \u{10FFFF} €\r\nend\n\u0000x';
  test('1- to 4-byte characters: the same vocabulary and indices as TextDecoder + Vocab', () => {
    const b = utf8(tricky);
    const scan = scanUtf8(b);
    const want = Vocab.fromText(tricky);
    expect(vocabOf(scan).chars).toEqual(want.chars);
    expect(scan.chars).toBe([...tricky].length);
    expect(scan.first).toBe('h'.codePointAt(0));
    expect(scan.crlf).toBe(2);
    const ids = encodeUtf8(b, scan, vocabOf(scan));
    expect(ids).toBeInstanceOf(Uint8Array); // V <= 256
    expect([...ids]).toEqual([...want.encode(tricky)]);
  });
  test('a byte-order mark is not a character; the hash depends on the characters only', () => {
    const plain = scanUtf8(utf8('abc'));
    const bom = scanUtf8(bytes(0xef, 0xbb, 0xbf, 0x61, 0x62, 0x63));
    expect(bom.bom).toBe(3);
    expect(bom.chars).toBe(3);
    expect(bom.hash).toBe(plain.hash);
    expect(scanUtf8(utf8('abd')).hash).not.toBe(plain.hash);
    expect(scanUtf8(utf8('bac')).hash).not.toBe(plain.hash);
    expect(plain.hash).toMatch(/^[0-9a-f]{16}$/);
    expect([...encodeUtf8(bytes(0xef, 0xbb, 0xbf, 0x61, 0x62, 0x63), bom, vocabOf(bom))]).toEqual([0, 1, 2]);
  });
  test('the index array is the smallest that holds the vocabulary', () => {
    const wide = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    const scan = scanUtf8(utf8(wide));
    const ids = encodeUtf8(utf8(wide), scan, vocabOf(scan));
    expect(ids).toBeInstanceOf(Uint16Array);
    expect(ids[299]).toBe(299);
  });
  test.each([
    ['a lone continuation byte', bytes(0x61, 0x80), 1, '80'],
    ['an overlong encoding', bytes(0xc0, 0x80), 0, 'c0 80'],
    ['a surrogate', bytes(0x61, 0xed, 0xa0, 0x80), 1, 'ed a0 80'],
    ['above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), 0, 'f4 90 80 80'],
    ['a sequence cut at the end', bytes(0x61, 0xf0, 0x9f, 0x98), 1, 'f0 9f 98'],
    ['a sequence cut by ASCII', bytes(0xe2, 0x82, 0x61), 0, 'e2 82 61'],
  ])('invalid: %s, at its byte', (_name, b, at, hex) => {
    expect(() => scanUtf8(b, 'f')).toThrow(new RegExp(`f is not valid UTF-8: bad byte sequence at byte ${at} \\(line 1, column ${at + 1}: ${hex}\\)`));
  });
  test('line and column of a bad byte count characters, not bytes', () => {
    const b = new Uint8Array([...utf8('😀\nhé'), 0xff]);
    expect(() => scanUtf8(b, 'f')).toThrow(/at byte 8 \(line 2, column 3: ff\)/);
    expect(() => decodeUtf8(b, 'f')).toThrow(/at byte 8 \(line 2, column 3: ff\)/);
  });
  test('UTF-16 is named as such, with the iconv that converts it', () => {
    for (const b of [bytes(0xff, 0xfe, 0x68, 0x00), bytes(0xfe, 0xff, 0x00, 0x68)]) {
      expect(() => scanUtf8(b, 'f')).toThrow(TextError);
      expect(() => scanUtf8(b, 'f')).toThrow(/f looks like UTF-16 .*iconv -f utf-16 -t utf-8/);
    }
  });
  test('a character outside a given vocabulary: named with its position, or marked', () => {
    const b = utf8('hexlo');
    const scan = scanUtf8(b);
    const v = new Vocab(['e', 'h', 'l', 'o']);
    expect(() => encodeUtf8(b, scan, v, { name: 'story.txt' })).toThrow(VocabularyError);
    expect(() => encodeUtf8(b, scan, v, { name: 'story.txt' })).toThrow(/Character 'x' \(U\+0078\) at character 3 of story\.txt/);
    const seen: number[] = [];
    expect([...encodeUtf8(b, scan, v, { unknown: 4, onUnknown: (cp) => seen.push(cp) })]).toEqual([1, 0, 4, 2, 3]);
    expect(seen).toEqual([0x78]);
  });
});
