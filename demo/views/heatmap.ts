import type { Inspection } from '../analysis.js';
import { hiddenColor, hiddenTextColor } from './colors.js';
import { shownChar } from './dom.js';

// The states after every character as heatmaps: one row group per layer (and for the LSTM one
// more per layer for its cell state c), each a labelled figure with its own canvas, one column
// per character and one row per unit. Small models get their values written in the cells.
// The groups share one horizontally scrolling box, so their columns stay aligned; columns never
// get narrower than a character's label, and a line under the box says when it scrolls.
// Hovering a cell names its unit, character and value; the selected character's column and
// the columns of its repeats are outlined; clicking a column selects its character.

const LEFT = 34;
const TOP = 22;
/** Narrowest column: the 14 px monospace label of one character, with a gap. */
export const MIN_COLUMN = 13;

/** One row group: the rows are the states after each character. */
export interface HeatGroup {
  /** 1-based, as the caption says it */
  layer: number;
  state: 'h' | 'c';
  caption: string;
  rows: Float64Array[];
}

interface Geometry {
  group: HeatGroup;
  chars: string[];
  cw: number;
  ch: number;
  H: number;
}

const geometry = new WeakMap<HTMLCanvasElement, Geometry>();

export function heatGroups(ins: Inspection): HeatGroup[] {
  const L = ins.layers.length;
  return ins.layers.flatMap(({ h, c }, l) => {
    const name = L > 1 ? `Layer ${l + 1} of ${L}` : 'Layer 1';
    const groups: HeatGroup[] = [{ layer: l + 1, state: 'h', caption: `${name}: h, hidden state`, rows: h }];
    if (c) groups.push({ layer: l + 1, state: 'c', caption: `${name}: c, cell state`, rows: c });
    return groups;
  });
}

/** A unit of one group: the row picked to colour the text with. */
export interface UnitPick {
  layer: number;
  state: 'h' | 'c';
  unit: number;
}

/** The unit whose value varies most over the string, in the last layer's h: the one shown
 * over the text until another is picked. */
export function liveliestUnit(ins: Inspection): UnitPick {
  const L = ins.layers.length;
  const rows = ins.layers[L - 1].h;
  let best = 0;
  let most = -1;
  for (let i = 0; i < ins.H; i++) {
    const v = rows.map((r) => r[i]);
    const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    const spread = v.reduce((a, b) => a + (b - mean) ** 2, 0);
    if (spread > most) [best, most] = [i, spread];
  }
  return { layer: L, state: 'h', unit: best };
}

/** The values of `pick` after each character. */
export function unitValues(ins: Inspection, pick: UnitPick): number[] {
  const group = heatGroups(ins).find((g) => g.layer === pick.layer && g.state === pick.state);
  return group && pick.unit < ins.H ? group.rows.map((r) => r[pick.unit]) : [];
}

/** Fills `box` with one figure per group, reusing the figures already there; outlines the
 * column of character `selected` and of its repeats, and the row of the picked unit. */
export function renderHeatmap(box: HTMLElement, ins: Inspection, width: number, selected: number, pick?: UnitPick): void {
  const groups = heatGroups(ins);
  while (box.children.length > groups.length) box.lastElementChild!.remove();
  while (box.children.length < groups.length) {
    const fig = document.createElement('figure');
    fig.className = 'heat-group';
    fig.append(document.createElement('figcaption'), document.createElement('canvas'));
    box.append(fig);
  }
  // Rows get shorter as groups are added, so that a deep model stays a page or two tall.
  const budget = groups.length === 1 ? 260 : Math.max(90, Math.floor(520 / groups.length));
  groups.forEach((g, k) => {
    const fig = box.children[k] as HTMLElement;
    fig.dataset.layer = String(g.layer);
    fig.dataset.state = g.state;
    fig.querySelector('figcaption')!.textContent = g.caption;
    const unit = pick && pick.layer === g.layer && pick.state === g.state ? pick.unit : undefined;
    drawGroup(fig.querySelector('canvas')!, ins.chars, g, ins.H, width, budget, selected, unit);
  });
}

/** Removes the heatmap (the model cannot read the string). */
export function clearHeatmap(box: HTMLElement): void {
  box.replaceChildren();
}

/** Shortest row: one a pointer can rest on (2 px rows of 64 units could be neither seen nor
 * hovered); a tall model's groups then scroll inside the box. */
export const MIN_ROW = 5;

