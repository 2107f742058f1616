import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// The TensorFlow.js baseline's setup: TF.js's `webgpu` backend (on the same Dawn adapter as
// this project's GPU engine) and its `wasm` backend, in Node. The model, its training and its
// sampling are in bench/tfjsModel.ts.

export type TfBackendName = 'webgpu' | 'wasm';

/** What the benchmark reports about the two TF.js backends. */
export interface TfjsInfo {
  /** tfjs-core, tfjs-layers, tfjs-backend-webgpu, tfjs-backend-wasm versions */
  versions: Record<string, string>;
  /** Adapter the webgpu backend got from navigator.gpu.requestAdapter(), or why it has none. */
  webgpuAdapter?: string;
  webgpuError?: string;
  /** tf.getBackend() right after setBackend('webgpu') */
  webgpuBackend?: string;
  wasmError?: string;
  wasmSimd?: boolean;
  wasmThreads?: boolean;
  wasmThreadCount?: number;
}

const require = createRequire(import.meta.url);
const TF_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'];

/** Kept for the whole run: the adapter TF.js got, and through the shim the GPU object that
 * Dawn needs alive while the backend's device lives (dawn-gpu/node-webgpu issue 18). */
let shimmedGpu: GPU | undefined;
let tfAdapter: GPUAdapter | undefined;
const initialized = new Set<TfBackendName>();
/** Uncaptured errors of the TF.js webgpu device since the last takeWebgpuErrors(). */
const webgpuErrors: string[] = [];

/** The TF.js webgpu device's errors since the last call (and forgets them). */
export function takeWebgpuErrors(): string[] {
  return webgpuErrors.splice(0);
}

function describeAdapter(a: GPUAdapter): string {
  const i = a.info;
  const name = i.description || i.device || 'unknown';
  return `${name} (${[i.vendor, i.architecture].filter(Boolean).join(', ')})`;
}

/** Registers and initializes both TF.js backends; a backend that fails is reported in the
 * returned info (its cells then fail with that reason), never thrown.
 *
 * webgpu: Node 20 has no `navigator`, and tfjs-backend-webgpu registers itself only when it
 * sees `navigator.gpu` at import time, then calls navigator.gpu.requestAdapter() itself. So
 * `globalThis.navigator.gpu` is set to a thin wrapper around `gpu` (the GPU object of this
 * project's Dawn context, `webgpu`'s create([]); its globals are already installed) that records
 * the adapter TF.js gets, and only then is the backend package imported. TF.js creates its own
 * device on that adapter with its own feature and limit requests, exactly as in a browser.
 *
 * wasm: the .wasm files are read from bench/node_modules (setWasmPaths). TF.js turns threads off
 * under Node (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE: tensorflow/tfjs issue 3830;
 * forcing it fails, its pthread workers are blob: URLs), so it runs the SIMD build on 1 thread. */
export async function initTfjs(gpu: GPU | undefined): Promise<TfjsInfo> {
  const info: TfjsInfo = { versions: {} };
  for (const p of TF_PACKAGES) info.versions[p] = (require(`${p}/package.json`) as { version: string }).version;

  if (!gpu) info.webgpuError = 'no Dawn GPU object (this project\'s GPU context failed)';
  else {
    try {
      shimmedGpu = gpu;
      const shim = {
        requestAdapter: async (o?: GPURequestAdapterOptions) => {
          const a = await gpu.requestAdapter(o);
          if (a) tfAdapter = a;
          return a;
        },
        getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
        get wgslLanguageFeatures() {
          return gpu.wgslLanguageFeatures;
        },
      };
      const g = globalThis as { navigator?: { gpu?: unknown; userAgent?: string } };
      g.navigator ??= { userAgent: `Node.js ${process.version}` };
      g.navigator.gpu = shim;
      // Imported by name at run time, after the shim (static imports would run before it).
      // The name is not a literal so that TypeScript does not load the package's own
      // @webgpu/types 0.1.38, whose globals would clash with the project's 0.1.74.
      const webgpuBackend = '@tensorflow/tfjs-backend-webgpu';
      await import(webgpuBackend);
      if (!tf.findBackendFactory('webgpu')) throw new Error('tfjs-backend-webgpu did not register (navigator.gpu not seen)');
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed (see the messages above)');
      initialized.add('webgpu');
      info.webgpuBackend = tf.getBackend();
      // TF.js does not check its shaders' compilation: a WGSL or validation error only shows as
      // an uncaptured device error (and wrong numbers). Record it so the cell fails instead.
      const device = (tf.backend() as unknown as { device: GPUDevice }).device;
      device.addEventListener('uncapturederror', (ev) => {
        const msg = (ev as GPUUncapturedErrorEvent).error.message;
        webgpuErrors.push(msg);
        if (webgpuErrors.length <= 3) console.error(`TF.js webgpu device error: ${msg}`);
      });
      info.webgpuAdapter = tfAdapter ? describeAdapter(tfAdapter) : 'unknown (requestAdapter was not called through the shim)';
    } catch (e) {
      info.webgpuError = (e as Error).message;
    }
  }

  try {
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed (see the messages above)');
    initialized.add('wasm');
    info.wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    info.wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    info.wasmThreadCount = getThreadsCount();
  } catch (e) {
    info.wasmError = (e as Error).message;
  }
  return info;
}

/** Makes `name` TF.js's current backend. */
export async function useBackend(name: TfBackendName): Promise<void> {
  if (!initialized.has(name)) throw new Error(`TF.js ${name} backend is not available`);
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
}

/** Live tensors of all TF.js backends (checked after every rep: must stay flat). */
export function tfTensorCount(): number {
  return tf.memory().numTensors;
}
