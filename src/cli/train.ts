import { totalmem } from 'node:os';
import { existsSync } from 'node:fs';
import type { Checkpoint } from '../checkpoint.js';
import { saveCheckpoint } from '../checkpoint.js';
import { optimizerOf, type TrainConfig } from '../config.js';
import { planBatches, splitText } from '../data.js';
import { checkModelSize, createEngine, type DeviceKind } from '../engines.js';
import { CheckpointError, DivergedError, TextError, UsageError } from '../errors.js';
import { GpuEngine, MODEL_FLOPS_FORMULA, SMALL_STEP, modelFlops } from '../gpu/engine.js';
import type { GpuEngineOptions, Recurrence } from '../gpu/schedule.js';
import { fileScheduleCache } from '../node/scheduleCache.js';
import { initParams } from '../init.js';
import { type ModelDims, type Params, type StepShape, isTutorialModel } from '../model.js';
import { sampleText } from '../sample.js';
import { fitSavedRun, runCheckpoint, type SavedRun, trainerStateOf } from '../state.js';
import { crlfNote, encodeUtf8, vocabOf } from '../text.js';
import { Trainer, type TrainerState } from '../train.js';
import { Vocab } from '../vocab.js';
import { checkOutputPath, writeFileAtomic } from '../node/files.js';
import { lockOutput, type RunLock } from '../node/lock.js';
import { checkDistinct, checkOverwrite, type FileArg } from '../node/outputs.js';
import { checkpointBytesBound, requireSpace, shortage } from '../node/space.js';
import { stopIfOrphaned } from './dawnLines.js';
import { type LossPoint, lossPoints, SAVED_POINTS, thinHistory } from '../history.js';
import { configFrom, type Corpus, err, gpuContextFor, loadCheckpointPath, out, readCorpus } from './common.js';
import { exitCodeOf, SignalTrap } from './signals.js';
import { runSteps, type SaveFn } from './steps.js';

// `char-rnn train`: every option and output path checked before the first step, a resumed
// run fitted to (or refused for) the settings it is resumed with, its outputs locked, free
// space checked, Ctrl-C, SIGTERM and SIGHUP saving.

export interface TrainOpts {
  text?: string;
  string?: string;
  device: DeviceKind;
  init?: string;
  resume?: string;
  allowNewText?: boolean;
  save?: string;
  saveEvery?: number;
  sampleEvery?: number;
  logFile?: string;
  force?: boolean;
  sampleLength: number;
  profile?: boolean;
  temperature?: number;
  greedy?: boolean;
  prime?: string;
  [k: string]: unknown;
}

/** Options that do not depend on the text or the checkpoint. */
function checkOptions(o: TrainOpts): void {
  if (o.init && o.resume) throw new UsageError('Give --init (new run from weights) or --resume (continue a run), not both.');
  if (o.allowNewText && !o.resume) throw new UsageError('--allow-new-text is for --resume: a new run or --init takes any text.');
  const positive = (name: string, v: number | undefined, what: string) => {
    if (v !== undefined && v < 1) throw new UsageError(`Bad ${name} ${v}: it must be an integer >= 1 (${what}). Leave it out for none.`);
  };
  positive('--save-every', o.saveEvery, 'save every n steps');
  positive('--sample-every', o.sampleEvery, 'print a sample every n steps');
  if (o.saveEvery !== undefined && !o.save) throw new UsageError('--save-every needs --save FILE: where to save.');
  if (o.sampleLength < 0) throw new UsageError(`Bad --sample-length ${o.sampleLength}: it must be an integer >= 0 (0 = no sample).`);
  if (o.greedy && o.temperature !== undefined)
    throw new UsageError('Give --temperature T or --greedy, not both: greedy sampling takes the most likely character and has no temperature.');
  const t = o.temperature ?? 1;
  if (!(Number.isFinite(t) && t > 0))
    throw new UsageError(`Bad --temperature ${t}: it must be a number > 0 (1 samples the model as it is, lower is more conservative). For the most likely character each time, use --greedy.`);
  if (o.prime === '') throw new UsageError('--prime is empty: give at least one character to start the sample from, or leave it out.');
  if (o.profile && o.device !== 'gpu') throw new UsageError('--profile times the GPU kernels: use it with --device gpu.');
}

/** The files a run writes. */
const outputsOf = (o: TrainOpts): FileArg[] => [
  ...(o.save ? [{ option: '--save', path: o.save }] : []),
  ...(o.logFile ? [{ option: '--log-file', path: o.logFile }] : []),
];

/** Before any work: every output writable, none of them an input or another output, none a
 * file of someone else's; then the checkpoint locked for this run (released at exit). */
