import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { BatchCursor, type BatchPlan, planBatches } from '../src/data.js';
import { CELLS, type Params, type StepShape, modelOf } from '../src/model.js';
import { nodeContext } from '../src/node/gpu.js';
import { initParams } from '../src/init.js';
import { decodeUtf8 } from '../src/text.js';
import { Vocab } from '../src/vocab.js';
import type { Case } from './cases.js';
import { kerasGruLoss } from './kerasGru.js';
import { type Env, lossCaveat, makeSampler, makeTrainee, unavailable } from './engines.js';
import { BenchUsageError, type EngineName, type Options, ROOT, parseOptions } from './options.js';
import { type ProfileResult, profileCase } from './profile.js';
import { gitState, packageVersion, slug } from './meta.js';
import { type Meta, fmt, kib, markdown, printCell } from './report.js';
import { initTfjs, takeWebgpuErrors } from './tfjs.js';
import { type Cell, contentionMeter, median, now, timeHello, timeSampling, timeTraining } from './timing.js';

// `npm run bench`: this project's GPU engine (WGSL on WebGPU) and CPU engine (float64 JS)
// against TensorFlow.js on its webgpu backend (same Dawn adapter) and its wasm backend, in one
// process, one case after another, the four engines taking turns within each case.
//
//   cases.ts      what is trained and sampled (and --cell, --layers, --dropout)
//   options.ts    the command line
//   engines.ts    the four engines behind one interface (TF.js: tfjs.ts, tfjsModel.ts)
//   timing.ts     how a cell is timed
//   report.ts     the Markdown and console output
//   profile.ts    --profile

/** One Dawn context for this project's engines; TF.js's webgpu backend asks the same GPU
 * object (ctx.gpu, kept referenced by the context) for its adapter. */
async function environment(o: Options): Promise<Env> {
  const env: Env = { tf: { versions: {} }, recurrence: o.recurrence };
  if (o.engines.includes('gpu') || o.engines.includes('tfjs-webgpu')) {
    try {
      env.ctx = await nodeContext('char-rnn-bench');
    } catch (e) {
      env.ctxError = (e as Error).message;
    }
  }
  env.tf = await initTfjs(env.ctx?.gpu);
  return env;
}

function describeRun(o: Options, env: Env, text: { file: string; chars: number; V: number }): Meta {
  const args = process.argv.slice(2);
  const command = process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`
    : `node ${relative(process.cwd(), process.argv[1])}${args.length ? ' ' + args.join(' ') : ''}`;
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const adapter = env.ctx?.adapterName ?? `none (${env.ctxError ?? 'not requested'})`;
  return {
    date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`,
    command,
    commit: gitState(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    adapter,
    tfjsWebgpuAdapter: env.tf.webgpuAdapter ?? `none (${env.tf.webgpuError})`,
    tfjs: env.tf,
    versions: {
      'char-rnn-webgpu': packageVersion(join(ROOT, 'package.json')),
      webgpu: packageVersion(join(ROOT, 'node_modules/webgpu/package.json')),
      ...Object.fromEntries(Object.entries(env.tf.versions).map(([k, v]) => [k.replace('@tensorflow/', ''), v])),
    },
    text,
    settings: {
      reps: o.reps, minTime: o.minTime, maxCellTime: o.maxCellTime, tfjsSyncEvery: o.tfjsSyncEvery, engines: o.engines,
      cases: o.cases.map((c) => c.name), seed: o.seed, profile: o.profile, model: o.model, dropped: o.dropped, recurrence: o.recurrence,
    },
  };
}

/** A case's data, batch plan, step shape and starting weights (the same on every engine). */
interface CaseSetup {
  data: Uint32Array;
  V: number;
  plan?: BatchPlan;
  shape?: StepShape;
  params: Params;
  /** training, gru: the Keras GRU's first-step loss (what TF.js's must agree with), once computed */
  kerasGruLoss?: number;
}

