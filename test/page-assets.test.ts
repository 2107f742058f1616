import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { Vocab } from '../src/vocab.js';

// The page's trained models (demo/public/models): small enough to load in a second, weights
// only, and able to read the text the page pairs them with.

const dir = 'demo/public/models';

test('each trained model is under 2 MB, has no training state, and knows every character of its text', () => {
  const texts: Record<string, string> = {
    'story.safetensors': readFileSync('corpus/lighthouse.txt', 'utf8'),
    'shakespeare.safetensors': readFileSync('demo/public/texts/tinyshakespeare.txt', 'utf8'),
  };
  expect(readdirSync(dir).sort()).toEqual(Object.keys(texts).sort());
  for (const [file, text] of Object.entries(texts)) {
    const path = join(dir, file);
    expect(statSync(path).size, file).toBeLessThan(2 * 2 ** 20);
    const c = loadCheckpoint(readFileSync(path));
    expect(Object.keys(c.extra ?? {}), file).toEqual([]);
    expect(c.step, file).toBeGreaterThanOrEqual(1000);
    expect(c.vocab, file).toEqual(Vocab.fromText(text).chars);
  }
});
