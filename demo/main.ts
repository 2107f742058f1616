import { App, type PageState } from './app.js';
import { ENABLE_WEBGPU_HELP, probeGpu } from './device.js';
import { renderCheckAvailability, wireCheck, wireCheckpoints } from './panels/checkpoints.js';
import { wireGuide } from './panels/guide.js';
import { wireInspect } from './panels/inspect.js';
import { wireSample } from './panels/sample.js';
import { wireText } from './panels/text.js';
import { wireTrained } from './panels/trained.js';
import { wireTraining, writePreviewTemperature } from './panels/training.js';
import { Session } from './session.js';
import { type Kept, kept } from './store.js';
import type { DeviceKind } from '../src/index.js';
import { CUSTOM_CONFIG, customSample, inspectFor, TEXTS } from './texts.js';
import { applyLink, readLink } from './url.js';
import * as controls from './views/controls.js';
import { byId, describeError, formatCount, showMessage } from './views/dom.js';
import { renderDevice, showNoGpuNotice } from './views/live.js';

// Start-up: the page is usable at once on the CPU engine (a model of the tutorial's size
// builds in milliseconds) while it looks for a GPU; when one is found and the model has not
// trained yet, the same weights move to it (a Train pressed meanwhile waits for the move).
// Settings come from the address when it has them (url.ts). The panels do the rest.

async function start(): Promise<void> {
  controls.fillTextChoices(TEXTS);
  const link = readLink(location.search);
  const bundled = TEXTS.find((t) => t.id === link.text);
  const own = link.text === 'custom' && link.string ? link.string : undefined;
  const preset = bundled ?? (own ? undefined : TEXTS[0]);
  const base = preset?.config ?? CUSTOM_CONFIG;
  const { config, problem } = applyLink(base, link);
  const text = own ?? preset!.text;
  const state: PageState = { text, textName: preset?.id ?? 'custom', base, pending: false, checkpointName: 'FILE', gpu: 'probing' };
  const sample = preset?.sample ?? customSample(text);
  controls.writeTextChoice(preset?.id ?? 'custom');
  controls.writeConfig(config);
  controls.writeSample(sample);
  writePreviewTemperature(sample.greedy ? 0 : sample.temperature);
  controls.writeDevice('cpu', undefined);
  byId<HTMLTextAreaElement>('text-input').value = text;
  byId<HTMLInputElement>('inspect-input').value = preset?.inspect ?? inspectFor(text);
  controls.renderTextStats(text);
  renderCheckAvailability(undefined);

  const session = await Session.create(undefined, { text, config: { ...config, logEvery: 10 }, device: 'cpu' });
  if (link.recurrence) session.recurrence = link.recurrence;
  const app = new App(session, state);
  wireGuide(app, state.textName);
  wireText(app);
  wireTrained(app);
  wireTraining(app);
  wireSample(app);
  wireInspect(app);
  wireCheck(app);
  wireCheckpoints(app);
  // the model kept in this browser comes back where the address names its text (or none)
  const k = await kept();
  const restored = k && (!link.text || link.text === k.textName) ? await restoreKept(app, k) : undefined;
  app.renderModel();
  if (problem) showMessage(byId('train-message'), problem);
  await app.refresh();
  document.body.dataset.ready = 'true';
  window.addEventListener('pagehide', () => void app.keepModel());
  await findGpu(app, link.device ?? 'measure', restored === 'gpu');
}

/** The kept model, text and settings on the CPU engine (the GPU is not found yet); the device
 * it trained on, or undefined when it could not be restored (the page keeps its fresh model). */
async function restoreKept(app: App, k: Kept): Promise<DeviceKind | undefined> {
  const { session, state } = app;
  const { saved } = k;
  const preset = TEXTS.find((t) => t.id === k.choice);
  try {
    await session.restore({ ...saved, spec: { ...saved.spec, device: 'cpu' } });
  } catch {
    return undefined;
  }
  Object.assign(state, { text: saved.spec.text, textName: k.textName, base: preset?.config ?? CUSTOM_CONFIG, pending: false });
  byId<HTMLTextAreaElement>('text-input').value = saved.spec.text;
  controls.renderTextStats(saved.spec.text);
  controls.writeTextChoice(k.choice);
  controls.writeConfig(saved.spec.config);
  if (preset) byId<HTMLInputElement>('inspect-input').value = preset.inspect;
  const when = new Date(k.keptAt).toLocaleString();
  showMessage(byId('train-message'), `Your model is back as this browser kept it (step ${formatCount(saved.start.step)}, ${when}). Reset starts a new one.`, 'info');
  document.body.dataset.kept = String(saved.start.step);
  return saved.spec.device;
}

/** Looks for a GPU without holding up the page; moves an untrained model onto it (where the
 * address asks for the GPU, or where it measures faster), and a restored one that trained
 * there (`back`). */
async function findGpu(app: App, wanted: 'gpu' | 'cpu' | 'measure', back = false): Promise<void> {
  const { session, state } = app;
  const probe = await probeGpu(navigator.gpu, window.isSecureContext);
  if (!probe.ctx) {
    state.gpu = 'none';
    showNoGpuNotice(probe.problem ?? '', ENABLE_WEBGPU_HELP);
    controls.writeDevice('cpu', false);
    renderCheckAvailability(false);
    renderDevice(session.summary, state.gpu);
    document.body.dataset.gpu = 'none';
    return;
  }
  session.ctx = probe.ctx;
  state.gpu = probe.ctx.adapterName;
  renderCheckAvailability(true);
  let move = wanted !== 'cpu' && (!session.trained || back) && !session.isRunning && session.summary.device === 'cpu';
  // No engine asked for (a first visit): the faster on this model, timed (a software GPU is
  // often slower than the CPU engine).
  if (move && wanted === 'measure' && !back) {
    renderDevice(session.summary, state.gpu, 'timing');
    try {
      const cpu = await session.speedOf('cpu', 300);
      const gpu = await session.speedOf('gpu', 300);
      if (Number.isFinite(cpu) && Number.isFinite(gpu)) {
        state.timing = { cpu, gpu };
        move = gpu > cpu && !session.trained && !session.isRunning;
      }
    } catch {
      // (the move below says why, if the GPU engine cannot start)
    }
  }
  controls.writeDevice(move ? 'gpu' : session.summary.device, true);
  if (move) {
    try {
      await session.setDevice('gpu');
    } catch (e) {
      controls.writeDevice('cpu', true);
      showMessage(byId('train-message'), `The GPU engine could not start, so the page stays on the CPU: ${describeError(e)}`);
    }
  }
  app.renderModel();
  document.body.dataset.gpu = 'ready';
}

start().catch((e) => {
  const box = byId('device');
  box.textContent = `The page could not start: ${describeError(e)}`;
  box.dataset.device = 'none';
});
