import { appendFileSync, existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Checkpoint } from '../checkpoint.js';
import { saveCheckpoint } from '../checkpoint.js';
import { optimizerOf } from '../config.js';
import { planBatches, splitText } from '../data.js';
import { createEngine, type DeviceKind } from '../engines.js';
import { DivergedError, TextError, UsageError } from '../errors.js';
import { GpuEngine, type KernelVariant } from '../gpu/engine.js';
import { initParams } from '../init.js';
import type { Params, StepShape } from '../model.js';
import { sampleText } from '../sample.js';
import { fitSavedRun, runCheckpoint, type SavedRun, trainerStateOf } from '../state.js';
import { crlfNote, encodeUtf8, vocabOf } from '../text.js';
import { type LogEntry, Trainer } from '../train.js';
import { Vocab } from '../vocab.js';
import { checkOutputPath, writeFileAtomic } from '../node/files.js';
import { stopIfOrphaned } from './dawnLines.js';
import { lossPoints, thinHistory } from '../history.js';
import { configFrom, type Corpus, err, gpuContextFor, loadCheckpointPath, out, readCorpus } from './common.js';

// `char-rnn train`: every option and output path checked before the first step, a resumed
// run fitted to (or refused for) the settings it is resumed with, Ctrl-C and SIGTERM saving.

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
  sampleLength: number;
  profile?: boolean;
  kernels?: KernelVariant | 'auto';
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
  if (o.save) checkOutputPath(o.save, '--save');
  if (o.logFile) checkOutputPath(o.logFile, '--log-file', true);
}

/** --cell and --layers given with --init or --resume must be the checkpoint's: its weights
 * are that model's. */
function checkModelOptions(o: TrainOpts, ckpt: Checkpoint, from: string): void {
  const cell = ckpt.cell ?? 'rnn';
  const layers = ckpt.layers ?? 1;
  if ((o.cell !== undefined && o.cell !== cell) || (o.layers !== undefined && o.layers !== layers))
    throw new UsageError(
      `--cell ${String(o.cell ?? cell)} --layers ${String(o.layers ?? layers)} does not match the model of ${from} (${cell}, ${layers} layer${layers > 1 ? 's' : ''}). ` +
        'Leave --cell and --layers out: the model comes from the checkpoint.',
    );
}

/** The text of a run: as given, or for `--resume CKPT` alone the one recorded in it. A text
 * that differs from the recorded one is refused unless --allow-new-text. */
function textOf(o: TrainOpts, saved: SavedRun | undefined): { corpus: Corpus; newText: boolean } {
  const rec = saved?.text;
  if (o.text === undefined && o.string === undefined && saved) {
    if (!rec) throw new UsageError(`${o.resume} does not record its training text (it was written by an older version): give it with --text FILE or --string S.`);
    if (rec.string !== undefined) return { corpus: readCorpus({ string: rec.string }), newText: false };
    if (!existsSync(rec.path!))
      throw new TextError(`The training text recorded in ${o.resume}, ${rec.path}, does not exist. Give it with --text FILE (the same text, or another with --allow-new-text).`);
    return { corpus: readCorpus({ text: rec.path }), newText: false };
  }
  const corpus = readCorpus(o);
  const newText = rec !== undefined && corpus.record.hash !== rec.hash;
  if (newText && !o.allowNewText) {
    const was = rec.path ?? rec.source;
    throw new UsageError(
      `${corpus.source} (${corpus.scan.chars.toLocaleString('en-US')} characters, hash ${corpus.record.hash}) is not the text ${o.resume} was trained on ` +
        `(${was}, ${rec.chars.toLocaleString('en-US')} characters, hash ${rec.hash}). Leave --text out to continue on that text, ` +
        `or add --allow-new-text to go on training on this one (the data then starts from its beginning).`,
    );
  }
  return { corpus, newText };
}

