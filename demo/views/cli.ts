import type { SampleSettings } from '../texts.js';
import { byId } from './dom.js';

// The command that samples a downloaded checkpoint from the command line, as the page would.

const quote = (s: string) => (/^[\w.,/@%+=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function renderCliHint(file: string, s: SampleSettings): void {
  const mode = s.greedy ? ['--greedy'] : ['--temperature', String(s.temperature), '--seed', String(s.seed)];
  const args = ['--checkpoint', file, '--prime', s.prime, '--length', String(s.length), ...mode];
  byId('ckpt-cli').textContent = `char-rnn sample ${args.map(quote).join(' ')}`;
}