function claimOutputs(o: TrainOpts): RunLock[] {
  if (o.save) checkOutputPath(o.save, '--save');
  if (o.logFile) checkOutputPath(o.logFile, '--log-file', true);
  const inputs: FileArg[] = [];
  if (o.text !== undefined) inputs.push({ option: '--text', path: o.text });
  if (o.init) inputs.push({ option: '--init', path: o.init });
  if (o.resume) inputs.push({ option: '--resume', path: o.resume });
  checkDistinct(outputsOf(o), inputs, [['--save', '--resume']]); // --resume X --save X continues a run
  if (o.save) checkOverwrite({ option: '--save', path: o.save }, 'checkpoint', o.force === true);
  if (o.logFile) checkOverwrite({ option: '--log-file', path: o.logFile }, 'log', o.force === true);
  // the checkpoint is locked; two runs appending to one log lose nothing (and a log may be a device)
  return o.save ? [lockOutput(o.save, '--save', err)] : [];
}

/** --cell, --layers and --hidden given with a checkpoint's weights (train --init or --resume,
 * check --init) must be its model's. */
export function checkModelOptions(o: Record<string, unknown>, ckpt: Checkpoint, from: string): void {
  const cell = ckpt.cell ?? 'rnn';
  const layers = ckpt.layers ?? 1;
  if ((o.cell !== undefined && o.cell !== cell) || (o.layers !== undefined && o.layers !== layers))
    throw new UsageError(
      `--cell ${String(o.cell ?? cell)} --layers ${String(o.layers ?? layers)} does not match the model of ${from} (${cell}, ${layers} layer${layers > 1 ? 's' : ''}). ` +
        'Leave --cell and --layers out: the model comes from the checkpoint.',
    );
  if (o.hidden !== undefined && o.hidden !== ckpt.hidden)
    throw new UsageError(`--hidden ${String(o.hidden)} does not match the hidden size ${ckpt.hidden} of ${from}. Leave --hidden out.`);
}

/** The text of a run: as given, or for `--resume CKPT` alone the one recorded in it. A text
 * that differs from the recorded one (another file, or the recorded file since edited) is
 * refused unless --allow-new-text. */
function textOf(o: TrainOpts, saved: SavedRun | undefined): { corpus: Corpus; newText: boolean } {
  const rec = saved?.text;
  let corpus: Corpus;
  if (o.text === undefined && o.string === undefined && saved) {
    if (!rec) throw new UsageError(`${o.resume} does not record its training text (it was written by an older version): give it with --text FILE or --string S.`);
    if (rec.string !== undefined) return { corpus: readCorpus({ string: rec.string }), newText: false };
    if (!existsSync(rec.path!))
      throw new TextError(`The training text recorded in ${o.resume}, ${rec.path}, does not exist. Give it with --text FILE (the same text, or another with --allow-new-text).`);
    checkDistinct(outputsOf(o), [{ option: '--resume', path: rec.path!, what: `the training text recorded in ${o.resume}` }]);
    corpus = readCorpus({ text: rec.path });
  } else corpus = readCorpus(o);
  const newText = rec !== undefined && corpus.record.hash !== rec.hash;
  if (newText && !o.allowNewText) {
    const was = rec.path ?? rec.source;
    const given = o.text !== undefined || o.string !== undefined;
    throw new UsageError(
      `${corpus.source} (${corpus.scan.chars.toLocaleString('en-US')} characters, hash ${corpus.record.hash}) is not the text ${o.resume} was trained on ` +
        `(${was}, ${rec.chars.toLocaleString('en-US')} characters, hash ${rec.hash})` + (given ? '' : ': the file has changed since') + '. ' +
        (given ? 'Leave --text out to continue on that text, ' : 'Restore it and resume, ') +
        `or add --allow-new-text to go on training on this one (the data then starts from its beginning).`,
    );
  }
  return { corpus, newText };
}

export async function train(o: TrainOpts): Promise<void> {
  const trap = new SignalTrap(); // from here a signal ends the run through process.exit, which releases its locks
  const locks: RunLock[] = [];
  try {
    await trainRun(o, trap, locks);
  } finally {
    trap.dispose();
    for (const l of locks) l.release();
  }
}

/** The most loss points a checkpoint of this run carries (see thinHistory). */
function historyBound(cfg: TrainConfig, steps: number, prior: Checkpoint['history'] = []): number {
  const val = (p: { val?: number }[]) => p.filter((x) => x.val !== undefined).length;
  return Math.min(prior.length + steps, SAVED_POINTS + 1) + val(prior) + (cfg.evalEvery > 0 ? Math.ceil(steps / cfg.evalEvery) : 0) + 1;
}

