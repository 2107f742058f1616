import type { App } from '../app.js';
import { byId } from '../views/dom.js';

// "New here? Try this": one idea at a time, after explorable explanations. Four steps, each
// ticked when done: train hello, select its second l, see in "How it works" why the two l's
// differ, then a longer text. Open on a first visit to hello on a wide screen; one line on a
// phone, and once every step is done (this browser remembers it).

export type GuideStep = 'train' | 'select' | 'why' | 'more';
const DONE_KEY = 'char-rnn:guide-done';

export function wireGuide(app: App, textName: string): void {
  const box = byId<HTMLDetailsElement>('guide');
  const item = (s: GuideStep) => box.querySelector<HTMLElement>(`li[data-step="${s}"]`)!;
  let finished = false;
  try {
    finished = localStorage.getItem(DONE_KEY) === 'true';
  } catch {
    // (no storage: the guide opens as on a first visit)
  }
  box.open = !finished && textName === 'hello' && window.matchMedia('(min-width: 900px)').matches;
  app.guide = (s) => {
    // "why" counts once the second l has been selected
    if (s === 'why' && item('select').dataset.done !== 'true') return;
    item(s).dataset.done = 'true';
    const all = [...box.querySelectorAll<HTMLElement>('li')].every((li) => li.dataset.done === 'true');
    box.dataset.done = String(all);
    if (all)
      try {
        localStorage.setItem(DONE_KEY, 'true');
      } catch {
        // (nothing to remember it in)
      }
  };
}
