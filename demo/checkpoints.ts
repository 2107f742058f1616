import {
  storageCache,
  type CheckReport,
  type DeviceKind,
  GpuError,
  loadModelFile,
  type Params,
  paramNames,
  runCheck,
  saveCheckpoint,
  TextError,
  type TrainConfig,
  validateConfig,
} from '../src/index.js';
import { SAVED_POINTS } from './history.js';
import type { Session } from './session.js';

// The session's model in and out of safetensors checkpoints (the CLI's files, with the loss
// history in the metadata), and the GPU-vs-CPU comparison on it.

/** Steps both engines run in the GPU-vs-CPU comparison. */
export const CHECK_STEPS = 10;
/** The comparison's steps use at most this learning rate. Above it, Adagrad's first updates
 * (g / sqrt(g*g + 1e-8)) magnify rounding differences of 1e-7 in a gradient a thousandfold, and
 * the trajectories part within a few steps: a float64 run from weights perturbed by 1e-7
 * drifts as far from itself. The first step's tensors are compared at any setting. */
export const CHECK_MAX_LR = 0.01;

export interface CheckResult {
  report: CheckReport;
  steps: number;
  optimizer: string;
  lr: number;
  /** true when `lr` is CHECK_MAX_LR rather than the model's own, higher rate */
  capped: boolean;
  /** the model compared, in words: its cell, layers and dropout */
  model: string;
}

/** Both engines from the current weights on the current text: the first step's tensors, then
 * CHECK_STEPS training steps (runCheck, as `char-rnn check` does), the optimizer's state
 * starting from zero. */
export async function checkEngines(session: Session): Promise<CheckResult> {
  const ctx = session.ctx;
  if (!ctx) throw new GpuError('Comparing the engines needs WebGPU, which this browser does not offer.');
  const { data, config, problem } = session.checkInputs();
  if (!data) throw new TextError(problem ?? 'There is no text to compare on.');
  const params = await session.current((engine) => engine.getParams());
  const cfg = { ...config, steps: CHECK_STEPS, lr: Math.min(config.lr, CHECK_MAX_LR) };
  // the schedule the page trains with (a forced one, or the one measured for this shape)
  const report = await runCheck(ctx, data, session.vocab.size, cfg, { start: params, gpu: { cellSweeps: session.recurrence, scheduleCache: storageCache(localStorage) } });
  const model = `${cfg.cell}, ${cfg.layers} layer${cfg.layers > 1 ? 's' : ''}` + (cfg.dropout > 0 ? `, dropout ${cfg.dropout}` : '');
  return { report, steps: cfg.steps, optimizer: cfg.optimizer, lr: cfg.lr, capped: cfg.lr < config.lr, model };
}

/** The model as a safetensors checkpoint, the same file `char-rnn train --save` writes, with
 * the loss curve so far. */
export async function checkpointOf(session: Session): Promise<Uint8Array> {
  const s = await session.snapshot(false);
  const params = {} as Params<Float32Array>;
  for (const k of paramNames(session.summary)) params[k] = Float32Array.from(s.params[k]);
  const config = session.settings;
  const { cell, layers, dropout } = config;
  return saveCheckpoint({
    params, vocab: [...s.vocab], hidden: s.hidden, step: s.step, cell, layers, dropout,
    metadata: { config: JSON.stringify(config) }, history: session.history.points(SAVED_POINTS),
  });
}

/** Loads a checkpoint (from the page or the CLI, or a PyTorch state dict) to train on `text`; training settings come
 * from its metadata where it has them, over `base`. Returns the settings in use. */
export async function loadInto(session: Session, bytes: Uint8Array, name: string, text: string, device: DeviceKind, base: TrainConfig): Promise<TrainConfig> {
  const c = loadModelFile(bytes, name); // ours, or a PyTorch state dict (weights only)
  const model = { hidden: c.hidden, cell: c.cell ?? 'rnn', layers: c.layers ?? 1, dropout: c.dropout ?? 0 };
  const config = settingsFrom(c.metadata?.config, { ...base, ...model });
  await session.load({ text, config, device }, { ...c, checkpoint: name }, c.history);
  return config;
}

/** Training settings from a checkpoint's `config` metadata, field by field over `base`. */
function settingsFrom(json: string | undefined, base: TrainConfig): TrainConfig {
  let saved: Record<string, unknown> = {};
  try {
    saved = json ? JSON.parse(json) : {};
  } catch {
    return base;
  }
  const merged = { ...base } as Record<string, unknown>;
  for (const k of ['lr', 'optimizer', 'clip', 'seed', 'seqLen', 'batch', 'dropout', 'valFraction'] as const)
    if (typeof saved[k] === typeof base[k]) merged[k] = saved[k];
  try {
    return validateConfig(merged as unknown as TrainConfig);
  } catch {
    return base;
  }
}
