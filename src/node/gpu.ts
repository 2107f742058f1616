import { createContext, type GpuContext, NO_ADAPTER_HELP } from '../gpu/context.js';
import { GpuError } from '../errors.js';

// WebGPU in Node through Dawn (the `webgpu` package). The only module that imports it.
//
// dawn.node crashes the process when the GPU object from create() is garbage-collected while
// a device made from it is alive (dawn-gpu/node-webgpu issue 18): every GPU object stays in
// `alive` until its context is destroyed.
//
// While requestAdapter() enumerates a Vulkan adapter, Dawn prints two lines on stderr itself:
// "Warning: maxDynamic{Uniform,Storage}BuffersPerPipelineLayout artificially reduced from
// 1000000 to 16 to fit dynamic offset allocation limit." (Dawn's Limits.cpp clamps the driver's
// limits to what it supports, and logs with fprintf(stderr); lavapipe offers 1000000, other
// Vulkan drivers as much). Nothing here can stop them: they come before any requiredLimits,
// dawn.node's create() options (backend, adapter, enable/disable-dawn-features, verbose) have no
// log level and no toggle reaches that code, and Node cannot point its own fd 2 elsewhere for
// a moment. Only a parent process that reads our stderr can drop them: the CLI runs itself
// under such a parent (src/cli/dawnLines.ts); library users see them.

const alive = new Set<GPU>();

export async function nodeContext(label?: string): Promise<GpuContext> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    throw new GpuError(`The 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}. Run npm ci. ${NO_ADAPTER_HELP}`);
  }
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]) as unknown as GPU;
  alive.add(gpu);
  let ctx: GpuContext;
  try {
    ctx = await createContext(gpu, label);
  } catch (e) {
    alive.delete(gpu);
    throw e;
  }
  const destroy = ctx.destroy;
  return {
    ...ctx,
    destroy() {
      destroy();
      // Let Dawn finish tearing the device down before the GPU object may be collected.
      setTimeout(() => alive.delete(gpu), 1000).unref?.();
    },
  };
}
