import { CpuEngine } from '../src/cpu/engine.js';
import type { OptimizerConfig } from '../src/engine.js';
import type { GpuContext } from '../src/gpu/context.js';
import { GpuEngine } from '../src/gpu/engine.js';
import type { Recurrence } from '../src/gpu/schedule.js';
import { fileScheduleCache } from '../src/node/scheduleCache.js';
import type { ModelDims, Params, StepShape } from '../src/model.js';
import { ADAM, type CaseModel } from './cases.js';
import type { EngineName } from './options.js';
import { type TfBackendName, type TfjsInfo, tfTensorCount } from './tfjs.js';
import { TFJS_OTHER_MODEL, TfjsSampler, TfjsTrainer } from './tfjsModel.js';
import type { LossCaveat, Sampler, Trainee } from './timing.js';

// The four engines behind one interface: this project's GPU and CPU engines, TF.js on its
// webgpu and wasm backends.

const tfBackend = (e: EngineName): TfBackendName => (e === 'tfjs-webgpu' ? 'webgpu' : 'wasm');

export interface Env {
  ctx?: GpuContext;
  ctxError?: string;
  tf: TfjsInfo;
  /** the GPU engine's recurrent schedule (--recurrence; 'measure' keeps its measurements in
   * the CLI's cache file) */
  recurrence: Recurrence;
}

const scheduleCache = fileScheduleCache();

/** Why engine `e` cannot run at all, or undefined. */
export function unavailable(e: EngineName, env: Env): string | undefined {
  if (e === 'gpu' && !env.ctx) return `no GPU context: ${env.ctxError}`;
  if (e === 'tfjs-webgpu' && env.tf.webgpuError) return `TF.js webgpu backend: ${env.tf.webgpuError}`;
  if (e === 'tfjs-wasm' && env.tf.wasmError) return `TF.js wasm backend: ${env.tf.wasmError}`;
  return undefined;
}

/** Why engine `e`'s training loss is not expected to agree with this project's engines' on a
 * model, or undefined where it must agree. */
export function lossCaveat(e: EngineName, m: CaseModel): LossCaveat | undefined {
  if (!e.startsWith('tfjs')) return undefined; // the GPU and CPU engines draw the same dropout masks
  const other = TFJS_OTHER_MODEL[m.cell];
  if (other) return { short: `Keras ${m.cell.toUpperCase()}, another model`, why: `${m.cell}: ${other}` };
  if (m.dropout > 0)
    return {
      short: "TF.js's own dropout masks",
      why: "dropout: TF.js applies it with dropout layers and its own random masks; this project's engines draw the same masks (src/dropout.ts), so only theirs agree.",
    };
  return undefined;
}

/** An engine set up for a training case. `dropout` > 0: every step drops units of every
 * layer's output (this project's engines: the masks of src/dropout.ts from `seed` and the
 * step's index, the same on both; TF.js: its dropout layers). */
export async function makeTrainee(
  e: EngineName, env: Env, shape: StepShape, opt: OptimizerConfig, params: Params, tfjsSyncEvery: number, dropout: number, seed: number,
): Promise<Trainee> {
  if (e === 'gpu' || e === 'cpu') {
    const engine = e === 'gpu'
      ? await GpuEngine.create(env.ctx!, shape, opt, params, undefined, { dropout, cellSweeps: env.recurrence, scheduleCache })
      : new CpuEngine(shape, opt, params);
    let steps = 0;
    return {
      schedule: engine instanceof GpuEngine ? engine.schedule.reason : undefined,
      step: (b, o) => engine.step(b, { ...o, dropout: dropout > 0 ? { p: dropout, seed, step: steps++ } : undefined }),
      settle: () => {},
      restart: (p) => {
        engine.setParams(p);
        steps = 0;
      },
      destroy: () => engine.destroy(),
    };
  }
  const t = await TfjsTrainer.create(tfBackend(e), shape, opt, params, tfjsSyncEvery, dropout);
  return {
    step: (b, o) => t.step(b, o),
    settle: () => t.settle(),
    restart: (p) => t.restart(p),
    tensors: tfTensorCount,
    destroy: () => t.destroy(),
  };
}

/** An engine set up for a sampling case of `streams` streams. */
export async function makeSampler(e: EngineName, env: Env, m: ModelDims, streams: number, params: Params): Promise<Sampler> {
  if (e === 'gpu' || e === 'cpu') {
    // generate() reads only the model and the parameters; B and T size training buffers, kept minimal
    const shape = { ...m, B: 1, T: 1 };
    const engine = e === 'gpu' ? await GpuEngine.create(env.ctx!, shape, ADAM, params) : new CpuEngine(shape, ADAM, params);
    return {
      generate: async (prime, length, seed) => void (await engine.generate({ prime, length, streams, temperature: 1, seed })),
      destroy: () => engine.destroy(),
    };
  }
  const s = await TfjsSampler.create(tfBackend(e), m, streams, params);
  return {
    generate: async (prime, length) => void (await s.generate(prime, length, 1)),
    tensors: tfTensorCount,
    destroy: () => s.destroy(),
  };
}
