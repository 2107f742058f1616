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

/** The text panel's state and its handlers (wireText connects them to the page). */
class TextPanel {
  private readonly choice = byId<HTMLSelectElement>('text-choice');
  private readonly input = byId<HTMLTextAreaElement>('text-input');
  private readonly message = byId('text-message');
  private readonly undoButton = byId<HTMLButtonElement>('text-undo');
  private readonly inspectInput = byId<HTMLInputElement>('inspect-input');
  private undo: Undo | undefined;
  /** the bundled text the current own text was edited from */
  private editedFrom: string | undefined;

  constructor(private readonly app: App) {}

  /** No Undo any more: its button goes, and the message that offered it. */
  clearUndo(): void {
    if (this.undo) showMessage(this.message, '', 'info');
    this.undo = undefined;
    this.undoButton.hidden = true;
  }

  /** The page and the model as they are, when a rebuild would lose training. */
  private async takeUndo(): Promise<Undo | undefined> {
    const { session, state } = this.app;
    if (!session.trained) return undefined;
    const { config } = this.app.readForm();
    return {
      // the text's choice as it was: the dropdown may already show the next one (its change event)
      saved: await session.save(), text: state.text, textName: state.textName, choice: TEXTS.some((t) => t.id === state.textName) ? state.textName : 'custom',
      choiceFrom: this.editedFrom,
      base: state.base, config, sample: controls.readSample(), inspect: this.inspectInput.value,
    };
  }

  private offerUndo(u: Undo | undefined, text: string): void {
    this.undo = u;
    this.undoButton.hidden = !u;
    const lost = u ? ` The model trained on the previous text (step ${formatCount(u.saved.start.step)}) is kept: press Undo to go back to it.` : '';
    showMessage(this.message, text + lost, 'info');
  }

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
      const firstLine = [...state.text.split('\n')[0]].slice(0, 40).join('') || [...state.text].slice(0, 40).join('');
      if (!fits(this.inspectInput.value)) this.inspectInput.value = firstLine;
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
    const u = await this.takeUndo();
    this.editedFrom = undefined;
    controls.writeTextChoice(t.id);
    this.app.state.base = t.config;
    controls.writeConfig(t.config);
    controls.writeSample(t.sample);
    writePreviewTemperature(t.sample.greedy ? 0 : t.sample.temperature);
    this.app.renderSampleCli();
    this.inspectInput.value = t.inspect;
    this.clearUndo();
    if (await this.useText(t.text, t.id)) this.offerUndo(u, u ? `A new model for “${t.title}”.` : '');
  }

  /** Leaving the bundled texts for a text of one's own: settings for a text of some length. */
  private useCustomSettings(t: string): void {
    this.app.state.base = CUSTOM_CONFIG;
    controls.writeConfig(CUSTOM_CONFIG);
    controls.writeSample(customSample(t));
    this.app.renderSampleCli();
    this.inspectInput.value = [...t.split('\n')[0]].slice(0, 40).join('');
  }

  /** The text box edited: the model goes on where it knows every character, else a new one. */
  async edited(t: string): Promise<void> {
    const { session, state } = this.app;
    const bundled = TEXTS.find((x) => x.id === this.choice.value);
    this.editedFrom = bundled?.title ?? this.editedFrom;
    controls.writeTextChoice('custom', this.editedFrom);
    if (await session.setText(t)) {
      state.text = t;
      state.textName = 'custom';
      controls.renderTextStats(t);
      this.clearUndo();
      showMessage(this.message, session.trained ? `The model goes on training on the edited text (it knows all of its ${session.vocab.size} characters).` : '', 'info');
      this.app.renderModel();
      this.fitToVocabulary();
      return;
    }
    const known = new Set(session.vocab.chars);
    const fresh = [...new Set([...t].filter((c) => !known.has(c)))];
    const u = await this.takeUndo();
    if (bundled && replacesMost(state.text, t)) this.useCustomSettings(t);
    this.clearUndo();
    const named = fresh.slice(0, 5).map((c) => `‘${shownChar(c)}’`).join(', ') + (fresh.length > 5 ? '…' : '');
    const what = `The edited text has ${fresh.length === 1 ? 'a character' : 'characters'} the model does not know (${named}), so it needs a new model with a larger vocabulary.`;
    if (await this.useText(t, 'custom')) this.offerUndo(u, u ? what : '');
  }

  /** A file opened as the text. */
  async opened(file: File): Promise<void> {
    try {
      const t = await fileText(file);
      const u = await this.takeUndo();
      this.editedFrom = undefined;
      controls.writeTextChoice('custom');
      this.useCustomSettings(t);
      this.clearUndo();
      if (await this.useText(t, file.name.replace(/\.[^.]*$/, ''))) this.offerUndo(u, u ? `A new model for ${file.name}.` : '');
    } catch (e) {
      showMessage(this.message, describeError(e));
    }
  }

  /** Undo: the previous text, settings and model exactly as they were. */
  async undone(): Promise<void> {
    const { session, state } = this.app;
    const u = this.undo;
    if (!u) return;
    this.clearUndo();
    Object.assign(state, { text: u.text, textName: u.textName, base: u.base, pending: false });
    this.editedFrom = u.choiceFrom;
    this.input.value = u.text;
    controls.renderTextStats(u.text);
    controls.writeTextChoice(u.choice, u.choiceFrom);
    controls.writeConfig(u.config);
    controls.writeSample(u.sample);
    controls.writeDevice(u.saved.spec.device, state.gpu === 'probing' ? undefined : state.gpu !== 'none');
    this.inspectInput.value = u.inspect;
    try {
      await session.restore(u.saved);
      showMessage(this.message, `Back to the previous text and its model, at step ${formatCount(session.progress.step)}.`, 'ok');
    } catch (e) {
      showMessage(this.message, describeError(e));
    }
    this.app.renderModel();
    void this.app.refresh();
  }
}

export function wireText(app: App): void {
  const panel = new TextPanel(app);
  app.clearUndo = () => panel.clearUndo();
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
  byId<HTMLButtonElement>('text-undo').addEventListener('click', () => void panel.undone());
}
