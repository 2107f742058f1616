import { CELL_SWEEPS, type DeviceKind, type Recurrence, type TrainConfig, validateConfig } from '../src/index.js';

// The page's settings in its address: the text choice (a short text of one's own inline), the
// model, the optimizer and the seed, so that a link reproduces the run. Read once at start-up,
// rewritten (replaceState, no new history entry) whenever the model changes.

/** The settings a link carries, under the names of TrainConfig. */
const KEYS = ['cell', 'layers', 'hidden', 'dropout', 'seqLen', 'batch', 'optimizer', 'lr', 'clip', 'seed', 'valFraction', 'steps'] as const;
type Key = (typeof KEYS)[number];

/** A text of one's own goes into the link only up to this many characters. */
export const MAX_LINK_TEXT = 400;

export interface LinkSettings {
  /** a bundled text's id, or 'custom' with `string` */
  text?: string;
  string?: string;
  config: Partial<TrainConfig>;
  device?: DeviceKind;
  /** the GPU engine's recurrent schedule, forced (`recurrence=steps`, as the CLI's --recurrence) */
  recurrence?: Recurrence;
}

export function readLink(search: string): LinkSettings {
  const q = new URLSearchParams(search);
  const config: Record<string, unknown> = {};
  for (const k of KEYS) {
    const v = q.get(k);
    if (v === null) continue;
    config[k] = k === 'cell' || k === 'optimizer' ? v : Number(v);
  }
  const device = q.get('device');
  const recurrence = q.get('recurrence') as Recurrence | null;
  return {
    recurrence: recurrence && (['measure', 'auto', ...CELL_SWEEPS] as Recurrence[]).includes(recurrence) ? recurrence : undefined,
    text: q.get('text') ?? undefined,
    string: q.get('string') ?? undefined,
    config: config as Partial<TrainConfig>,
    device: device === 'cpu' || device === 'gpu' ? device : undefined,
  };
}

/** `base` with the link's settings, or `base` and a reason when they are not valid. */
export function applyLink(base: TrainConfig, link: LinkSettings): { config: TrainConfig; problem?: string } {
  try {
    return { config: validateConfig({ ...base, ...link.config }) };
  } catch (e) {
    return { config: base, problem: `The link's settings were not used: ${(e as Error).message}` };
  }
}

/** The query string for these settings; a long text of one's own is left out (`textInLink`
 * false). */
export function linkFor(textId: string, text: string, c: TrainConfig, device: DeviceKind): { search: string; textInLink: boolean } {
  const q = new URLSearchParams();
  const inline = textId !== 'custom' || [...text].length <= MAX_LINK_TEXT;
  if (textId !== 'custom') q.set('text', textId);
  else if (inline) {
    q.set('text', 'custom');
    q.set('string', text);
  }
  for (const k of KEYS) if (Number.isFinite(c[k as Key]) || typeof c[k as Key] === 'string') q.set(k, String(c[k as Key]));
  q.set('device', device);
  return { search: `?${q}`, textInLink: inline };
}
