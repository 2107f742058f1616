import { createContext, type GpuContext } from '../src/index.js';

// Setup: find out whether this browser can run the GPU engine. Without WebGPU the page runs
// the same model on the CPU engine and explains how to turn WebGPU on.

export interface DeviceProbe {
  ctx?: GpuContext;
  /** Why there is no GPU context, in plain words (absent when there is one). */
  problem?: string;
}

export const ENABLE_WEBGPU_HELP = [
  'Chrome or Edge 113 or newer on Windows, macOS and ChromeOS, and Chrome 121 or newer on Android, have WebGPU on by default.',
  'On Linux, open chrome://flags, enable "Unsafe WebGPU Support" (#enable-unsafe-webgpu) and "Vulkan" (#enable-vulkan), then restart the browser; or start it with --enable-unsafe-webgpu.',
  'Firefox 141 or newer has it on Windows (elsewhere: set dom.webgpu.enabled in about:config); Safari has it from version 26.',
  'If chrome://gpu shows WebGPU as disabled, the browser has blocked your graphics driver: updating the driver usually helps.',
];

export async function probeGpu(gpu: GPU | undefined, secure: boolean): Promise<DeviceProbe> {
  if (!gpu) {
    return {
      problem: secure
        ? 'This browser does not offer WebGPU (navigator.gpu is missing).'
        : 'WebGPU is only offered to pages served over https or from localhost, and this page is not.',
    };
  }
  try {
    return { ctx: await createContext(gpu, 'char-rnn page') };
  } catch (e) {
    return { problem: `This browser has WebGPU, but it gave no GPU adapter (${firstSentence((e as Error).message)}).` };
  }
}

function firstSentence(s: string): string {
  const m = /^[^.]*\./.exec(s);
  return (m ? m[0] : s).replace(/\.$/, '');
}