function setUpCase(c: Case, data: Uint32Array, V: number, seed: number): CaseSetup {
  if (c.kind === 'hello') {
    const hello = Vocab.fromText('hello').encode('hello');
    const plan = planBatches(hello.length, 1, 0);
    const shape = { V: 4, H: c.H, B: plan.B, T: plan.T };
    return { data: hello, V: 4, plan, shape, params: initParams(shape, seed) };
  }
  if (c.kind === 'sample') return { data, V, params: initParams({ V, H: c.H, cell: c.cell, layers: c.layers }, seed) };
  const plan = planBatches(data.length, c.B, c.T);
  const shape = { V, H: c.H, B: plan.B, T: plan.T, cell: c.cell, layers: c.layers };
  return { data, V, plan, shape, params: initParams(shape, seed) };
}

/** The loss of Keras's GRU on the case's first batch (from h = 0, as the warm-up step). */
function kerasGruFirstLoss(s: CaseSetup): number {
  if (s.kerasGruLoss === undefined) {
    const cursor = new BatchCursor(s.data, s.plan!);
    cursor.next();
    s.kerasGruLoss = kerasGruLoss(s.params, modelOf(s.shape!), cursor.batch, s.plan!.B, s.plan!.T);
  }
  return s.kerasGruLoss;
}

/** Times one engine on one case; a failure is recorded in the cell, never thrown. */
async function runCell(c: Case, e: EngineName, s: CaseSetup, env: Env, o: Options): Promise<Cell> {
  const cell: Cell = { case: c.name, engine: e, status: 'ok', unit: c.kind === 'hello' ? 's' : 'chars/s', values: [], repsWanted: o.reps, seconds: 0 };
  if (c.kind === 'train') {
    cell.notComparable = lossCaveat(e, c);
    if (cell.notComparable && CELLS[c.cell].tfjs.layer === 'gru' && c.dropout === 0) cell.ownReference = { name: 'Keras GRU in float64', loss: kerasGruFirstLoss(s) };
  }
  const t0 = now(); // (the reference above is not part of the cell's time)
  const contention = contentionMeter();
  if (e === 'tfjs-webgpu') takeWebgpuErrors(); // only this cell's count
  try {
    const why = unavailable(e, env);
    if (why) throw new Error(why);
    if (c.kind === 'sample') {
      const sampler = await makeSampler(e, env, { V: s.V, H: c.H, cell: c.cell, layers: c.layers }, c.streams, s.params);
      try {
        await timeSampling(sampler, c.streams, s.data.subarray(0, 1), o, cell, t0);
      } finally {
        sampler.destroy();
      }
    } else {
      const dropout = c.kind === 'train' ? c.dropout : 0;
      const tr = await makeTrainee(e, env, s.shape!, c.optimizer, s.params, o.tfjsSyncEvery, dropout, o.seed);
      cell.schedule = tr.schedule;
      try {
        const cursor = new BatchCursor(s.data, s.plan!);
        if (c.kind === 'hello') await timeHello(tr, cursor, s.params, c.steps, o, cell, t0);
        else await timeTraining(tr, cursor, o, cell, t0);
      } finally {
        tr.destroy();
      }
    }
    // a GPU error raised asynchronously during the cell makes it fail, not just warn
    const f = e === 'gpu' ? env.ctx?.failure() : undefined;
    if (f) throw f;
    const tfErrors = e === 'tfjs-webgpu' ? takeWebgpuErrors() : [];
    if (tfErrors.length) throw new Error(`${tfErrors.length} WebGPU error(s) on TF.js's device, first: ${tfErrors[0]}`);
    if (!cell.values.length) throw new Error('no timed rep');
    cell.median = median(cell.values);
    cell.min = Math.min(...cell.values);
    cell.max = Math.max(...cell.values);
  } catch (err) {
    cell.status = 'failed';
    cell.error = (err as Error).message?.split('\n')[0] || String(err);
  }
  cell.seconds = now() - t0;
  cell.otherCpu = contention();
  return cell;
}

