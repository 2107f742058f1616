import { DivergedError, type TrainConfig } from '../src/index.js';
import { repeats, type Inspection } from './analysis.js';
import { ENABLE_WEBGPU_HELP, probeGpu } from './device.js';
import { CHECK_STEPS, Session, type Spec } from './session.js';
import { CUSTOM_CONFIG, customSample, TEXTS } from './texts.js';
import { LossChart } from './views/chart.js';
import { renderCheck, renderCheckPending } from './views/check.js';
import * as controls from './views/controls.js';
import { byId, describeError, showMessage, shownChar } from './views/dom.js';
import { renderCliHint, renderTrainHint } from './views/cli.js';
import { download, fileBytes, fileText } from './views/files.js';
import { renderHeatmap } from './views/heatmap.js';
import { renderBars, renderSurprisalLegend, renderTokens, repeatNote } from './views/inspect.js';
import { isOff, renderDevice, renderPreview, renderProgress, renderSummary, setOff, showNoGpuNotice } from './views/live.js';

// Wiring: page events call the session, session events redraw the views. No model code here
// (session.ts) and no drawing code (views/).

/** Read the loss back (a point on the chart) every this many steps. */
const LOG_EVERY = 10;
/** Milliseconds between refreshes of the preview and "Look inside" while training. */
const REFRESH_MS = 700;

const el = {
  textChoice: byId<HTMLSelectElement>('text-choice'),
  textInput: byId<HTMLTextAreaElement>('text-input'),
  textFile: byId<HTMLInputElement>('text-file'),
  textMessage: byId('text-message'),
  trainMessage: byId('train-message'),
  sampleOutput: byId('sample-output'),
  sampleMessage: byId('sample-message'),
  inspectInput: byId<HTMLInputElement>('inspect-input'),
  inspectMessage: byId('inspect-message'),
  heatmap: byId('heatmap'),
  checkTable: byId<HTMLTableElement>('check-table'),
  checkVerdict: byId('check-verdict'),
  ckptMessage: byId('ckpt-message'),
};

