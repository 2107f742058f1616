import { GpuError } from '../errors.js';
import { compileShader, type GpuContext } from './context.js';
import { SCHEDULE_ENTRIES, type ShaderName, shaderParts } from './shaders.js';

// The machinery every kernel family shares (the families themselves are in families.ts):
//   - a uniform struct is a table of its scalar fields in WGSL order; pack() writes it;
//   - a binding table names each binding as the WGSL does, in binding order, with its
//     access: 'read' (a read-only storage array), 'storage' (a read-write storage array) or a uniform
//     struct (var<uniform>); the bind-group layout and the bind-group entries come from it;
//   - a family is one WGSL file: its binding tables, and each entry point's table.
// A compiled entry point is a Kernel typed by its binding table, so a bind group is made
// from a record keyed by binding name, and a missing or misspelled binding does not compile.

export type Scalar = 'u32' | 'f32';

/** A WGSL uniform struct of u32/f32 scalars, its fields in WGSL order. */
export interface Struct<F extends Record<string, Scalar> = Record<string, Scalar>> {
  readonly name: string;
  readonly fields: F;
  /** bytes of the packed fields (4 per scalar) */
  readonly bytes: number;
}

export function struct<const F extends Record<string, Scalar>>(name: string, fields: F): Struct<F> {
  return { name, fields, bytes: 4 * Object.keys(fields).length };
}

export type StructValues<S extends Struct> = { [K in keyof S['fields']]: number };

/** Writes `values` as struct `s` at `byteOffset` of `out` (default: a new buffer of s.bytes);
 * a field's offset is 4 times its position in the table. */
export function pack<S extends Struct>(s: S, values: StructValues<S>, out = new ArrayBuffer(s.bytes), byteOffset = 0): ArrayBuffer {
  const view = new DataView(out, byteOffset, s.bytes);
  let at = 0;
  for (const [field, type] of Object.entries(s.fields)) {
    const v = (values as Record<string, number>)[field];
    if (type === 'u32') view.setUint32(at, v, true);
    else view.setFloat32(at, v, true);
    at += 4;
  }
  return out;
}

/** 'read': a read-only storage binding; 'storage': a read-write one; a Struct: a uniform. */
export type Access = 'read' | 'storage' | Struct;
/** A bind group's bindings by WGSL variable name, in binding order (binding i is the i-th key). */
export type Bindings = Record<string, Access>;

/** One WGSL file: its bind-group tables, and which table each entry point binds. */
export interface Family<L extends Record<string, Bindings> = Record<string, Bindings>, E extends Record<string, keyof L & string> = Record<string, keyof L & string>> {
  readonly shader: ShaderName;
  readonly layouts: L;
  readonly entries: E;
  /** group(1): the uniform its entry points read their sizes from (common.wgsl `launch`,
   * matmul.wgsl `mm`), one bind group per slot (a dynamic offset cost lavapipe some 45 us per
   * dispatch, three times a small kernel's cost) */
  readonly launch?: Struct;
}

export function family<const L extends Record<string, Bindings>, const E extends Record<string, keyof L & string>>(f: Family<L, E>): Family<L, E> {
  return f;
}

export interface Kernel<B extends Bindings = Bindings> {
  readonly label: string;
  readonly bindings: B;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** the group(1) layout, for families with a launch uniform */
  readonly launchLayout?: GPUBindGroupLayout;
  /** the entry point indexes its invocations with flat_id (shaders/common.wgsl): it may be
   * dispatched with more than MAX_WORKGROUPS workgroups, laid out in rows */
  readonly grid: boolean;
}

/** Kernel `N` of family `F`, typed by its binding table. */
export type KernelOf<F, N extends string> = F extends Family<infer L, infer E> ? (N extends keyof E ? Kernel<L[E[N]] & Bindings> : never) : never;

/** The buffers of a bind group, by binding name. */
export type Resources<B extends Bindings> = { [K in keyof B]: GPUBuffer | GPUBufferBinding };

/** Invocations per workgroup of the kernels laid out one element per invocation (portable: at most 256). */
export const WG = 64;

/** Workgroups per dimension every adapter accepts (the WebGPU default limit). */
export const MAX_WORKGROUPS = 65535;

/** Bytes between the slots of a launch uniform (the largest minUniformBufferOffsetAlignment). */
export const STEP_SLOT = 256;

const modules = new WeakMap<GPUDevice, Map<string, Promise<GPUShaderModule>>>();

