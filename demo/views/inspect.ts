import { type Inspection, type Repeat, topK } from '../analysis.js';
import { hiddenColor, hiddenTextColor, surprisalColor, surprisalMax, surprisalTextColor } from './colors.js';
import { shownChar } from './dom.js';

// The typed string coloured by surprisal (buttons: select one to see its next-character
// distribution), the distribution as bars, and the note on repeated characters.

const BARS = 8;

/** Draws the string's characters as buttons coloured by surprisal. The buttons are made once
 * per string and updated in place after that, so keyboard focus survives the live refresh. */
export function renderTokens(box: HTMLElement, ins: Inspection, selected: number, onSelect: (t: number) => void): void {
  const max = surprisalMax(ins.vocab.length);
  const same = box.dataset.text === ins.chars.join('') && box.children.length === ins.chars.length;
  if (!same) {
    box.dataset.text = ins.chars.join('');
    box.replaceChildren(
      ...ins.chars.map((c, t) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'token';
        b.textContent = shownChar(c);
        b.addEventListener('click', () => onSelect(t));
        return b;
      }),
    );
  }
  ins.chars.forEach((c, t) => {
    const b = box.children[t] as HTMLButtonElement;
    const bits = ins.bits[t];
    if (bits === undefined) {
      b.classList.add('first');
      b.title = `${JSON.stringify(c)}: the first character, nothing predicted it`;
    } else {
      b.style.background = surprisalColor(bits, max);
      b.style.color = surprisalTextColor(bits, max);
      b.title = `${JSON.stringify(c)}: p = ${(2 ** -bits).toFixed(3)}, ${bits.toFixed(2)} bits`;
    }
    b.setAttribute('aria-label', b.title);
    b.setAttribute('aria-pressed', String(t === selected));
  });
}

export function renderSurprisalLegend(box: HTMLElement, V: number): void {
  const max = surprisalMax(V);
  const stops = [0, 0.25, 0.5, 0.75, 1].map((f) => surprisalColor(f * max, max)).join(', ');
  box.innerHTML = '';
  const bar = document.createElement('span');
  bar.className = 'ramp';
  bar.style.background = `linear-gradient(to right, ${stops})`;
  const lo = document.createElement('span');
  lo.textContent = '0 bits: expected';
  const hi = document.createElement('span');
  hi.textContent = `${max.toFixed(1)}+ bits: surprised`;
  box.append(lo, bar, hi);
}

export function renderBars(title: HTMLElement, list: HTMLOListElement, ins: Inspection, t: number): void {
  if (ins.chars.length === 0) {
    title.textContent = 'What comes next?';
    list.replaceChildren();
    return;
  }
  const upTo = ins.chars.slice(0, t + 1).join('');
  const shown = upTo.length > 24 ? '…' + upTo.slice(-24) : upTo;
  title.textContent = `After “${shown}”, the model expects:`;
  list.replaceChildren(
    ...topK(ins.ps[t], ins.vocab, BARS).map(({ char, p }) => {
      const li = document.createElement('li');
      const label = document.createElement('span');
      label.className = 'bar-char';
      label.textContent = shownChar(char);
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(fill);
      const value = document.createElement('span');
      value.className = 'bar-value';
      value.textContent = `${(100 * p).toFixed(1)}%`;
      li.append(label, track, value);
      li.setAttribute('aria-label', `${JSON.stringify(char)}: ${(100 * p).toFixed(1)} percent`);
      return li;
    }),
  );
}

export function repeatNote(reps: Repeat[]): string {
  if (reps.length === 0)
    return 'Type a string with a repeated character, like the two l’s of “hello”: the same input character meets a different memory each time.';
  const r = reps[0];
  const c = shownChar(r.char);
  const verdict =
    r.maxDiff > 0.05
      ? `get different hidden states (they differ by up to ${r.maxDiff.toFixed(2)}): the input is the same, the memory of what came before is not. That is how the network can follow the first ‘${c}’ with one character and the second with another.`
      : `get nearly the same hidden state (they differ by at most ${r.maxDiff.toFixed(3)}): the input is the same, and the network has not yet learned to remember what came before. Train it, and the two states pull apart where the text needs them to.`;
  return `The ‘${c}’ at positions ${r.first + 1} and ${r.second + 1} ${verdict}`;
}

/** One unit over the text ("The Unreasonable Effectiveness of RNNs"): each character of the
 * string on the colour of the unit's value after it (red +1, blue −1). */
export function renderUnitText(title: HTMLElement, box: HTMLElement, chars: readonly string[], values: readonly number[], name: string): void {
  title.textContent = `${name} over the text`;
  box.dataset.unit = name;
  box.replaceChildren(
    ...chars.map((c, t) => {
      const span = document.createElement('span');
      span.textContent = c === '\n' ? '↵' : c;
      span.style.background = hiddenColor(values[t]);
      span.style.color = hiddenTextColor(values[t]);
      span.title = `after ‘${shownChar(c)}’: ${values[t].toFixed(3)}`;
      return span;
    }),
  );
}
