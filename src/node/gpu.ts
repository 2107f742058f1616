/// <reference types="@webgpu/types" preserve="true" />
import { createContext, type GpuContext, NO_ADAPTER_HELP } from '../gpu/context.js';
import { GpuError } from '../errors.js';

// WebGPU in Node through Dawn (the `webgpu` package). The only module that imports it.
//
// dawn.node crashes the process when the GPU object from create() is garbage-collected while
// a device made from it is alive (dawn-gpu/node-webgpu issue 18): every GPU object stays in
// `alive` until its context is destroyed.

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
