import type { Checkpoint, FloatArray } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import type { EngineState } from './engine.js';
import { PARAM_NAMES, type Params, toFloat32 } from './model.js';
import type { TrainerState } from './train.js';
import { CheckpointError } from './errors.js';

// A training run in a checkpoint: the model tensors (W_xh ...), the optimizer state named after
// them (mW_xh ..., vW_xh ...), the carried hidden state `hprev` (B, H), all float32; for the
// CPU engine, the same again in float64 under `f64.` names so that a resumed run continues
// bit for bit. Metadata `run` holds the step, data position, engine, schedule position (the
// step) and the random state (sampling is counter-based: seed and step say it all);
// `config` the run configuration.

export interface RunMeta {
  step: number;
  chunk: number;
  epoch: number;
  t: number;
  device: 'cpu' | 'gpu';
  B: number;
  H: number;
  rng: { seed: number; counter: number };
}

export function runCheckpoint(vocab: string[], cfg: TrainConfig, s: TrainerState, device: 'cpu' | 'gpu'): Checkpoint {
  const e = s.engine;
  const extra: Record<string, FloatArray | { shape: number[]; data: FloatArray }> = {};
  for (const k of PARAM_NAMES) {
    extra['m' + k] = Float32Array.from(e.m[k]);
    extra['v' + k] = Float32Array.from(e.v[k]);
  }
  extra.hprev = { shape: [cfg.batch, cfg.hidden], data: Float32Array.from(e.hprev) };
  if (device === 'cpu') {
    for (const k of PARAM_NAMES) {
      extra['f64.' + k] = Float64Array.from(e.params[k]);
      extra['f64.m' + k] = Float64Array.from(e.m[k]);
      extra['f64.v' + k] = Float64Array.from(e.v[k]);
    }
    extra['f64.hprev'] = Float64Array.from(e.hprev);
  }
  const run: RunMeta = { step: s.step, chunk: s.chunk, epoch: s.epoch, t: e.t, device, B: cfg.batch, H: cfg.hidden, rng: { seed: cfg.seed, counter: s.step } };
  return {
    params: toFloat32(e.params),
    vocab,
    hidden: cfg.hidden,
    step: s.step,
    extra,
    metadata: { config: JSON.stringify(cfg), run: JSON.stringify(run) },
  };
}

/** The trainer state of a checkpoint written by runCheckpoint, for `device`. */
export function trainerStateOf(c: Checkpoint, device: 'cpu' | 'gpu', source: string): { state: TrainerState; config: TrainConfig } {
  const meta = c.metadata ?? {};
  if (!meta.run || !meta.config)
    throw new CheckpointError(`${source} holds weights but no training state (it was written by --steps 0 or an older version): use --init ${source} to start a new run from its weights.`);
  let run: RunMeta;
  let config: TrainConfig;
  try {
    run = JSON.parse(meta.run);
    config = { initScale: 0.1, ...JSON.parse(meta.config) }; // runs saved before initScale existed used randn*0.1
  } catch {
    throw new CheckpointError(`${source}: the run metadata is not valid JSON; the file is damaged.`);
  }
  const get = (name: string): FloatArray => {
    const useF64 = device === 'cpu' && c.extra?.['f64.' + name];
    const t = useF64 ? c.extra!['f64.' + name] : name in PARAM_NAMES_SET ? undefined : c.extra?.[name];
    const d = t && ('data' in t ? t.data : t);
    if (!d) throw new CheckpointError(`${source}: tensor ${name} of the training state is missing; the file is damaged. Use --init to start from its weights.`);
    return d;
  };
  const params = {} as Params;
  const m = {} as Params;
  const v = {} as Params;
  for (const k of PARAM_NAMES) {
    params[k] = device === 'cpu' && c.extra?.['f64.' + k] ? get(k) : c.params[k];
    m[k] = get('m' + k);
    v[k] = get('v' + k);
  }
  const hprev = get('hprev');
  if (hprev.length !== run.B * run.H) throw new CheckpointError(`${source}: hprev has ${hprev.length} values, expected ${run.B * run.H}.`);
  return { state: { engine: { params, m, v, hprev, t: run.t }, step: run.step, chunk: run.chunk, epoch: run.epoch }, config };
}

const PARAM_NAMES_SET = Object.fromEntries(PARAM_NAMES.map((k) => [k, true]));