async function start(): Promise<void> {
  controls.fillTextChoices(TEXTS);
  byId('check-steps').textContent = String(CHECK_STEPS);
  const probe = await probeGpu(navigator.gpu, window.isSecureContext);
  if (!probe.ctx) showNoGpuNotice(probe.problem ?? '', ENABLE_WEBGPU_HELP);
  const adapterName = probe.ctx?.adapterName;

  let text = TEXTS[0].text;
  let textName = TEXTS[0].id;
  let pending = false;
  // The settings the form does not show come from the chosen text's preset.
  let base: TrainConfig = TEXTS[0].config;
  const readForm = () => controls.readConfig({ ...base, logEvery: LOG_EVERY });
  controls.writeConfig(TEXTS[0].config);
  controls.writeSample(TEXTS[0].sample);
  controls.writeDevice(probe.ctx ? 'gpu' : 'cpu', !!probe.ctx);
  el.textInput.value = text;
  el.inspectInput.value = TEXTS[0].inspect;
  controls.renderTextStats(text);

  const spec = (): Spec => ({ text, ...readForm() });
  const session = await Session.create(probe.ctx, spec());
  const chart = new LossChart(byId('chart'));

  // --- redrawing -------------------------------------------------------------------------
  let lastRefresh = 0;
  let refreshing = false;
  let refreshAgain = false;
  /** Redraws the preview and "Look inside" from the current weights; a request that comes
   * while one is drawing runs once more after it, so the last state is always shown. */
  async function refresh(): Promise<void> {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      do {
        refreshAgain = false;
        lastRefresh = performance.now();
        await Promise.all([refreshPreview(), refreshInspect()]);
      } while (refreshAgain);
    } finally {
      refreshing = false;
    }
  }
  /** The checkpoint the sample hint names: FILE until one is downloaded. */
  let checkpointName = 'FILE';
  const renderSampleCli = () => renderCliHint(checkpointName, controls.readSample());
  const renderTrainCli = () => {
    const c = session.settings;
    renderTrainHint(c, text, textName, session.progress.step || readForm().config.steps);
    renderSampleCli(); // (a text switch brings its own sample settings)
  };
  session.onProgress = (p) => {
    renderProgress(p);
    if (!p.running) renderTrainCli();
    chart.show(session.series.step, session.series.loss);
    if (!p.running || performance.now() - lastRefresh > REFRESH_MS) void refresh();
  };
  function renderModel(): void {
    renderProgress(session.progress);
    renderSummary(session.summary);
    renderDevice(session.summary, adapterName);
    renderTrainCli();
    chart.show(session.series.step, session.series.loss);
    if (session.summary.textProblem) showMessage(el.trainMessage, session.summary.textProblem, 'info');
  }

  async function refreshPreview(): Promise<void> {
    const first = [...text][0];
    const prime = first !== undefined && session.vocab.has(first) ? first : session.vocab.chars[0];
    const length = Math.max(1, Math.min(60, [...text].length - 1));
    try {
      renderPreview(`Greedy guess from “${shownChar(prime)}”:`, await session.greedy(prime, length));
    } catch (e) {
      renderPreview('Greedy guess:', describeError(e));
    }
  }

  // --- text --------------------------------------------------------------------------------
  /** A fresh model from the page's text and settings; a problem is shown in `where`. */
  async function rebuild(where: HTMLElement): Promise<boolean> {
    try {
      await session.build(spec());
      pending = false;
      showMessage(el.trainMessage, '', 'info');
      showMessage(el.textMessage, '', 'info');
      renderModel();
      void refresh();
      return true;
    } catch (e) {
      showMessage(where, describeError(e));
      return false;
    }
  }

  async function useText(next: string, name: string): Promise<void> {
    text = next;
    textName = name;
    el.textInput.value = next;
    controls.renderTextStats(next);
    if (await rebuild(el.textMessage)) fitToVocabulary();
  }

  /** After a new text: a "Look inside" string or a start of the sample that the new model
   * cannot read is replaced by the text's own beginning. */
  function fitToVocabulary(): void {
    const fits = (s: string) => [...s].every((c) => session.vocab.has(c));
    if (!fits(text)) return;
    const firstLine = [...text.split('\n')[0]].slice(0, 40).join('') || [...text].slice(0, 40).join('');
    if (!fits(el.inspectInput.value)) el.inspectInput.value = firstLine;
    const prime = byId<HTMLInputElement>('sample-prime');
    if (!fits(prime.value) || prime.value === '') prime.value = [...text][0];
    void refresh();
  }

  el.textChoice.addEventListener('change', async () => {
    const t = TEXTS.find((x) => x.id === el.textChoice.value);
    if (!t) {
      el.textInput.focus();
      return;
    }
    base = t.config;
    controls.writeConfig(t.config);
    controls.writeSample(t.sample);
    el.inspectInput.value = t.inspect;
    await useText(t.text, t.id);
  });

  /** Leaving the bundled texts for a text of one's own: settings for a text of some length. */
  function useCustomSettings(t: string): void {
    base = CUSTOM_CONFIG;
    controls.writeConfig(CUSTOM_CONFIG);
    controls.writeSample(customSample(t));
    el.inspectInput.value = [...t.split('\n')[0]].slice(0, 40).join('');
  }

  let typing: ReturnType<typeof setTimeout> | undefined;
  el.textInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const t = el.textInput.value;
      // Pasting a long text over a bundled one brings settings to match; small edits keep them.
      if (el.textChoice.value !== 'custom' && [...t].length > 100) useCustomSettings(t);
      el.textChoice.value = 'custom';
      void useText(t, 'custom');
    }, 500);
  });

  el.textFile.addEventListener('change', async () => {
    const file = el.textFile.files?.[0];
    if (!file) return;
    try {
      const t = await fileText(file);
      el.textChoice.value = 'custom';
      useCustomSettings(t);
      await useText(t, file.name.replace(/\.[^.]*$/, ''));
    } catch (e) {
      showMessage(el.textMessage, describeError(e));
    }
  });

  // --- training ----------------------------------------------------------------------------
  controls.onConfigChange(async (field) => {
    if (field === 'steps') return renderTrainCli();
    if (field === 'device') {
      try {
        await session.setDevice(readForm().device);
        renderModel();
      } catch (e) {
        showMessage(el.trainMessage, describeError(e));
      }
      return;
    }
    if (session.progress.step === 0 && !session.isRunning) await rebuild(el.trainMessage);
    else {
      pending = true;
      showMessage(el.trainMessage, 'Settings changed: press Reset to start a new model with them.', 'info');
    }
  });

  async function train(steps: number): Promise<void> {
    if (!(Number.isInteger(steps) && steps >= 1)) {
      showMessage(el.trainMessage, 'Steps per Train must be a whole number of at least 1.');
      return;
    }
    if (pending && session.progress.step === 0 && !(await rebuild(el.trainMessage))) return;
    if (!pending) showMessage(el.trainMessage, '', 'info');
    try {
      await session.train(steps);
    } catch (e) {
      showMessage(el.trainMessage, describeError(e) + (e instanceof DivergedError ? ' Press Reset to start again.' : ''));
    }
  }
  const trainButton = byId('train');
  const stepButton = byId('step');
  trainButton.addEventListener('click', () => {
    if (!isOff(trainButton)) void train(readForm().config.steps);
  });
  stepButton.addEventListener('click', () => {
    if (!isOff(stepButton)) void train(1);
  });
  byId('pause').addEventListener('click', () => session.pause());
  byId('reset').addEventListener('click', () => void rebuild(el.trainMessage));

  // --- sampling ----------------------------------------------------------------------------
  byId<HTMLFormElement>('sample-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const s = controls.readSample();
    showMessage(el.sampleMessage, '', 'info');
    el.sampleOutput.dataset.done = 'false';
    el.sampleOutput.textContent = '';
    try {
      await session.sample(s, (out, done) => {
        el.sampleOutput.textContent = out;
        el.sampleOutput.dataset.done = String(done);
      });
    } catch (e) {
      showMessage(el.sampleMessage, describeError(e));
    }
  });
  byId('sample-greedy').addEventListener('change', controls.syncGreedy);
  byId<HTMLFormElement>('sample-form').addEventListener('input', renderSampleCli);
  byId<HTMLFormElement>('sample-form').addEventListener('change', renderSampleCli);

  // --- look inside -------------------------------------------------------------------------
  let inspection: Inspection | undefined;
  let selected = -1;
  const showSelected = () => {
    if (!inspection) return;
    renderTokens(byId('tokens'), inspection, selected, (t) => {
      selected = t;
      showSelected();
    });
    renderBars(byId('bars-title'), byId<HTMLOListElement>('bars'), inspection, selected);
  };
  async function refreshInspect(): Promise<void> {
    const wanted = el.inspectInput.value;
    try {
      const ins = await session.inspect(wanted);
      if (el.inspectInput.value !== wanted) return;
      if (!inspection || inspection.chars.join('') !== wanted) selected = ins.chars.length - 1;
      inspection = ins;
      showMessage(el.inspectMessage, '', 'info');
      showSelected();
      renderSurprisalLegend(byId('surprisal-legend'), ins.vocab.length);
      renderHeatmap(el.heatmap, ins, el.heatmap.clientWidth);
      byId('repeat-note').textContent = repeatNote(repeats(ins));
    } catch (e) {
      showMessage(el.inspectMessage, describeError(e));
    }
  }
  let inspectTimer: ReturnType<typeof setTimeout> | undefined;
  el.inspectInput.addEventListener('input', () => {
    clearTimeout(inspectTimer);
    inspectTimer = setTimeout(() => void refreshInspect(), 120);
  });
  // The heatmap's columns are sized to its box: redrawn when the box changes width.
  let heatmapWidth = el.heatmap.clientWidth;
  new ResizeObserver(() => {
    if (el.heatmap.clientWidth === heatmapWidth) return;
    heatmapWidth = el.heatmap.clientWidth;
    clearTimeout(inspectTimer);
    inspectTimer = setTimeout(() => void refreshInspect(), 120);
  }).observe(el.heatmap);

  // --- GPU vs CPU --------------------------------------------------------------------------
  const checkButton = byId<HTMLButtonElement>('check-run');
  if (!probe.ctx) {
    checkButton.disabled = true;
    renderCheckPending(el.checkTable, el.checkVerdict, 'Needs WebGPU, which this browser does not offer (see the notice at the top).');
  }
  checkButton.addEventListener('click', async () => {
    if (isOff(checkButton)) return;
    setOff(checkButton, true);
    byId('check-detail').textContent = '';
    renderCheckPending(el.checkTable, el.checkVerdict, 'Running both engines…');
    try {
      renderCheck(el.checkTable, el.checkVerdict, byId('check-detail'), await session.check());
    } catch (e) {
      renderCheckPending(el.checkTable, el.checkVerdict, describeError(e), false);
    } finally {
      setOff(checkButton, false);
    }
  });

  // --- checkpoints -------------------------------------------------------------------------
  byId('ckpt-download').addEventListener('click', async () => {
    try {
      const name = `char-rnn-${textName}-step${session.progress.step}.safetensors`;
      download(await session.saveCheckpoint(), name);
      showMessage(el.ckptMessage, `Saved ${name}.`, 'ok');
      checkpointName = name;
      renderSampleCli();
    } catch (e) {
      showMessage(el.ckptMessage, describeError(e));
    }
  });
  const ckptFile = byId<HTMLInputElement>('ckpt-file');
  ckptFile.addEventListener('change', async () => {
    const file = ckptFile.files?.[0];
    if (!file) return;
    try {
      const { device } = readForm();
      const config = await session.loadCheckpoint(await fileBytes(file), file.name, text, device);
      controls.writeConfig({ ...config, steps: readForm().config.steps });
      pending = false;
      showMessage(el.trainMessage, '', 'info');
      const s = session.summary;
      showMessage(
        el.ckptMessage,
        `Loaded ${file.name}: step ${session.progress.step}, ${s.V} characters, ${s.H} hidden units.`,
        'ok',
      );
      renderModel();
      void refresh();
    } catch (e) {
      showMessage(el.ckptMessage, describeError(e));
    } finally {
      ckptFile.value = '';
    }
  });

  renderModel();
  await refresh();
  document.body.dataset.ready = 'true';
}

start().catch((e) => {
  const box = byId('device');
  box.textContent = `The page could not start: ${describeError(e)}`;
  box.dataset.device = 'none';
});
