import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { DEFAULT_CONFIG, OPTIMIZER_LR, SCHEDULES, type TrainConfig, optimizerOf, validateConfig } from '../config.js';
import { planBatches, splitText } from '../data.js';
import { runCheckpoint, trainerStateOf } from '../state.js';
import { appendFileSync } from 'node:fs';
import { OPTIMIZERS } from '../engine.js';
import { createEngine, type DeviceKind } from '../engines.js';
import { CharRnnError, DivergedError, TextError, UsageError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { type InitScale, initParams } from '../init.js';
import type { Params, StepShape } from '../model.js';
import { GpuEngine, type KernelVariant } from '../gpu/engine.js';
import { sampleText } from '../sample.js';
import { type LogEntry, Trainer } from '../train.js';
import { runCheck } from '../check.js';
import { describeChar, Vocab } from '../vocab.js';
import { readCheckpointFile, readTextFile, writeFileAtomic } from '../node/files.js';
import { nodeContext } from '../node/gpu.js';

// `char-rnn`: train, sample and check from the command line. A thin face over the engine:
// it parses arguments, reads files and prints; the work is done by src/.
// Exit codes: 0 success, 1 failure, 2 bad usage.

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function num(name: string, integer = false) {
  return (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a finite number'}, got '${v}'.`);
    return x;
  };
}

function initScaleArg(v: string): InitScale {
  if (v === 'auto' || v === 'uniform') return v;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(`--init-scale must be auto, uniform or a number > 0 (randn * x), got '${v}'.`);
  return x;
}

const deviceOption = () =>
  new Option('--device <kind>', 'engine: gpu (WebGPU) or cpu (the float64 reference)').choices(['gpu', 'cpu']).default('gpu');

let liveContext: GpuContext | undefined;
async function gpuContextFor(device: DeviceKind): Promise<GpuContext | undefined> {
  if (device !== 'gpu') return undefined;
  return (liveContext ??= await nodeContext('char-rnn'));
}

function readText(o: { text?: string; string?: string }): { text: string; source: string } {
  if (o.text !== undefined && o.string !== undefined) throw new UsageError('Give the training text with --text FILE or --string S, not both.');
  if (o.string !== undefined) {
    if (o.string.length === 0) throw new TextError('The --string text is empty. Give at least 2 characters.');
    return { text: o.string, source: '--string' };
  }
  if (o.text === undefined) throw new UsageError('No training text: give --text FILE or --string S.');
  return { text: readTextFile(o.text), source: o.text };
}

function loadCheckpointPath(path: string): Checkpoint {
  return loadCheckpoint(readCheckpointFile(path), path);
}

function saveTo(path: string, c: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, saveCheckpoint(c));
}

const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[];

