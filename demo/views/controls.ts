import { CELLS, CELL_NAMES, type DeviceKind, type TrainConfig } from '../../src/index.js';
import type { BundledText, SampleSettings } from '../texts.js';
import { byId } from './dom.js';

// The forms: reading their values and writing settings into them. Checking the values is the
// engine's job (validateConfig, sampleText), which says what is wrong and what to do.

const num = (id: string) => byId<HTMLInputElement>(id).valueAsNumber;
const setNum = (id: string, v: number) => {
  byId<HTMLInputElement>(id).value = String(v);
};

export interface Controls {
  config: TrainConfig;
  device: DeviceKind;
}

/** The form's settings over `base` (which supplies every setting the form does not show). */
export function readConfig(base: TrainConfig): Controls {
  return {
    config: {
      ...base,
      cell: byId<HTMLSelectElement>('cfg-cell').value as TrainConfig['cell'],
      layers: num('cfg-layers'),
      dropout: num('cfg-dropout'),
      hidden: num('cfg-hidden'),
      seqLen: num('cfg-seqlen'),
      batch: num('cfg-batch'),
      optimizer: byId<HTMLSelectElement>('cfg-optimizer').value as TrainConfig['optimizer'],
      lr: num('cfg-lr'),
      clip: num('cfg-clip'),
      seed: num('cfg-seed'),
      valFraction: num('cfg-val'),
      // (an empty "Steps per Train" trains until Pause: readSteps)
      steps: Number.isFinite(num('cfg-steps')) ? num('cfg-steps') : base.steps,
    },
    device: byId<HTMLSelectElement>('cfg-device').value as DeviceKind,
  };
}

/** The cell choices, one per record of src/cells.ts, titled as the record says. */
function cellChoices(): HTMLSelectElement {
  const sel = byId<HTMLSelectElement>('cfg-cell');
  if (sel.options.length !== CELL_NAMES.length) sel.replaceChildren(...CELL_NAMES.map((c) => new Option(CELLS[c].title, c)));
  return sel;
}

export function writeConfig(c: TrainConfig): void {
  cellChoices().value = c.cell;
  setNum('cfg-layers', c.layers);
  setNum('cfg-dropout', c.dropout);
  setNum('cfg-hidden', c.hidden);
  setNum('cfg-seqlen', c.seqLen);
  setNum('cfg-batch', c.batch);
  const opt = byId<HTMLSelectElement>('cfg-optimizer');
  if (![...opt.options].some((o) => o.value === c.optimizer)) opt.add(new Option(c.optimizer, c.optimizer));
  opt.value = c.optimizer;
  setNum('cfg-lr', c.lr);
  setNum('cfg-clip', c.clip);
  setNum('cfg-seed', c.seed);
  setNum('cfg-val', c.valFraction);
  setNum('cfg-steps', c.steps);
}

/** The form's settings: the field that shows each, and how the page names it. */
const FIELDS = [
  ['cell', 'cfg-cell', 'cell'],
  ['layers', 'cfg-layers', 'layers'],
  ['hidden', 'cfg-hidden', 'hidden units'],
  ['dropout', 'cfg-dropout', 'dropout'],
  ['seqLen', 'cfg-seqlen', 'sequence length'],
  ['batch', 'cfg-batch', 'batch'],
  ['optimizer', 'cfg-optimizer', 'optimizer'],
  ['lr', 'cfg-lr', 'learning rate'],
  ['clip', 'cfg-clip', 'gradient clip'],
  ['seed', 'cfg-seed', 'seed'],
  ['valFraction', 'cfg-val', 'validation part'],
  ['steps', 'cfg-steps', 'steps per Train'],
] as const satisfies readonly (readonly [keyof TrainConfig, string, string])[];

export type Setting = (typeof FIELDS)[number][0];

/** A setting's value as the form shows it. */
const shown = (key: Setting, v: unknown) => (key === 'cell' ? CELLS[v as TrainConfig['cell']].title : String(v));

/** The settings of `keys` that differ between `from` and `to`: the field's id and a phrase
 * ("sequence length 100 → 25"). */
export function differences(from: TrainConfig, to: TrainConfig, keys: readonly Setting[] = FIELDS.map((f) => f[0])): { id: string; text: string }[] {
  return FIELDS.filter(([k]) => keys.includes(k) && from[k] !== to[k]).map(([k, id, name]) => ({ id, text: `${name} ${shown(k, from[k])} → ${shown(k, to[k])}` }));
}

/** Marks the fields whose value differs from the model's (`ids`), and unmarks the others. */
export function markDiffering(ids: readonly string[]): void {
  for (const [, id] of FIELDS) {
    const field = byId(id).closest('.field') as HTMLElement;
    if (ids.includes(id)) field.dataset.differs = 'true';
    else delete field.dataset.differs;
  }
}

/** How many steps one Train press runs: Infinity (until Pause) when the field is empty. */
export function readSteps(): number {
  const field = byId<HTMLInputElement>('cfg-steps');
  return field.value.trim() === '' ? Infinity : field.valueAsNumber;
}

/** `gpu`: whether WebGPU is there, or undefined while the page is still looking. */
export function writeDevice(device: DeviceKind, gpu: boolean | undefined): void {
  const sel = byId<HTMLSelectElement>('cfg-device');
  sel.options[0].disabled = !gpu;
  sel.options[0].text = gpu ? 'GPU (WebGPU)' : gpu === undefined ? 'GPU (looking for one…)' : 'GPU (no WebGPU here)';
  sel.value = device;
}

/** Calls `onChange` when any model or training setting is edited. */
export function onConfigChange(onChange: (field: string) => void): void {
  byId<HTMLFormElement>('config-form').addEventListener('change', (e) => onChange((e.target as HTMLInputElement).name));
  byId<HTMLFormElement>('config-form').addEventListener('submit', (e) => e.preventDefault());
}

export function readSample(): SampleSettings {
  return {
    prime: byId<HTMLInputElement>('sample-prime').value,
    length: num('sample-length'),
    temperature: num('sample-temperature'),
    greedy: byId<HTMLInputElement>('sample-greedy').checked,
    seed: num('sample-seed'),
  };
}

export function writeSample(s: SampleSettings): void {
  byId<HTMLInputElement>('sample-prime').value = s.prime;
  setNum('sample-length', s.length);
  setNum('sample-temperature', s.temperature);
  setNum('sample-seed', s.seed);
  byId<HTMLInputElement>('sample-greedy').checked = s.greedy;
  syncGreedy();
}

/** Temperature and seed do nothing in greedy mode: disabled to say so. */
export function syncGreedy(): void {
  const greedy = byId<HTMLInputElement>('sample-greedy').checked;
  byId<HTMLInputElement>('sample-temperature').disabled = greedy;
  byId<HTMLInputElement>('sample-seed').disabled = greedy;
}

export function fillTextChoices(texts: BundledText[]): void {
  const sel = byId<HTMLSelectElement>('text-choice');
  for (const t of texts) sel.add(new Option(t.title, t.id));
  sel.add(new Option('Your own text', 'custom'));
}

/** Selects a text; `from` names the bundled text an own text was edited from. */
export function writeTextChoice(id: string, from?: string): void {
  const sel = byId<HTMLSelectElement>('text-choice');
  sel.value = id;
  sel.options[sel.options.length - 1].text = from ? `Your own text (edited from “${from}”)` : 'Your own text';
}

export function renderTextStats(text: string): void {
  const chars = [...text];
  byId('text-stats').textContent = `${chars.length.toLocaleString('en-US')} characters, ${new Set(chars).size} distinct.`;
}
