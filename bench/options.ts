import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MAX_LAYERS } from '../src/config.js';
import { CELL_NAMES, type CellName } from '../src/model.js';
import { CELL_SWEEPS, type Recurrence } from '../src/gpu/schedule.js';
import { type Case, type CaseModel, QUICK_CASES, allCases, bigCases, withModel } from './cases.js';

// The command line of `npm run bench`: its help, its options, their checks.

export const ENGINES = ['gpu', 'cpu', 'tfjs-webgpu', 'tfjs-wasm'] as const;
export type EngineName = (typeof ENGINES)[number];

/** A command line the benchmark cannot run; main prints the message alone. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Comma-separated words in lines of at most `width` characters, each indented by `indent`. */
function wrap(words: string[], indent: number, width: number): string {
  const lines = [''];
  for (const w of words) {
    const line = lines[lines.length - 1];
    if (line && indent + line.length + w.length + 2 > width) lines.push(w);
    else lines[lines.length - 1] = line ? `${line}, ${w}` : w;
  }
  return lines.map((l) => ' '.repeat(indent) + l).join(',\n');
}

const HELP = `npm run bench [-- options]

Trains and samples the same character-level models with this project's GPU and CPU engines
and with TensorFlow.js (tf.layers simpleRNN / lstm / gru; webgpu backend on the same Dawn
adapter, wasm backend) and writes bench/results/<date>-<adapter>.md and .json.

  --quick               a small subset, 3 reps, --min-time 0.15:
${wrap(QUICK_CASES, 24, 92)}
  --recurrence NAME     the GPU engine's recurrent schedule: measure (default: the fastest of those
                        that fit, timed the first time; kept as the CLI keeps it), auto, or one
                        forced: ${CELL_SWEEPS.join(', ')}
  --big                 also the large cases (a real GPU's): ${bigCases().map((c) => c.name).join(', ')}
  --reps N              timed repetitions per cell (default 5)
  --min-time S          seconds one rep should last at least (default 0.3)
  --max-cell-time S     seconds one engine may spend on one case, warm-up included; fewer
                        reps where they would not fit, at least 1 (default 60)
  --engines LIST        comma list of ${ENGINES.join(', ')} (default all)
  --cases LIST          comma list of case names or prefixes (default all):
${wrap(allCases().map((c) => c.name), 24, 92)}
  --cell NAME           ${CELL_NAMES.join(' | ')}: the cell of every training and sampling case selected
                        (default: each case's own; hello keeps the tutorial's rnn)
  --layers L            stacked layers, 1 to ${MAX_LAYERS}, of every training and sampling case selected
  --dropout P           inverted dropout on every layer's output, in [0, 1), in every training
                        case selected (TF.js: a dropout layer after each recurrent layer, its own
                        masks, so its loss differs from ours)
                        e.g. --cell gru --layers 2 --cases h256-b32 runs case gru2-h256-b32
  --text FILE           training text (default corpus/lighthouse.txt)
  --profile             per-kernel GPU times and memory of this project's GPU engine per
                        training case (GpuEngine.create(..., { profile: true }))
  --tfjs-sync-every N   a TF.js training step waits for its device at least every N steps
                        (default 16; 1 = every step, as model.fit does). Unbounded queues
                        crash TF.js webgpu on Dawn; see bench/tfjs.ts
  --out DIR             where results go (default bench/results)
  --seed N              weight initialisation seed (default 42)
  -h, --help
`;

export interface Options {
  quick: boolean;
  /** the GPU engine's recurrent schedule (--recurrence) */
  recurrence: Recurrence;
  reps: number;
  minTime: number;
  maxCellTime: number;
  engines: EngineName[];
  cases: Case[];
  /** what --cell, --layers, --dropout set (absent: each case's own) */
  model: Partial<CaseModel>;
  /** selected cases that --cell / --layers made repeats of others, not run */
  dropped: string[];
  text: string;
  profile: boolean;
  tfjsSyncEvery: number;
  out: string;
  seed: number;
}