function printProfile(p: ProfileResult): void {
  if (p.error) return console.log(`  profile: ${p.error}`);
  const pr = p.profile!;
  console.log(`  profile (recurrence: ${pr.detail}${pr.reason ? ` (${pr.reason})` : ''}; gradients ${pr.smallStep ? 'in one dispatch' : 'a product per tensor'}):`);
  for (const k of pr.kernels) console.log(`    ${k.name.padEnd(24)} ${k.ms.toFixed(3)} ms/step`);
  if (p.memory) console.log(`    memory: ${kib(p.memory.bytes)} (${Object.entries(p.memory.tensors).map(([k, v]) => `${k} ${kib(v)}`).join(', ')})`);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = now();
  const text = decodeUtf8(readFileSync(o.text), o.text);
  const vocab = Vocab.fromText(text);
  const data = vocab.encode(text);
  const V = vocab.size;
  const env = await environment(o);
  const meta = describeRun(o, env, { file: relative(ROOT, o.text) || o.text, chars: data.length, V });

  console.log(`char-rnn-webgpu benchmark: ${meta.command}`);
  console.log(`  adapter (ours): ${meta.adapter}`);
  console.log(`  adapter (TF.js webgpu, tf.getBackend() = ${env.tf.webgpuBackend ?? '–'}): ${meta.tfjsWebgpuAdapter}`);
  console.log(`  TF.js wasm: ${env.tf.wasmError ?? `SIMD ${env.tf.wasmSimd}, threads ${env.tf.wasmThreads}, thread count ${env.tf.wasmThreadCount}`}`);
  console.log(`  ${meta.cpu} x ${meta.cores}, Node ${meta.node}; text ${meta.text.file}: ${data.length} chars, V=${V}`);
  console.log(`  ${o.reps} reps, >= ${o.minTime} s per rep, <= ${o.maxCellTime} s per cell; engines ${o.engines.join(', ')}`);
  if (o.dropped.length) console.log(`  not run (the same model and size as another case after --cell / --layers): ${o.dropped.join(', ')}`);
  console.log('');

  const stamp = `${meta.date.replace(' ', '-').replace(':', '')}`;
  const base = join(o.out, `${stamp}-${slug(meta.adapter)}${o.quick ? '-quick' : ''}`);
  const cells: Cell[] = [];
  const profiles: ProfileResult[] = [];
  const save = () => {
    meta.totalSeconds = now() - started;
    mkdirSync(o.out, { recursive: true });
    writeFileSync(`${base}.md`, markdown(meta, o.cases, o.engines, cells, profiles, V) + '\n');
    writeFileSync(`${base}.json`, JSON.stringify({ meta, cases: o.cases, cells, profiles }, null, 2) + '\n');
  };

  for (const c of o.cases) {
    console.log(`${c.name}: ${c.label}`);
    let s: CaseSetup;
    try {
      s = setUpCase(c, data, V, o.seed);
    } catch (e) {
      console.log(`  skipped: ${(e as Error).message}`);
      continue;
    }
    for (const e of o.engines) {
      const cell = await runCell(c, e, s, env, o);
      cells.push(cell);
      printCell(cells, cell, c, s.V);
    }
    if (o.profile && c.kind === 'train' && s.shape) {
      const p = await profileCase(env, c, s.shape, s.data, s.params);
      profiles.push(p);
      printProfile(p);
    }
    save();
  }

  save();
  console.log('\n' + markdown(meta, o.cases, o.engines, cells, profiles, V));
  console.log(`\nwrote ${relative(process.cwd(), base)}.md and .json (${fmt(meta.totalSeconds)} s in all)`);
  env.ctx?.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench: ${(e as Error).message ?? e}`);
    process.exit(e instanceof BenchUsageError ? 2 : 1);
  },
);
