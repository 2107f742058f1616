import katex from 'katex';
import 'katex/dist/katex.min.css';
import { CELLS, type CellName } from '../../src/index.js';
import type { Inspection, LayerStates } from '../analysis.js';
import type { Walkthrough } from '../tutorial.js';
import { hiddenColor, hiddenTextColor } from './colors.js';

// "How it works": the tutorial's steps as equations (KaTeX) with the current model's numbers at
// the selected character. For the other models: their cell's equations (its record,
// src/cells.ts) and the output side with live numbers.

/** Vectors longer than this show their first entries and a ⋮. */
const SHOWN = 8;

const num = (v: number) => (Math.abs(v) < 5e-5 ? '0' : v.toFixed(4)).replace('-', '−');
const escapeText = (c: string) => c.replace(/[\\{}$&#^_%~]/g, (m) => `\\${m === '\\' ? 'textbackslash' : m}`);

/** Characters KaTeX has metrics for: one it has none for is drawn in a fallback font and logs
 * a warning at every redraw (the page's ␣ and ↵ did, thousands of times a visit). */
const typesettable = new Map<string, boolean>();
function katexHas(c: string): boolean {
  let ok = typesettable.get(c);
  if (ok === undefined) {
    const warn = console.warn;
    let warned = false;
    console.warn = () => {
      warned = true;
    };
    try {
      katex.renderToString(`\\text{${escapeText(c)}}`, { strict: 'ignore' });
    } finally {
      console.warn = warn;
    }
    typesettable.set(c, (ok = !warned));
  }
  return ok;
}

/** A character as KaTeX sets it: a space or a control by its name, one outside KaTeX's fonts
 * by its code point, any other in quotes. */
const NAMED: Record<string, string> = { ' ': 'space', '\n': 'newline', '\t': 'tab', '\r': 'CR' };
function charTex(c: string): string {
  if (NAMED[c]) return `\\text{(${NAMED[c]})}`;
  if (!katexHas(c)) return `\\text{U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`;
  return `\\text{‘${escapeText(c)}’}`;
}

/** The SHOWN most likely characters' indices, most likely first, where the vocabulary is
 * longer than SHOWN (a vector over it then shows those, not its first entries); else all. */
function likeliest(p: readonly number[]): number[] {
  const all = p.map((_, i) => i);
  return p.length <= SHOWN ? all : all.sort((a, b) => p[b] - p[a]).slice(0, SHOWN);
}

/** `order` with the right answer's index in it (in place of the least likely shown). */
const withTarget = (order: number[], k: number) => (order.includes(k) ? order : [...order.slice(0, -1), k]);

/** A column vector, with the characters' names beside the entries when `labels` are given;
 * `order`: which entries to show, in that order (default the first SHOWN). */
function vec(v: readonly number[], labels?: readonly string[], show = num, order?: readonly number[]): string {
  const at = order ?? v.slice(0, SHOWN).map((_, i) => i);
  const rows = at.map((i) => (labels ? `${show(v[i])} & \\scriptstyle ${charTex(labels[i])}` : show(v[i])));
  if (v.length > at.length) rows.push(labels ? '\\vdots &' : '\\vdots');
  return labels ? `\\left(\\begin{array}{rl}${rows.join('\\\\')}\\end{array}\\right)` : `\\begin{pmatrix}${rows.join('\\\\')}\\end{pmatrix}`;
}

function tex(s: string, display = true): string {
  return katex.renderToString(s, { displayMode: display, throwOnError: true, strict: 'ignore', output: 'htmlAndMathml' });
}

interface Step {
  title: string;
  text: string;
  /** KaTeX, or an element (the gates' table) */
  math: string | HTMLElement;
}

function step(s: Step): HTMLLIElement {
  const li = document.createElement('li');
  const h = document.createElement('h3');
  h.textContent = s.title;
  const p = document.createElement('p');
  p.innerHTML = s.text; // (our own fixed sentences, with math rendered by KaTeX)
  const m = document.createElement('div');
  m.className = 'how-math';
  if (typeof s.math === 'string') m.innerHTML = tex(s.math);
  else m.append(s.math);
  li.append(h, p, m);
  return li;
}

/** The steps in the list; an equation wider than its column scrolls sideways, and says so
 * (a fading edge and a line under it), as the heatmap does. */
function show(list: HTMLOListElement, steps: Step[]): void {
  list.replaceChildren(...steps.map(step));
  for (const m of list.querySelectorAll<HTMLElement>('.how-math')) {
    const scrolls = m.scrollWidth > m.clientWidth + 1;
    m.dataset.scrolls = String(scrolls);
    if (scrolls) {
      const hint = document.createElement('p');
      hint.className = 'scroll-hint';
      hint.textContent = 'Wider than this column: scroll it sideways →';
      m.after(hint);
    }
  }
}

const inline = (s: string) => tex(s, false);

/** The tutorial's walk through one character: forward, loss, gradients. */
export function renderWalkthrough(list: HTMLOListElement, w: Walkthrough): void {
  const c = charTex(w.char);
  const idx = w.vocab.indexOf(w.char);
  const small = w.vocab.length <= SHOWN;
  const steps: Step[] = [
    {
      title: 'One-hot input',
      text: `Character ${w.t + 1}, ${inline(c)}, is entry ${idx} of the ${w.vocab.length}-character vocabulary: a vector of zeros with a 1 there.`,
      math: `x_{${w.t + 1}} = ${small ? vec(w.x, w.vocab, String) : `e_{${idx}}`}`,
    },
    {
      title: 'Input weights',
      text: `Multiplying a one-hot vector picks one column of ${inline('W_{xh}')}: what this character contributes.`,
      math: `W_{xh}\\,x_{${w.t + 1}} = ${vec(w.Wxh_x)}`,
    },
    {
      title: 'Memory',
      text: `${inline('W_{hh}')} mixes the state after the previous character${w.t === 0 ? ` (none yet: ${inline('h_0 = 0')})` : ''}. This is what tells repeated characters apart.`,
      math: `W_{hh}\\,h_{${w.t}} = W_{hh}${vec(w.hPrev)} = ${vec(w.Whh_h)}`,
    },
    { title: 'Bias', text: 'A constant push per hidden unit.', math: `b_h = ${vec(w.b_h)}` },
    {
      title: 'New hidden state',
      text: 'The three add up, and tanh squashes each unit into (−1, 1).',
      math: `h_{${w.t + 1}} = \\tanh\\!\\left(W_{xh} x_{${w.t + 1}} + W_{hh} h_{${w.t}} + b_h\\right) = ${vec(w.h)}`,
    },
    { title: 'Scores', text: `One score per character of the vocabulary${w.vocab.length > SHOWN ? ` (the ${SHOWN} most likely shown)` : ''}.`, math: `y_{${w.t + 1}} = W_{hy}\\,h_{${w.t + 1}} + b_y = ${vec(w.y, w.vocab, num, likeliest(w.p))}` },
    {
      title: 'Probabilities',
      text: 'Softmax turns the scores into a distribution over the next character.',
      math: `p_{${w.t + 1}} = \\operatorname{softmax}(y_{${w.t + 1}}),\\quad p_{${w.t + 1},k} = \\frac{e^{y_{${w.t + 1},k}}}{\\sum_j e^{y_{${w.t + 1},j}}} \\;\\Rightarrow\\; p_{${w.t + 1}} = ${vec(w.p, w.vocab, num, likeliest(w.p))}`,
    },
  ];
  if (w.target !== undefined && w.loss !== undefined) {
    const k = w.vocab.indexOf(w.target);
    steps.push({
      title: 'Loss',
      text: `The next character is ${inline(charTex(w.target))}: the loss is how unlikely the model found it. The step's loss is the average of these terms over the string${w.meanLoss !== undefined ? ` (${num(w.meanLoss)} here)` : ''}.`,
      math: `L_{${w.t + 1}} = -\\ln p_{${w.t + 1}}[${charTex(w.target)}] = -\\ln ${num(w.p[k])} = ${num(w.loss)}`,
    });
  } else steps.push({ title: 'Loss', text: 'This is the last character: nothing follows it, so it adds no loss term and no gradient. Select an earlier one.', math: `\\text{no target after } ${c}` });
  if (w.grads) {
    const g = w.grads;
    steps.push(
      { title: 'Output error', text: 'Backpropagation starts at the probabilities: subtract 1 at the right answer.', math: `dy_{${w.t + 1}} = p_{${w.t + 1}} - \\mathbf{1}_{${charTex(w.target!)}} = ${vec(g.dy, w.vocab, num, withTarget(likeliest(w.p), w.vocab.indexOf(w.target!)))}` },
      {
        title: 'Error at the hidden state',
        text: `From this character's output, plus what the later characters send back through ${inline('W_{hh}')} (backpropagation through time).`,
        math: `dh_{${w.t + 1}} = W_{hy}^{\\top} dy_{${w.t + 1}} + W_{hh}^{\\top} d\\tanh_{${w.t + 2}} = ${vec(g.dh)}`,
      },
      {
        title: 'Through tanh, into the gradients',
        text: `Times tanh's slope. This character then adds ${inline(`d\\tanh_{${w.t + 1}}`)} to column ${idx} of ${inline('dW_{xh}')}, ${inline(`d\\tanh_{${w.t + 1}}\\,h_{${w.t}}^{\\top}`)} to ${inline('dW_{hh}')} and ${inline(`dy_{${w.t + 1}}\\,h_{${w.t + 1}}^{\\top}`)} to ${inline('dW_{hy}')}; a training step sums these over the string and moves every weight against its gradient.`,
        math: `d\\tanh_{${w.t + 1}} = dh_{${w.t + 1}} \\odot \\left(1 - h_{${w.t + 1}}^2\\right) = ${vec(g.dtanh)}`,
      },
    );
  }
  show(list, steps);
  list.dataset.character = String(w.t + 1);
  list.dataset.engineGap = w.engineGap.toExponential(1);
}

/** Units shown in a layer's table of gates: the first ones. */
const UNITS = 8;

/** One layer's gates at a character: a row per unit, a column per gate (then c and h), each
 * value coloured as the heatmap colours states. */
function gateTable(cell: CellName, layer: number, layers: number, states: LayerStates, t: number, H: number): HTMLTableElement {
  const names = CELLS[cell].gateNames;
  const hasGates = names.length > 1;
  const columns: { name: string; at: (u: number) => number }[] = hasGates ? names.map((g, k) => ({ name: g, at: (u) => states.gates[t][k * H + u] })) : [];
  if (states.c) columns.push({ name: 'c', at: (u) => states.c![t][u] });
  columns.push({ name: 'h', at: (u) => states.h[t][u] });
  const table = document.createElement('table');
  table.className = 'gates';
  table.dataset.layer = String(layer + 1);
  table.dataset.gates = columns.map((c) => c.name).join(' ');
  const caption = table.createCaption();
  caption.textContent = `Layer ${layer + 1}${layers > 1 ? ` of ${layers}` : ''}${H > UNITS ? `, units 0–${UNITS - 1} of ${H}` : ''}`;
  const head = table.createTHead().insertRow();
  for (const name of ['unit', ...columns.map((c) => c.name)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  for (let u = 0; u < Math.min(H, UNITS); u++) {
    const row = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = String(u);
    row.append(th);
    for (const c of columns) {
      const v = c.at(u);
      const td = row.insertCell();
      td.textContent = (Math.abs(v) < 5e-3 ? '0.00' : v.toFixed(2)).replace('-', '−');
      td.style.background = hiddenColor(v);
      td.style.color = hiddenTextColor(v);
    }
  }
  return table;
}

/** Another model than the tutorial's: its cell's equations, each layer's gates and state at
 * the selected character, and the output side with numbers. */
export function renderOtherCell(list: HTMLOListElement, ins: Inspection, t: number, y: number[], p: number[]): void {
  const { cell, H, chars, vocab } = ins;
  const layers = ins.layers.length;
  const eq = CELLS[cell].equations;
  const c = inline(charTex(chars[t]));
  const steps: Step[] = [
    { title: `The ${CELLS[cell].title} cell`, text: `${eq.text} The tutorial’s step-by-step numbers are for its own model (tanh RNN, 1 layer); this one has ${layers} layer${layers > 1 ? 's' : ''}.`, math: eq.math },
    ...ins.layers.map((states, l) => ({
      title: CELLS[cell].gates > 1 ? `Layer ${l + 1}’s gates` : `Layer ${l + 1}’s state`,
      text: `At character ${t + 1}, ${c}${l > 0 ? `, reading layer ${l}’s h` : ''}. ${eq.gates ?? 'Red is +1, blue −1.'}`,
      math: gateTable(cell, l, layers, states, t, H),
    })),
    { title: 'Scores', text: `From here on every model is the tutorial’s: one score per character from the last layer’s h${vocab.length > SHOWN ? ` (the ${SHOWN} most likely characters shown)` : ''}.`, math: `y_{${t + 1}} = W_{hy}\\,h_{${t + 1}} + b_y = ${vec(y, vocab, num, likeliest(p))}` },
    { title: 'Probabilities', text: 'Softmax turns the scores into a distribution over the next character.', math: `p_{${t + 1}} = \\operatorname{softmax}(y_{${t + 1}}) = ${vec(p, vocab, num, likeliest(p))}` },
  ];
  show(list, steps);
  list.dataset.character = String(t + 1);
  delete list.dataset.engineGap;
}
