import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// The loss chart: uPlot over (step, loss) arrays that the session appends to. Redraws at most
// once per animation frame; the box has a fixed height, so the page does not move.

const HEIGHT = 220;

export class LossChart {
  private readonly plot: uPlot;
  private pending = false;
  private data: [number[], number[]] = [[], []];

  private readonly empty: HTMLElement | null;

  constructor(box: HTMLElement) {
    this.empty = box.querySelector('.chart-empty');
    const opts: uPlot.Options = {
      width: Math.max(200, box.clientWidth),
      height: HEIGHT,
      scales: { x: { time: false } },
      series: [
        { label: 'step' },
        { label: 'training loss', stroke: '#c2410c', width: 2, points: { show: false }, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
      ],
      axes: [
        { label: 'step', stroke: '#444', grid: { stroke: '#eee' } },
        { label: 'loss', stroke: '#444', grid: { stroke: '#eee' }, size: 56 },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    this.plot = new uPlot(opts, this.data, box);
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, box.clientWidth), height: HEIGHT })).observe(box);
  }

  /** Shows these series (the arrays may keep growing; call again to redraw). */
  show(step: number[], loss: number[]): void {
    this.data = [step, loss];
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData(this.data);
      if (this.empty) this.empty.hidden = this.data[0].length > 0;
    });
  }
}