function drawGroup(canvas: HTMLCanvasElement, chars: string[], group: HeatGroup, H: number, width: number, budget: number, selected: number, unit?: number): void {
  const n = chars.length;
  const small = H <= 8;
  const cw = Math.max(MIN_COLUMN, Math.min(small ? 48 : 28, Math.floor((width - LEFT) / Math.max(n, 1))));
  const ch = Math.max(MIN_ROW, Math.min(small ? 30 : 18, Math.floor(budget / H)));
  canvas.dataset.rowHeight = String(ch);
  const w = LEFT + n * cw + 2;
  const h = TOP + H * ch + 2;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(w * dpr);
  canvas.height = Math.ceil(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.dataset.columnWidth = String(cw);
  geometry.set(canvas, { group, chars, cw, ch, H });
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.textAlign = 'center';
  g.textBaseline = 'middle';

  const picked = chars[selected];
  g.font = '600 14px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  chars.forEach((c, t) => {
    g.fillStyle = c === picked ? '#c2410c' : '#222';
    g.fillText(shownChar(c), LEFT + t * cw + cw / 2, TOP / 2);
  });

  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#666';
  g.textAlign = 'right';
  const every = ch >= 12 ? 1 : Math.ceil(14 / ch / 5) * 5;
  for (let i = 0; i < H; i += every) g.fillText(`${group.state}${i}`, LEFT - 4, TOP + i * ch + Math.min(ch, 12) / 2);

  g.textAlign = 'center';
  const showValues = cw >= 36 && ch >= 20;
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < H; i++) {
      const v = group.rows[t][i];
      g.fillStyle = hiddenColor(v);
      g.fillRect(LEFT + t * cw, TOP + i * ch, cw - (cw > 8 ? 1 : 0), ch - (ch > 4 ? 1 : 0));
      if (showValues) {
        g.fillStyle = hiddenTextColor(v);
        g.fillText(v.toFixed(2), LEFT + t * cw + cw / 2, TOP + i * ch + ch / 2);
      }
    }
  }
  // The selected character's column (solid) and its repeats' (dashed).
  chars.forEach((c, t) => {
    if (c !== picked) return;
    g.strokeStyle = '#111';
    g.lineWidth = t === selected ? 2.5 : 1.5;
    g.setLineDash(t === selected ? [] : [4, 3]);
    g.strokeRect(LEFT + t * cw - 1, 1, cw + 1, TOP + H * ch - 1);
  });
  g.setLineDash([]);
  // The picked unit's row.
  if (unit !== undefined) {
    g.strokeStyle = '#c2410c';
    g.lineWidth = 2;
    g.strokeRect(LEFT - 1, TOP + unit * ch - 1, n * cw + 1, ch + 1);
  }
  canvas.dataset.unit = unit === undefined ? '' : String(unit);
  canvas.dataset.highlighted = chars.flatMap((c, t) => (c === picked ? [t] : [])).join(',');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${group.caption}: ${H} units after each of ${n} characters`);
}

/** What the canvas shows at (x, y) in CSS pixels, or undefined outside the cells. */
export function cellAt(canvas: HTMLCanvasElement, x: number, y: number): { t: number; unit?: UnitPick; text: string } | undefined {
  const geo = geometry.get(canvas);
  if (!geo) return undefined;
  const t = Math.floor((x - LEFT) / geo.cw);
  if (x < LEFT || t >= geo.chars.length) return undefined;
  const c = `‘${shownChar(geo.chars[t])}’ (character ${t + 1})`;
  const i = Math.floor((y - TOP) / geo.ch);
  if (y < TOP || i >= geo.H) return { t, text: c };
  const v = geo.group.rows[t][i];
  const name = geo.group.state === 'h' ? 'hidden unit' : 'cell unit';
  return { t, unit: { layer: geo.group.layer, state: geo.group.state, unit: i }, text: `Layer ${geo.group.layer}, ${name} ${geo.group.state}${i}, after ${c}: ${v.toFixed(4)}` };
}

/** Hover and click on the heatmap's canvases: a tooltip in `tip`; a click selects the
 * character of its column and, on a cell, the unit of its row: `onSelect(t, unit)`. */
export function wireHeatmap(box: HTMLElement, tip: HTMLElement, onSelect: (t: number, unit?: UnitPick) => void): void {
  const at = (e: MouseEvent) => {
    const canvas = e.target instanceof HTMLCanvasElement ? e.target : undefined;
    if (!canvas) return undefined;
    const r = canvas.getBoundingClientRect();
    return cellAt(canvas, e.clientX - r.left, e.clientY - r.top);
  };
  box.addEventListener('mousemove', (e) => {
    const cell = at(e);
    tip.hidden = !cell;
    if (!cell) return;
    tip.textContent = cell.text;
    const host = tip.offsetParent?.getBoundingClientRect() ?? { left: 0, top: 0, width: 1e4 };
    const left = Math.min(e.clientX - host.left + 12, host.width - 260);
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${e.clientY - host.top + 16}px`;
  });
  box.addEventListener('mouseleave', () => (tip.hidden = true));
  box.addEventListener('click', (e) => {
    const cell = at(e);
    if (cell) onSelect(cell.t, cell.unit);
  });
}

/** Shows `hint` when the box scrolls sideways (a long string), saying how to see the rest. */
export function renderScrollHint(box: HTMLElement, hint: HTMLElement, n: number): void {
  const scrolls = box.scrollWidth > box.clientWidth + 1;
  hint.hidden = !scrolls;
  box.dataset.scrolls = String(scrolls);
  if (scrolls) hint.textContent = `All ${n} characters do not fit: scroll the heatmap sideways to see the rest →`;
}
