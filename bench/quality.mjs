// `npm run quality`: does training hold on every seed? N seeds of each cell, trained with the
// CLI (dist/cli.js, the path users take) on a fixed text and settings, their validation loss at
// every interval; beside them PyTorch's own modules with PyTorch's own initialisation, on the
// same data order (scripts/train_pytorch.py --torch-init, from a step-0 checkpoint of ours), read
// from a committed file (bench/results/quality-pytorch-<settings>.json, written by
// `npm run quality -- --engine pytorch`, which needs python3-torch). Reports per cell the final
// validation loss of each seed, the median and the worst, and how far above PyTorch's median
// they end; writes bench/results/quality-<engine>-<settings>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `npm run quality [-- options]
  --engine ours|pytorch   who trains (default ours: the CLI; pytorch: torch.nn modules, needs python3-torch)
  --cells LIST            default lstm,gru,rnn
  --seeds LIST            default 1,2,3,4,5
  --size small|big        small (default): this machine's, 1 layer of 64 units; big: 2 layers of 512 (a GPU's)
  --device gpu|cpu        our engine (default gpu)
  --args="..."            more options for char-rnn train, after an = (e.g. --args="--init-scale uniform")
  --tag NAME              the result's name (default: the size)
  --out DIR               default bench/results`;

const { values: o } = parseArgs({
  options: {
    engine: { type: 'string', default: 'ours' }, cells: { type: 'string', default: 'lstm,gru,rnn' }, seeds: { type: 'string', default: '1,2,3,4,5' },
    size: { type: 'string', default: 'small' }, device: { type: 'string', default: 'gpu' }, args: { type: 'string', default: '' },
    tag: { type: 'string' }, out: { type: 'string', default: join(ROOT, 'bench/results') }, help: { type: 'boolean', short: 'h' },
  },
});
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}

/** The fixed settings: Shakespeare (the page's copy), Adam, a validation every `evalEvery`. */
const SIZES = {
  small: { chars: 300_000, layers: 1, hidden: 64, batch: 16, seqLen: 64, lr: 0.002, steps: 600, evalEvery: 150 },
  big: { chars: 1_115_394, layers: 2, hidden: 512, batch: 32, seqLen: 64, lr: 0.002, steps: 1000, evalEvery: 250 },
};
const size = SIZES[o.size];
if (!size) throw new Error(`--size must be small or big, got '${o.size}'\n${USAGE}`);
if (!['ours', 'pytorch'].includes(o.engine)) throw new Error(`--engine must be ours or pytorch, got '${o.engine}'\n${USAGE}`);
const cells = o.cells.split(',');
const seeds = o.seeds.split(',').map(Number);
const tag = o.tag ?? o.size;
const cli = join(ROOT, 'dist/cli.js');
if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build:cli first (npm run quality does).');

const work = mkdtempSync(join(os.tmpdir(), 'char-rnn-quality-'));
const text = join(work, 'shakespeare.txt');
writeFileSync(text, [...readFileSync(join(ROOT, 'demo/public/texts/tinyshakespeare.txt'), 'utf8')].slice(0, size.chars).join(''));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r;
}

/** Validation loss by step, from a --log-file of either trainer. */
function vals(log) {
  const out = {};
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const e = JSON.parse(line);
    if (e.val_loss !== null) out[e.step] = e.val_loss;
  }
  return out;
}

const settings = (cell, seed) => [
  '--text', text, '--cell', cell, '--layers', String(size.layers), '--hidden', String(size.hidden), '--batch', String(size.batch),
  '--seq-len', String(size.seqLen), '--optimizer', 'adam', '--lr', String(size.lr), '--val-fraction', '0.1',
  '--eval-every', String(size.evalEvery), '--seed', String(seed), '--device', o.device, ...o.args.split(' ').filter(Boolean),
];

const runs = {};
for (const cell of cells) {
  runs[cell] = {};
  for (const seed of seeds) {
    const log = join(work, `${cell}-${seed}.jsonl`);
    const t0 = performance.now();
    if (o.engine === 'ours') run('node', [cli, 'train', ...settings(cell, seed), '--steps', String(size.steps), '--log-file', log, '--sample-length', '0']);
    else {
      const start = join(work, `${cell}-${seed}-0.safetensors`);
      run('node', [cli, 'train', ...settings(cell, seed), '--steps', '0', '--save', start, '--sample-length', '0']);
      run('/usr/bin/python3', [join(ROOT, 'scripts/train_pytorch.py'), '--resume', start, '--torch-init', String(seed), '--steps', String(size.steps),
        '--eval-every', String(size.evalEvery), '--save', join(work, `${cell}-${seed}.safetensors`), '--log-file', log]);
    }
    runs[cell][seed] = vals(log);
    const v = Object.entries(runs[cell][seed]).map(([s, x]) => `${s}: ${x.toFixed(3)}`).join('  ');
    console.log(`${o.engine} ${cell} seed ${seed} (${((performance.now() - t0) / 1000).toFixed(0)} s)  ${v}`);
  }
}
rmSync(work, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const final = (r) => r[size.steps];
const summary = {};
const reference = join(o.out, `quality-pytorch-${tag}.json`);
const torch = o.engine === 'ours' && existsSync(reference) ? JSON.parse(readFileSync(reference, 'utf8')) : undefined;
console.log(`\nfinal validation loss (nats/char) after ${size.steps} steps${torch ? `; PyTorch from ${reference}` : ''}`);
for (const cell of cells) {
  const f = seeds.map((s) => final(runs[cell][s]));
  const row = { median: median(f), worst: Math.max(...f) };
  const ref = torch?.runs[cell] ? Object.values(torch.runs[cell]).map(final) : undefined;
  if (ref) Object.assign(row, { pytorchMedian: median(ref), pytorchWorst: Math.max(...ref), worstAbovePytorch: row.worst / median(ref) - 1, medianAbovePytorch: row.median / median(ref) - 1 });
  summary[cell] = row;
  console.log(`${cell.padEnd(5)} seeds ${f.map((x) => x.toFixed(3)).join(' ')}  median ${row.median.toFixed(3)}  worst ${row.worst.toFixed(3)}` +
    (ref ? `  | PyTorch median ${row.pytorchMedian.toFixed(3)} worst ${row.pytorchWorst.toFixed(3)}; ours: median ${(100 * row.medianAbovePytorch).toFixed(1)}%, worst ${(100 * row.worstAbovePytorch).toFixed(1)}% above its median` : ''));
}
mkdirSync(o.out, { recursive: true });
const file = join(o.out, `quality-${o.engine}-${tag}.json`);
writeFileSync(file, JSON.stringify({ engine: o.engine, device: o.engine === 'ours' ? o.device : 'cpu', args: o.args, size, seeds, runs, summary, date: new Date().toISOString() }, null, 1) + '\n');
console.log(`wrote ${file}`);
