import type { TrainConfig } from '../../src/index.js';
import { type SampleSettings, TEXTS } from '../texts.js';
import { byId } from './dom.js';

// The commands that do from the command line what the page does: sample a downloaded
// checkpoint, and train the same model with the same settings.

const quote = (s: string) => (/^[\w.,/@%+=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A command as text (what Copy copies), each option with its value kept on one line: a
 * narrow screen wraps between options, never inside `--seq-len` or between it and its value. */
function showCommand(el: HTMLElement, words: string[]): void {
  const groups: string[] = [];
  for (const w of words.map(quote)) {
    if (groups.length && groups[groups.length - 1].startsWith('--') && !groups[groups.length - 1].includes(' ') && !w.startsWith('--')) groups[groups.length - 1] += ` ${w}`;
    else groups.push(w);
  }
  const parts: Node[] = [];
  groups.forEach((g, i) => {
    const span = document.createElement('span');
    span.className = 'word';
    span.textContent = g;
    if (i > 0) parts.push(document.createTextNode(' '));
    parts.push(span);
  });
  el.replaceChildren(...parts);
}

export function renderCliHint(file: string, s: SampleSettings): void {
  const mode = s.greedy ? ['--greedy'] : ['--temperature', String(s.temperature), '--seed', String(s.seed)];
  const args = ['--checkpoint', file, '--prime', s.prime, '--length', String(s.length), ...mode];
  showCommand(byId('ckpt-cli'), ['char-rnn', 'sample', ...args]);
}

/** `char-rnn train` with the page's model and settings. A short one-line text is given
 * inline; a text the project ships by its path there (corpus/lighthouse.txt); any other is
 * named `<name>.txt`, for the reader to save it as. */
export function renderTrainHint(c: TrainConfig, text: string, textName: string, steps: number): void {
  const shipped = TEXTS.find((t) => t.id === textName && t.text === text)?.file;
  const source = text.length <= 40 && !text.includes('\n') ? ['--string', text] : ['--text', shipped ?? `${textName}.txt`];
  const model = ['--cell', c.cell, '--layers', String(c.layers), '--hidden', String(c.hidden)];
  const dropout = c.dropout > 0 ? ['--dropout', String(c.dropout)] : [];
  const training = [
    '--optimizer', c.optimizer, '--lr', String(c.lr), '--clip', String(c.clip), '--seed', String(c.seed),
    '--seq-len', String(c.seqLen), '--batch', String(c.batch), '--steps', String(steps), '--val-fraction', String(c.valFraction),
  ];
  const validation = c.valFraction > 0 ? ['--eval-every', String(c.evalEvery)] : [];
  const args = [...source, ...model, ...dropout, ...training, ...validation];
  showCommand(byId('train-cli'), ['char-rnn', 'train', ...args]);
}
