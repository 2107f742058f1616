import { describe, expect, test } from 'vitest';
import { CpuEngine, sampleIndex } from '../src/cpu/engine.js';
import { SAMPLE_STREAM, randUniform } from '../src/rng.js';

// The first characters drawn with seeds 0, 1, 2, ... follow the model's distribution: seed 0
// (every default) used to draw u = 0 exactly (hash32(0) = 0), and with it the first character
// of the vocabulary however unlikely it was.

describe('sampling draws', () => {
  test('the first draw of seeds 0..1999 is uniform (chi-square over 20 bins)', () => {
    const N = 2000;
    const bins = new Array(20).fill(0);
    for (let seed = 0; seed < N; seed++) bins[Math.floor(randUniform(seed, SAMPLE_STREAM, 0) * 20)]++;
    const chi2 = bins.reduce((s, n) => s + (n - N / 20) ** 2 / (N / 20), 0);
    expect(chi2, `bins ${bins}`).toBeLessThan(43.8); // 19 degrees of freedom, p = 0.001
    expect(randUniform(0, SAMPLE_STREAM, 0)).toBeGreaterThan(0);
  });

  test('a character of probability 1e-9 is never the first draw of seeds 0..999', () => {
    const y = [-20.7, 0, 0.5, 1]; // p(0) about 1e-9
    for (let seed = 0; seed < 1000; seed++) expect(sampleIndex(y, 1, randUniform(seed, SAMPLE_STREAM, 0)), `seed ${seed}`).not.toBe(0);
  });

  test('the CPU engine with seed 0 draws its first characters by their probabilities', async () => {
    // one-unit model whose output prefers index 3, never index 0
    const shape = { V: 4, H: 1, B: 1, T: 1 };
    const p = { W_xh: Float32Array.of(0, 0, 0, 0), W_hh: Float32Array.of(0), b_h: Float32Array.of(0), W_hy: Float32Array.of(0, 0, 0, 0), b_y: Float32Array.of(-30, 0, 0, 1) };
    const e = new CpuEngine(shape, { name: 'sgd', lr: 1, clip: 0 }, p);
    const firsts = [];
    for (let seed = 0; seed < 200; seed++) firsts.push((await e.generate({ prime: Uint32Array.of(1), length: 1, seed }))[0][0]);
    expect(firsts).not.toContain(0);
    const share3 = firsts.filter((x) => x === 3).length / firsts.length; // p(3) = e/(e+2) = 0.576
    expect(share3).toBeGreaterThan(0.45);
    expect(share3).toBeLessThan(0.7);
  });
});
