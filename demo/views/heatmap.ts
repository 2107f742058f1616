import type { Inspection } from '../analysis.js';
import { hiddenColor, hiddenTextColor } from './colors.js';
import { shownChar } from './dom.js';

// The states after every character as heatmaps: one row group per layer (and for the LSTM one
// more per layer for its cell state c), each a labelled figure with its own canvas, one column
// per character and one row per unit. Small models get their values written in the cells.
// The groups share one horizontally scrolling box, so their columns stay aligned.

const LEFT = 34;
const TOP = 22;

/** One row group: the rows are the states after each character. */
export interface HeatGroup {
  /** 1-based, as the caption says it */
  layer: number;
  state: 'h' | 'c';
  caption: string;
  rows: Float64Array[];
}

export function heatGroups(ins: Inspection): HeatGroup[] {
  const L = ins.layers.length;
  return ins.layers.flatMap(({ h, c }, l) => {
    const name = L > 1 ? `Layer ${l + 1} of ${L}` : 'Layer 1';
    const groups: HeatGroup[] = [{ layer: l + 1, state: 'h', caption: `${name}: h, hidden state`, rows: h }];
    if (c) groups.push({ layer: l + 1, state: 'c', caption: `${name}: c, cell state`, rows: c });
    return groups;
  });
}

/** Fills `box` with one figure per group, reusing the figures already there. */
export function renderHeatmap(box: HTMLElement, ins: Inspection, width: number): void {
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
    drawGroup(fig.querySelector('canvas')!, ins.chars, g, ins.H, width, budget);
  });
}

function drawGroup(canvas: HTMLCanvasElement, chars: string[], group: HeatGroup, H: number, width: number, budget: number): void {
  const n = chars.length;
  const small = H <= 8;
  const cw = Math.max(small ? 12 : 6, Math.min(small ? 48 : 28, Math.floor((width - LEFT) / Math.max(n, 1))));
  const ch = Math.max(2, Math.min(small ? 30 : 18, Math.floor(budget / H)));
  const w = LEFT + n * cw + 2;
  const h = TOP + H * ch + 2;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(w * dpr);
  canvas.height = Math.ceil(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.textAlign = 'center';
  g.textBaseline = 'middle';

  g.font = '600 14px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  g.fillStyle = '#222';
  chars.forEach((c, t) => g.fillText(shownChar(c), LEFT + t * cw + cw / 2, TOP / 2));

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
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${group.caption}: ${H} units after each of ${n} characters`);
}
