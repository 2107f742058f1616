import type { Checkpoint } from './checkpoint.js';
import type { FloatArray } from './safetensors.js';
import type { TrainConfig } from './config.js';
import { CELLS, type ModelDims, type Params, isTutorialModel, modelOf, paramNames, paramTable, toFloat32 } from './model.js';
import { RUN, RUN_CONFIG, RUN_CONFIG_DEFAULTS, type RunMeta, TEXT, type TextRecord, readEntry } from './schema.js';
import type { TrainerState } from './train.js';
import { CheckpointError, UsageError } from './errors.js';

export type { RunMeta, TextRecord };

// A training run in a checkpoint: the model tensors (W_xh ...), the optimizer state named after
// them (mW_xh ..., vW_xh ...), the carried hidden state `hprev` ((B, H) for the one-layer tanh
// RNN, (L, B, H) for the other models) and the LSTM's `cprev` (L, B, H), all float32; for the
// CPU engine, the same again in float64 under `f64.` names so that a resumed run continues
// bit for bit. Metadata `run` holds the step, data position, engine, schedule position (the
// step) and the random state (sampling is counter-based: seed and step say it all);
// `config` the run configuration; `text` where the training text came from and its hash
// (their schemas: src/schema.ts RUN, TRAIN_CONFIG, TEXT).

/** How a run's state is stored, per kind: each parameter's optimizer state and float64 copy,
 * and the carried state, for the messages. */
export const STATE_KINDS = ['m*', 'v*', 'f64.*', 'hprev'] as const;

export interface StateTensor {
  dtype: 'F32' | 'F64';
  size: number;
  /** where the size comes from, for messages */
  what: string;
  /** sized by the run's batch B */
  perStream: boolean;
}

/** Every tensor of a run's training state that may sit beside the model's parameters in a
 * checkpoint (runCheckpoint writes them), for a model and the run's batch B. */
export function stateTensors(model: ModelDims, B: number): Map<string, StateTensor> {
  const t = new Map<string, StateTensor>();
  for (const p of paramTable(model)) {
    const what = `the size of ${p.name}`;
    for (const k of ['m', 'v']) t.set(k + p.name, { dtype: 'F32', size: p.size, what, perStream: false });
    for (const k of ['', 'm', 'v']) t.set(`f64.${k}${p.name}`, { dtype: 'F64', size: p.size, what, perStream: false });
  }
  const { layers: L, H } = model;
  const what = `layers x batch x hidden: ${L} x ${B} (the run's B) x ${H}`;
  const carried = CELLS[model.cell].cellState ? ['hprev', 'cprev'] : ['hprev'];
  for (const k of carried) {
    t.set(k, { dtype: 'F32', size: L * B * H, what, perStream: true });
    t.set(`f64.${k}`, { dtype: 'F64', size: L * B * H, what, perStream: true });
  }
  return t;
}

/** Where a run stands in its data: B streams of L characters, read T at a time. */
export interface DataPlan {
  B: number;
  T: number;
  L: number;
}

export function runCheckpoint(
  vocab: string[],
  cfg: TrainConfig,
  s: TrainerState,
  device: 'cpu' | 'gpu',
  data?: { plan: DataPlan; text: TextRecord },
): Checkpoint {
  const e = s.engine;
  const model = modelOf({ V: vocab.length, H: cfg.hidden, cell: cfg.cell, layers: cfg.layers });
  const names = paramNames(model);
  const extra: Record<string, FloatArray | { shape: number[]; data: FloatArray }> = {};
  for (const k of names) {
    extra['m' + k] = Float32Array.from(e.m[k]);
    extra['v' + k] = Float32Array.from(e.v[k]);
  }
  const stateShape = isTutorialModel(model) ? [cfg.batch, cfg.hidden] : [model.layers, cfg.batch, cfg.hidden];
  extra.hprev = { shape: stateShape, data: Float32Array.from(e.hprev) };
  if (e.cprev) extra.cprev = { shape: stateShape, data: Float32Array.from(e.cprev) };
  if (device === 'cpu') {
    for (const k of names) {
      extra['f64.' + k] = Float64Array.from(e.params[k]);
      extra['f64.m' + k] = Float64Array.from(e.m[k]);
      extra['f64.v' + k] = Float64Array.from(e.v[k]);
    }
    extra['f64.hprev'] = Float64Array.from(e.hprev);
    if (e.cprev) extra['f64.cprev'] = Float64Array.from(e.cprev);
  }
  const run: RunMeta = {
    step: s.step, chunk: s.chunk, epoch: s.epoch, t: e.t, device, B: cfg.batch, H: cfg.hidden,
    T: data?.plan.T, L: data?.plan.L, rng: { seed: cfg.seed, counter: s.step },
  };
  const metadata: Record<string, string> = { config: JSON.stringify(cfg), run: JSON.stringify(run) };
  if (data) metadata.text = JSON.stringify(data.text);
  return {
    params: toFloat32(e.params),
    vocab,
    hidden: cfg.hidden,
    cell: model.cell,
    layers: model.layers,
    dropout: cfg.dropout,
    step: s.step,
    extra,
    metadata,
  };
}

/** The trainer state of a checkpoint written by runCheckpoint, for `device`. */
export interface SavedRun {
  state: TrainerState;
  config: TrainConfig;
  run: RunMeta;
  /** absent in checkpoints written before texts were recorded */
  text?: TextRecord;
}

