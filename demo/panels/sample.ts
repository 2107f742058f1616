import type { App } from '../app.js';
import * as controls from '../views/controls.js';
import { byId, describeError, markInvalid, showMessage } from '../views/dom.js';

// "Let it write": generation streamed into the output box, and the CLI hint following the form.

export function wireSample(app: App): void {
  const form = byId<HTMLFormElement>('sample-form');
  const output = byId('sample-output');
  const message = byId('sample-message');
  app.clearSample = () => {
    output.textContent = '';
    output.dataset.done = 'false';
    showMessage(message, '', 'info');
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showMessage(message, '', 'info');
    output.dataset.done = 'false';
    output.textContent = '';
    try {
      await app.session.sample(controls.readSample(), (out, done) => {
        output.textContent = out;
        output.dataset.done = String(done);
      });
      markInvalid(form);
    } catch (e) {
      markInvalid(form, e);
      showMessage(message, describeError(e));
    }
  });
  byId('sample-greedy').addEventListener('change', controls.syncGreedy);
  form.addEventListener('input', () => app.renderSampleCli());
  form.addEventListener('change', () => app.renderSampleCli());
}
