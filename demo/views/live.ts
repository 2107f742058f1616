import type { CellName } from '../../src/index.js';
import type { ModelSummary, Progress } from '../session.js';
import { byId, formatCount } from './dom.js';

// The numbers that change while training, the engine badge and the WebGPU notice. Every number
// sits in a box of fixed width (style.css), so updates never move the layout.

export function renderProgress(p: Progress): void {
  byId('stat-step').textContent = formatCount(p.step);
  byId('stat-loss').textContent = !Number.isFinite(p.loss) ? '–' : p.loss < 1e4 ? p.loss.toFixed(4) : p.loss.toExponential(2);
  byId('stat-speed').textContent = p.charsPerSec > 0 ? formatCount(p.charsPerSec) : '–';
  byId('stat-epoch').textContent = formatCount(p.epoch);
  byId('stats').dataset.state = p.running ? 'training' : 'idle';
  // aria-disabled rather than disabled: a button that keeps keyboard focus while it is off.
  setOff(byId('train'), p.running);
  setOff(byId('step'), p.running);
  setOff(byId('pause'), !p.running);
}

export function setOff(button: HTMLElement, off: boolean): void {
  button.setAttribute('aria-disabled', String(off));
}

export function isOff(button: HTMLElement): boolean {
  return button.getAttribute('aria-disabled') === 'true';
}

export function renderDevice(s: ModelSummary, adapterName: string | undefined): void {
  const el = byId('device');
  el.dataset.device = s.device;
  const software = adapterName && /swiftshader|llvmpipe|lavapipe|software/i.test(adapterName);
  el.textContent =
    s.device === 'gpu'
      ? `Engine: GPU (WebGPU) on ${adapterName}${software ? ', a software renderer: the CPU engine may well be faster here' : ''}`
      : `Engine: CPU (the float64 reference)${adapterName ? `; GPU available: ${adapterName}` : ''}`;
}

const CELL_TITLES: Record<CellName, string> = { rnn: 'tanh RNN', lstm: 'LSTM', gru: 'GRU' };

export function renderSummary(s: ModelSummary): void {
  const where = s.checkpoint ? ` Weights from ${s.checkpoint}.` : '';
  const steps = s.textProblem ? 'it cannot train on this text' : `each step trains on ${s.B} × ${s.T} characters`;
  const model = `${CELL_TITLES[s.cell]}, ${s.layers} ${s.layers === 1 ? 'layer' : 'layers'} of ${s.H} hidden units`;
  const dropout = s.dropout > 0 ? `, dropout ${s.dropout}` : '';
  byId('model-summary').textContent =
    `${model}${dropout}; ${s.V} distinct characters, ${formatCount(s.parameters)} parameters; ${steps}.${where}`;
}

export function showNoGpuNotice(problem: string, help: string[]): void {
  byId('webgpu-problem').textContent = problem;
  const list = byId('webgpu-help');
  list.replaceChildren(
    ...help.map((h) => {
      const li = document.createElement('li');
      li.textContent = h;
      return li;
    }),
  );
  byId('webgpu-notice').hidden = false;
}

export function renderPreview(label: string, text: string): void {
  byId('preview-label').textContent = label;
  byId('preview').textContent = text;
}
