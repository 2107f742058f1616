import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONFIG, SCHEDULES } from '../config.js';
import { planBatches } from '../data.js';
import { OPTIMIZERS } from '../engine.js';
import { CELLS, CELL_NAMES, type Dims, isTutorialModel, modelLabel } from '../model.js';
import { createEngine, type DeviceKind } from '../engines.js';
import { type Checkpoint, saveCheckpoint } from '../checkpoint.js';
import { CharRnnError, GpuError, UsageError } from '../errors.js';
import type { InitScale } from '../init.js';
import { checkOutputPath, writeFileAtomic } from '../node/files.js';
import { fileScheduleCache, scheduleCachePath } from '../node/scheduleCache.js';
import { CELL_SWEEPS, type Recurrence } from '../gpu/schedule.js';
import { homedir } from 'node:os';
import { lockOutput } from '../node/lock.js';
import { checkDistinct, checkOverwrite } from '../node/outputs.js';
import pkg from '../../package.json' with { type: 'json' };
import { toPytorch } from '../pytorch.js';
import { sampleText } from '../sample.js';
import { runCheck } from '../check.js';
import { encodeUtf8 } from '../text.js';
import { describeChar, Vocab } from '../vocab.js';
import { configFrom, destroyContext, err, gpuContextFor, loadCheckpointPath, out, readCorpus, readText } from './common.js';
import { SignalTrap } from './signals.js';
import { checkModelOptions, train } from './train.js';

// `char-rnn`: train, sample and check from the command line. A thin face over the engine:
// it parses arguments, reads files and prints; the work is done by src/.
// Exit codes: 0 success, 1 failure, 2 bad usage.

function num(name: string, integer = false) {
  return (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a finite number'}, got '${v}'.`);
    return x;
  };
}

/** Seeds are 32-bit: an integer in [0, 2^32 - 1] (-1 would wrap to 4294967295). */
function seedArg(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < 0 || x > 0xffffffff)
    throw new InvalidArgumentError(`--seed must be an integer from 0 to 4294967295, got '${v}'.`);
  return x;
}

/** `sample` at once: characters per sample, samples, and characters in all (they are held in
 * memory, as indices and as text, until printed). */
export const SAMPLE_LIMITS = { length: 10_000_000, num: 10_000, chars: 100_000_000 };

function initScaleArg(v: string): InitScale {
  if (v === 'auto' || v === 'uniform' || v === 'pytorch') return v;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(`--init-scale must be auto, uniform, pytorch or a number > 0 (randn * x), got '${v}'.`);
  return x;
}

const deviceOption = () =>
  new Option('--device <kind>', 'engine: gpu (WebGPU) or cpu (the float64 reference)').choices(['gpu', 'cpu']).default('gpu');

/** The model a checkpoint holds: its vocabulary and hidden size, cell and layers. */
function modelOfCheckpoint(c: Checkpoint): Dims {
  return { V: c.vocab.length, H: c.hidden, cell: c.cell, layers: c.layers };
}

