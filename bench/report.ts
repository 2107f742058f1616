import { CELLS, type CellName } from '../src/model.js';
import type { Case, CaseModel, HelloCase, SampleCase, TrainCase } from './cases.js';
import type { EngineName } from './options.js';
import type { ProfileResult } from './profile.js';
import type { TfjsInfo } from './tfjs.js';
import { type Cell, median } from './timing.js';

// The results as Markdown (bench/results/*.md) and as one console line per cell.

export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const oneLine = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 160);

function cellText(c: Cell | undefined): string {
  if (!c) return '–';
  if (c.status === 'failed') return `failed: ${oneLine(c.error ?? 'unknown')}`;
  const few = c.values.length < c.repsWanted ? `; ${c.values.length} rep${c.values.length > 1 ? 's' : ''}` : '';
  return `${fmt(c.median)} (${fmt(c.min)}–${fmt(c.max)}${few})${c.notComparable ? ' †' : ''}`;
}

function ratio(a: Cell | undefined, b: Cell | undefined, higherIsBetter = true): string {
  if (!a?.median || !b?.median || a.status !== 'ok' || b.status !== 'ok') return '–';
  const r = higherIsBetter ? a.median / b.median : b.median / a.median;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** Which loss of a cell: training's warm-up step, or hello's last. */
type LossKey = 'firstLoss' | 'lastLoss';

const relDiff = (x: number, ref: number) => (Number.isFinite(x) ? Math.abs(x - ref) / Math.max(Math.abs(ref), 1e-6) : Infinity);

/** A difference from this project's engines over 1% marks a wrong result, not rounding (an
 * engine fed garbage shows ~0 or ln V); so does any loss that is not finite. */
const LOSS_TOLERANCE = 0.01;
/** The first step's loss against a float64 reference of the engine's own model (TF.js's GRU):
 * float32 rounding over one step stays near 1e-7; a mis-mapped weight (r and z not reordered:
 * 2e-4 at H=64) would not reach LOSS_TOLERANCE at initialisation, so this bound is tighter. */
const REFERENCE_TOLERANCE = 1e-5;

/** The cell's loss against this project's engines': the CPU engine's (float64), or the GPU
 * engine's without it; undefined where there is none. */
function diffFromOurs(cells: Cell[], c: Cell, k: LossKey): number | undefined {
  const ref = ['cpu', 'gpu'].map((e) => cells.find((x) => x.case === c.case && x.engine === e)).find((x) => x && x !== c && x[k] !== undefined);
  return c[k] === undefined || !ref ? undefined : relDiff(c[k]!, ref[k]!);
}

/** The cell's loss against the float64 loss of its own model: ours where it runs ours; else
 * its ownReference (first step only); undefined where there is none. */
function diffFromOwnModel(cells: Cell[], c: Cell, k: LossKey): number | undefined {
  if (!c.notComparable) return diffFromOurs(cells, c, k);
  return k === 'firstLoss' && c.ownReference && c.firstLoss !== undefined ? relDiff(c.firstLoss, c.ownReference.loss) : undefined;
}

const percent = (rel: number) => `${rel < 0.01 ? (100 * rel).toPrecision(2) : (100 * rel).toFixed(0)}%`;

/** A loss, flagged ⚠ where it differs from its own model's reference by more than the
 * tolerance; where the engine runs another model (or other dropout masks), marked † with the
 * reason, its difference from ours and from its own model's reference. */
export function lossText(cells: Cell[], c: Cell | undefined, k: LossKey): string {
  const v = c?.[k];
  if (v === undefined) return '–';
  const own = diffFromOwnModel(cells, c!, k);
  const bad = own !== undefined && own > (c!.notComparable ? REFERENCE_TOLERANCE : LOSS_TOLERANCE);
  if (!c!.notComparable) return v.toFixed(5) + (bad ? ` ⚠ ${percent(own!)} off` : '');
  const ours = diffFromOurs(cells, c!, k);
  const ref = own !== undefined ? `; ${own.toExponential(1)} off ${c!.ownReference!.name}` : '';
  return `${v.toFixed(5)}${bad ? ' ⚠' : ''} † (${c!.notComparable.short}${ours !== undefined ? `: ${percent(ours)} off ours` : ''}${ref})`;
}

/** The largest relative difference of an engine's loss from the float64 loss of its own model
 * ('–' where none is compared). */
function agreement(cells: Cell[], cs: (Cell | undefined)[], k: LossKey): string {
  const ds = cs.filter((x): x is Cell => !!x).map((x) => diffFromOwnModel(cells, x, k)).filter((d): d is number => d !== undefined);
  return ds.length ? Math.max(...ds).toExponential(1) : '–';
}

/** Model FLOPs per character, forward + backward: W_hh (G gate blocks) of every layer, W_xh of
 * the layers above the first (layer 0's is a gather), W_hy. */
const flopPerChar = (H: number, V: number, c?: { cell?: CellName; layers?: number }) => {
  const G = CELLS[c?.cell ?? 'rnn'].gates;
  const L = c?.layers ?? 1;
  return 6 * (G * H * H * (2 * L - 1) + V * H);
};

export interface Meta {
  date: string;
  command: string;
  /** commit of the project's sources (and whether src/, shaders/ had uncommitted changes) */
  commit: string;
  node: string;
  cpu: string;
  cores: number;
  os: string;
  adapter: string;
  tfjsWebgpuAdapter: string;
  tfjs: TfjsInfo;
  versions: Record<string, string>;
  text: { file: string; chars: number; V: number };
  settings: {
    reps: number; minTime: number; maxCellTime: number; tfjsSyncEvery: number; engines: EngineName[]; cases: string[]; seed: number; profile: boolean;
    /** --cell, --layers, --dropout where given */
    model: Partial<CaseModel>;
    /** selected cases not run: the same model and size as another after --cell / --layers */
    dropped: string[];
    /** the GPU engine's recurrent schedule (--recurrence) */
    recurrence: string;
  };
  totalSeconds?: number;
}

type Get = (c: string, e: EngineName) => Cell | undefined;
const tableHead = (head: string[]) => [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
/** The TF.js engines the GPU engine's speed is divided by, of those that ran. */
const ratioEngines = (engines: EngineName[]) => (engines.includes('gpu') ? (['tfjs-webgpu', 'tfjs-wasm'] as const).filter((e) => engines.includes(e)) : []);

function header(meta: Meta, engines: EngineName[]): string[] {
  const tf = meta.tfjs;
  const L = [`# char-rnn-webgpu benchmark, ${meta.date}`, ''];
  L.push(`- Command: \`${meta.command}\`, sources at ${meta.commit}`);
  L.push(`- Adapter (this project's GPU engine): ${meta.adapter}`);
  if (engines.includes('tfjs-webgpu'))
    L.push(`- Adapter (TF.js webgpu backend, \`tf.getBackend()\` = ${tf.webgpuBackend ?? '–'}): ${meta.tfjsWebgpuAdapter}`);
  if (engines.includes('tfjs-wasm'))
    L.push(
      `- TF.js wasm backend: ${tf.wasmError ? 'failed: ' + tf.wasmError : `SIMD ${tf.wasmSimd ? 'on' : 'off'}, multithreading ${tf.wasmThreads ? 'on' : 'off'}, ${tf.wasmThreadCount} thread${tf.wasmThreadCount === 1 ? '' : 's'}`}`,
    );
  L.push(`- Node ${meta.node}, ${meta.os}; CPU: ${meta.cpu}, ${meta.cores} cores`);
  L.push(`- Packages: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push(`- Text: ${meta.text.file} (${meta.text.chars.toLocaleString('en-US')} characters, V=${meta.text.V})`);
  const s = meta.settings;
  L.push(`- Settings: ${s.reps} reps per cell, a rep lasts at least ${s.minTime} s, at most ${s.maxCellTime} s per engine and case (warm-up included; fewer reps where they did not fit, shown as "n reps"), seed ${s.seed}`);
  const model = Object.entries(s.model).map(([k, v]) => `--${k} ${v}`);
  if (model.length) L.push(`- Model of the training and sampling cases set by ${model.join(' ')}${s.dropped.length ? `; not run, repeats: ${s.dropped.join(', ')}` : ''}`);
  L.push(`- The GPU engine's recurrent schedule: \`--recurrence ${s.recurrence}\``);
  L.push(`- TF.js training steps wait for the device at least every ${s.tfjsSyncEvery} steps (\`--tfjs-sync-every\`), besides the last step of a rep`);
  if (meta.totalSeconds !== undefined) L.push(`- Total run time: ${fmt(meta.totalSeconds)} s`);
  L.push('');
  L.push('Cells: median (min–max over reps). Each engine warms up first (1 training step, its loss read back / a 4-character sample; untimed).');
  L.push('A training rep is k consecutive steps, the loss read back only after the last; k (and a sampling rep\'s length n) grows from 1');
  L.push('(16) until a rep lasts --min-time. chars/s = k·B·T / rep time (sampling: S·n / rep time). µs/timestep = 1e6·B / chars/s: one timestep of all B');
  L.push('streams, forward, backward and the update shared out. GFLOP/s = chars/s · 6(G·H²·(2L-1) + VH) / 1e9, G gate blocks, L layers');
  L.push('(model FLOPs of forward + backward, V from the text). Ratios: this project\'s GPU engine over TF.js (> 1: ours faster).');
  L.push('');
  return L;
}

/** Why some engines' losses are not compared (cells marked †), once per reason. */
function caveats(cells: Cell[]): string[] {
  const odd = cells.filter((c) => c.notComparable);
  if (!odd.length) return [];
  const L = [
    `† Not this project's model, or not its dropout masks: ${odd.map((c) => `${c.case}/${c.engine}`).join(', ')}. ` +
      'The loss is not expected to agree with ours (its difference is shown, not flagged); where a float64 reference of the ' +
      `engine's own model exists, it must agree with that (⚠ over ${REFERENCE_TOLERANCE.toExponential(0)} relative).`,
  ];
  for (const why of new Set(odd.map((c) => c.notComparable!.why))) L.push('', why);
  return [...L, ''];
}

function trainingSection(train: TrainCase[], engines: EngineName[], cells: Cell[], get: Get, V: number): string[] {
  const L = ['## Training, chars/s', ''];
  const ratios = ratioEngines(engines);
  L.push(...tableHead(['case', ...engines, ...engines.map((e) => `µs/timestep ${e}`), ...engines.map((e) => `GFLOP/s ${e}`), ...ratios.map((e) => `gpu/${e}`)]));
  for (const c of train) {
    const row = [c.label];
    for (const e of engines) row.push(cellText(get(c.name, e)));
    for (const e of engines) {
      const x = get(c.name, e);
      row.push(x?.status === 'ok' ? fmt(usPerTimestep(x.median!, c.B)) : '–');
    }
    for (const e of engines) {
      const x = get(c.name, e);
      row.push(x?.status === 'ok' ? fmt((x.median! * flopPerChar(c.H, V, c)) / 1e9) : '–');
    }
    for (const e of ratios) row.push(ratio(get(c.name, 'gpu'), get(c.name, e)));
    L.push(`| ${row.join(' | ')} |`);
  }
  L.push('');
  L.push(
    'Steps per rep (k) and first-step loss (warm-up step: same weights, same batch; should agree across engines). Agreement: the largest',
    'relative difference of an engine\'s loss from the float64 loss of its own model (ours: the cpu engine\'s; TF.js\'s GRU: bench/kerasGru.ts):',
    '',
  );
  L.push(...tableHead(['case', ...engines.map((e) => `k ${e}`), ...engines.map((e) => `loss ${e}`), 'agreement']));
  for (const c of train) {
    const cs = engines.map((e) => get(c.name, e));
    L.push(`| ${c.name} | ${cs.map((x) => (x?.perRep ? String(x.perRep) : '–')).join(' | ')} | ${cs.map((x) => lossText(cells, x, 'firstLoss')).join(' | ')} | ${agreement(cells, cs, 'firstLoss')} |`);
  }
  const scheduled = train.map((c) => [c.name, get(c.name, 'gpu')?.schedule] as const).filter(([, x]) => x);
  if (scheduled.length) L.push('', "This project's GPU engine ran the recurrence as follows:", '', ...scheduled.map(([n, x]) => `- ${n}: ${x}`));
  L.push('', ...caveats(cells.filter((x) => train.some((c) => c.name === x.case))));
  return L;
}

function helloSection(c: HelloCase, engines: EngineName[], cells: Cell[], get: Get): string[] {
  const L = [`## The tutorial's "hello": whole run, seconds (lower is better)`, '', c.label + '; engine creation excluded, loss read once at the end.', ''];
  L.push(`| | ${engines.join(' | ')} |`, `|---|${engines.map(() => '---:').join('|')}|`);
  L.push(`| seconds | ${engines.map((e) => cellText(get(c.name, e))).join(' | ')} |`);
  L.push(`| steps/s | ${engines.map((e) => { const x = get(c.name, e); return x?.status === 'ok' ? fmt(c.steps / x.median!) : '–'; }).join(' | ')} |`);
  L.push(`| final loss | ${engines.map((e) => lossText(cells, get(c.name, e), 'lastLoss')).join(' | ')} |`);
  if (engines.includes('gpu'))
    L.push(`| gpu speed-up | ${engines.map((e) => (e === 'gpu' ? '1×' : ratio(get(c.name, 'gpu'), get(c.name, e), false))).join(' | ')} |`);
  return [...L, ''];
}

function samplingSection(sample: SampleCase[], engines: EngineName[], get: Get): string[] {
  const L = ['## Sampling, chars/s (temperature 1)', ''];
  const ratios = ratioEngines(engines);
  L.push(...tableHead(['case', ...engines, ...ratios.map((e) => `gpu/${e}`), `chars per stream per rep (${engines.join(' / ')})`]));
  for (const c of sample) {
    const row = [c.label, ...engines.map((e) => cellText(get(c.name, e))), ...ratios.map((e) => ratio(get(c.name, 'gpu'), get(c.name, e)))];
    row.push(engines.map((e) => String(get(c.name, e)?.perRep ?? '–')).join(' / '));
    L.push(`| ${row.join(' | ')} |`);
  }
  return [...L, ''];
}

/** TF.js's live tensors and the other load on the machine. */
function checksSection(meta: Meta, cells: Cell[]): string[] {
  const L: string[] = [];
  const tfCells = cells.filter((c) => c.tensors?.length);
  if (tfCells.length) {
    const growing = tfCells.filter((c) => c.tensors!.some((n) => n !== c.tensors![0]));
    L.push('## TF.js memory', '');
    L.push(
      growing.length
        ? `Live tensors grew between reps in: ${growing.map((c) => `${c.case}/${c.engine} (${c.tensors!.join(' → ')})`).join('; ')}.`
        : `\`tf.memory().numTensors\` stayed flat from rep to rep in all ${tfCells.length} TF.js cells.`,
      '',
    );
  }
  const shares = cells.map((c) => c.otherCpu).filter((x): x is number => x !== undefined);
  if (shares.length) {
    const busy = cells.filter((c) => (c.otherCpu ?? 0) > 0.1);
    L.push('## Other load on the machine', '');
    L.push(
      `CPU time other processes took during the cells, as a share of all ${meta.cores} cores: median ${(100 * median(shares)).toFixed(0)}%, ` +
        `max ${(100 * Math.max(...shares)).toFixed(0)}%. ` +
        (busy.length
          ? `Over 10% in ${busy.length} of ${cells.length} cells (${busy.map((c) => `${c.case}/${c.engine} ${(100 * c.otherCpu!).toFixed(0)}%`).join(', ')}): those numbers are disturbed.`
          : 'Under 10% in every cell.'),
      '',
    );
  }
  return L;
}

function profileSection(profiles: ProfileResult[]): string[] {
  const L = ['## Profile of this project\'s GPU engine (--profile)', ''];
  L.push('A separate engine created with `{ profile: true }` after the timed cells; GPU ms per step from timestamp queries.', '');
  for (const p of profiles) {
    L.push(`### ${p.case}`, '');
    if (p.error) {
      L.push(`Not profiled: ${p.error}`, '');
      continue;
    }
    const pr = p.profile!;
    L.push(`Recurrence: ${pr.detail}${pr.reason ? ` (${pr.reason})` : ''}; gradients ${pr.smallStep ? 'in one dispatch' : 'a product per tensor'}; ${pr.steps} profiled steps`, '');
    const total = pr.kernels.reduce((a, k) => a + k.ms, 0);
    L.push('| kernel | ms/step | share |', '|---|---:|---:|');
    for (const k of pr.kernels) L.push(`| ${k.name} | ${k.ms.toFixed(3)} | ${total > 0 ? ((100 * k.ms) / total).toFixed(1) : '–'}% |`);
    L.push(`| total | ${total.toFixed(3)} | |`, '');
    if (p.memory) L.push(`Memory: ${kib(p.memory.bytes)} in GPU buffers (${Object.entries(p.memory.tensors).map(([k, v]) => `${k} ${kib(v)}`).join(', ')})`, '');
  }
  return L;
}

export function markdown(meta: Meta, cases: Case[], engines: EngineName[], cells: Cell[], profiles: ProfileResult[], V: number): string {
  const get: Get = (c, e) => cells.find((x) => x.case === c && x.engine === e);
  const L = header(meta, engines);
  const train = cases.filter((c): c is TrainCase => c.kind === 'train');
  if (train.length) L.push(...trainingSection(train, engines, cells, get, V));
  for (const c of cases) if (c.kind === 'hello') L.push(...helloSection(c, engines, cells, get));
  const sample = cases.filter((c): c is SampleCase => c.kind === 'sample');
  if (sample.length) L.push(...samplingSection(sample, engines, get));
  L.push(...checksSection(meta, cells));
  if (profiles.length) L.push(...profileSection(profiles));
  return L.join('\n');
}

/** Microseconds per timestep of all B streams (forward, backward and the update shared out),
 * from characters per second: the unit cuDNN's and our recurrences compare in. */
export function usPerTimestep(charsPerSecond: number, B: number): number {
  return (1e6 * B) / charsPerSecond;
}

/** One line per cell as it finishes. */
export function printCell(cells: Cell[], c: Cell, k: Case, V: number): void {
  const what = c.status === 'failed' ? `failed: ${c.error}` : `${cellText(c)} ${c.unit}`;
  const per = c.perRep ? (k.kind === 'hello' ? `, ${c.perRep} steps` : k.kind === 'sample' ? `, ${c.perRep} chars/stream/rep` : `, ${c.perRep} steps/rep`) : '';
  const gf = c.status === 'ok' && k.kind === 'train' ? `, ${fmt(usPerTimestep(c.median!, k.B))} µs/timestep, ${fmt((c.median! * flopPerChar(k.H, V, k)) / 1e9)} GFLOP/s` : '';
  const loss = c.firstLoss !== undefined ? `, step-1 loss ${lossText(cells, c, 'firstLoss')}` : c.lastLoss !== undefined && k.kind === 'hello' ? `, final loss ${lossText(cells, c, 'lastLoss')}` : '';
  const mem = c.tensors?.length ? `, tensors ${c.tensors[0]}${c.tensors.some((n) => n !== c.tensors![0]) ? ' → ' + c.tensors[c.tensors.length - 1] + ' (GROWING)' : ' (flat)'}` : '';
  const other = (c.otherCpu ?? 0) > 0.1 ? `, other processes took ${(100 * c.otherCpu!).toFixed(0)}% of the CPU` : '';
  console.log(`  ${k.name.padEnd(15)} ${c.engine.padEnd(12)} ${what}${c.status === 'ok' ? `${per}${gf}${loss}${mem}` : ''} [${c.seconds.toFixed(1)} s${other}]`);
}
