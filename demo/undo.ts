import type { App } from './app.js';
import type { Saved } from './model.js';
import { TEXTS, type SampleSettings } from './texts.js';
import * as controls from './views/controls.js';
import { byId, describeError, formatCount, showMessage } from './views/dom.js';

// Nothing a user trained is thrown away without a way back: every replacement of a trained
// model (another text, a file, a trained model, a checkpoint, Reset) offers Undo, which brings
// back the text, its name, the settings, the sample settings and the model exactly as they
// were. One offer at a time, shown in the row of the panel where the replacement was asked;
// training, or a newer replacement, withdraws it (button and message both).

export interface Undo {
  saved: Saved;
  text: string;
  textName: string;
  choice: string;
  editedFrom?: string;
  base: App['state']['base'];
  /** the form's steps per Train (the model's own settings are in `saved`) */
  steps: number;
  sample: SampleSettings;
  inspect: string;
}

/** Where an offer is shown: a message and an Undo button beside it. */
export type UndoRow = 'text' | 'train' | 'ckpt';
const ROWS: Record<UndoRow, { message: string; button: string }> = {
  text: { message: 'text-message', button: 'text-undo' },
  train: { message: 'train-message', button: 'train-undo' },
  ckpt: { message: 'ckpt-message', button: 'ckpt-undo' },
};

export class UndoOffer {
  private undo?: Undo;
  private row?: UndoRow;

  constructor(private readonly app: App) {
    for (const row of Object.keys(ROWS) as UndoRow[]) byId(ROWS[row].button).addEventListener('click', () => void this.undone());
  }

  /** The page and the model as they are, when replacing the model would lose training. */
  async take(): Promise<Undo | undefined> {
    const { session, state } = this.app;
    if (!session.trained) return undefined;
    return {
      // the text's choice as it was: the dropdown may already show the next one (its change event)
      saved: await session.save(), text: state.text, textName: state.textName, choice: TEXTS.some((t) => t.id === state.textName) ? state.textName : 'custom',
      editedFrom: state.editedFrom, base: state.base, steps: this.app.readForm().config.steps, sample: controls.readSample(), inspect: byId<HTMLInputElement>('inspect-input').value,
    };
  }

  /** Shows `text` in `row`, with the offer to go back to `u` (when there was a trained model). */
  offer(u: Undo | undefined, row: UndoRow, text: string): void {
    this.clear();
    this.undo = u;
    this.row = row;
    byId(ROWS[row].button).hidden = !u;
    const kept = u ? ` The model it replaced (step ${formatCount(u.saved.start.step)}) is kept: press Undo to go back to it.` : '';
    if (text || kept) showMessage(byId(ROWS[row].message), text + kept, 'info');
  }

  /** No Undo any more: its button goes, and the message that offered it. */
  clear(): void {
    if (this.undo && this.row) showMessage(byId(ROWS[this.row].message), '', 'info');
    for (const r of Object.values(ROWS)) byId(r.button).hidden = true;
    this.undo = undefined;
    this.row = undefined;
  }

  /** Undo: the previous text, settings and model exactly as they were. */
  private async undone(): Promise<void> {
    const { session, state } = this.app;
    const u = this.undo;
    const row = this.row;
    if (!u || !row) return;
    this.clear();
    Object.assign(state, { text: u.text, textName: u.textName, base: u.base, pending: false, editedFrom: u.editedFrom });
    byId<HTMLTextAreaElement>('text-input').value = u.text;
    controls.renderTextStats(u.text);
    controls.writeTextChoice(u.choice, u.editedFrom);
    // the model's own settings (a Reset after changing them is undone to the model as it was)
    controls.writeConfig({ ...u.saved.spec.config, steps: u.steps });
    controls.writeSample(u.sample);
    controls.writeDevice(u.saved.spec.device, state.gpu === 'probing' ? undefined : state.gpu !== 'none');
    byId<HTMLInputElement>('inspect-input').value = u.inspect;
    const message = byId(ROWS[row].message);
    try {
      await session.restore(u.saved);
      showMessage(message, `Back to the previous ${row === 'text' ? 'text and its model' : 'model'}, at step ${formatCount(session.progress.step)}.`, 'ok');
    } catch (e) {
      showMessage(message, describeError(e));
    }
    this.app.renderModel();
    void this.app.refresh();
  }
}
