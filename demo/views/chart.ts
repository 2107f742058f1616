import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { LossHistory } from '../history.js';
import { describeError, formatCount } from './dom.js';

// The loss chart: uPlot over the session's history (training loss, its smoothed line, and the
// validation loss where measured). Redraws at most once per animation frame; the box has a
// fixed height, so the page does not move. With no points the axes are hidden under the
// invitation to press Train. The legend is the page's own line: the latest values, or the
// hovered step's.

const HEIGHT = 220;
/** The step axis's tick spacings: whole numbers. */
const STEP_INCREMENTS = [1, 2, 5].flatMap((m) => Array.from({ length: 8 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);
const TRAIN = '#c2410c';
const SMOOTH = '#7c2d12';
const VAL = '#2563eb';

export interface ChartOptions {
  /** exponential moving average factor of the smoothed line, in [0, 1); 0 = none */
  smoothing: number;
  log: boolean;
}

/** The exponential moving average of `y` with factor `a`, debiased as TensorBoard does. */
export function smooth(y: readonly number[], a: number): number[] {
  let m = 0;
  return y.map((v, i) => {
    m = a * m + (1 - a) * v;
    return a > 0 ? m / (1 - a ** (i + 1)) : v;
  });
}

export class LossChart {
  private plot?: uPlot;
  private pending = false;
  private history?: LossHistory;
  private hovered: number | null = null;
  private readonly empty: HTMLElement | null;

  constructor(
    private readonly box: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly note: HTMLElement,
    private options: ChartOptions,
  ) {
    this.empty = box.querySelector('.chart-empty');
    // the key's colours are the lines'
    for (const [id, colour] of [['key-train', TRAIN], ['key-smooth', SMOOTH], ['key-val', VAL]] as const) {
      const swatch = document.getElementById(id);
      if (swatch) swatch.style.background = colour;
    }
    this.create();
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT })).observe(box);
  }

  private width(): number {
    return Math.max(200, this.box.clientWidth);
  }

  private create(): void {
    this.plot?.destroy();
    const y = { stroke: '#444', grid: { stroke: '#eee' }, size: 56 };
    const opts: uPlot.Options = {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: false }, y: this.options.log ? { distr: 3 } : {} },
      series: [
        {},
        { label: 'training loss', stroke: this.options.smoothing > 0 ? '#f5b38f' : TRAIN, width: this.options.smoothing > 0 ? 1 : 2, points: { show: false } },
        { label: 'smoothed', stroke: SMOOTH, width: 2, points: { show: false }, show: this.options.smoothing > 0 },
        { label: 'validation loss', stroke: VAL, width: 2, spanGaps: true, points: { show: true, size: 5, fill: VAL } },
      ],
      axes: [
        // whole steps only (uPlot would put ticks at 1.2, 1.4 in the first steps)
        { label: 'step', stroke: '#444', grid: { stroke: '#eee' }, incrs: STEP_INCREMENTS },
        { label: this.options.log ? 'loss (log scale)' : 'loss', ...y },
      ],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      hooks: {
        setCursor: [
          (u) => {
            this.hovered = u.cursor.idx ?? null;
            this.renderLegend();
          },
        ],
      },
    };
    this.plot = new uPlot(opts, [[], [], [], []], this.box);
    this.pending = false;
    if (this.history) this.show(this.history);
  }

  setOptions(o: Partial<ChartOptions>): void {
    this.options = { ...this.options, ...o };
    this.create();
  }

  /** Shows this history (it may keep growing; call again to redraw). */
  show(history: LossHistory): void {
    this.history = history;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const h = this.history!;
      const positive = (v: number | null) => (v === null || !this.options.log ? v : Math.max(v, 1e-6));
      const loss = h.loss.map(positive) as number[];
      const data: uPlot.AlignedData = [h.step, loss, smooth(loss, this.options.smoothing), h.val.map(positive)];
      this.plot!.setData(data);
      const none = h.length === 0;
      this.box.dataset.empty = String(none);
      this.box.dataset.valSteps = h.step.filter((_, i) => h.val[i] !== null).join(',');
      if (this.empty) this.empty.hidden = !none;
      this.renderLegend();
      const jump = h.jump;
      this.note.dataset.kind = jump ? 'jump' : h.overfitting ? 'overfitting' : '';
      this.note.textContent = jump
        ? describeError(jump.charAt(0).toUpperCase() + jump.slice(1))
        : h.overfitting
        ? 'Validation loss is rising while training loss falls: the model is starting to memorise this text rather than learn its patterns (overfitting). More text, dropout or a smaller model help.'
        : '';
    });
  }

  /** "Step 1,000 · training loss 0.0123 · smoothed 0.0130 · validation 0.2": the hovered step's
   * values, or the latest ones. */
  private renderLegend(): void {
    const h = this.history;
    if (!h || h.length === 0) {
      this.legend.textContent = '';
      return;
    }
    const i = this.hovered ?? h.length - 1;
    const parts = [`Step ${formatCount(h.step[i])}`, `training loss ${h.loss[i].toFixed(4)}`];
    if (this.options.smoothing > 0) parts.push(`smoothed ${smooth(h.loss.slice(0, i + 1), this.options.smoothing)[i].toFixed(4)}`);
    const val = this.hovered === null ? latest(h, i) : h.val[i] === null ? undefined : { v: h.val[i]!, step: h.step[i] };
    if (val) parts.push(`validation ${val.v.toFixed(4)}${val.step !== h.step[i] ? ` (step ${formatCount(val.step)})` : ''}`);
    this.legend.textContent = parts.join(' · ');
    this.legend.dataset.hovered = String(this.hovered !== null);
  }
}

function latest(h: LossHistory, upTo: number): { v: number; step: number } | undefined {
  for (let i = upTo; i >= 0; i--) if (h.val[i] !== null) return { v: h.val[i]!, step: h.step[i] };
  return undefined;
}