async function sample(o: {
  checkpoint: string;
  prime?: string;
  length: number;
  temperature?: number;
  greedy?: boolean;
  seed: number;
  num: number;
  topK: number;
  topP: number;
  device: DeviceKind;
}): Promise<void> {
  if (o.greedy && o.temperature !== undefined)
    throw new UsageError('Give --temperature T or --greedy, not both: greedy sampling takes the most likely character and has no temperature.');
  const n = (x: number) => x.toLocaleString('en-US');
  if (o.length > SAMPLE_LIMITS.length)
    throw new UsageError(`Bad --length ${n(o.length)}: at most ${n(SAMPLE_LIMITS.length)} characters per sample (a sample is held in memory until printed).`);
  if (o.num > SAMPLE_LIMITS.num) throw new UsageError(`Bad --num ${n(o.num)}: at most ${n(SAMPLE_LIMITS.num)} samples at once. Run sample again (with another --seed) for more.`);
  if (o.num * o.length > SAMPLE_LIMITS.chars)
    throw new UsageError(`--num ${n(o.num)} x --length ${n(o.length)} is ${n(o.num * o.length)} characters, more than the ${n(SAMPLE_LIMITS.chars)} sample prints at once (held in memory until printed). Ask for fewer or shorter samples.`);
  if (o.topK < 0) throw new UsageError(`Bad --top-k ${o.topK}: it must be an integer >= 0.`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new UsageError(`Bad --top-p ${o.topP}: it must be in (0, 1].`);
  const c = loadCheckpointPath(o.checkpoint);
  const vocab = new Vocab(c.vocab);
  const prime = o.prime ?? (vocab.has('\n') ? '\n' : vocab.chars[0]);
  const ctx = await gpuContextFor(o.device);
  const engine = await createEngine(o.device, { ...modelOfCheckpoint(c), B: 1, T: 1 }, { name: 'sgd', lr: 1, clip: 0 }, c.params, ctx);
  const texts = await sampleText(engine, vocab, { prime, length: o.length, greedy: o.greedy, temperature: o.temperature, seed: o.seed, num: o.num, topK: o.topK, topP: o.topP });
  out(texts.join(o.num > 1 ? '\n\n' : ''));
  engine.destroy();
}

async function evaluate(o: { checkpoint: string; text?: string; string?: string; device: DeviceKind; json?: boolean }): Promise<void> {
  const { bytes, scan, source } = readCorpus(o, 'text to score');
  const c = loadCheckpointPath(o.checkpoint);
  const vocab = new Vocab(c.vocab);
  // runs of known characters are scored (state reset at each run); unknown ones are counted
  const unknown = new Map<number, number>();
  const ids = encodeUtf8(bytes, scan, vocab, { unknown: vocab.size, onUnknown: (cp) => unknown.set(cp, (unknown.get(cp) ?? 0) + 1) });
  const ctx = await gpuContextFor(o.device);
  const T = 256;
  const engine = await createEngine(o.device, { ...modelOfCheckpoint(c), B: 1, T }, { name: 'sgd', lr: 1, clip: 0 }, c.params, ctx);
  let sum = 0;
  let count = 0;
  for (let start = 0; start < ids.length; ) {
    let end = start;
    while (end < ids.length && ids[end] !== vocab.size) end++;
    if (end - start >= 2) {
      const e = await engine.evaluate(ids.subarray(start, end));
      sum += e.loss * e.count;
      count += e.count;
    }
    start = end + 1;
  }
  engine.destroy();
  if (count === 0) throw new UsageError(`${source} has no two consecutive characters of the model's vocabulary to score.`);
  const loss = sum / count;
  const skipped = [...unknown.values()].reduce((a, b) => a + b, 0);
  if (o.json) {
    out(JSON.stringify({ text: source, loss, bits_per_char: loss / Math.LN2, perplexity: Math.exp(loss), chars_scored: count, chars_skipped: skipped, skipped_distinct: unknown.size }, null, 2));
    return;
  }
  out(`${source}: ${count.toLocaleString('en-US')} characters scored`);
  out(`loss ${loss.toFixed(4)} nats/char, ${(loss / Math.LN2).toFixed(4)} bits/char, perplexity ${Math.exp(loss).toFixed(3)}`);
  if (unknown.size) {
    const list = [...unknown.entries()].slice(0, 20).map(([cp, k]) => `${describeChar(String.fromCodePoint(cp))} x${k}`).join(', ');
    out(`${skipped} characters not in the model's vocabulary were skipped (${unknown.size} distinct: ${list}${unknown.size > 20 ? ', ...' : ''}); the state restarts after each.`);
  }
}

async function exportModel(o: { checkpoint: string; pytorch?: string; weights?: string; force?: boolean }): Promise<void> {
  if (!o.pytorch === !o.weights)
    throw new UsageError('Give --pytorch OUT (a PyTorch state dict) or --weights OUT (the model without its training state), one of them.');
  const option = o.pytorch ? '--pytorch' : '--weights';
  const path = (o.pytorch ?? o.weights)!;
  checkOutputPath(path, option);
  const output = { option, path };
  checkDistinct([output], [{ option: '--checkpoint', path: o.checkpoint }]);
  checkOverwrite(output, o.pytorch ? 'pytorch' : 'checkpoint', o.force === true);
  const trap = new SignalTrap(); // a signal ends the export through process.exit, which releases the lock
  const lock = lockOutput(path, option, err);
  let c: Checkpoint;
  try {
    c = loadCheckpointPath(o.checkpoint);
    // the weights, vocabulary, settings and loss curve: a third of a checkpoint that trained with
    // Adam, for sharing (the page loads it; --init and sample take it; --resume needs the state)
    const weightsOnly = () =>
      saveCheckpoint({ ...c, extra: undefined, metadata: c.metadata?.config ? { config: c.metadata.config } : undefined });
    writeFileAtomic(path, o.pytorch ? toPytorch(c) : weightsOnly());
  } finally {
    lock.release();
    trap.dispose();
  }
  const model = `the ${c.cell ?? 'rnn'} of ${c.layers ?? 1} layer${(c.layers ?? 1) > 1 ? 's' : ''} of ${o.checkpoint}`;
  err(o.pytorch
    ? `char-rnn: wrote ${path}: ${model} as a PyTorch state dict (rnn.weight_ih_l0 ... out.bias; vocabulary in the metadata).`
    : `char-rnn: wrote ${path}: ${model}, its weights, vocabulary, settings and loss curve without the training state (step ${c.step}).`);
}

async function check(o: Record<string, unknown> & { text?: string; string?: string; json?: boolean; init?: string }): Promise<void> {
  const { text, source } = readText(o.text === undefined && o.string === undefined ? { string: 'hello' } : o);
  const init = o.init ? loadCheckpointPath(o.init) : undefined;
  if (init) checkModelOptions(o, init, o.init!);
  const cfg = configFrom({ hidden: init?.hidden ?? 8, steps: 20, seqLen: 0, ...o, cell: o.cell ?? init?.cell, layers: o.layers ?? init?.layers });
  const vocab = init ? new Vocab(init.vocab) : Vocab.fromText(text);
  const data = vocab.encode(text, source);
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen, o.seqLen !== undefined);
  cfg.seqLen = plan.T;
  const ctx = await gpuContextFor('gpu', 'check');
  const recurrence = (o.recurrence as Recurrence | undefined) ?? 'auto';
  const report = await runCheck(ctx!, data, vocab.size, cfg, { start: init?.params, gpu: { cellSweeps: recurrence, scheduleCache: fileScheduleCache() } });
  if (o.json) out(JSON.stringify(report, null, 2));
  else {
    const model = isTutorialModel(cfg) ? '' : `${modelLabel(cfg)}, `;
    out(`check: ${source}, ${data.length} characters, ${model}V ${vocab.size}, H ${cfg.hidden}, B ${plan.B}, T ${plan.T}, ` +
      (cfg.dropout > 0 ? `dropout ${cfg.dropout}, ` : '') +
      `${cfg.optimizer} lr ${cfg.lr}, ${cfg.steps} steps; GPU: ${ctx!.adapterName}; recurrence: ${report.schedule}`);
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

/** `check --help` shows check's own defaults where they differ from training's. */
function describeCheckDefaults(c: Command): void {
  const own: Record<string, string> = {
    '--hidden': 'hidden units H (default 8)',
    '--steps': 'steps compared (default 20)',
    '--seq-len': 'timesteps per step, 0 = whole text (default 0)',
    '--string': 'text given inline (default hello)',
  };
  for (const opt of c.options) if (opt.long && own[opt.long]) opt.description = own[opt.long];
}

/** The model, optimizer and data options that train and check share. */
function hyper(c: Command): Command {
  return (
    c
      .addOption(new Option('--cell <name>', `recurrent cell, as PyTorch defines it: ${CELL_NAMES.map((c) => `${c} (${CELLS[c].title})`).join(', ')} (default rnn)`).choices(CELL_NAMES))
      .option('--layers <n>', `stacked layers L (default ${DEFAULT_CONFIG.layers})`, num('--layers', true))
      .option('--dropout <p>', 'inverted dropout on every layer\'s output while training, in [0, 1) (default 0)', num('--dropout'))
      .option('--hidden <n>', `hidden units H per layer (default ${DEFAULT_CONFIG.hidden})`, num('--hidden', true))
      .option('--steps <n>', `optimizer steps (default ${DEFAULT_CONFIG.steps})`, num('--steps', true))
      .option('--lr <x>', 'learning rate (default 0.1 for adagrad, 0.01 for sgd)', num('--lr'))
      .addOption(new Option('--optimizer <name>', `optimizer (default ${DEFAULT_CONFIG.optimizer})`).choices(OPTIMIZERS))
      .option('--clip <x>', `clip gradients element-wise to [-x, x], 0 = off (default ${DEFAULT_CONFIG.clip} for adagrad, 0 for sgd)`, num('--clip'))
      .option('--seed <n>', `seed of the initial weights and the sample, 0 to 4294967295 (default ${DEFAULT_CONFIG.seed})`, seedArg)
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
      .option('--init-scale <s>', 'initial weights: auto = matrices randn*min(0.1, 1/sqrt(H)), uniform = matrices +-1/sqrt(H) (PyTorch\'s bound), a number s for randn*s, biases 0; pytorch = every tensor as PyTorch draws it (default auto)', initScaleArg)
      .option('--eval-every <n>', `validate every n steps, 0 = only at the end (default ${DEFAULT_CONFIG.evalEvery})`, num('--eval-every', true))
      .option('--text <file>', 'training text, a UTF-8 file')
      .option('--string <s>', 'training text given inline, e.g. hello')
      .addOption(new Option('--recurrence <name>', RECURRENCE_HELP).choices(['measure', 'auto', ...CELL_SWEEPS]))
  );
}

const RECURRENCE_HELP =
  "how the GPU runs the recurrence: measure (train's default: time each schedule that fits the first time this GPU meets the model's shape, " +
  `keep the fastest in ${scheduleCachePath().replace(homedir(), '~')}), auto (check's default: chosen by shape), or one forced: ` +
  'streams1, streams4, streams8 (one workgroup loops over T for 1, 4 or 8 streams), reference (one workgroup per stream), ' +
  'steps (one dispatch per timestep over the whole GPU), grid (workgroups that run at once, handing each timestep over)';

export function buildProgram(): Command {
  const program = new Command('char-rnn')
    .description('Character-level RNN language models on WebGPU, with a CPU twin that checks every number.')
    .version(pkg.version, '-V, --version', 'print the version of char-rnn')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  hyper(program.command('train').description('train a model on a text and print a sample'))
    .addOption(deviceOption())
    .option('--init <ckpt>', 'start a new run from the weights (and vocabulary) of a checkpoint; --steps more steps')
    .option('--resume <ckpt>', 'continue the run saved in a checkpoint exactly, up to --steps in all, on the text it records (no --text needed)')
    .option('--allow-new-text', 'with --resume and --text: go on training on a text other than the recorded one (the data starts from its beginning)')
    .option('--save <ckpt>', 'write the model and training state here (safetensors, written atomically); with --steps 0, the initial weights')
    .option('--save-every <n>', 'also save every n steps', num('--save-every', true))
    .option('--sample-every <n>', 'print a sample every n steps', num('--sample-every', true))
    .option('--log-file <file>', 'append one JSON line per logged step (step, losses, bpc, lr, grad norm, speed)')
    .option('--force', 'let --save replace a file that is not a char-rnn checkpoint, and --log-file append to one that is not a char-rnn log')
    .option('--log-every <n>', `read the loss back every n steps (default ${DEFAULT_CONFIG.logEvery})`, num('--log-every', true))
    .option('--sample-length <n>', 'characters to sample after training, 0 = none', num('--sample-length', true), 200)
    .option('--prime <s>', 'text to start the sample from (default: the first character of the text)')
    .option('--temperature <t>', 'sampling temperature, > 0 (default 1)', num('--temperature'))
    .option('--greedy', 'sample the most likely character each time')
    .option('--profile', 'time every GPU kernel (timestamp queries; each step then waits for the GPU) and report memory')
    .action((o) => train(o));

  program
    .command('sample')
    .description('generate text from a checkpoint')
    .requiredOption('--checkpoint <ckpt>', 'model file written by train --save')
    .option('--prime <s>', 'text to start from (default: a newline if the vocabulary has one)')
    .option('--length <n>', `characters to generate, at most ${SAMPLE_LIMITS.length.toLocaleString('en-US')} (held in memory until printed)`, num('--length', true), 100)
    .option('--temperature <t>', 'sampling temperature, > 0 (default 1)', num('--temperature'))
    .option('--greedy', 'pick the most likely character each time (the tutorial)')
    .option('--seed <n>', 'random seed, 0 to 4294967295', seedArg, 0)
    .option('--top-k <n>', 'sample among the k most likely characters only (0 = all)', num('--top-k', true), 0)
    .option('--top-p <p>', 'sample among the most likely characters that make up probability p (1 = all)', num('--top-p'), 1)
    .option('--num <n>', `independent samples, generated together in one GPU pass; at most ${SAMPLE_LIMITS.num.toLocaleString('en-US')}, and ${SAMPLE_LIMITS.chars.toLocaleString('en-US')} characters in all`, num('--num', true), 1)
    .addOption(deviceOption())
    .action((o) => sample(o));

  program
    .command('eval')
    .description('loss, bits per character and perplexity of a model on a text')
    .requiredOption('--checkpoint <ckpt>', 'model file written by train --save')
    .option('--text <file>', 'text to score, a UTF-8 file')
    .option('--string <s>', 'text given inline')
    .option('--json', 'print the result as JSON, in full precision')
    .addOption(deviceOption())
    .action((o) => evaluate(o));

  program
    .command('export')
    .description('write a model as a PyTorch state dict (safetensors) for torch.nn.RNN/LSTM/GRU(V, H, L, batch_first=True) + Linear(H, V), or as a checkpoint without its training state; see the README')
    .requiredOption('--checkpoint <ckpt>', 'model file written by train --save')
    .option('--pytorch <out>', 'the state dict to write (.safetensors)')
    .option('--weights <out>', 'a checkpoint of the weights, vocabulary, settings and loss curve only (no optimizer state: a third of the size with Adam), for sharing')
    .option('--force', 'replace the output even where it is not what it writes (a checkpoint with its training state, another file)')
    .action((o) => exportModel(o));

  hyper(program.command('check').description(
    "compare the GPU engine with the CPU's float64 one: every timestep recomputed from the GPU's own state (local step), " +
      "and whole runs judged against the CPU's own spread from weights one float32 ulp away (trajectory)"))
    .option('--init <ckpt>', 'start both engines from these weights')
    .option('--json', 'print the report as JSON')
    .action((o) => check(o));
  describeCheckDefaults(program.commands.find((c) => c.name() === 'check')!);
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
    destroyContext();
  }
}

