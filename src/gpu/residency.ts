import type { GpuContext } from './context.js';
import { residency } from './families.js';
import { bindGroup, dispatch, makeKernel } from './kernel.js';

// How many workgroups of a kind this adapter runs at once: the grid sweeps
// (shaders/cells_grid.wgsl) dispatch no more, so that their workgroups can wait on each other.
// Found by shaders/residency.wgsl's discovery, once per device and kind.

/** Workgroups the discovery dispatches: more than a grid sweep ever uses. */
const DISPATCHED = 1024;
/** Discoveries per kind, the most found kept (a software adapter's thread may start late). */
const TRIES = 2;

const found = new WeakMap<GPUDevice, Map<string, Promise<number>>>();

/** Workgroups of `invocations` invocations holding `bytes` of workgroup memory that ran at the
 * same time (at least 1), found once per device. */
export function residentWorkgroups(ctx: GpuContext, invocations: number, bytes: number): Promise<number> {
  let m = found.get(ctx.device);
  if (!m) found.set(ctx.device, (m = new Map()));
  const key = `${invocations}:${bytes}`;
  let n = m.get(key);
  if (!n) m.set(key, (n = discover(ctx, invocations, bytes)));
  return n;
}

async function discover(ctx: GpuContext, invocations: number, bytes: number): Promise<number> {
  const { device } = ctx;
  const k = await makeKernel(ctx, residency, 'discover', { WGSIZE: invocations, WMEM: Math.max(1, Math.ceil(bytes / 4)) });
  const words = device.createBuffer({ label: 'residency.words', size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const read = device.createBuffer({ label: 'residency.read', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const group = bindGroup(ctx, k, { words });
  let most = 1;
  try {
    for (let i = 0; i < TRIES; i++) {
      device.queue.writeBuffer(words, 0, new Uint32Array(4));
      const enc = device.createCommandEncoder({ label: 'residency' });
      const pass = enc.beginComputePass();
      dispatch(pass, k, group, DISPATCHED);
      pass.end();
      enc.copyBufferToBuffer(words, 0, read, 0, 16);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const [state, failed] = new Uint32Array(read.getMappedRange());
      read.unmap();
      if (!failed) most = Math.max(most, state & 0x7fffffff);
    }
  } finally {
    words.destroy();
    read.destroy();
  }
  return most;
}
