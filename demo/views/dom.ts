// Small DOM helpers shared by the views.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page has no element #${id}.`);
  return el as T;
}

export type MessageKind = 'error' | 'info' | 'ok';

export function showMessage(el: HTMLElement, text: string, kind: MessageKind = 'error'): void {
  el.textContent = text;
  el.dataset.kind = kind;
}

/** The settings the engine's messages name by their CLI flags, as the page labels them. */
const FLAG_NAMES: Record<string, string> = {
  cell: 'cell',
  layers: 'layers',
  dropout: 'dropout',
  batch: 'batch',
  'seq-len': 'sequence length',
  lr: 'learning rate',
  clip: 'gradient clip',
  hidden: 'hidden units',
  steps: 'steps',
  seed: 'seed',
  prime: 'start',
  temperature: 'temperature',
};

/** An error's message for the page: "Bad hidden size (--hidden): 0" reads "Bad hidden size: 0",
 * and "Use --batch 8 or less" reads "Use batch 8 or less". */
export function describeError(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/ \(--[a-z-]+\)/g, '').replace(/--([a-z][a-z-]*)/g, (flag, name: string) => FLAG_NAMES[name] ?? flag);
}

/** A character as it is drawn in the views: whitespace made visible. */
export function shownChar(c: string): string {
  if (c === ' ') return '␣';
  if (c === '\n') return '↵';
  if (c === '\t') return '⇥';
  if (c === '\r') return '␍';
  return c;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Marks the field of `form` that an error names by its CLI flag ("Bad hidden size (--hidden)")
 * as invalid (aria-invalid, drawn red), and every other field of it as valid; `e` undefined:
 * all valid. */
export function markInvalid(form: HTMLElement, e?: unknown): void {
  const flag = e === undefined ? undefined : /\(--([a-z-]+)\)/.exec(e instanceof Error ? e.message : String(e))?.[1];
  for (const el of form.querySelectorAll<HTMLElement>('[data-flag]')) {
    if (el.dataset.flag === flag) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
  }
}
