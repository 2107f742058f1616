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

/** An error's message for the page: the engine's messages name CLI flags, shown here without
 * the dashes ("(--lr 0.001)" reads "(lr 0.001)"). */
export function describeError(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/ \((--[a-z-]+)\)/g, '').replace(/\(--([a-z-]+) /g, '($1 ');
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
