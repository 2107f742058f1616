import { afterAll, beforeAll, expect } from 'vitest';
import type { GpuContext } from '../src/gpu/context.js';
import { nodeContext } from '../src/node/gpu.js';
import type { Tensor } from '../src/model.js';

// Shared test helpers: per-tensor tolerance comparison and one GPU context per test file.

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface Closeness {
  name: string;
  n: number;
  /** max over elements of |got - want| / (atol + rtol*|want|): <= 1 passes */
  used: number;
  worst: number;
  maxAbs: number;
  maxRel: number;
  got: number;
  want: number;
}

export function closeness(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): Closeness {
  if (got.length !== want.length) throw new Error(`${name}: length ${got.length} != ${want.length}`);
  const r: Closeness = { name, n: got.length, used: 0, worst: -1, maxAbs: 0, maxRel: 0, got: NaN, want: NaN };
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const u = Number.isFinite(d) ? d / (tol.atol + tol.rtol * Math.abs(want[i])) : Infinity;
    r.maxAbs = Math.max(r.maxAbs, d);
    if (want[i] !== 0) r.maxRel = Math.max(r.maxRel, d / Math.abs(want[i]));
    if (!(u <= r.used)) {
      r.used = u;
      r.worst = i;
      r.got = got[i];
      r.want = want[i];
    }
  }
  return r;
}

/** |got-want| <= atol + rtol*|want| element-wise; the failure names the worst element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance & { name: string }): Closeness {
  const c = closeness(tol.name, got, want, tol);
  const msg =
    `${c.name}: worst index ${c.worst} got ${c.got} want ${c.want}, max|diff| ${c.maxAbs.toExponential(3)}, ` +
    `${(100 * c.used).toFixed(1)}% of tolerance (atol ${tol.atol}, rtol ${tol.rtol})`;
  expect(c.used, msg).toBeLessThanOrEqual(1);
  return c;
}

/** A GPU context for the whole test file, failing loudly when there is no adapter. */
export function useGpu(): () => GpuContext {
  let ctx: GpuContext | undefined;
  beforeAll(async () => {
    ctx = await nodeContext('test');
  });
  afterAll(() => ctx?.destroy());
  return () => {
    if (!ctx) throw new Error('GPU context missing: see the error from beforeAll');
    const f = ctx.failure();
    if (f) throw f;
    return ctx;
  };
}

/** Seeded uniform floats in [-scale, scale). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}
