import type { App } from '../app.js';
import { loadInto } from '../checkpoints.js';
import { inspectFor, TEXTS, type SampleSettings } from '../texts.js';
import * as controls from '../views/controls.js';
import { byId, describeError, formatCount, showMessage } from '../views/dom.js';

// "Load a trained model": checkpoints this project trained with its own CLI (the commands are
// in the README, "Trained models"), shipped with the page (demo/public/models), each under
// 2 MB: good text in a second, then more training or a look inside.

interface Trained {
  title: string;
  /** the checkpoint, relative to the page */
  model: string;
  /** its text: a bundled one, or a file shipped with the page */
  text: { bundled: string } | { url: string; name: string };
  sample: SampleSettings;
}

const TRAINED: Record<string, Trained> = {
  story: {
    title: 'the story (LSTM, 128 units)',
    model: 'models/story.safetensors',
    text: { bundled: 'lighthouse' },
    sample: { prime: 'The ', length: 300, temperature: 0.6, greedy: false, seed: 0 },
  },
  shakespeare: {
    title: "Shakespeare's plays (LSTM, 2 layers of 128)",
    model: 'models/shakespeare.safetensors',
    text: { url: 'texts/tinyshakespeare.txt', name: 'tinyshakespeare' },
    sample: { prime: 'ROMEO:', length: 400, temperature: 0.7, greedy: false, seed: 0 },
  },
};

async function fetched(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`Could not fetch ${url} (${r.status} ${r.statusText}).`);
  return r;
}

/** The model, its text and its sample settings in place; then it writes. */
async function load(app: App, id: string): Promise<void> {
  const t = TRAINED[id];
  const { session, state } = app;
  const message = byId('text-message');
  showMessage(message, `Loading ${t.title}…`, 'info');
  const bundled = 'bundled' in t.text ? TEXTS.find((x) => x.id === (t.text as { bundled: string }).bundled)! : undefined;
  const [bytes, text] = await Promise.all([
    fetched(t.model).then(async (r) => new Uint8Array(await r.arrayBuffer())),
    bundled ? bundled.text : fetched((t.text as { url: string }).url).then((r) => r.text()),
  ]);
  const u = await app.undo.take();
  app.undo.clear();
  Object.assign(state, { text, textName: bundled?.id ?? (t.text as { name: string }).name, base: bundled?.config ?? state.base, pending: false });
  byId<HTMLTextAreaElement>('text-input').value = text;
  controls.renderTextStats(text);
  controls.writeTextChoice(bundled?.id ?? 'custom');
  const { device, config: form } = app.readForm();
  const config = await loadInto(session, bytes, `${id}.safetensors`, text, device, form);
  controls.writeConfig({ ...config, steps: form.steps });
  controls.writeSample(t.sample);
  byId<HTMLInputElement>('inspect-input').value = bundled?.inspect ?? inspectFor(text);
  app.clearSample();
  app.renderModel();
  void app.refresh();
  app.undo.offer(u, 'text', `Loaded ${t.title}, trained for ${formatCount(session.progress.step)} steps: it writes below. Train it on, or look inside.`);
  if (!u) message.dataset.kind = 'ok';
  app.guide('more');
  byId<HTMLFormElement>('sample-form').requestSubmit();
}

export function wireTrained(app: App): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('#trained button'))
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await load(app, b.dataset.trained!);
      } catch (e) {
        showMessage(byId('text-message'), describeError(e));
      } finally {
        b.disabled = false;
      }
    });
}
