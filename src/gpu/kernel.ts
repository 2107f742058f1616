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
  /** group(1): the kernel's sizes as a uniform (shaders/common.wgsl `launch`, matmul.wgsl
   * `mm`), bound at a dynamic offset (per-timestep kernels pick their timestep's slot) */
  readonly launchLayout?: GPUBindGroupLayout;
  /** the entry point indexes its invocations with flat_id (shaders/common.wgsl): it may be
   * dispatched with more than MAX_WORKGROUPS workgroups, laid out in rows */
  readonly grid: boolean;
}

/** Workgroups per dimension every adapter accepts (the WebGPU default limit). */
export const MAX_WORKGROUPS = 65535;

/** Bytes between the timestep slots of a launch uniform (the largest minUniformBufferOffsetAlignment). */
export const STEP_SLOT = 256;

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
    /** the kernel reads its sizes from a group(1) uniform (see Kernel.launchLayout) */
    launch?: boolean;
  },
): Promise<Kernel> {
  // Pipelines are shared by every engine on the device: compiling is the slow part on
  // software adapters, and kernels that read their sizes at run time serve every shape.
  let cache = kernels.get(ctx.device);
  if (!cache) kernels.set(ctx.device, (cache = new Map()));
  const key = JSON.stringify(spec);
  let k = cache.get(key);
  if (!k) {
    cache.set(key, (k = createKernel(ctx, spec)));
    k.catch(() => cache.delete(key));
  }
  return k;
}

const kernels = new WeakMap<GPUDevice, Map<string, Promise<Kernel>>>();

async function createKernel(
  ctx: GpuContext,
  spec: { shader: ShaderName; entry: string; bindings: BindingKind[]; constants: Record<string, number>; launch?: boolean },
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
  const launchLayout = spec.launch
    ? device.createBindGroupLayout({
        label: `${label}.launch`,
        entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } }],
      })
    : undefined;
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: launchLayout ? [layout, launchLayout] : [layout] }),
      compute: { module, entryPoint: spec.entry, constants: spec.constants },
    });
  } catch (e) {
    throw new GpuError(`Creating the compute pipeline ${label} failed: ${(e as Error).message}`);
  }
  const code = shaderParts(spec.shader).map((p) => p.code).join('\n');
  const grid = new RegExp(`fn ${spec.entry}\\([^{]*num_workgroups`).test(code);
  return { label, pipeline, layout, launchLayout, grid };
}

export function bindGroup(ctx: GpuContext, k: Kernel, buffers: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
  return ctx.device.createBindGroup({
    label: k.label,
    layout: k.layout,
    entries: buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
  });
}

/** `x` workgroups, in rows of MAX_WORKGROUPS where there are more (grid kernels only: the
 * engine checks that when it builds the op). `launch`: the group(1) uniform and its slot, for
 * kernels that read their sizes from one. */
export function dispatch(
  pass: GPUComputePassEncoder,
  k: Kernel,
  group: GPUBindGroup,
  x: number,
  launch?: { group: GPUBindGroup; slot: number },
): void {
  pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, group);
  if (launch) pass.setBindGroup(1, launch.group, [launch.slot * STEP_SLOT]);
  if (x <= MAX_WORKGROUPS) pass.dispatchWorkgroups(x);
  else pass.dispatchWorkgroups(MAX_WORKGROUPS, Math.ceil(x / MAX_WORKGROUPS));
}