/** The run configuration from parsed options over a base (defaults, or a resumed run's). */
function configFrom(o: Record<string, unknown>, base: TrainConfig = DEFAULT_CONFIG): TrainConfig {
  const c = { ...base } as Record<string, unknown>;
  for (const k of CONFIG_KEYS) if (o[k] !== undefined) c[k] = o[k];
  const cfg = c as unknown as TrainConfig;
  if (base === DEFAULT_CONFIG) {
    // learning rate and clipping default per optimizer (README)
    if (o.lr === undefined) cfg.lr = OPTIMIZER_LR[cfg.optimizer].lr;
    if (o.clip === undefined) cfg.clip = OPTIMIZER_LR[cfg.optimizer].clip;
  }
  return validateConfig(cfg);
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

interface TrainOpts {
  text?: string;
  string?: string;
  device: DeviceKind;
  init?: string;
  resume?: string;
  save?: string;
  saveEvery?: number;
  sampleEvery?: number;
  logFile?: string;
  sampleLength: number;
  profile?: boolean;
  kernels?: KernelVariant | 'auto';
  temperature: number;
  greedy?: boolean;
  prime?: string;
  [k: string]: unknown;
}

async function train(o: TrainOpts): Promise<void> {
  const { text, source } = readText(o);
  if (o.init && o.resume) throw new UsageError('Give --init (new run from weights) or --resume (continue a run), not both.');
  const from = o.init ?? o.resume;
  const ckpt = from ? loadCheckpointPath(from) : undefined;
  if (ckpt && o.hidden !== undefined && o.hidden !== ckpt.hidden)
    throw new UsageError(`--hidden ${o.hidden} does not match the hidden size ${ckpt.hidden} of ${from}. Leave --hidden out.`);
  const resumed = o.resume ? trainerStateOf(ckpt!, o.device, o.resume) : undefined;
  // a resumed run keeps its configuration; options given now override it (e.g. more --steps)
  const cfg = resumed ? configFrom(o, resumed.config) : configFrom({ ...o, hidden: ckpt?.hidden ?? o.hidden });
  const vocab = ckpt ? new Vocab(ckpt.vocab) : Vocab.fromText(text);
  const { train: data, val } = splitText(vocab.encode(text, source), cfg.valFraction);
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen, o.seqLen !== undefined || resumed !== undefined);
  cfg.seqLen = plan.T;
  const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T };
  const startParams: Params = ckpt ? ckpt.params : initParams(shape, cfg.seed, cfg.initScale);
  const ctx = await gpuContextFor(o.device);
  if (o.profile && o.device !== 'gpu') throw new UsageError('--profile times the GPU kernels: use it with --device gpu.');
  const engine = await createEngine(o.device, shape, optimizerOf(cfg), startParams, ctx, { profile: o.profile, kernels: o.kernels });
  const trainer = new Trainer(engine, data, cfg, o.init ? ckpt!.step : 0, val);
  if (resumed) trainer.restore(resumed.state);
  // --steps is the run's total; with --init, the steps to add to the checkpoint's count
  const total = o.init ? trainer.step + cfg.steps : cfg.steps;
  const todo = Math.max(0, total - trainer.step);
  err(
    `char-rnn: ${data.length.toLocaleString('en-US')} training characters from ${source}` +
      (val ? ` (+${val.length.toLocaleString('en-US')} validation)` : '') +
      `, vocabulary ${vocab.size}, hidden ${cfg.hidden}, batch ${plan.B} x ${plan.T} timesteps, ${cfg.optimizer} lr ${cfg.lr}` +
      (cfg.schedule !== 'constant' ? ` (${cfg.schedule})` : '') + (cfg.clip ? ` clip ${cfg.clip}` : '') + (cfg.clipNorm ? ` clip-norm ${cfg.clipNorm}` : '') +
      `, device ${o.device}${ctx ? ` (${ctx.adapterName})` : ''}` + (resumed ? `; resuming ${o.resume} at step ${trainer.step}` : ''),
  );
  const save = async () => {
    if (!o.save) return;
    const state = await trainer.state();
    for (const k of Object.keys(state.engine.params) as (keyof Params)[])
      if (!state.engine.params[k].every(Number.isFinite))
        throw new DivergedError(`The weights hold NaN or Inf after step ${trainer.step}: not saved; ${o.save} keeps its last good checkpoint. Lower --lr or clip.`);
    saveTo(o.save, runCheckpoint([...vocab.chars], cfg, state, o.device));
  };
  const log = (e: LogEntry) => {
    if (!o.logFile) return;
    appendFileSync(o.logFile, JSON.stringify({
      step: e.step, epoch: e.epoch, train_loss: e.loss, val_loss: e.valLoss ?? null, val_bpc: e.valBpc ?? null,
      val_perplexity: e.valPerplexity ?? null, lr: e.lr, grad_norm: e.gradNorm, chars_per_sec: e.charsPerSec, elapsed: e.elapsed,
    }) + '\n');
  };
  const prime = o.prime ?? [...text][0];
  const sampleNow = async (step: number) => {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength || 200, temperature: o.temperature, seed: cfg.seed + step });
    err(`\n--- sample at step ${step} ---\n${s}\n---`);
  };

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    err('\nInterrupted: finishing the current step' + (o.save ? ` and saving ${o.save}` : '') + ' (Ctrl-C again to quit now).');
  };
  process.on('SIGINT', onSigint);
  const bar = progress(total);
  bar.start(trainer.step);
  const t0 = performance.now();
  const startStep = trainer.step;
  try {
    await trainer.run(todo, {
      shouldStop: () => interrupted,
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
      throw new DivergedError(e.message + (o.save ? ` Nothing was written: ${o.save} keeps its last good checkpoint.` : ''));
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
  bar.stop();
  await save();
  const seconds = (performance.now() - t0) / 1000;
  const steps = trainer.step - startStep;
  const last = trainer.history.at(-1);
  err(
    `trained ${steps} steps in ${seconds.toFixed(2)} s (${Math.round((steps * plan.B * plan.T) / Math.max(seconds, 1e-9)).toLocaleString('en-US')} chars/s)` +
      (last ? `, loss ${last.loss.toFixed(4)}` : '') +
      (last?.valLoss !== undefined ? `, validation ${last.valLoss.toFixed(4)} nats/char = ${last.valBpc!.toFixed(3)} bits/char, perplexity ${last.valPerplexity!.toFixed(2)}` : ''),
  );
  if (o.save) err(`saved ${o.save} (step ${trainer.step})`);
  if (o.profile && engine instanceof GpuEngine) printProfile(engine, shape);
  if (o.sampleLength > 0) {
    const [s] = await sampleText(engine, vocab, { prime, length: o.sampleLength, greedy: o.greedy, temperature: o.temperature, seed: cfg.seed });
    err(o.greedy ? `greedy sample from ${JSON.stringify(prime)}:` : `sample (temperature ${o.temperature}, seed ${cfg.seed}):`);
    out(s);
  }
  trainer.destroy();
  engine.destroy();
  if (interrupted) process.exitCode = 130;
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

async function sample(o: {
  checkpoint: string;
  prime?: string;
  length: number;
  temperature: number;
  greedy?: boolean;
  seed: number;
  num: number;
  topK: number;
  topP: number;
  device: DeviceKind;
}): Promise<void> {
  if (o.topK < 0) throw new UsageError(`Bad --top-k ${o.topK}: it must be an integer >= 0.`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new UsageError(`Bad --top-p ${o.topP}: it must be in (0, 1].`);
  const c = loadCheckpointPath(o.checkpoint);
  const vocab = new Vocab(c.vocab);
  const prime = o.prime ?? (vocab.has('\n') ? '\n' : vocab.chars[0]);
  const ctx = await gpuContextFor(o.device);
  const engine = await createEngine(o.device, { V: vocab.size, H: c.hidden, B: 1, T: 1 }, { name: 'sgd', lr: 1, clip: 0 }, c.params, ctx);
  const texts = await sampleText(engine, vocab, { prime, length: o.length, greedy: o.greedy, temperature: o.temperature, seed: o.seed, num: o.num, topK: o.topK, topP: o.topP });
  out(texts.join(o.num > 1 ? '\n\n' : ''));
  engine.destroy();
}

async function evaluate(o: { checkpoint: string; text?: string; string?: string; device: DeviceKind }): Promise<void> {
  const c = loadCheckpointPath(o.checkpoint);
  const { text, source } = readText(o);
  const vocab = new Vocab(c.vocab);
  // runs of known characters are scored (state reset at each run); unknown ones are counted
  const runs: number[][] = [[]];
  const unknown = new Map<string, number>();
  for (const ch of text) {
    if (vocab.has(ch)) runs[runs.length - 1].push(vocab.indexOf(ch));
    else {
      unknown.set(ch, (unknown.get(ch) ?? 0) + 1);
      if (runs[runs.length - 1].length) runs.push([]);
    }
  }
  const ctx = await gpuContextFor(o.device);
  const T = 256;
  const engine = await createEngine(o.device, { V: vocab.size, H: c.hidden, B: 1, T }, { name: 'sgd', lr: 1, clip: 0 }, c.params, ctx);
  let sum = 0;
  let count = 0;
  for (const r of runs) {
    if (r.length < 2) continue;
    const e = await engine.evaluate(Uint32Array.from(r));
    sum += e.loss * e.count;
    count += e.count;
  }
  engine.destroy();
  if (count === 0) throw new UsageError(`${source} has no two consecutive characters of the model's vocabulary to score.`);
  const loss = sum / count;
  out(`${source}: ${count.toLocaleString('en-US')} characters scored`);
  out(`loss ${loss.toFixed(4)} nats/char, ${(loss / Math.LN2).toFixed(4)} bits/char, perplexity ${Math.exp(loss).toFixed(3)}`);
  if (unknown.size) {
    const n = [...unknown.values()].reduce((a, b) => a + b, 0);
    const list = [...unknown.entries()].slice(0, 20).map(([ch, k]) => `${describeChar(ch)} x${k}`).join(', ');
    out(`${n} characters not in the model's vocabulary were skipped (${unknown.size} distinct: ${list}${unknown.size > 20 ? ', ...' : ''}); the state restarts after each.`);
  }
}

async function check(o: Record<string, unknown> & { text?: string; string?: string; json?: boolean; init?: string }): Promise<void> {
  const { text, source } = readText(o.text === undefined && o.string === undefined ? { string: 'hello' } : o);
  const init = o.init ? loadCheckpointPath(o.init) : undefined;
  const cfg = configFrom({ hidden: init?.hidden ?? 8, steps: 20, seqLen: 0, ...o });
  const vocab = init ? new Vocab(init.vocab) : Vocab.fromText(text);
  const data = vocab.encode(text, source);
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen, o.seqLen !== undefined);
  cfg.seqLen = plan.T;
  const ctx = await gpuContextFor('gpu');
  const report = await runCheck(ctx!, data, vocab.size, cfg, { start: init?.params });
  if (o.json) out(JSON.stringify(report, null, 2));
  else {
    out(`check: ${source}, ${data.length} characters, V ${vocab.size}, H ${cfg.hidden}, B ${plan.B}, T ${plan.T}, ` +
      `${cfg.optimizer} lr ${cfg.lr}, ${cfg.steps} steps; GPU: ${ctx!.adapterName}`);
    const K = report.spreadMultiple;
    const rows = report.tensors.map((c) => [
      c.kind, c.name, String(c.n), c.maxAbs.toExponential(2), c.maxRel.toExponential(2), String(c.atol), `${c.rtol}${c.rtolOf === 'terms' ? ' *' : ''}`,
      `${(100 * c.used).toFixed(1)}%`, c.spread === undefined ? '' : c.spread.toExponential(2),
      c.ratio === undefined ? '' : c.ratio.toPrecision(3), c.ok ? (c.bySpread ? `ok (<= ${K}x spread)` : 'ok') : 'FAIL',
    ]);
    const head = ['comparison', 'tensor', 'elements', 'max|diff|', 'max rel', 'atol', 'rtol', 'used', 'f64 spread', 'diff/spread', ''];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) out(r.map((x, i) => (i < 2 || i === 10 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ').trimEnd());
    out('local step: the CPU recomputes each timestep from the GPU\'s own state at the step before (one step\'s rounding); ' +
      '* rtol times the sum of the terms\' absolute values.');
    if (rows.length > 0 && report.tensors.some((c) => c.kind === 'trajectory'))
      out(`trajectory: each engine on its own; f64 spread = max|CPU' - CPU| with CPU' from weights one float32 ulp away; ` +
        `a row passes within tolerance or at most ${K}x the spread.`);
    const bad = report.tensors.filter((c) => !c.ok).length;
    out(report.ok ? `all ${report.tensors.length} comparisons pass` : `${bad} of ${report.tensors.length} comparisons OUT OF TOLERANCE`);
  }
  if (!report.ok) process.exitCode = 1;
}

export function buildProgram(): Command {
  const program = new Command('char-rnn')
    .description('Character-level RNN language models on WebGPU, with a CPU twin that checks every number.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const hyper = (c: Command) =>
    c
      .option('--hidden <n>', `hidden units H (default ${DEFAULT_CONFIG.hidden})`, num('--hidden', true))
      .option('--steps <n>', `optimizer steps (default ${DEFAULT_CONFIG.steps})`, num('--steps', true))
      .option('--lr <x>', 'learning rate (default 0.1 for adagrad, 0.01 for sgd)', num('--lr'))
      .addOption(new Option('--optimizer <name>', `optimizer (default ${DEFAULT_CONFIG.optimizer})`).choices(OPTIMIZERS))
      .option('--clip <x>', `clip gradients element-wise to [-x, x], 0 = off (default ${DEFAULT_CONFIG.clip} for adagrad, 0 for sgd)`, num('--clip'))
      .option('--seed <n>', `seed of the initial weights and the sample (default ${DEFAULT_CONFIG.seed})`, num('--seed', true))
      .option('--seq-len <n>', `timesteps per step (truncated BPTT), 0 = whole text (default ${DEFAULT_CONFIG.seqLen}, shortened to fit a short text)`, num('--seq-len', true))
      .option('--batch <n>', `streams trained side by side (default ${DEFAULT_CONFIG.batch})`, num('--batch', true))
      .addOption(new Option('--schedule <name>', 'learning-rate schedule (default constant)').choices(SCHEDULES))
      .option('--warmup <n>', `cosine: warm-up steps (default ${DEFAULT_CONFIG.warmup})`, num('--warmup', true))
      .option('--decay-every <n>', `step: decay interval (default ${DEFAULT_CONFIG.decayEvery})`, num('--decay-every', true))
      .option('--decay-rate <x>', `step: factor per interval (default ${DEFAULT_CONFIG.decayRate})`, num('--decay-rate'))
      .option('--min-lr <x>', 'cosine: final learning rate (default 0)', num('--min-lr'))
      .option('--clip-norm <x>', 'scale gradients to a global norm of at most x, 0 = off (default 0)', num('--clip-norm'))
      .option('--momentum <x>', 'sgd momentum (default 0)', num('--momentum'))
      .option('--alpha <x>', `rmsprop decay (default ${DEFAULT_CONFIG.alpha})`, num('--alpha'))
      .option('--beta1 <x>', `adam/adamw beta1 (default ${DEFAULT_CONFIG.beta1})`, num('--beta1'))
      .option('--beta2 <x>', `adam/adamw beta2 (default ${DEFAULT_CONFIG.beta2})`, num('--beta2'))
      .option('--eps <x>', `optimizer epsilon (default ${DEFAULT_CONFIG.eps})`, num('--eps'))
      .option('--weight-decay <x>', `adamw weight decay on the matrices (default ${DEFAULT_CONFIG.weightDecay})`, num('--weight-decay'))
      .option('--val-fraction <x>', `last fraction of the text held out for validation (default ${DEFAULT_CONFIG.valFraction})`, num('--val-fraction'))
      .option('--init-scale <s>', 'initial weight matrices: auto = randn*min(0.1, 1/sqrt(H)), uniform = +-1/sqrt(H) (PyTorch), or a number s for randn*s (default auto)', initScaleArg)
      .option('--eval-every <n>', `validate every n steps, 0 = only at the end (default ${DEFAULT_CONFIG.evalEvery})`, num('--eval-every', true))
      .option('--text <file>', 'training text, a UTF-8 file')
      .option('--string <s>', 'training text given inline, e.g. hello');

  hyper(program.command('train').description('train a model on a text and print a sample'))
    .addOption(deviceOption())
    .option('--init <ckpt>', 'start a new run from the weights (and vocabulary) of a checkpoint; --steps more steps')
    .option('--resume <ckpt>', 'continue the run saved in a checkpoint exactly, up to --steps in all')
    .option('--save <ckpt>', 'write the model and training state here (safetensors, written atomically); with --steps 0, the initial weights')
    .option('--save-every <n>', 'also save every n steps', num('--save-every', true))
    .option('--sample-every <n>', 'print a sample every n steps', num('--sample-every', true))
    .option('--log-file <file>', 'append one JSON line per logged step (step, losses, bpc, lr, grad norm, speed)')
    .option('--log-every <n>', `read the loss back every n steps (default ${DEFAULT_CONFIG.logEvery})`, num('--log-every', true))
    .option('--sample-length <n>', 'characters to sample after training, 0 = none', num('--sample-length', true), 200)
    .option('--prime <s>', 'text to start the sample from (default: the first character of the text)')
    .option('--temperature <t>', 'sampling temperature', num('--temperature'), 1)
    .option('--greedy', 'sample the most likely character each time')
    .option('--profile', 'time every GPU kernel (timestamp queries; each step then waits for the GPU) and report memory')
    .addOption(new Option('--kernels <variant>', 'GPU kernels: tiled, reference (the simple ones), auto (by step size)').choices(['auto', 'tiled', 'reference']).default('auto'))
    .action((o) => train(o));

  program
    .command('sample')
    .description('generate text from a checkpoint')
    .requiredOption('--checkpoint <ckpt>', 'model file written by train --save')
    .option('--prime <s>', 'text to start from (default: a newline if the vocabulary has one)')
    .option('--length <n>', 'characters to generate', num('--length', true), 100)
    .option('--temperature <t>', 'sampling temperature (> 0)', num('--temperature'), 1)
    .option('--greedy', 'pick the most likely character each time (the tutorial)')
    .option('--seed <n>', 'random seed', num('--seed', true), 0)
    .option('--top-k <n>', 'sample among the k most likely characters only (0 = all)', num('--top-k', true), 0)
    .option('--top-p <p>', 'sample among the most likely characters that make up probability p (1 = all)', num('--top-p'), 1)
    .option('--num <n>', 'independent samples, generated together in one GPU pass', num('--num', true), 1)
    .addOption(deviceOption())
    .action((o) => sample(o));

  program
    .command('eval')
    .description('loss, bits per character and perplexity of a model on a text')
    .requiredOption('--checkpoint <ckpt>', 'model file written by train --save')
    .option('--text <file>', 'text to score, a UTF-8 file')
    .option('--string <s>', 'text given inline')
    .addOption(deviceOption())
    .action((o) => evaluate(o));

  hyper(program.command('check').description(
    "compare the GPU engine with the CPU's float64 one: every timestep recomputed from the GPU's own state (local step), " +
      "and whole runs judged against the CPU's own spread from weights one float32 ulp away (trajectory)"))
    .option('--init <ckpt>', 'start both engines from these weights')
    .option('--json', 'print the report as JSON')
    .action((o) => check(o));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander has printed the problem
    }
    if (e instanceof UsageError) {
      err(`char-rnn: ${e.message}`);
      return 2;
    }
    if (e instanceof CharRnnError) {
      err(`char-rnn: ${e.message}`);
      return 1;
    }
    err(`char-rnn: unexpected error: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    liveContext?.destroy();
    liveContext = undefined;
  }
}