async function trainRun(o: TrainOpts, trap: SignalTrap, locks: RunLock[]): Promise<void> {
  checkOptions(o);
  locks.push(...claimOutputs(o));
  const from = o.init ?? o.resume;
  const ckpt = from ? loadCheckpointPath(from) : undefined;
  if (ckpt) checkModelOptions(o, ckpt, from!);
  const saved = o.resume ? trainerStateOf(ckpt!, o.device, o.resume) : undefined;
  const { corpus, newText } = textOf(o, saved);
  const { scan, source } = corpus;
  // a resumed run keeps its configuration; options given now override it (e.g. more --steps)
  const cfg = saved ? configFrom(o, saved.config) : configFrom({ ...o, hidden: ckpt?.hidden ?? o.hidden, cell: ckpt?.cell ?? o.cell, layers: ckpt?.layers ?? o.layers });
  const vocab = ckpt ? new Vocab(ckpt.vocab) : vocabOf(scan);
  const ids = encodeUtf8(corpus.bytes, scan, vocab, { name: source });
  const { train: data, val } = splitText(ids, cfg.valFraction);
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen, o.seqLen !== undefined || saved !== undefined);
  cfg.seqLen = plan.T;
  const prime = o.prime ?? String.fromCodePoint(scan.first);
  vocab.encode(prime, 'the prime (--prime)'); // before training, not after
  const notes = saved ? fitSavedRun(saved, cfg, plan, newText, o.resume!) : [];
  const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T, cell: cfg.cell, layers: cfg.layers };
  const record = { plan: { B: plan.B, T: plan.T, L: plan.L }, text: corpus.record };
  const ctx = await gpuContextFor(o.device);
  const gpuOptions: GpuEngineOptions = { profile: o.profile, dropout: cfg.dropout, cellSweeps: (o.recurrence as Recurrence | undefined) ?? 'measure', scheduleCache: fileScheduleCache() };
  checkModelSize(shape, o.device, ctx, { memory: totalmem(), gpuOptions }); // before anything is allocated
  const total = o.init ? (ckpt?.step ?? 0) + cfg.steps : cfg.steps; // --steps is the run's total; with --init, steps to add
  if (o.save) {
    const model: ModelDims = { V: vocab.size, H: cfg.hidden, cell: cfg.cell, layers: cfg.layers };
    const prior = o.resume ? ckpt?.history : undefined;
    const steps = Math.max(0, total - (saved?.state.step ?? ckpt?.step ?? 0));
    requireSpace(o.save, '--save', checkpointBytesBound({
      model, B: plan.B, device: o.device, metadata: [vocab.chars, cfg, record], historyPoints: historyBound(cfg, steps, prior),
    }));
  }
  const startParams: Params = ckpt ? ckpt.params : initParams(shape, cfg.seed, cfg.initScale);
  const engine = await createEngine(o.device, shape, optimizerOf(cfg), startParams, ctx, gpuOptions);
  const trainer = new Trainer(engine, data, cfg, o.init ? ckpt!.step : 0, val);
  if (saved) trainer.restore(saved.state);
  const crlf = crlfNote(scan);
  err(
    `char-rnn: ${data.length.toLocaleString('en-US')} training characters from ${source}` +
      (val ? ` (+${val.length.toLocaleString('en-US')} validation)` : '') +
      `, vocabulary ${vocab.size}, ` + (!isTutorialModel(cfg) ? `${cfg.cell} x ${cfg.layers} layer${cfg.layers > 1 ? 's' : ''}, ` : '') +
      `hidden ${cfg.hidden}` + (cfg.dropout ? `, dropout ${cfg.dropout}` : '') + `, batch ${plan.B} x ${plan.T} timesteps, ${cfg.optimizer} lr ${cfg.lr}` +
      (cfg.schedule !== 'constant' ? ` (${cfg.schedule})` : '') + (cfg.clip ? ` clip ${cfg.clip}` : '') + (cfg.clipNorm ? ` clip-norm ${cfg.clipNorm}` : '') +
      `, device ${o.device}${ctx ? ` (${ctx.adapterName})` : ''}` + (saved ? `; resuming ${o.resume} at step ${trainer.step}` : '') +
      (crlf ? `; note: ${crlf}` : ''),
  );
  if (notes.length) err(`char-rnn: resuming with changed settings: ${notes.join('; ')}.`);

  const { save, kept: keptNow } = saver(o, trainer, (state, history) => saveCheckpoint({ ...runCheckpoint([...vocab.chars], cfg, state, o.device, record), history }), o.resume ? ckpt?.history : undefined);
  const stop = await runSteps(o, trap, trainer, total, save, async (step) => {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength || 200, temperature: o.temperature, seed: cfg.seed + step });
    err(`\n--- sample at step ${step} ---\n${s}\n---`);
  }, keptNow);
  if (o.profile && engine instanceof GpuEngine) await printProfile(engine, shape);
  if (o.sampleLength > 0 && !stop) {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength, greedy: o.greedy, temperature: o.temperature, seed: cfg.seed });
    err(o.greedy ? `greedy sample from ${JSON.stringify(prime)}:` : `sample (temperature ${o.temperature ?? 1}, seed ${cfg.seed}):`);
    out(s);
  }
  trainer.destroy();
  engine.destroy();
  if (stop) process.exitCode = exitCodeOf(stop);
}