export async function train(o: TrainOpts): Promise<void> {
  checkOptions(o);
  const from = o.init ?? o.resume;
  const ckpt = from ? loadCheckpointPath(from) : undefined;
  if (ckpt && o.hidden !== undefined && o.hidden !== ckpt.hidden)
    throw new UsageError(`--hidden ${o.hidden} does not match the hidden size ${ckpt.hidden} of ${from}. Leave --hidden out.`);
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
  const startParams: Params = ckpt ? ckpt.params : initParams(shape, cfg.seed, cfg.initScale);
  const ctx = await gpuContextFor(o.device);
  const engine = await createEngine(o.device, shape, optimizerOf(cfg), startParams, ctx, {
    profile: o.profile,
    kernels: o.kernels,
    layerKernels: cfg.dropout > 0, // (the tuned kernels of the one-layer tanh RNN have no dropout)
  });
  const trainer = new Trainer(engine, data, cfg, o.init ? ckpt!.step : 0, val);
  if (saved) trainer.restore(saved.state);
  // --steps is the run's total; with --init, the steps to add to the checkpoint's count
  const total = o.init ? trainer.step + cfg.steps : cfg.steps;
  const crlf = crlfNote(scan);
  err(
    `char-rnn: ${data.length.toLocaleString('en-US')} training characters from ${source}` +
      (val ? ` (+${val.length.toLocaleString('en-US')} validation)` : '') +
      `, vocabulary ${vocab.size}, ` + (cfg.cell !== 'rnn' || cfg.layers > 1 ? `${cfg.cell} x ${cfg.layers} layer${cfg.layers > 1 ? 's' : ''}, ` : '') +
      `hidden ${cfg.hidden}` + (cfg.dropout ? `, dropout ${cfg.dropout}` : '') + `, batch ${plan.B} x ${plan.T} timesteps, ${cfg.optimizer} lr ${cfg.lr}` +
      (cfg.schedule !== 'constant' ? ` (${cfg.schedule})` : '') + (cfg.clip ? ` clip ${cfg.clip}` : '') + (cfg.clipNorm ? ` clip-norm ${cfg.clipNorm}` : '') +
      `, device ${o.device}${ctx ? ` (${ctx.adapterName})` : ''}` + (saved ? `; resuming ${o.resume} at step ${trainer.step}` : '') +
      (crlf ? `; note: ${crlf}` : ''),
  );
  if (notes.length) err(`char-rnn: resuming with changed settings: ${notes.join('; ')}.`);

  const record = { plan: { B: plan.B, T: plan.T, L: plan.L }, text: corpus.record };
  const save = async () => {
    if (!o.save) return;
    const state = await trainer.state();
    for (const k of Object.keys(state.engine.params) as (keyof Params)[])
      if (!state.engine.params[k].every(Number.isFinite))
        throw new DivergedError(`The weights hold NaN or Inf after step ${trainer.step}: not saved.${kept(o.save)} Lower --lr or clip.`);
    // the loss curve: the resumed run's, then this run's logged steps
    const history = thinHistory([...(o.resume ? (ckpt?.history ?? []) : []), ...lossPoints(trainer.history)]);
    saveTo(o.save, { ...runCheckpoint([...vocab.chars], cfg, state, o.device, record), history });
  };
  const stop = await runSteps(o, trainer, total, save, async (step) => {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength || 200, temperature: o.temperature, seed: cfg.seed + step });
    err(`\n--- sample at step ${step} ---\n${s}\n---`);
  });
  if (o.profile && engine instanceof GpuEngine) printProfile(engine, shape);
  if (o.sampleLength > 0 && !stop) {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength, greedy: o.greedy, temperature: o.temperature, seed: cfg.seed });
    err(o.greedy ? `greedy sample from ${JSON.stringify(prime)}:` : `sample (temperature ${o.temperature ?? 1}, seed ${cfg.seed}):`);
    out(s);
  }
  trainer.destroy();
  engine.destroy();
  if (stop) process.exitCode = stop === 'SIGTERM' ? 143 : 130;
}

function saveTo(path: string, c: Checkpoint): void {
  stopIfOrphaned();
  writeFileAtomic(path, saveCheckpoint(c));
}

/** The step loop with progress, log file, periodic saves and samples, and signals: the first
 * SIGINT (Ctrl-C) or SIGTERM finishes the step, saves and stops; a second one exits at once.
 * Resolves the signal that stopped the run, if any. */