export function trainerStateOf(c: Checkpoint, device: 'cpu' | 'gpu', source: string): SavedRun {
  const meta = c.metadata ?? {};
  if (!meta.run || !meta.config)
    throw new CheckpointError(`${source} holds weights but no training state (it was written by --steps 0 or an older version): use --init ${source} to start a new run from its weights.`);
  const damaged = (problem: string) =>
    new CheckpointError(`${source}: ${problem}. The file is damaged or was edited: use another checkpoint, or --init ${source} to start a new run from its weights.`);
  const runRead = readEntry(RUN, 'run', meta.run);
  if (runRead.problem !== undefined) throw damaged(runRead.problem);
  const configRead = readEntry(RUN_CONFIG, 'config', meta.config);
  if (configRead.problem !== undefined) throw damaged(configRead.problem);
  const textRead = meta.text === undefined ? undefined : readEntry(TEXT, 'text', meta.text);
  if (textRead?.problem !== undefined) throw damaged(textRead.problem);
  const run = runRead.data!;
  // runs saved before initScale existed used randn*0.1; before cells, the one-layer tanh RNN
  const config: TrainConfig = { ...RUN_CONFIG_DEFAULTS, ...configRead.data! };
  const model = modelOf({ V: c.vocab.length, H: c.hidden, cell: c.cell, layers: c.layers });
  if (config.cell !== model.cell || config.layers !== model.layers)
    throw damaged(`the run configuration (${config.cell}, ${config.layers} layers) does not match its tensors (${model.cell}, ${model.layers} layers)`);
  if (config.hidden !== model.H || run.H !== model.H) throw damaged(`the run configuration (hidden ${config.hidden}, run.H ${run.H}) does not match its tensors (hidden ${model.H})`);
  const names = paramNames(model);
  const state = stateTensors(model, run.B);
  const get = (name: string): FloatArray => {
    const useF64 = device === 'cpu' && c.extra?.['f64.' + name];
    const t = useF64 ? c.extra!['f64.' + name] : names.includes(name) ? undefined : c.extra?.[name];
    const d = t && ('data' in t ? t.data : t);
    if (!d) throw new CheckpointError(`${source}: tensor ${name} of the training state is missing; the file is damaged. Use --init to start from its weights.`);
    const want = state.get(name) ?? state.get('m' + name)!;
    if (d.length !== want.size) throw damaged(`tensor ${useF64 ? 'f64.' : ''}${name} has ${d.length} values, expected ${want.size} (${want.what})`);
    return d;
  };
  const params = {} as Params;
  const m = {} as Params;
  const v = {} as Params;
  for (const k of names) {
    params[k] = device === 'cpu' && c.extra?.['f64.' + k] ? get(k) : c.params[k];
    m[k] = get('m' + k);
    v[k] = get('v' + k);
  }
  const engine: TrainerState['engine'] = { params, m, v, hprev: get('hprev'), t: run.t };
  if (CELLS[model.cell].cellState) engine.cprev = get('cprev');
  return { state: { engine, step: run.step, chunk: run.chunk, epoch: run.epoch }, config, run, text: textRead?.data };
}

/** Fits a saved run to the settings it is resumed with, or refuses. The optimizer cannot
 * change (its state means something else); the hidden size cannot (checked on load). A new
 * batch size, sequence length, validation split or text changes what the data cursor and
 * the carried hidden state refer to: the streams then start over from their beginning (the
 * epoch count kept) with the hidden state at zero. Returns one note per change, for the user. */
export function fitSavedRun(saved: SavedRun, cfg: TrainConfig, plan: DataPlan, newText: boolean, source: string): string[] {
  const was = saved.config;
  if (cfg.cell !== was.cell || cfg.layers !== was.layers)
    throw new UsageError(
      `--cell ${cfg.cell} --layers ${cfg.layers} does not match the model of ${source} (${was.cell}, ${was.layers} layer${was.layers > 1 ? 's' : ''}): ` +
        `a run keeps its model. Leave --cell and --layers out to continue the run, or train a new model.`,
    );
  if (cfg.optimizer !== was.optimizer)
    throw new UsageError(
      `--optimizer ${cfg.optimizer} does not match the optimizer ${was.optimizer} of ${source}: its saved state ` +
        `(mW_xh, vW_xh, ...) is ${was.optimizer}'s. Leave --optimizer out to continue the run, or start a new ` +
        `${cfg.optimizer} run from its weights with --init ${source}.`,
    );
  const notes: string[] = [];
  const B0 = saved.run.B;
  const T0 = saved.run.T ?? was.seqLen;
  if (plan.B !== B0) notes.push(`--batch ${plan.B} differs from the saved ${B0}`);
  if (plan.T !== T0) notes.push(`--seq-len ${plan.T} differs from the saved ${T0}`);
  if (plan.B === B0 && plan.T === T0 && saved.run.L !== undefined && plan.L !== saved.run.L)
    notes.push(`the training part of the text is now ${plan.L} characters per stream, was ${saved.run.L} (--val-fraction ${cfg.valFraction}, saved ${was.valFraction})`);
  if (newText) notes.push('the text is not the one of the checkpoint');
  const chunks = Math.floor(plan.L / plan.T);
  if (notes.length === 0 && saved.state.chunk > chunks)
    throw new CheckpointError(
      `${source}: the run.chunk metadata ${saved.state.chunk} is outside the run's data: ${plan.B} stream${plan.B > 1 ? 's' : ''} of ${plan.L} characters ` +
        `read ${plan.T} at a time give chunks 0 to ${chunks}. The file is damaged or was edited: use another checkpoint, or --init ${source} to start a new run from its weights.`,
    );
  if (notes.length === 0) return notes;
  const s = saved.state;
  s.chunk = 0;
  const n = cfg.layers * plan.B * cfg.hidden;
  s.engine = { ...s.engine, hprev: new Float64Array(n), cprev: s.engine.cprev ? new Float64Array(n) : undefined };
  return [...notes, `the hidden state starts from zero and the data from the start of its ${plan.B} stream${plan.B > 1 ? 's' : ''} (epoch ${s.epoch} kept)`];
}

