import type { TrainConfig } from '../src/index.js';
import type { Spec } from './model.js';
import type { GuideStep } from './panels/guide.js';
import type { Session } from './session.js';
import { keep } from './store.js';
import { UndoOffer } from './undo.js';
import { linkFor } from './url.js';
import { LossChart } from './views/chart.js';
import { renderCliHint, renderTrainHint } from './views/cli.js';
import * as controls from './views/controls.js';
import { byId, describeError, showMessage, shownChar } from './views/dom.js';
import { renderDevice, renderPreview, renderProgress, renderSummary } from './views/live.js';

/** The chart's smoothing at first: the raw training loss is a thick noisy band. */
const DEFAULT_SMOOTHING = 0.6;

// What the panels share: the session, the page's own state (the text, the preset under the
// form, the GPU's status), and the redraws that more than one panel asks for. The panels
// (panels/*.ts) wire their controls to these; no model code here, no drawing code.

/** The settings that make the model (not the steps per Train). */
const MODEL_SETTINGS = ['cell', 'layers', 'hidden', 'dropout', 'seqLen', 'batch', 'optimizer', 'lr', 'clip', 'seed', 'valFraction'] as const;

/** Read the loss back (a point on the chart) every this many steps. */
export const LOG_EVERY = 10;
/** Milliseconds between refreshes of the preview and "Look inside" while training. */
const REFRESH_MS = 700;
/** The panels drawn from the weights besides the preview: large DOM (KaTeX, the heatmap), whose
 * redraw lays out the whole page, so while training they are redrawn only when on screen. */
const INSPECT_PANELS = ['inspect-panel', 'how-panel'] as const;

export interface PageState {
  text: string;
  /** a bundled text's id, 'custom', or an opened file's name */
  textName: string;
  /** the settings the form does not show come from the chosen text's preset */
  base: TrainConfig;
  /** settings changed after training: they apply at the next Reset */
  pending: boolean;
  /** the bundled text the current own text was edited from (a small edit of it) */
  editedFrom?: string;
  /** the checkpoint the sample hint names: FILE until one is downloaded */
  checkpointName: string;
  /** 'probing' while looking for a GPU, then its adapter's name, or 'none' */
  gpu: string;
  /** both engines' training speed on the model, chars/s, where the page timed them to choose */
  timing?: { cpu: number; gpu: number };
}

export class App {
  readonly chart: LossChart;
  /** Redraws of "Look inside" and "How it works" (set by their panel). */
  refreshInspect: () => Promise<void> = async () => undefined;
  /** A fresh model from the form (set by the training panel). */
  rebuild: () => Promise<boolean> = async () => false;
  /** The offer to go back to the model a replacement threw away (undo.ts). */
  readonly undo: UndoOffer;
  /** Ticks a step of the guide (set by panels/guide.ts). */
  guide: (step: GuideStep) => void = () => undefined;
  /** Empties "Let it write" (set by the sample panel): a new model has written nothing yet. */
  clearSample: () => void = () => undefined;
  private lastRefresh = 0;
  private refreshing = false;
  private refreshAgain = false;
  /** Which of INSPECT_PANELS intersect the viewport. */
  private readonly onScreen = new Set<string>();
  /** "Look inside" skipped a refresh while off screen: it is redrawn when it comes into view. */
  private inspectStale = false;