/** The repository root: the nearest folder above this script whose package.json is the project's. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'char-rnn-webgpu') return d;
    const up = dirname(d);
    if (up === d) throw new Error('bench: cannot find the char-rnn-webgpu repository root above ' + fileURLToPath(import.meta.url));
    d = up;
  }
}
export const ROOT = repoRoot();

function num(name: string, v: string, min: number, int = false, max = Infinity): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < min || x > max || (int && !Number.isInteger(x)))
    throw new BenchUsageError(`--${name} must be ${int ? 'an integer' : 'a number'} ${max < Infinity ? `from ${min} to ${max}` : `>= ${min}`}, got '${v}'`);
  return x;
}

/** --cell, --layers, --dropout, checked. */
function modelOptions(values: { cell?: string; layers?: string; dropout?: string }): Partial<CaseModel> {
  const m: Partial<CaseModel> = {};
  if (values.cell !== undefined) {
    if (!CELL_NAMES.includes(values.cell as CellName))
      throw new BenchUsageError(`--cell must be one of ${CELL_NAMES.join(', ')}, got '${values.cell}'`);
    m.cell = values.cell as CellName;
  }
  if (values.layers !== undefined) m.layers = num('layers', values.layers, 1, true, MAX_LAYERS);
  if (values.dropout !== undefined) {
    const p = Number(values.dropout);
    if (values.dropout.trim() === '' || !(p >= 0 && p < 1))
      throw new BenchUsageError(`--dropout must be a number in [0, 1), the probability of dropping a unit (0 = none), got '${values.dropout}'`);
    m.dropout = p;
  }
  return m;
}

function recurrenceOption(v: string): Recurrence {
  const all: Recurrence[] = ['measure', 'auto', ...CELL_SWEEPS];
  if (!all.includes(v as Recurrence)) throw new BenchUsageError(`--recurrence must be one of ${all.join(', ')}, got '${v}'`);
  return v as Recurrence;
}

export function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        big: { type: 'boolean', default: false },
        recurrence: { type: 'string', default: 'measure' },
        reps: { type: 'string' },
        'min-time': { type: 'string' },
        'max-cell-time': { type: 'string', default: '60' },
        engines: { type: 'string' },
        cases: { type: 'string' },
        cell: { type: 'string' },
        layers: { type: 'string' },
        dropout: { type: 'string' },
        text: { type: 'string' },
        profile: { type: 'boolean', default: false },
        'tfjs-sync-every': { type: 'string', default: '16' },
        out: { type: 'string' },
        seed: { type: 'string', default: '42' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new BenchUsageError(`${(e as Error).message.replace(/\.+$/, '')}. See npm run bench -- --help`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

  const engines = list(values.engines) ?? [...ENGINES];
  for (const e of engines) if (!ENGINES.includes(e as EngineName)) throw new BenchUsageError(`unknown engine '${e}'; engines: ${ENGINES.join(', ')}`);
  const all = [...allCases(), ...(values.big ? bigCases() : [])];
  const wanted = list(values.cases) ?? (values.quick ? QUICK_CASES : undefined);
  let selected = all;
  if (wanted) {
    for (const w of wanted)
      if (!all.some((c) => c.name.startsWith(w)))
        throw new BenchUsageError(`no case named '${w}'; cases: ${all.map((c) => c.name).join(', ')} (--cell, --layers, --dropout then change the model of the cases selected)`);
    selected = all.filter((c) => wanted.some((w) => c.name.startsWith(w)));
  }
  const model = modelOptions(values);
  const { cases, dropped } = withModel(selected, model);
  const cwd = process.env.INIT_CWD ?? process.cwd(); // npm run changes to the root; INIT_CWD is where it was typed
  return {
    quick: values.quick,
    recurrence: recurrenceOption(values.recurrence),
    reps: num('reps', values.reps ?? (values.quick ? '3' : '5'), 1, true),
    minTime: num('min-time', values['min-time'] ?? (values.quick ? '0.15' : '0.3'), 0),
    maxCellTime: num('max-cell-time', values['max-cell-time'], 0),
    engines: engines as EngineName[],
    cases,
    model,
    dropped,
    text: values.text ? resolve(cwd, values.text) : join(ROOT, 'corpus/lighthouse.txt'),
    profile: values.profile,
    tfjsSyncEvery: num('tfjs-sync-every', values['tfjs-sync-every'], 1, true),
    out: values.out ? resolve(cwd, values.out) : join(ROOT, 'bench/results'),
    seed: num('seed', values.seed, 0, true),
  };
}
