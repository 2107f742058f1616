import { GpuError } from '../errors.js';
import type { StepShape } from '../model.js';

// Sizes checked against the device's limits before anything is allocated, so that a model too
// large for the adapter gets a message naming the tensor, the sizes behind it and what to
// lower, instead of a validation error from the driver in the middle of a run.

/** What each size of the step shape is, and how a user changes it. */
const LEVERS: Record<'T' | 'B' | 'H' | 'layers' | 'V', string> = {
  T: 'T (timesteps per step, --seq-len)',
  B: 'B (streams per step, --batch)',
  H: 'H (hidden units, --hidden)',
  layers: 'L (layers, --layers)',
  V: 'V (the vocabulary: distinct characters of the text)',
};

export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Throws GpuError when a buffer of `table` (element counts of 4 bytes, from the step shape)
 * is larger than the adapter allows for one storage binding. The sizes a buffer depends on
 * are found by doubling each in turn, so the table stays the one place that says it. */
export function checkBuffersFit(limits: GPUSupportedLimits, s: StepShape, table: (s: StepShape) => Record<string, number>): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const sizes = table(s);
  for (const [name, n] of Object.entries(sizes).sort((x, y) => y[1] - x[1])) { // the largest first
    if (4 * n <= limit) continue;
    const dims = (Object.keys(LEVERS) as (keyof typeof LEVERS)[]).filter((d) => table({ ...s, [d]: 2 * (s[d] ?? 1) })[name] !== n);
    throw new GpuError(
      `This model does not fit this GPU: its buffer ${name} needs ${mib(4 * n)} (from ${dims.map((d) => `${d === 'layers' ? 'L' : d}=${s[d] ?? 1}`).join(', ')}), ` +
        `more than the ${mib(limit)} the adapter allows for one buffer. Lower ${dims.map((d) => LEVERS[d]).join(' or ')}, ` +
        `or use the CPU engine (--device cpu).`,
    );
  }
}

/** The most characters per stream one generate() call can return with `streams` streams. */
export function maxGenerateLength(limits: GPUSupportedLimits, streams: number): number {
  return Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / (4 * streams));
}

/** A workgroup of `invocations` (in x) holding `bytes` of workgroup memory fits the device. */
export function workgroupFits(limits: GPUSupportedLimits, bytes: number, invocations: number): boolean {
  return (
    bytes <= limits.maxComputeWorkgroupStorageSize &&
    invocations <= Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX)
  );
}