  constructor(
    readonly session: Session,
    readonly state: PageState,
  ) {
    this.undo = new UndoOffer(this);
    this.chart = new LossChart(byId('chart'), byId('chart-legend'), byId('chart-note'), { smoothing: DEFAULT_SMOOTHING, log: false });
    session.onRunEnd = () => void this.keepModel();
    session.onProgress = (p) => {
      if (p.step > 0 && this.state.textName === 'hello') this.guide('train');
      renderProgress(p);
      if (!p.running) this.renderCli();
      this.chart.show(session.history);
      if (!p.running || performance.now() - this.lastRefresh > REFRESH_MS) void this.refresh();
    };
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) this.onScreen.add(e.target.id);
        else this.onScreen.delete(e.target.id);
      }
      if (this.onScreen.has('how-panel')) this.guide('why');
      if (this.inspectStale && this.onScreen.size > 0) void this.refresh();
    });
    for (const id of INSPECT_PANELS) seen.observe(byId(id));
  }

  isOnScreen(id: (typeof INSPECT_PANELS)[number]): boolean {
    return this.onScreen.has(id);
  }

  readForm(): controls.Controls {
    return controls.readConfig({ ...this.state.base, logEvery: LOG_EVERY });
  }

  /** Keeps a trained model in the browser (store.ts), for a reload; a diverged one never
   * replaces it (keepModel is not called then), and a run in progress is kept when it ends.
   * body[data-kept] is the step kept. */
  async keepModel(): Promise<void> {
    const s = this.session;
    if (!s.trained || s.isRunning || s.progress.diverged) return;
    try {
      const saved = await s.save();
      const choice = byId<HTMLSelectElement>('text-choice').value;
      await keep({ saved, textName: this.state.textName, choice, keptAt: new Date().toISOString() });
      document.body.dataset.kept = String(saved.start.step);
    } catch {
      // nothing kept (no IndexedDB, or it refused): the page goes on as it was
    }
  }

  spec(): Spec {
    return { text: this.state.text, ...this.readForm() };
  }

  /** Everything that shows the model: after a build, a load, a device switch. */
  renderModel(): void {
    const s = this.session;
    if (s.progress.step === 0) this.clearSample();
    renderProgress(s.progress);
    renderSummary(s.summary);
    renderDevice(s.summary, this.state.gpu, this.state.timing);
    this.renderCli();
    this.renderPending();
    this.chart.show(s.history);
  }

  /** Settings changed after training apply at the next Reset: the fields that differ from the
   * model being trained are marked, and a line says which model Train and Step go on with. */
  renderPending(): void {
    const s = this.session;
    const form = this.readForm().config;
    const diffs = s.trained ? controls.differences(s.settings, form, MODEL_SETTINGS) : [];
    controls.markDiffering(diffs.map((d) => d.id));
    const was = this.state.pending;
    this.state.pending = diffs.length > 0;
    if (this.state.pending)
      showMessage(byId('train-message'), `The form differs from the model being trained (${diffs.map((d) => d.text).join(', ')}): Train and Step go on with the model as it is; Reset starts a new one with the form's settings.`, 'info');
    else if (was) showMessage(byId('train-message'), '', 'info');
  }

  renderCli(): void {
    const s = this.session;
    const steps = s.progress.step || (Number.isFinite(controls.readSteps()) ? controls.readSteps() : 1000);
    renderTrainHint(s.settings, this.state.text, this.state.textName, steps);
    this.renderSampleCli();
    this.renderLink();
  }

  renderSampleCli(): void {
    renderCliHint(this.state.checkpointName, controls.readSample());
  }

  /** The address bar and the share link hold the current settings. */
  renderLink(): void {
    const { config, device } = this.readForm();
    const id = byId<HTMLSelectElement>('text-choice').value;
    const { search, textInLink } = linkFor(id, this.state.text, { ...config, ...this.session.settings, steps: config.steps }, device);
    history.replaceState(null, '', search);
    const a = byId<HTMLAnchorElement>('share-link');
    a.href = search;
    a.textContent = textInLink ? 'this page' : 'this page (without your text: it is too long for a link)';
  }

  /** Redraws the preview and "Look inside" from the current weights; a request that comes
   * while one is drawing runs once more after it, so the last state is always shown. */
  async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.refreshAgain = false;
        this.lastRefresh = performance.now();
        const inspect = !this.session.isRunning || this.onScreen.size > 0;
        this.inspectStale = !inspect;
        await Promise.all([this.refreshPreview(), inspect ? this.refreshInspect() : undefined]);
      } while (this.refreshAgain);
    } finally {
      this.refreshing = false;
    }
  }

  /** A guess from the text's first character: greedy at temperature 0, else sampled (a new
   * draw at every refresh, seeded by the step). */
  private async refreshPreview(): Promise<void> {
    const s = this.session;
    const first = [...this.state.text][0];
    const prime = first !== undefined && s.vocab.has(first) ? first : s.vocab.chars[0];
    const length = Math.max(1, Math.min(60, [...this.state.text].length - 1));
    const temperature = byId<HTMLInputElement>('preview-temperature').valueAsNumber;
    const label = temperature > 0 ? `Sample at temperature ${temperature.toFixed(1)} from “${shownChar(prime)}”:` : `Greedy guess from “${shownChar(prime)}”:`;
    try {
      renderPreview(label, await s.preview(prime, length, temperature, s.progress.step));
    } catch (e) {
      renderPreview(label, describeError(e));
    }
  }
}
