import { CpuEngine } from './cpu/engine.js';
import type { Engine, OptimizerConfig } from './engine.js';
import type { GpuContext } from './gpu/context.js';
import { GpuEngine, type GpuEngineOptions } from './gpu/engine.js';
import { checkModelSize } from './memory.js';
import type { Params, StepShape } from './model.js';

export type DeviceKind = 'gpu' | 'cpu';
export { checkModelSize, modelSize, type Allocation, type ModelSize, type SizeOptions } from './memory.js';

/** Builds the engine for a device: 'gpu' needs a context (createContext or nodeContext). A model
 * whose buffers the adapter cannot hold is refused first (checkModelSize; a caller that knows
 * how much memory there is calls it with that, before initParams). */
export async function createEngine(
  device: DeviceKind,
  shape: StepShape,
  optimizer: OptimizerConfig,
  params: Params,
  ctx?: GpuContext,
  gpuOptions?: GpuEngineOptions,
): Promise<Engine> {
  checkModelSize(shape, device, ctx, { gpuOptions });
  if (device === 'cpu') return new CpuEngine(shape, optimizer, params);
  if (!ctx) throw new Error("createEngine('gpu') needs a GPU context");
  return GpuEngine.create(ctx, shape, optimizer, params, undefined, gpuOptions);
}
