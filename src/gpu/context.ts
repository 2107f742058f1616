import { GpuError } from '../errors.js';

// The one place that owns adapter and device. The browser passes navigator.gpu; Node passes
// the GPU object from `webgpu`'s create() (src/node/gpu.ts), which this context keeps
// referenced for as long as its device lives: dawn.node crashes when it is collected early.

// The WebGPU types the library's signatures name, declared empty here so that its .d.ts check
// in any project without skipLibCheck: they merge with the full declarations where a project
// has them (TypeScript 7's DOM lib, or @webgpu/types with the DOM lib) and are opaque where it
// has none (a Node project without the DOM lib). The .d.ts do not reference @webgpu/types: its
// declarations need the DOM lib and clash with TypeScript 7's own (test/package-types.test.ts).
declare global {
  interface GPU {}
  interface GPUAdapter {}
  interface GPUAdapterInfo {}
  interface GPUSupportedLimits {}
  interface GPUSupportedFeatures {}
  interface GPUDevice {}
  interface GPUQueue {}
  interface GPUBuffer {}
  interface GPUBufferBinding {}
  interface GPUBindGroup {}
  interface GPUBindGroupLayout {}
  interface GPUPipelineLayout {}
  interface GPUShaderModule {}
  interface GPUComputePipeline {}
  interface GPUCommandEncoder {}
  interface GPUCommandBuffer {}
  interface GPUComputePassEncoder {}
  interface GPUComputePassTimestampWrites {}
  interface GPUQuerySet {}
}

export const NO_ADAPTER_HELP =
  'No WebGPU adapter was found. Install a GPU driver with Vulkan, Metal or D3D12 support; on Linux ' +
  'without a GPU, install the software Vulkan driver (Debian/Ubuntu: apt-get install mesa-vulkan-drivers ' +
  'libvulkan1, Mesa 23 or newer; on Debian bookworm from bookworm-backports, as scripts/setup.sh does). ' +
  'In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or --enable-unsafe-webgpu). ' +
  'Or run on the CPU engine: --device cpu.';

export interface GpuContext {
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  /** e.g. "llvmpipe (mesa, software)" */
  readonly adapterName: string;
  /** The first uncaptured GPU error or device loss, if any: checked by engines after each await. */
  failure(): GpuError | undefined;
  destroy(): void;
}

export async function createContext(gpu: GPU | undefined, label = 'char-rnn'): Promise<GpuContext> {
  if (!gpu) throw new GpuError(`WebGPU is not available here. ${NO_ADAPTER_HELP}`);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new GpuError(`Requesting a WebGPU adapter failed (${(e as Error).message}). ${NO_ADAPTER_HELP}`);
  }
  if (!adapter) throw new GpuError(NO_ADAPTER_HELP);
  const a = adapter.limits;
  // Ask for what the kernels use, up to what the adapter offers (the defaults are lower).
  const requiredLimits: Record<string, number> = {
    // the largest buffers the adapter offers (the defaults are 128 and 256 MiB)
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(a.maxStorageBuffersPerShaderStage, 8),
    maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
    maxComputeInvocationsPerWorkgroup: Math.min(a.maxComputeInvocationsPerWorkgroup, 256),
    maxComputeWorkgroupSizeX: Math.min(a.maxComputeWorkgroupSizeX, 256),
    // the persistent recurrence keeps 32*H bytes per workgroup (H <= 1024 with 32 KiB)
    maxComputeWorkgroupStorageSize: Math.min(a.maxComputeWorkgroupStorageSize, 32768),
  };
  // GPU time per kernel (`--profile`) where the adapter offers it
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label, requiredLimits, requiredFeatures });
  } catch (e) {
    throw new GpuError(`Requesting a WebGPU device failed (${(e as Error).message}). ${NO_ADAPTER_HELP}`);
  }
  const info = adapter.info;
  const adapterName =
    [info?.description || info?.device, info?.vendor && `(${info.vendor}${info.architecture ? ', ' + info.architecture : ''})`]
      .filter(Boolean)
      .join(' ') || 'unknown adapter';

  let failure: GpuError | undefined;
  let destroyed = false;
  device.lost.then((l) => {
    if (!destroyed) failure ??= new GpuError(`The GPU device was lost (${l.reason}): ${l.message}`);
  });
  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    failure ??= new GpuError(`GPU error: ${err.message}`);
  });
  return {
    gpu,
    adapter,
    device,
    adapterName,
    failure: () => failure,
    destroy() {
      destroyed = true;
      device.destroy();
    },
  };
}

/** A GPU context where WebGPU gives one; else none and the reason, a GpuError (no `navigator.gpu`,
 * no adapter: a browser with WebGPU off or blocklisted, a machine without a driver), so that
 * the caller can train on the CPU engine instead. Other errors are thrown. */
export async function tryCreateContext(
  gpu: GPU | undefined,
  label?: string,
): Promise<{ ctx: GpuContext; error?: undefined } | { ctx?: undefined; error: GpuError }> {
  try {
    return { ctx: await createContext(gpu, label) };
  } catch (e) {
    if (e instanceof GpuError) return { error: e };
    throw e;
  }
}

/** Compiles WGSL and, on errors, throws with each message's file, line, column and source line.
 * `parts` names the files the code was joined from, in order (lines are reported per file). */
export async function compileShader(
  device: GPUDevice,
  parts: { file: string; code: string }[],
  label: string,
): Promise<GPUShaderModule> {
  const code = parts.map((p) => p.code).join('\n');
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label, code });
  const scope = device.popErrorScope(); // popped at once: compilations may run concurrently
  const info = await module.getCompilationInfo();
  const scopeError = await scope;
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length || scopeError) {
    const where = (line: number) => {
      for (const p of parts) {
        const n = p.code.split('\n').length;
        if (line <= n) return { file: p.file, line, text: p.code.split('\n')[line - 1] ?? '' };
        line -= n;
      }
      return { file: label, line, text: '' };
    };
    const shown = errors.map((m) => {
      const w = where(m.lineNum);
      return `  ${w.file}:${w.line}:${m.linePos}: ${m.message}\n    ${w.text}`;
    });
    throw new GpuError(`WGSL compilation of ${label} failed:\n${shown.join('\n') || scopeError?.message}`);
  }
  return module;
}
