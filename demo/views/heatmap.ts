import type { Inspection } from '../analysis.js';
import { hiddenColor, hiddenTextColor } from './colors.js';
import { shownChar } from './dom.js';

// The hidden state after every character as a heatmap on a canvas: one column per character,
// one row per hidden unit. Small models get their values written in the cells.

const LEFT = 34;
const TOP = 22;

export function drawHeatmap(canvas: HTMLCanvasElement, ins: Inspection, width: number): void {
  const n = ins.chars.length;
  const H = ins.H;
  const small = H <= 8;
  const cw = Math.max(small ? 20 : 6, Math.min(small ? 48 : 28, Math.floor((width - LEFT) / Math.max(n, 1))));
  const ch = Math.max(2, Math.min(small ? 30 : 18, Math.floor(260 / H)));
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
  ins.chars.forEach((c, t) => g.fillText(shownChar(c), LEFT + t * cw + cw / 2, TOP / 2));

  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#666';
  g.textAlign = 'right';
  const every = ch >= 12 ? 1 : Math.ceil(14 / ch / 5) * 5;
  for (let i = 0; i < H; i += every) g.fillText(`h${i}`, LEFT - 4, TOP + i * ch + Math.min(ch, 12) / 2);

  g.textAlign = 'center';
  const showValues = cw >= 36 && ch >= 20;
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < H; i++) {
      const v = ins.hs[t][i];
      g.fillStyle = hiddenColor(v);
      g.fillRect(LEFT + t * cw, TOP + i * ch, cw - (cw > 8 ? 1 : 0), ch - (ch > 4 ? 1 : 0));
      if (showValues) {
        g.fillStyle = hiddenTextColor(v);
        g.fillText(v.toFixed(2), LEFT + t * cw + cw / 2, TOP + i * ch + ch / 2);
      }
    }
  }
  canvas.setAttribute('aria-label', `Heatmap: the state of ${H} units after each of ${n} characters`);
}
