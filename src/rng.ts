// Counter-based random numbers: the n-th number of a stream is a pure function of
// (seed, stream, n), computed with 32-bit integer operations only, so TypeScript here and
// WGSL in shaders/common.wgsl (`rand_u32`) give the same bits on every platform.

/** lowbias32 (Chris Wellons): a 32-bit integer hash with good avalanche. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export function randU32(seed: number, stream: number, counter: number): number {
  return hash32((hash32((hash32(seed >>> 0) + (stream >>> 0)) >>> 0) + (counter >>> 0)) >>> 0);
}

/** The streams of generated text: sample stream s draws its k-th character from stream
 * SAMPLE_STREAM + s, counter k (shaders/sample_draw.wgsl the same). The initialisation uses the
 * streams from 0 (one per tensor); seed 0, stream 0, counter 0 gives exactly 0 (hash32(0) = 0),
 * which would always draw the first character of the vocabulary. */
export const SAMPLE_STREAM = 0x20000000;

/** Uniform in [0, 1) with 24 random bits: exact in float32 and float64 alike. */
export function randUniform(seed: number, stream: number, counter: number): number {
  return (randU32(seed, stream, counter) >>> 8) / 16777216;
}

/** Standard normal (Box-Muller), from counters 2n and 2n+1 of the stream. */
export function randNormal(seed: number, stream: number, n: number): number {
  const u1 = ((randU32(seed, stream, 2 * n) >>> 8) + 1) / 16777216; // (0, 1]
  const u2 = randUniform(seed, stream, 2 * n + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
