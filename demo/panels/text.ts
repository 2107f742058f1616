import type { App } from '../app.js';
import type { Saved } from '../model.js';
import { CUSTOM_CONFIG, customSample, TEXTS, type SampleSettings } from '../texts.js';
import * as controls from '../views/controls.js';
import { byId, describeError, formatCount, showMessage, shownChar } from '../views/dom.js';
import { fileText } from '../views/files.js';
import { writePreviewTemperature } from './training.js';

// The text panel. A change of text never throws a trained model away silently: an edit that
// uses only characters the model knows keeps the model, its step, its loss curve and every
// setting (a run in progress goes on); any other change (new characters, another bundled text,
// a file) starts a new model and offers Undo, which brings back the old text, settings and
// model exactly as they were.

interface Undo {
  saved: Saved;
  text: string;
  textName: string;
  choice: string;
  choiceFrom?: string;
  base: App['state']['base'];
  config: ReturnType<App['readForm']>['config'];
  sample: SampleSettings;
  inspect: string;
}

/** An edit that replaces most of the text (a paste over a bundled text) brings the settings
 * for a text of one's own; smaller edits keep the settings. */
function replacesMost(before: string, after: string): boolean {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let s = 0;
  while (s < before.length - p && s < after.length - p && before[before.length - 1 - s] === after[after.length - 1 - s]) s++;
  return after.length - p - s > Math.max(100, after.length / 2);
}