/** The save of a run to --save (none without it): the checkpoint's bytes from `encode`, written
 * atomically where they fit. A periodic save that does not fit (or fails to write) warns once
 * and lets training go on, the last checkpoint kept; the final one throws. */
function saver(
  o: TrainOpts, trainer: Trainer, encode: (s: TrainerState, history: LossPoint[]) => Uint8Array, prior: LossPoint[] | undefined,
): { save: SaveFn; kept: () => string } {
  let savedStep: number | undefined;
  let warned = false;
  const keptNow = () => kept(o.save, savedStep);
  const save: SaveFn = async (final) => {
    if (!o.save) return false;
    const state = await trainer.state();
    for (const k of Object.keys(state.engine.params) as (keyof Params)[])
      if (!state.engine.params[k].every(Number.isFinite))
        throw new DivergedError(`The weights hold NaN or Inf after step ${trainer.step}: not saved.${keptNow()} Lower --lr or clip.`);
    // the loss curve: the resumed run's, then this run's logged steps
    const bytes = encode(state, thinHistory([...(prior ?? []), ...lossPoints(trainer.history)]));
    let problem = shortage(o.save, bytes.length);
    if (!problem) {
      try {
        stopIfOrphaned();
        writeFileAtomic(o.save, bytes);
        savedStep = trainer.step;
        warned = false;
        return true;
      } catch (e) {
        if (final || !(e instanceof CheckpointError)) throw e;
        problem = e.message;
      }
    }
    if (final) throw new CheckpointError(`Could not save ${o.save} after step ${trainer.step}: ${problem}.${keptNow()} Free some space and run again.`);
    if (!warned) err(`\nchar-rnn: not saved at step ${trainer.step}: ${problem}.${keptNow()} Training goes on; the next save tries again (said once).`);
    warned = true;
    return false;
  };
  return { save, kept: keptNow };
}

/** `train --profile`: GPU time per kernel and step, the schedule chosen, memory in use. */
async function printProfile(engine: GpuEngine, s: StepShape): Promise<void> {
  const p = engine.profile();
  err(`\nprofile: ${p.adapter}; ${p.steps} steps timed (each waited for its timings)`);
  err(`  recurrence: ${p.detail}${p.reason ? ` (${p.reason})` : ''}; gradients: ${p.smallStep ? `all in one dispatch (below ${SMALL_STEP} multiply-adds per step)` : 'a product per tensor'}`);
  const grid = await engine.gridReport();
  if (grid) {
    const repairs = grid.repairs.reduce((a, r) => a + r.forward + r.backward, 0);
    err(`  grid: ${grid.workgroups} workgroups; ${repairs ? `their waits ran out ${repairs} times, and one workgroup finished those sweeps` : 'no wait ran out'}`);
  }
  if (p.kernels.length) {
    const w = Math.max(...p.kernels.map((k) => k.name.length));
    for (const k of p.kernels)
      err(`  ${k.name.padEnd(w)}  ${k.ms.toFixed(3).padStart(9)} ms/step  ${((100 * k.ms) / p.totalMs).toFixed(1).padStart(5)}%`);
    err(`  ${'total'.padEnd(w)}  ${p.totalMs.toFixed(3).padStart(9)} ms/step  = ${(modelFlops(s) / (p.totalMs * 1e6)).toFixed(2)} GFLOP/s of model FLOPs (${MODEL_FLOPS_FORMULA})`);
  }
  const m = engine.memory();
  const t = m.tensors;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  err(
    `  GPU memory: ${mb(m.bytes)} allocated; model state ${mb(t.params + t.grads + t.optimizer + t.activations)} ` +
      `(parameters ${mb(t.params)}, gradients ${mb(t.grads)}, optimizer ${mb(t.optimizer)}, activations ${mb(t.activations)})`,
  );
}

/** What a stopped run left in its --save file, said when a save did not happen. */
function kept(save: string | undefined, step: number | undefined): string {
  if (!save) return '';
  if (!existsSync(save)) return ` Nothing was written to ${save}.`;
  return ` Nothing was written: ${save} keeps its last good checkpoint${step === undefined ? '' : ` (step ${step})`}.`;
}
