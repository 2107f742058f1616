import lighthouse from '../corpus/lighthouse.txt?raw';
import { DEFAULT_CONFIG, TUTORIAL_CONFIG, type TrainConfig } from '../src/index.js';

// The texts that ship with the page, each with settings that learn it in a reasonable time
// on a software GPU, and the sample settings that show off what was learned.

export interface SampleSettings {
  prime: string;
  length: number;
  temperature: number;
  greedy: boolean;
  seed: number;
}

export interface BundledText {
  id: string;
  title: string;
  text: string;
  /** `steps` is how many steps one press of Train runs. */
  config: TrainConfig;
  sample: SampleSettings;
  /** What to type into "Look inside" first. */
  inspect: string;
  /** where the project ships the text (its CLI command names it there), if it does */
  file?: string;
}

const CATS = `the cat sat on the mat.
the rat sat on the hat.
the bat sat on the cat.
the cat ran to the rat.
the rat ran to the bat.
the bat ran to the mat.
the hat sat on the rat.
the mat ran to the cat.
`;

export const TEXTS: BundledText[] = [
  {
    id: 'hello',
    title: 'hello (the tutorial)',
    text: 'hello',
    config: { ...TUTORIAL_CONFIG, valFraction: 0 },
    sample: { prime: 'h', length: 4, temperature: 1, greedy: true, seed: 0 },
    inspect: 'hello',
  },
  {
    id: 'cats',
    title: 'Cats and hats (short, repetitive)',
    text: CATS,
    config: { ...DEFAULT_CONFIG, hidden: 32, seqLen: 25, batch: 1, steps: 1000, valFraction: 0 },
    sample: { prime: 'the ', length: 120, temperature: 0.8, greedy: false, seed: 0 },
    inspect: 'the cat sat on the hat.',
  },
  {
    id: 'lighthouse',
    title: 'The Keeper of the North Light (a short story)',
    text: lighthouse,
    config: { ...DEFAULT_CONFIG, hidden: 64, seqLen: 32, batch: 4, steps: 2000, valFraction: 0.1, evalEvery: 100 },
    sample: { prime: 'The ', length: 300, temperature: 0.7, greedy: false, seed: 0 },
    inspect: 'The lighthouse stood on a rock.',
    file: 'corpus/lighthouse.txt',
  },
];

/** The settings a pasted or opened text starts with (a text of 40 characters or more has a
 * validation part). */
export const CUSTOM_CONFIG: TrainConfig = { ...DEFAULT_CONFIG, hidden: 64, seqLen: 25, batch: 1, steps: 1000 };

/** Sample settings for a text of one's own: start from its first character. */
export function customSample(text: string): SampleSettings {
  return { prime: [...text][0] ?? '', length: 200, temperature: 0.8, greedy: false, seed: 0 };
}

/** The string "Look inside" starts on for a text: the start of its first line with words in
 * it (not a run of spaces), at most 40 characters, cut after a word where it is longer. */
export function inspectFor(text: string): string {
  const line = [...(text.split('\n').find((l) => l.trim() !== '') ?? '').trim()];
  if (line.length === 0) return [...text].slice(0, 40).join('');
  if (line.length <= 40) return line.join('');
  const cut = line.slice(0, 41).lastIndexOf(' ');
  return line.slice(0, cut > 10 ? cut : 40).join('');
}