export function wireText(app: App): void {
  const { session, state } = app;
  const choice = byId<HTMLSelectElement>('text-choice');
  const input = byId<HTMLTextAreaElement>('text-input');
  const message = byId('text-message');
  const undoButton = byId<HTMLButtonElement>('text-undo');
  const inspectInput = byId<HTMLInputElement>('inspect-input');
  let undo: Undo | undefined;
  /** the bundled text the current own text was edited from */
  let editedFrom: string | undefined;

  const clearUndo = () => {
    undo = undefined;
    undoButton.hidden = true;
  };
  app.clearUndo = clearUndo;

  /** The page and the model as they are, when a rebuild would lose training. */
  async function takeUndo(): Promise<Undo | undefined> {
    if (!session.trained) return undefined;
    const { config } = app.readForm();
    return {
      saved: await session.save(), text: state.text, textName: state.textName, choice: choice.value, choiceFrom: editedFrom,
      base: state.base, config, sample: controls.readSample(), inspect: inspectInput.value,
    };
  }

  function offerUndo(u: Undo | undefined, text: string): void {
    undo = u;
    undoButton.hidden = !u;
    const lost = u ? ` The model trained on the previous text (step ${formatCount(u.saved.start.step)}) is kept: press Undo to go back to it.` : '';
    showMessage(message, text + lost, 'info');
  }

  /** A fresh model on `next`; true when it was built (on error the old model stays). */
  async function useText(next: string, name: string): Promise<boolean> {
    state.text = next;
    state.textName = name;
    input.value = next;
    controls.renderTextStats(next);
    try {
      await session.build(app.spec());
    } catch (e) {
      showMessage(message, describeError(e));
      return false;
    }
    state.pending = false;
    showMessage(byId('train-message'), '', 'info');
    app.renderModel();
    fitToVocabulary();
    return true;
  }

  /** A "Look inside" string or a start of the sample that the model cannot read is replaced
   * by the text's own beginning. */
  function fitToVocabulary(): void {
    const fits = (s: string) => [...s].every((c) => session.vocab.has(c));
    if (fits(state.text)) {
      const firstLine = [...state.text.split('\n')[0]].slice(0, 40).join('') || [...state.text].slice(0, 40).join('');
      if (!fits(inspectInput.value)) inspectInput.value = firstLine;
      const prime = byId<HTMLInputElement>('sample-prime');
      if (!fits(prime.value) || prime.value === '') prime.value = [...state.text][0];
    }
    void app.refresh();
  }

  choice.addEventListener('change', async () => {
    const t = TEXTS.find((x) => x.id === choice.value);
    if (!t) {
      input.focus();
      return;
    }
    const u = await takeUndo();
    editedFrom = undefined;
    controls.writeTextChoice(t.id);
    state.base = t.config;
    controls.writeConfig(t.config);
    controls.writeSample(t.sample);
    writePreviewTemperature(t.sample.greedy ? 0 : t.sample.temperature);
    app.renderSampleCli();
    inspectInput.value = t.inspect;
    clearUndo();
    if (await useText(t.text, t.id)) offerUndo(u, u ? `A new model for “${t.title}”.` : '');
  });

  /** Leaving the bundled texts for a text of one's own: settings for a text of some length. */
  function useCustomSettings(t: string): void {
    state.base = CUSTOM_CONFIG;
    controls.writeConfig(CUSTOM_CONFIG);
    controls.writeSample(customSample(t));
    app.renderSampleCli();
    inspectInput.value = [...t.split('\n')[0]].slice(0, 40).join('');
  }

  async function edited(t: string): Promise<void> {
    const bundled = TEXTS.find((x) => x.id === choice.value);
    editedFrom = bundled?.title ?? editedFrom;
    controls.writeTextChoice('custom', editedFrom);
    if (await session.setText(t)) {
      state.text = t;
      state.textName = 'custom';
      controls.renderTextStats(t);
      clearUndo();
      showMessage(message, session.trained ? `The model goes on training on the edited text (it knows all of its ${session.vocab.size} characters).` : '', 'info');
      app.renderModel();
      fitToVocabulary();
      return;
    }
    const known = new Set(session.vocab.chars);
    const fresh = [...new Set([...t].filter((c) => !known.has(c)))];
    const u = await takeUndo();
    if (bundled && replacesMost(state.text, t)) useCustomSettings(t);
    clearUndo();
    const named = fresh.slice(0, 5).map((c) => `‘${shownChar(c)}’`).join(', ') + (fresh.length > 5 ? '…' : '');
    const what = `The edited text has ${fresh.length === 1 ? 'a character' : 'characters'} the model does not know (${named}), so it needs a new model with a larger vocabulary.`;
    if (await useText(t, 'custom')) offerUndo(u, u ? what : '');
  }

  let typing: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => void edited(input.value), 500);
  });

  byId<HTMLInputElement>('text-file').addEventListener('change', async (ev) => {
    const picker = ev.target as HTMLInputElement;
    const file = picker.files?.[0];
    if (!file) return;
    try {
      const t = await fileText(file);
      const u = await takeUndo();
      editedFrom = undefined;
      controls.writeTextChoice('custom');
      useCustomSettings(t);
      clearUndo();
      if (await useText(t, file.name.replace(/\.[^.]*$/, ''))) offerUndo(u, u ? `A new model for ${file.name}.` : '');
    } catch (e) {
      showMessage(message, describeError(e));
    }
  });

  undoButton.addEventListener('click', async () => {
    const u = undo;
    if (!u) return;
    clearUndo();
    Object.assign(state, { text: u.text, textName: u.textName, base: u.base, pending: false });
    editedFrom = u.choiceFrom;
    input.value = u.text;
    controls.renderTextStats(u.text);
    controls.writeTextChoice(u.choice, u.choiceFrom);
    controls.writeConfig(u.config);
    controls.writeSample(u.sample);
    controls.writeDevice(u.saved.spec.device, state.gpu === 'probing' ? undefined : state.gpu !== 'none');
    inspectInput.value = u.inspect;
    try {
      await session.restore(u.saved);
      showMessage(message, `Back to the previous text and its model, at step ${formatCount(session.progress.step)}.`, 'ok');
    } catch (e) {
      showMessage(message, describeError(e));
    }
    app.renderModel();
    void app.refresh();
  });
}
