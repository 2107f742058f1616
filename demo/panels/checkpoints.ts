import type { App } from '../app.js';
import { CHECK_STEPS, checkEngines, checkpointOf, loadInto } from '../checkpoints.js';
import { renderCheck, renderCheckPending } from '../views/check.js';
import * as controls from '../views/controls.js';
import { byId, describeError, formatCount, showMessage } from '../views/dom.js';
import { download, fileBytes } from '../views/files.js';
import { isOff, setOff } from '../views/live.js';

// The GPU-vs-CPU panel and the checkpoint panel.

export function wireCheck(app: App): void {
  const table = byId<HTMLTableElement>('check-table');
  const verdict = byId('check-verdict');
  const button = byId<HTMLButtonElement>('check-run');
  byId('check-steps').textContent = String(CHECK_STEPS);
  button.addEventListener('click', async () => {
    if (isOff(button) || button.disabled) return;
    setOff(button, true);
    byId('check-detail').textContent = '';
    renderCheckPending(table, verdict, 'Running both engines…');
    try {
      renderCheck(table, verdict, byId('check-detail'), await checkEngines(app.session));
    } catch (e) {
      renderCheckPending(table, verdict, describeError(e), false);
    } finally {
      setOff(button, false);
    }
  });
}

/** The check's button while the page looks for a GPU (`gpu` undefined), and after. */
export function renderCheckAvailability(gpu: boolean | undefined): void {
  const button = byId<HTMLButtonElement>('check-run');
  button.disabled = !gpu;
  if (gpu) {
    if (byId('check-verdict').dataset.waiting === 'true') renderCheckPending(byId<HTMLTableElement>('check-table'), byId('check-verdict'), 'Not run yet.');
    delete byId('check-verdict').dataset.waiting;
    return;
  }
  byId('check-verdict').dataset.waiting = 'true';
  const text = gpu === undefined ? 'Looking for a GPU…' : 'Needs WebGPU, which this browser does not offer (see the notice at the top).';
  renderCheckPending(byId<HTMLTableElement>('check-table'), byId('check-verdict'), text);
}

export function wireCheckpoints(app: App): void {
  const { session, state } = app;
  const message = byId('ckpt-message');
  // the commands, copied as they read (the button says when it is done, or that it could not)
  for (const b of document.querySelectorAll<HTMLButtonElement>('button.copy'))
    b.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(byId(b.dataset.copy!).textContent ?? '');
        b.textContent = 'Copied';
      } catch {
        b.textContent = 'Select and copy';
      }
      setTimeout(() => (b.textContent = 'Copy'), 2000);
    });
  byId('ckpt-download').addEventListener('click', async () => {
    try {
      const name = `char-rnn-${state.textName}-step${session.progress.step}.safetensors`;
      download(await checkpointOf(session), name);
      showMessage(message, `Saved ${name}.`, 'ok');
      state.checkpointName = name;
      app.renderSampleCli();
    } catch (e) {
      showMessage(message, describeError(e));
    }
  });
  const picker = byId<HTMLInputElement>('ckpt-file');
  picker.addEventListener('change', async () => {
    const file = picker.files?.[0];
    if (!file) return;
    try {
      const { device, config: form } = app.readForm();
      const bytes = await fileBytes(file);
      const u = await app.undo.take();
      const config = await loadInto(session, bytes, file.name, state.text, device, form);
      controls.writeConfig({ ...config, steps: form.steps });
      state.pending = false;
      app.clearSample();
      showMessage(byId('train-message'), '', 'info');
      const s = session.summary;
      const curve = session.history.length ? `, its loss curve (${formatCount(session.history.length)} points)` : ', no loss curve (saved without one)';
      app.undo.offer(u, 'ckpt', `Loaded ${file.name}: step ${session.progress.step}, ${s.V} characters, ${s.H} hidden units${curve}.`);
      if (!u) message.dataset.kind = 'ok';
      app.renderModel();
      if (s.textProblem) showMessage(byId('train-message'), s.textProblem, 'info');
      void app.refresh();
    } catch (e) {
      showMessage(message, describeError(e));
    } finally {
      picker.value = '';
    }
  });
}
