import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type CheckReport, runCheck } from '../src/check.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../src/config.js';
import type { GpuEngineOptions } from '../src/gpu/engine.js';
import { initParams } from '../src/init.js';
import { Vocab } from '../src/vocab.js';
import { useGpu } from './helpers.js';

// `char-rnn check` at real sizes: the local comparison (each timestep recomputed on the CPU
// from the GPU's own state) passes from the default initialisation and from a chaotic one
// (spectral radius of W_hh about 2.5), the whole trajectories stay within a small multiple of
// the CPU's own float64 spread, and one wrong weight element on the GPU is caught locally.

const gpu = useGpu();
const text = readFileSync(new URL('../corpus/lighthouse.txt', import.meta.url), 'utf8');
const vocab = Vocab.fromText(text);
const data = vocab.encode(text, 'lighthouse');

/** One kernel variant per size, forced; one training step after the first (whose update is
 * compared locally too), none at H=256 B=32 T=64 to keep the CPU's share of the suite short. */
const SIZES: [string, Partial<TrainConfig>, GpuEngineOptions][] = [
  ['H=256 B=32 T=64, persistent sweep of 8 streams', { hidden: 256, batch: 32, seqLen: 64, steps: 0 }, { kernels: 'tiled', recurrence: 'persistent', streams: 8 }],
  ['H=600 B=8 T=16, persistent sweep of 4 streams', { hidden: 600, batch: 8, seqLen: 16 }, { kernels: 'tiled', recurrence: 'persistent', streams: 4 }],
  ['H=1030 B=3 T=8, one dispatch per timestep', { hidden: 1030, batch: 3, seqLen: 8 }, { kernels: 'tiled', recurrence: 'step' }],
];

const config = (c: Partial<TrainConfig>): TrainConfig => ({ ...DEFAULT_CONFIG, optimizer: 'adam', lr: 0.002, clip: 0, steps: 1, ...c });

function summary(r: CheckReport): string {
  return r.tensors
    .map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.kind} ${c.name}: ${(100 * c.used).toFixed(1)}% of tolerance${c.ratio === undefined ? '' : `, ${c.ratio.toPrecision(3)}x the float64 spread`}`)
    .join('\n');
}

describe.each(SIZES)('check at %s', (_, size, variant) => {
  test.each([
    ['default', 'auto'],
    ['chaotic (spectral radius about 2.5)', 2.5 / Math.sqrt(size.hidden!)],
  ] as const)('%s initialisation: local steps within tolerance, trajectories within the float64 spread', async (_, initScale) => {
    const r = await runCheck(gpu(), data, vocab.size, config({ ...size, initScale }), { gpu: variant });
    expect(r.ok, summary(r)).toBe(true);
    expect(r.tensors.filter((c) => c.kind === 'local step').every((c) => c.used <= 1)).toBe(true);
  });

  test('a wrong W_hh element on the GPU fails the local comparison', async () => {
    const cfg = config(size);
    const shape = { V: vocab.size, H: cfg.hidden };
    const start = initParams(shape, cfg.seed, cfg.initScale);
    const upload = { ...start, W_hh: start.W_hh.slice() };
    upload.W_hh[5 * cfg.hidden + 7] += 1e-3; // row 5, column 7
    const r = await runCheck(gpu(), data, vocab.size, cfg, { gpu: variant, start, upload, trajectory: false });
    expect(r.ok, summary(r)).toBe(false);
    // h_t[5] recomputed from the GPU's h_{t-1} with the right weight differs by 1e-3*h_{t-1}[7]
    expect(r.tensors.find((c) => c.name === 'hs')!.used, summary(r)).toBeGreaterThan(5);
  });
});