function shaderModule(ctx: GpuContext, name: ShaderName, schedules: boolean): Promise<GPUShaderModule> {
  let m = modules.get(ctx.device);
  if (!m) modules.set(ctx.device, (m = new Map()));
  const key = `${name}${schedules ? '+schedules' : ''}`;
  let mod = m.get(key);
  if (!mod) m.set(key, (mod = compileShader(ctx.device, shaderParts(name, schedules), `shaders/${name}.wgsl`)));
  return mod;
}

const kernels = new WeakMap<GPUDevice, Map<string, Promise<Kernel>>>();

/** Entry point `entry` of family `f` with these override constants. Pipelines are shared by
 * every engine on the device: compiling is the slow part on software adapters, and kernels
 * that read their sizes at run time serve every shape. */
export function makeKernel<L extends Record<string, Bindings>, E extends Record<string, keyof L & string>, N extends keyof E & string>(
  ctx: GpuContext,
  f: Family<L, E>,
  entry: N,
  constants: Record<string, number>,
): Promise<Kernel<L[E[N]]>> {
  let cache = kernels.get(ctx.device);
  if (!cache) kernels.set(ctx.device, (cache = new Map()));
  const key = JSON.stringify([f.shader, entry, constants]);
  let k = cache.get(key);
  if (!k) {
    cache.set(key, (k = createKernel(ctx, f, entry, constants)));
    k.catch(() => cache.delete(key));
  }
  return k as Promise<Kernel<L[E[N]]>>;
}

async function createKernel(ctx: GpuContext, f: Family, entry: string, constants: Record<string, number>): Promise<Kernel> {
  const { device } = ctx;
  const label = `${f.shader}.${entry}`;
  const bindings = f.layouts[f.entries[entry]];
  const schedules = SCHEDULE_ENTRIES.has(entry);
  const module = await shaderModule(ctx, f.shader, schedules);
  const layout = device.createBindGroupLayout({
    label,
    entries: Object.values(bindings).map((access, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: typeof access === 'object' ? 'uniform' : access === 'read' ? 'read-only-storage' : 'storage' },
    })),
  });
  const launchLayout = f.launch
    ? device.createBindGroupLayout({
        label: `${label}.launch`,
        entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }],
      })
    : undefined;
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: launchLayout ? [layout, launchLayout] : [layout] }),
      compute: { module, entryPoint: entry, constants },
    });
  } catch (e) {
    throw new GpuError(`Creating the compute pipeline ${label} failed: ${(e as Error).message}`);
  }
  const code = shaderParts(f.shader, schedules).map((p) => p.code).join('\n');
  const grid = new RegExp(`fn ${entry}\\([^{]*num_workgroups`).test(code);
  return { label, bindings, pipeline, layout, launchLayout, grid };
}

/** The bind group of `k` over these buffers, entries in the order of its binding table. */
export function bindGroup<B extends Bindings>(ctx: GpuContext, k: Kernel<B>, resources: Resources<B>): GPUBindGroup {
  return ctx.device.createBindGroup({
    label: k.label,
    layout: k.layout,
    entries: Object.keys(k.bindings).map((name, binding) => {
      const b = resources[name];
      if (!b) throw new Error(`${k.label}: no buffer for binding ${name}`);
      return { binding, resource: 'buffer' in b ? b : { buffer: b } };
    }),
  });
}

/** The group(1) bind group of `k` over slot `slot` of a launch uniform buffer (slots of
 * STEP_SLOT bytes). */
export function launchGroup(ctx: GpuContext, k: Kernel, uniform: GPUBuffer, slot = 0): GPUBindGroup {
  if (!k.launchLayout) throw new Error(`${k.label} reads no launch uniform`);
  const resource = { buffer: uniform, offset: slot * STEP_SLOT, size: 64 };
  return ctx.device.createBindGroup({ label: `${k.label}.launch`, layout: k.launchLayout, entries: [{ binding: 0, resource }] });
}

/** `x` workgroups, in rows of MAX_WORKGROUPS where there are more (grid kernels only: the
 * engine checks that when it builds the op). `launch`: the group(1) bind group of kernels that
 * read their sizes from a uniform; `indirect`: the workgroup counts, read from a buffer instead. */
export function dispatch(
  pass: GPUComputePassEncoder, k: Kernel, group: GPUBindGroup, x: number, launch?: GPUBindGroup, indirect?: { buffer: GPUBuffer; offset: number },
): void {
  pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, group);
  if (launch) pass.setBindGroup(1, launch);
  if (indirect) pass.dispatchWorkgroupsIndirect(indirect.buffer, indirect.offset);
  else if (x <= MAX_WORKGROUPS) pass.dispatchWorkgroups(x);
  else pass.dispatchWorkgroups(MAX_WORKGROUPS, Math.ceil(x / MAX_WORKGROUPS));
}
