import { describe, expect, test } from 'vitest';
import { compare } from '../src/compare.js';
import { validateConfig, DEFAULT_CONFIG } from '../src/config.js';
import { BatchCursor, planBatches } from '../src/data.js';
import { TextError, UsageError, VocabularyError } from '../src/errors.js';
import { initParams } from '../src/init.js';
import { layout, parameterCount } from '../src/model.js';
import { hash32, randNormal, randU32, randUniform } from '../src/rng.js';
import { decodeUtf8 } from '../src/text.js';
import { Vocab } from '../src/vocab.js';

describe('vocabulary', () => {
  test('sorted code points; an emoji is one character', () => {
    const v = Vocab.fromText('b😀a\uFF01a😀');
    expect(v.chars).toEqual(['a', 'b', '\uFF01', '😀']); // by code point, not UTF-16 units
    expect([...v.encode('😀ab')]).toEqual([3, 0, 1]);
    expect(v.decode([3, 2])).toBe('😀\uFF01');
  });
  test('unknown characters are named with their code point and position', () => {
    const v = Vocab.fromText('hello');
    expect(() => v.encode('help', 'the prime')).toThrow(VocabularyError);
    expect(() => v.encode('help', 'the prime')).toThrow(/Character 'p' \(U\+0070\) at character 4 of the prime/);
    expect(() => new Vocab(['a', 'a'])).toThrow(/twice/);
    expect(() => new Vocab(['ab'])).toThrow(/not exactly one character/);
  });
  test('UTF-8: valid text decodes, invalid text says where', () => {
    expect(decodeUtf8(new TextEncoder().encode('héllo 😀'))).toBe('héllo 😀');
    expect(() => decodeUtf8(Uint8Array.from([0x61, 0x0a, 0x62, 0xc3]), 'f')).toThrow(/f is not valid UTF-8: bad byte sequence at byte 3 \(line 2, column 2: c3\)/);
    expect(() => decodeUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toThrow(TextError); // surrogate
    expect(() => decodeUtf8(Uint8Array.from([0xc0, 0x80]))).toThrow(/byte 0/); // overlong
  });
});

describe('counter-based RNG and initialisation', () => {
  test('fixed values (the same on every platform; common.wgsl computes the same)', () => {
    expect(hash32(0)).toBe(0);
    expect([hash32(1), randU32(42, 0, 0), randU32(42, 0, 1), randU32(42, 3, 0)]).toMatchSnapshot();
    const u = Array.from({ length: 10000 }, (_, i) => randUniform(7, 1, i));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((a, b) => a + b) / u.length - 0.5)).toBeLessThan(0.01);
    const n = Array.from({ length: 10000 }, (_, i) => randNormal(7, 2, i));
    const mean = n.reduce((a, b) => a + b) / n.length;
    const sd = Math.sqrt(n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
  test('initParams: randn*0.1 weights, zero biases, same seed same weights', () => {
    const a = initParams({ V: 5, H: 4 }, 3);
    const b = initParams({ V: 5, H: 4 }, 3);
    const c = initParams({ V: 5, H: 4 }, 4);
    expect(a).toEqual(b);
    expect(a.W_hh).not.toEqual(c.W_hh);
    expect([...a.b_h, ...a.b_y].every((x) => x === 0)).toBe(true);
    expect(Math.max(...a.W_xh.map(Math.abs))).toBeLessThan(0.6);
    // pinned: a change of the generator would silently change every seed's weights
    expect(Array.from(a.W_xh.slice(0, 3), (x) => x.toFixed(6))).toMatchSnapshot();
  });
  test('layout: tensors 256-byte aligned in one flat buffer', () => {
    const l = layout({ V: 65, H: 100 });
    expect(Object.values(l.offset).every((o) => o % 64 === 0)).toBe(true);
    expect(l.total).toBeGreaterThanOrEqual(parameterCount({ V: 65, H: 100 }));
  });
});

describe('batches', () => {
  test('B streams of L characters, T-chunks, reset at each epoch', () => {
    const data = Uint32Array.from({ length: 21 }, (_, i) => i);
    const plan = planBatches(21, 2, 4);
    expect(plan).toEqual({ B: 2, T: 4, L: 10, stepsPerEpoch: 2 });
    const c = new BatchCursor(data, plan);
    expect(c.next()).toBe(true);
    expect([...c.batch.inputs]).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
    expect([...c.batch.targets]).toEqual([1, 11, 2, 12, 3, 13, 4, 14]);
    expect(c.next()).toBe(false);
    expect([...c.batch.inputs]).toEqual([4, 14, 5, 15, 6, 16, 7, 17]);
    expect(c.next()).toBe(true);
    expect(c.epoch).toBe(1);
  });
  test('text too short: names the largest values that work', () => {
    expect(() => planBatches(50, 4, 25)).toThrow(/too short for --batch 4 x --seq-len 25.*--seq-len 12 with --batch 4, or --batch 1 with --seq-len 25/);
    expect(() => planBatches(1, 1, 25)).toThrow(/1 character; training needs at least 2/);
    expect(planBatches(5, 1, 25, false).T).toBe(4); // the default seq-len shrinks to a short text
    expect(planBatches(5, 1, 0).T).toBe(4); // 0: the whole text
  });
});

describe('config and comparison', () => {
  test('bad hyperparameters name the option and the range', () => {
    expect(() => validateConfig({ ...DEFAULT_CONFIG, hidden: 0 })).toThrow(UsageError);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, lr: NaN })).toThrow(/--lr.*NaN/);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, clip: -1 })).toThrow(/--clip/);
    expect(validateConfig({ ...DEFAULT_CONFIG })).toEqual(DEFAULT_CONFIG);
  });
  test('compare reports the worst element and the share of the tolerance used', () => {
    const c = compare('x', [1, 2.001, 3], [1, 2, 3], { atol: 1e-3, rtol: 0 });
    expect(c.worst).toBe(1);
    expect(c.used).toBeCloseTo(1, 6);
    expect(compare('y', [1, 2.0021, 3], [1, 2, 3], { atol: 1e-3, rtol: 0 }).ok).toBe(false);
    expect(compare('z', [NaN], [1], { atol: 1, rtol: 1 }).ok).toBe(false);
  });
});
