import { GpuError } from '../errors.js';
import { compileShader, type GpuContext } from './context.js';
import { type ShaderName, shaderParts } from './shaders.js';

// A compute pipeline with its explicit bind-group layout. Bindings are listed in binding
// order; each kernel's WGSL names the variable behind every binding.

export type BindingKind = 'uniform' | 'read' | 'storage';

export interface Kernel {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

const modules = new WeakMap<GPUDevice, Map<ShaderName, Promise<GPUShaderModule>>>();

function shaderModule(ctx: GpuContext, name: ShaderName): Promise<GPUShaderModule> {
  let m = modules.get(ctx.device);
  if (!m) modules.set(ctx.device, (m = new Map()));
  let mod = m.get(name);
  if (!mod) m.set(name, (mod = compileShader(ctx.device, shaderParts(name), `shaders/${name}.wgsl`)));
  return mod;
}

export async function makeKernel(
  ctx: GpuContext,
  spec: {
    shader: ShaderName;
    entry: string;
    bindings: BindingKind[];
    constants: Record<string, number>;
  },
): Promise<Kernel> {
  const { device } = ctx;
  const label = `${spec.shader}.${spec.entry}`;
  const module = await shaderModule(ctx, spec.shader);
  const layout = device.createBindGroupLayout({
    label,
    entries: spec.bindings.map((kind, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
    })),
  });
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry, constants: spec.constants },
    });
  } catch (e) {
    throw new GpuError(`Creating the compute pipeline ${label} failed: ${(e as Error).message}`);
  }
  return { label, pipeline, layout };
}

export function bindGroup(ctx: GpuContext, k: Kernel, buffers: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
  return ctx.device.createBindGroup({
    label: k.label,
    layout: k.layout,
    entries: buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
  });
}

export function dispatch(pass: GPUComputePassEncoder, k: Kernel, group: GPUBindGroup, x: number): void {
  pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(x);
}
