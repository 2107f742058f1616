import { DivergedError } from '../../src/index.js';
import type { App } from '../app.js';
import * as controls from '../views/controls.js';
import { byId, describeError, markInvalid, showMessage } from '../views/dom.js';
import { isOff, renderBusy, renderSummary } from '../views/live.js';

// The model form, Train / Pause / Step / Reset, the busy line while a model is built, the
// chart's controls and the preview's temperature.

/** The library's divergence advice names CLI flags; the page names its own fields. */
export function divergenceMessage(e: DivergedError): string {
  const m = e.message.replace(
    /Lower the learning rate \(--lr ([^)]*)\) or clip the gradients \([^)]*\)\./,
    (_, lr: string) => `Lower the learning rate (try ${lr}) or set a gradient clip (try 5), then press Reset to start again.`,
  );
  return describeError(m);
}

export function wireTraining(app: App): void {
  const { session, state } = app;
  const trainMessage = byId('train-message');
  const form = byId('config-form');

  session.onBusy = (what) => {
    renderBusy(what);
    if (!what) renderSummary(session.summary);
  };

  async function rebuild(): Promise<boolean> {
    try {
      await session.build(app.spec());
      markInvalid(form);
      state.pending = false;
      showMessage(trainMessage, '', 'info');
      app.renderModel();
      void app.refresh();
      return true;
    } catch (e) {
      markInvalid(form, e);
      showMessage(trainMessage, describeError(e));
      return false;
    }
  }
  app.rebuild = rebuild;

  controls.onConfigChange(async (field) => {
    app.renderLink();
    if (field === 'steps') return app.renderCli();
    if (field === 'device') {
      try {
        await session.setDevice(app.readForm().device);
        app.renderModel();
      } catch (e) {
        showMessage(trainMessage, describeError(e));
      }
      return;
    }
    if (session.progress.step === 0 && !session.isRunning) await rebuild();
    else app.renderPending();
  });

  async function train(steps: number): Promise<void> {
    const stepsField = byId('cfg-steps');
    if (!(steps === Infinity || (Number.isInteger(steps) && steps >= 1))) {
      stepsField.setAttribute('aria-invalid', 'true');
      showMessage(trainMessage, 'Steps per Train must be a whole number of at least 1 (or empty: until Pause).');
      return;
    }
    stepsField.removeAttribute('aria-invalid');
    app.undo.clear();
    if (state.pending && session.progress.step === 0 && !(await rebuild())) return;
    if (!state.pending) showMessage(trainMessage, '', 'info');
    try {
      await session.train(steps);
    } catch (e) {
      showMessage(trainMessage, e instanceof DivergedError ? divergenceMessage(e) : describeError(e));
    }
  }
  const trainButton = byId('train');
  const stepButton = byId('step');
  trainButton.addEventListener('click', () => {
    if (!isOff(trainButton)) void train(controls.readSteps());
  });
  stepButton.addEventListener('click', () => {
    if (!isOff(stepButton)) void train(1);
  });
  byId('pause').addEventListener('click', () => session.pause());
  // Reset throws the trained model away: Undo brings it back
  byId('reset').addEventListener('click', async () => {
    const u = await app.undo.take();
    if (await rebuild()) app.undo.offer(u, 'train', u ? 'A new model from the settings above.' : '');
  });
  wireViewControls(app);
}

/** The chart's smoothing and scale, and the preview's temperature. */
function wireViewControls(app: App): void {
  const smoothing = byId<HTMLInputElement>('chart-smoothing');
  smoothing.addEventListener('input', () => {
    byId('chart-smoothing-value').textContent = smoothing.valueAsNumber.toFixed(2);
    app.chart.setOptions({ smoothing: smoothing.valueAsNumber });
  });
  byId<HTMLInputElement>('chart-log').addEventListener('change', (e) => app.chart.setOptions({ log: (e.target as HTMLInputElement).checked }));

  // The preview's temperature: a new guess at once, then at every refresh while training.
  const temperature = byId<HTMLInputElement>('preview-temperature');
  temperature.addEventListener('input', () => {
    byId('preview-temperature-value').textContent = temperature.valueAsNumber.toFixed(1);
    void app.refresh();
  });
}

/** The preview's temperature for a text's sample settings: 0 (greedy) or their temperature. */
export function writePreviewTemperature(t: number): void {
  const el = byId<HTMLInputElement>('preview-temperature');
  el.value = String(t);
  byId('preview-temperature-value').textContent = el.valueAsNumber.toFixed(1);
}
