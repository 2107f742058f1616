import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { DEFAULT_CONFIG, type TrainConfig, validateConfig } from '../config.js';
import { planBatches } from '../data.js';
import { OPTIMIZERS, type Engine } from '../engine.js';
import { createEngine, type DeviceKind } from '../engines.js';
import { CharRnnError, DivergedError, TextError, UsageError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { initParams } from '../init.js';
import { type Params, toFloat32 } from '../model.js';
import { sampleText } from '../sample.js';
import { Trainer } from '../train.js';
import { runCheck } from '../check.js';
import { Vocab } from '../vocab.js';
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

function configFrom(o: Record<string, unknown>, base: TrainConfig = DEFAULT_CONFIG): TrainConfig {
  const optimizer = (o.optimizer as TrainConfig['optimizer']) ?? base.optimizer;
  return validateConfig({
    hidden: (o.hidden as number) ?? base.hidden,
    steps: (o.steps as number) ?? base.steps,
    lr: (o.lr as number) ?? (optimizer === 'sgd' ? 0.01 : base.lr),
    optimizer,
    clip: (o.clip as number) ?? (optimizer === 'sgd' ? 0 : base.clip),
    seed: (o.seed as number) ?? base.seed,
    seqLen: (o.seqLen as number) ?? base.seqLen,
    batch: (o.batch as number) ?? base.batch,
    logEvery: (o.logEvery as number) ?? base.logEvery,
  });
}

function progress(total: number) {
  const tty = process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    {
      format: 'step {value}/{total} {bar} loss {loss} | {speed} chars/s | {duration_formatted} elapsed, ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let lastLine = -1;
  return {
    start: (step: number) => tty && bar.start(total, step, { loss: '-', speed: '-' }),
    update(step: number, loss: number, speed: number) {
      if (tty) bar.update(step, { loss: loss.toFixed(4), speed: Math.round(speed).toLocaleString('en-US') });
      else {
        const line = Math.floor((10 * step) / Math.max(total, 1));
        if (line !== lastLine || step === total) {
          lastLine = line;
          err(`step ${step}/${total}  loss ${loss.toFixed(4)}  ${Math.round(speed)} chars/s`);
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
  save?: string;
  sampleLength: number;
  temperature: number;
  greedy?: boolean;
  prime?: string;
  [k: string]: unknown;
}

async function train(o: TrainOpts): Promise<void> {
  const { text, source } = readText(o);
  let startParams: Params;
  let vocab: Vocab;
  let startStep = 0;
  const cfgIn = { ...o };
  let init: Checkpoint | undefined;
  if (o.init) {
    init = loadCheckpointPath(o.init);
    if (o.hidden !== undefined && o.hidden !== init.hidden)
      throw new UsageError(`--hidden ${o.hidden} does not match the hidden size ${init.hidden} of --init ${o.init}. Leave --hidden out.`);
    cfgIn.hidden = init.hidden;
  }
  const cfg = configFrom(cfgIn);
  if (init) {
    vocab = new Vocab(init.vocab);
    startParams = init.params;
    startStep = init.step;
  } else {
    vocab = Vocab.fromText(text);
  }
  const data = vocab.encode(text, source);
  const plan = planBatches(data.length, cfg.batch, cfg.seqLen, o.seqLen !== undefined);
  cfg.seqLen = plan.T;
  const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T };
  startParams ??= initParams(shape, cfg.seed);
  const ctx = await gpuContextFor(o.device);
  const engine = await createEngine(o.device, shape, { name: cfg.optimizer, lr: cfg.lr, clip: cfg.clip }, startParams, ctx);
  err(
    `char-rnn: ${data.length.toLocaleString('en-US')} characters from ${source}, vocabulary ${vocab.size}, hidden ${cfg.hidden}, ` +
      `batch ${plan.B} x ${plan.T} timesteps, ${cfg.optimizer} lr ${cfg.lr}${cfg.clip ? ` clip ${cfg.clip}` : ''}, ` +
      `device ${o.device}${ctx ? ` (${ctx.adapterName})` : ''}`,
  );
  const trainer = new Trainer(engine, data, cfg, startStep);
  const checkpoint = async (): Promise<Checkpoint> => ({
    params: toFloat32(await engine.getParams()),
    vocab: [...vocab.chars],
    hidden: cfg.hidden,
    step: trainer.step,
    metadata: { config: JSON.stringify(cfg) },
  });

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    err('\nInterrupted: finishing the current step' + (o.save ? ` and saving ${o.save}` : '') + ' (Ctrl-C again to quit now).');
  };
  process.on('SIGINT', onSigint);
  const bar = progress(startStep + cfg.steps);
  bar.start(startStep);
  const t0 = performance.now();
  try {
    await trainer.run(cfg.steps, {
      shouldStop: () => interrupted,
      onLog: (e) => bar.update(e.step, e.loss, e.charsPerSec),
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
  const seconds = (performance.now() - t0) / 1000;
  const steps = trainer.step - startStep;
  const last = trainer.history.at(-1);
  err(
    `trained ${steps} steps in ${seconds.toFixed(2)} s (${Math.round((steps * plan.B * plan.T) / Math.max(seconds, 1e-9)).toLocaleString('en-US')} chars/s)` +
      (last ? `, loss ${last.loss.toFixed(4)}` : ''),
  );
  if (o.save) {
    saveTo(o.save, await checkpoint());
    err(`saved ${o.save} (step ${trainer.step})`);
  }
  if (o.sampleLength > 0) {
    const prime = o.prime ?? [...text][0];
    const [s] = await sampleText(engine, vocab, {
      prime,
      length: o.sampleLength,
      greedy: o.greedy,
      temperature: o.temperature,
      seed: cfg.seed,
    });
    err(o.greedy ? `greedy sample from ${JSON.stringify(prime)}:` : `sample (temperature ${o.temperature}, seed ${cfg.seed}):`);
    out(s);
  }
  engine.destroy();
  if (interrupted) process.exitCode = 130;
}

async function sample(o: {
  checkpoint: string;
  prime?: string;
  length: number;
  temperature: number;
  greedy?: boolean;
  seed: number;
  num: number;
  device: DeviceKind;
}): Promise<void> {
  const c = loadCheckpointPath(o.checkpoint);
  const vocab = new Vocab(c.vocab);
  const prime = o.prime ?? (vocab.has('\n') ? '\n' : vocab.chars[0]);
  const ctx = await gpuContextFor(o.device);
  const engine = await createEngine(o.device, { V: vocab.size, H: c.hidden, B: 1, T: 1 }, { name: 'sgd', lr: 1, clip: 0 }, c.params, ctx);
  const texts = await sampleText(engine, vocab, { prime, length: o.length, greedy: o.greedy, temperature: o.temperature, seed: o.seed, num: o.num });
  out(texts.join(o.num > 1 ? '\n\n' : ''));
  engine.destroy();
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
  const report = await runCheck(ctx!, data, vocab.size, cfg, init?.params);
  if (o.json) out(JSON.stringify(report, null, 2));
  else {
    out(`check: ${source}, ${data.length} characters, V ${vocab.size}, H ${cfg.hidden}, B ${plan.B}, T ${plan.T}, ` +
      `${cfg.optimizer} lr ${cfg.lr}, ${cfg.steps} steps; GPU: ${ctx!.adapterName}`);
    const rows = report.tensors.map((c) => [
      c.name, String(c.n), c.maxAbs.toExponential(2), c.maxRel.toExponential(2), String(c.atol), String(c.rtol),
      `${(100 * c.used).toFixed(1)}%`, c.ok ? 'ok' : 'FAIL',
    ]);
    const head = ['tensor', 'elements', 'max|diff|', 'max rel', 'atol', 'rtol', 'used', ''];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) out(r.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
    out(report.ok ? `all ${report.tensors.length} tensors within tolerance` : `${report.tensors.filter((c) => !c.ok).length} tensors OUT OF TOLERANCE`);
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
      .option('--text <file>', 'training text, a UTF-8 file')
      .option('--string <s>', 'training text given inline, e.g. hello');

  hyper(program.command('train').description('train a model on a text and print a sample'))
    .addOption(deviceOption())
    .option('--init <ckpt>', 'start from the weights (and vocabulary) of a checkpoint')
    .option('--save <ckpt>', 'write the trained model here (safetensors, written atomically); with --steps 0, the initial weights')
    .option('--log-every <n>', `read the loss back every n steps (default ${DEFAULT_CONFIG.logEvery})`, num('--log-every', true))
    .option('--sample-length <n>', 'characters to sample after training, 0 = none', num('--sample-length', true), 200)
    .option('--prime <s>', 'text to start the sample from (default: the first character of the text)')
    .option('--temperature <t>', 'sampling temperature', num('--temperature'), 1)
    .option('--greedy', 'sample the most likely character each time')
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
    .option('--num <n>', 'independent samples, generated together', num('--num', true), 1)
    .addOption(deviceOption())
    .action((o) => sample(o));

  hyper(program.command('check').description('run the GPU and CPU engines side by side and compare every tensor'))
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

