import type { App } from '../app.js';
import { CUSTOM_CONFIG, customSample, inspectFor, TEXTS } from '../texts.js';
import * as controls from '../views/controls.js';
import { byId, describeError, showMessage, shownChar } from '../views/dom.js';
import { fileText } from '../views/files.js';
import { writePreviewTemperature } from './training.js';

// The text panel. A change of text never throws a trained model away silently: an edit that
// uses only characters the model knows keeps the model, its step, its loss curve and every
// setting (a run in progress goes on); any other change (new characters, another bundled text,
// a file) starts a new model and offers Undo (undo.ts), which brings back the old text,
// settings and model exactly as they were.

/** An edit that replaces most of the text (a paste over a bundled text) brings the settings
 * for a text of one's own; smaller edits keep the settings. */
function replacesMost(before: string, after: string): boolean {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let s = 0;
  while (s < before.length - p && s < after.length - p && before[before.length - 1 - s] === after[after.length - 1 - s]) s++;
  return after.length - p - s > Math.max(100, after.length / 2);
}

/** The text panel's handlers (wireText connects them to the page). */
class TextPanel {
  private readonly choice = byId<HTMLSelectElement>('text-choice');
  private readonly input = byId<HTMLTextAreaElement>('text-input');
  private readonly message = byId('text-message');
  private readonly inspectInput = byId<HTMLInputElement>('inspect-input');

  constructor(private readonly app: App) {}

  /** A fresh model on `next`; true when it was built (on error the old model stays). */
  private async useText(next: string, name: string): Promise<boolean> {
    const { session, state } = this.app;
    state.text = next;
    state.textName = name;
    this.input.value = next;
    controls.renderTextStats(next);
    try {
      await session.build(this.app.spec());
    } catch (e) {
      showMessage(this.message, describeError(e));
      return false;
    }
    state.pending = false;
    showMessage(byId('train-message'), '', 'info');
    this.app.renderModel();
    this.fitToVocabulary();
    return true;
  }

  /** A "Look inside" string or a start of the sample that the model cannot read is replaced
   * by the text's own beginning. */
  private fitToVocabulary(): void {
    const { session, state } = this.app;
    const fits = (s: string) => [...s].every((c) => session.vocab.has(c));
    if (fits(state.text)) {
      if (!fits(this.inspectInput.value)) this.inspectInput.value = inspectFor(state.text);
      const prime = byId<HTMLInputElement>('sample-prime');
      if (!fits(prime.value) || prime.value === '') prime.value = [...state.text][0];
    }
    void this.app.refresh();
  }

  /** Another bundled text chosen (or "your own text": the text box gets the focus). */
  async chosen(): Promise<void> {
    const t = TEXTS.find((x) => x.id === this.choice.value);
    if (!t) {
      this.input.focus();
      return;
    }
    const { undo, state } = this.app;
    const u = await undo.take();
    state.editedFrom = undefined;
    controls.writeTextChoice(t.id);
    state.base = t.config;
    controls.writeConfig(t.config);
    controls.writeSample(t.sample);
    writePreviewTemperature(t.sample.greedy ? 0 : t.sample.temperature);
    this.app.renderSampleCli();
    this.inspectInput.value = t.inspect;
    undo.clear();
    if (await this.useText(t.text, t.id)) undo.offer(u, 'text', u ? `A new model for “${t.title}”.` : '');
    if (t.id !== 'hello') this.app.guide('more');
  }

  /** Leaving the bundled texts for a text of one's own: settings for a text of some length;
   * returns a sentence naming what changed in the form. */
  private useCustomSettings(t: string): string {
    const before = this.app.readForm().config;
    this.app.state.base = CUSTOM_CONFIG;
    controls.writeConfig(CUSTOM_CONFIG);
    controls.writeSample(customSample(t));
    this.app.renderSampleCli();
    this.inspectInput.value = inspectFor(t);
    const changed = controls.differences(before, CUSTOM_CONFIG);
    return changed.length ? ` Its settings are those for a text of your own: ${changed.map((c) => c.text).join(', ')}.` : '';
  }

  /** The text box edited: the model goes on where it knows every character, else a new one. */
  async edited(t: string): Promise<void> {
    const { session, state, undo } = this.app;
    const bundled = TEXTS.find((x) => x.id === this.choice.value);
    // a small edit of a bundled text is "edited from" it; a paste over most of it is not
    const replaced = replacesMost(state.text, t);
    state.editedFrom = replaced ? undefined : (bundled?.title ?? state.editedFrom);
    controls.writeTextChoice('custom', state.editedFrom);
    if (await session.setText(t)) {
      state.text = t;
      state.textName = 'custom';
      controls.renderTextStats(t);
      undo.clear();
      showMessage(this.message, session.trained ? `The model goes on training on the edited text (it knows all of its ${session.vocab.size} characters).` : '', 'info');
      this.app.renderModel();
      this.fitToVocabulary();
      return;
    }
    const known = new Set(session.vocab.chars);
    const fresh = [...new Set([...t].filter((c) => !known.has(c)))];
    const u = await undo.take();
    const settings = bundled && replaced ? this.useCustomSettings(t) : '';
    if (replaced) this.inspectInput.value = inspectFor(t);
    undo.clear();
    const named = fresh.slice(0, 5).map((c) => `‘${shownChar(c)}’`).join(', ') + (fresh.length > 5 ? '…' : '');
    const what = replaced
      ? 'A new model for your text.'
      : `The edited text has ${fresh.length === 1 ? 'a character' : 'characters'} the model does not know (${named}), so it needs a new model with a larger vocabulary.`;
    if (await this.useText(t, 'custom')) undo.offer(u, 'text', u || settings ? what + settings : '');
  }

  /** A file opened as the text. */
  async opened(file: File): Promise<void> {
    const { state, undo } = this.app;
    try {
      const t = await fileText(file);
      const u = await undo.take();
      state.editedFrom = undefined;
      controls.writeTextChoice('custom');
      const settings = this.useCustomSettings(t);
      undo.clear();
      if (await this.useText(t, file.name.replace(/\.[^.]*$/, ''))) undo.offer(u, 'text', `A new model for ${file.name}.${settings}`);
    } catch (e) {
      showMessage(this.message, describeError(e));
    }
  }
}

export function wireText(app: App): void {
  const panel = new TextPanel(app);
  const input = byId<HTMLTextAreaElement>('text-input');
  byId<HTMLSelectElement>('text-choice').addEventListener('change', () => void panel.chosen());
  let typing: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => void panel.edited(input.value), 500);
  });
  byId<HTMLInputElement>('text-file').addEventListener('change', (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file) void panel.opened(file);
  });
}