async function runSteps(
  o: TrainOpts, trainer: Trainer, total: number,
  save: () => Promise<void>, sampleNow: (step: number) => Promise<void>,
): Promise<NodeJS.Signals | undefined> {
  let stop: NodeJS.Signals | undefined;
  const bar = progress(total);
  const onSignal = (s: NodeJS.Signals) => {
    if (stop) {
      bar.stop(); // gives the terminal its cursor back
      err(`\n${s} again: quitting now` + (o.save ? ` (${o.save} keeps its last checkpoint)` : '') + '.');
      process.exit(s === 'SIGTERM' ? 143 : 130);
    }
    stop = s;
    err(`\n${s === 'SIGINT' ? 'Interrupted' : 'Terminated'}: finishing the current step` + (o.save ? ` and saving ${o.save}` : '') + ' (Ctrl-C again to quit now).');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let logFile = o.logFile;
  const log = (e: LogEntry) => {
    if (!logFile) return;
    try {
      appendFileSync(logFile, JSON.stringify({
        step: e.step, epoch: e.epoch, train_loss: e.loss, val_loss: e.valLoss ?? null, val_bpc: e.valBpc ?? null,
        val_perplexity: e.valPerplexity ?? null, lr: e.lr, grad_norm: e.gradNorm, chars_per_sec: e.charsPerSec, elapsed: e.elapsed,
      }) + '\n');
    } catch (x) {
      // checked writable before the first step; a full disk later must not cost the run
      err(`\nchar-rnn: Could not append to --log-file ${logFile} (${(x as NodeJS.ErrnoException).code ?? (x as Error).message}): logging stopped, training goes on.`);
      logFile = undefined;
    }
  };
  bar.start(trainer.step);
  const t0 = performance.now();
  const startStep = trainer.step;
  try {
    try {
      await trainer.run(Math.max(0, total - trainer.step), {
        shouldStop: () => stop !== undefined,
        onLog: (e) => {
          bar.update(e);
          log(e);
        },
        syncAt: (step) => Boolean((o.saveEvery && step % o.saveEvery === 0) || (o.sampleEvery && step % o.sampleEvery === 0)),
        afterStep: async (step) => {
          if (o.saveEvery && step % o.saveEvery === 0 && step < total) await save();
          if (o.sampleEvery && step % o.sampleEvery === 0) await sampleNow(step);
        },
      });
    } catch (e) {
      bar.stop();
      if (e instanceof DivergedError)
        throw new DivergedError(e.message + kept(o.save));
      throw e;
    }
    bar.stop();
    await save();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const seconds = (performance.now() - t0) / 1000;
  const steps = trainer.step - startStep;
  const { B, T } = trainer.cursor.plan;
  const last = trainer.history.at(-1);
  err(
    (stop ? `stopped by ${stop} after step ${trainer.step}: ` : '') +
      `trained ${steps} steps in ${seconds.toFixed(2)} s (${Math.round((steps * B * T) / Math.max(seconds, 1e-9)).toLocaleString('en-US')} chars/s)` +
      (last ? `, loss ${last.loss.toFixed(4)}` : '') +
      (last?.valLoss !== undefined ? `, validation ${last.valLoss.toFixed(4)} nats/char = ${last.valBpc!.toFixed(3)} bits/char, perplexity ${last.valPerplexity!.toFixed(2)}` : ''),
  );
  if (o.save) err(`saved ${o.save} (step ${trainer.step})` + (stop ? `; continue with: char-rnn train --resume ${o.save} --save ${o.save}` : ''));
  return stop;
}

function progress(total: number) {
  const tty = process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    {
      format: 'step {value}/{total} {bar} epoch {epoch} | loss {loss} | val {val} | {speed} chars/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let lastLine = -1;
  let lastVal = '-';
  return {
    start: (step: number) => tty && bar.start(total, step, { loss: '-', speed: '-', epoch: 0, val: '-' }),
    update(e: LogEntry) {
      const val = e.valLoss === undefined ? undefined : `${e.valLoss.toFixed(4)} (${e.valBpc!.toFixed(3)} bpc)`;
      if (val) lastVal = val;
      if (tty) bar.update(e.step, { loss: e.loss.toFixed(4), val: lastVal, epoch: e.epoch, speed: Math.round(e.charsPerSec).toLocaleString('en-US') });
      else {
        const line = Math.floor((10 * e.step) / Math.max(total, 1));
        if (line !== lastLine || e.step === total || val) {
          lastLine = line;
          err(`step ${e.step}/${total}  epoch ${e.epoch}  loss ${e.loss.toFixed(4)}${val ? `  val ${val}` : ''}  lr ${e.lr.toPrecision(3)}  ${Math.round(e.charsPerSec)} chars/s`);
        }
      }
    },
    stop: () => tty && bar.stop(),
  };
}

/** `train --profile`: GPU time per kernel and step, the schedule chosen, memory in use. */
function printProfile(engine: GpuEngine, s: StepShape): void {
  const p = engine.profile();
  const flops = 6 * s.T * s.B * (s.H * s.H + s.V * s.H);
  err(`\nprofile: ${p.adapter}; ${p.steps} steps timed (each waited for its timings)`);
  err(`  kernels: ${p.variant} (${engine.kernelsReason}); recurrence: ${p.detail}${p.reason ? ` (${p.reason})` : ''}`);
  if (p.kernels.length) {
    const w = Math.max(...p.kernels.map((k) => k.name.length));
    for (const k of p.kernels)
      err(`  ${k.name.padEnd(w)}  ${k.ms.toFixed(3).padStart(9)} ms/step  ${((100 * k.ms) / p.totalMs).toFixed(1).padStart(5)}%`);
    err(`  ${'total'.padEnd(w)}  ${p.totalMs.toFixed(3).padStart(9)} ms/step  = ${(flops / (p.totalMs * 1e6)).toFixed(2)} GFLOP/s of model FLOPs (6(H^2+VH) per character)`);
  }
  const m = engine.memory();
  const t = m.tensors;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  err(
    `  GPU memory: ${mb(m.bytes)} allocated; model state ${mb(t.params + t.grads + t.optimizer + t.activations)} ` +
      `(parameters ${mb(t.params)}, gradients ${mb(t.grads)}, optimizer ${mb(t.optimizer)}, activations ${mb(t.activations)})`,
  );
}

/** What a stopped run left in its --save file, said after a divergence. */
function kept(save: string | undefined): string {
  if (!save) return '';
  return existsSync(save) ? ` Nothing was written: ${save} keeps its last good checkpoint.` : ` Nothing was written to ${save}.`;
}
