import { CELLS } from '../../src/index.js';
import type { ModelSummary, Progress } from '../model.js';
import { byId, formatCount } from './dom.js';

// The numbers that change while training, the engine badge and the WebGPU notice. Every number
// sits in a box of fixed width (style.css), so updates never move the layout.

const lossText = (x: number) => (!Number.isFinite(x) ? '–' : x < 1e4 ? x.toFixed(4) : x.toExponential(2));

export function renderProgress(p: Progress): void {
  byId('stat-step').textContent = formatCount(p.step);
  byId('stat-loss').textContent = p.diverged ? 'diverged' : lossText(p.loss);
  byId('stat-val').textContent = lossText(p.valLoss);
  byId('stat-speed').textContent = p.charsPerSec > 0 ? formatCount(p.charsPerSec) : '–';
  // whole passes as a count, a pass under way to two decimals (char-rnn's "epoch 1.25")
  byId('stat-epoch').textContent = Number.isInteger(p.epoch) ? formatCount(p.epoch) : p.epoch.toFixed(2);
  byId('stats').dataset.state = p.running ? 'training' : p.diverged ? 'diverged' : 'idle';
  renderRun(p);
  // aria-disabled rather than disabled: a button that keeps keyboard focus while it is off.
  setOff(byId('train'), p.running);
  setOff(byId('step'), p.running);
  setOff(byId('pause'), !p.running);
}

/** The run's progress: a bar and "step 400 of 1,000, about 3 s left", or "until Pause". */
function renderRun(p: Progress): void {
  const bar = byId<HTMLProgressElement>('run-bar');
  const line = byId('run-line');
  if (!p.running || p.target === undefined) {
    bar.hidden = true;
    line.textContent = '';
    return;
  }
  bar.hidden = false;
  const rate = p.stepsPerSec > 0 ? ` at ${formatCount(p.stepsPerSec)} steps/s` : '';
  if (!Number.isFinite(p.target)) {
    bar.removeAttribute('value');
    line.textContent = `Training until you press Pause${rate}.`;
    return;
  }
  const from = p.from ?? 0;
  bar.max = p.target - from;
  bar.value = p.step - from;
  const left = p.stepsPerSec > 0 ? ` about ${duration((p.target - p.step) / p.stepsPerSec)} left` : '';
  line.textContent = `Step ${formatCount(p.step)} of ${formatCount(p.target)}${rate};${left || ' measuring the speed…'}`;
}

/** 42 s, 3 min 5 s, 1 h 2 min. */
export function duration(s: number): string {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function setOff(button: HTMLElement, off: boolean): void {
  button.setAttribute('aria-disabled', String(off));
}

export function isOff(button: HTMLElement): boolean {
  return button.getAttribute('aria-disabled') === 'true';
}

/** `gpu`: 'probing' while the page looks for one, its adapter's name, or 'none'; `timing`:
 * both engines' speed where the page timed them to choose ('timing' while it does). */
export function renderDevice(s: ModelSummary, gpu: string, timing?: { cpu: number; gpu: number } | 'timing'): void {
  const el = byId('device');
  el.dataset.device = s.device;
  if (timing === 'timing') {
    el.textContent = `Timing the GPU (${gpu}) and the CPU engine on this model, to train on the faster…`;
    return;
  }
  const software = /swiftshader|llvmpipe|lavapipe|software/i.test(gpu);
  const measured = timing ? `; measured on this model: GPU ${formatCount(timing.gpu)} chars/s, CPU ${formatCount(timing.cpu)} chars/s` : '';
  el.dataset.timed = String(!!timing);
  el.textContent =
    s.device === 'gpu'
      ? `Engine: GPU (WebGPU) on ${gpu}${measured || (software ? ', a software renderer: the CPU engine may well be faster here' : '')}`
      : `Engine: CPU (the float64 reference)` +
        (gpu === 'probing' ? '; looking for a GPU…' : gpu === 'none' ? '' : measured ? `${measured} on ${gpu}` : `; GPU ready: ${gpu} (choose it under Engine)`);
}

/** While a model is built: what, in the summary's place (the old sizes would be wrong). */
export function renderBusy(what: string | undefined): void {
  const el = byId('model-summary');
  el.dataset.busy = String(what !== undefined);
  byId('model-panel').setAttribute('aria-busy', String(what !== undefined));
  if (what) el.textContent = what;
}

export function renderSummary(s: ModelSummary): void {
  if (byId('model-summary').dataset.busy === 'true') return;
  const val = s.valChars > 0 ? ` The last ${formatCount(s.valChars)} characters are held out for validation.` : '';
  const where = s.checkpoint ? ` Weights from ${s.checkpoint}.` : '';
  const steps = s.textProblem ? 'it cannot train on this text' : `each step trains on ${s.B} × ${s.T} characters`;
  const model = `${CELLS[s.cell].title}, ${s.layers} ${s.layers === 1 ? 'layer' : 'layers'} of ${s.H} hidden units`;
  const dropout = s.dropout > 0 ? `, dropout ${s.dropout}` : '';
  const el = byId('model-summary');
  el.textContent = `${model}${dropout}; ${s.V} distinct characters, ${formatCount(s.parameters)} parameters; ${steps}.${val}${where}`;
  // how the GPU runs the recurrence, on hover
  el.title = s.recurrence ? `GPU recurrence: ${s.recurrence}` : '';
  el.dataset.recurrence = s.recurrence ?? '';
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
  byId('preview').dataset.label = label;
  byId('preview-label').textContent = label;
  byId('preview').textContent = text;
}
