import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { OUT, generate, open, train } from './browser/page.js';
import { useSite } from './browser/site.js';

// The page, third edition: defects a newcomer met, each checked as they met it (SwiftShader's
// WebGPU). `open` fails a test on any console error or warning of the page.

const site = useSite({ configFile: 'demo/vite.config.ts', build: { outDir: join(OUT, 'site-page3') } });

describe('the page, third edition', () => {
  test('Undo after another bundled text brings back its name in the list and the address, and the offer goes with the button', async () => {
    const { page, errors } = await open(site, true);
    await page.getByLabel('Steps per Train').fill('20');
    await train(page, '20');
    const choice = page.getByLabel('Training text', { exact: true });
    await choice.selectOption('cats');
    const message = page.locator('#text-message');
    await expect.poll(() => message.textContent()).toMatch(/press Undo to go back to it/);
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => message.textContent()).toMatch(/^Back to the previous text and its model, at step 20/);
    expect(await choice.inputValue()).toBe('hello');
    expect(new URL(page.url()).searchParams.get('text')).toBe('hello');
    // another offer, then training: the button goes, and so does the message that offered it
    await choice.selectOption('cats');
    await expect.poll(() => message.textContent()).toMatch(/press Undo to go back to it/);
    await page.getByRole('button', { name: 'Step' }).click();
    await expect.poll(() => page.locator('#text-undo').isHidden()).toBe(true);
    await expect.poll(() => message.textContent()).toBe('');
    expect(errors).toEqual([]);
  });

  test('a new model has written nothing, and hello has made one pass after its first step', async () => {
    const { page, errors } = await open(site, true);
    const epoch = page.locator('#stat-epoch');
    await page.getByLabel('Steps per Train').fill('1');
    await train(page, '1');
    // hello's whole text is one step: one pass over it
    expect(await epoch.textContent()).toBe('1');
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toHaveLength(5);
    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(() => page.getByTestId('step').textContent()).toBe('0');
    expect(await page.getByTestId('sample-output').textContent()).toBe('');
    expect(await epoch.textContent()).toBe('0');
    // the story: 4 steps per pass, so a pass under way shows its fraction
    await page.getByLabel('Training text', { exact: true }).selectOption('lighthouse');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/of 64 hidden units/);
    await page.getByLabel('Steps per Train').fill('1');
    await train(page, '1');
    expect(await epoch.textContent()).toMatch(/^0\.\d\d$/);
    expect(errors).toEqual([]);
  });

  test('"How it works" names a space and a line end without a KaTeX warning', async () => {
    const { page, errors } = await open(site, true);
    // a text of four characters, a line end and a space among them: all four label y and p
    await page.locator('#text-input').fill('ab a\nba b\nab ba\n');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/; 4 distinct characters/);
    await page.getByLabel(/^Type a string/).fill('ab ba');
    const tokens = page.locator('#tokens button');
    await expect.poll(() => tokens.count()).toBe(5);
    await tokens.nth(3).click();
    const how = page.getByTestId('how-steps');
    await expect.poll(() => how.getAttribute('data-character')).toBe('4');
    const math = async () => (await how.locator('.katex-mathml').allTextContents()).join(' ');
    await expect.poll(math).toContain('(newline)');
    expect(await math()).toContain('(space)');
    expect(await how.locator('.katex-error').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  test('a trained model survives a reload: weights, optimizer state, loss curve, text and settings, back on the GPU', async () => {
    const { page, errors } = await open(site, true);
    await page.getByLabel('Training text', { exact: true }).selectOption('cats');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/of 32 hidden units/);
    await page.getByLabel('Steps per Train').fill('20');
    await train(page, '20');
    await page.waitForSelector('body[data-kept="20"]');
    const loss = await page.getByTestId('loss').textContent();
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('body[data-gpu]');
    expect(await page.getByTestId('step').textContent()).toBe('20');
    expect(await page.getByTestId('loss').textContent()).toBe(loss);
    expect(await page.locator('#train-message').textContent()).toMatch(/^Your model is back as this browser kept it \(step 20, /);
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('cats');
    expect(await page.locator('#chart').getAttribute('data-empty')).toBe('false');
    await expect.poll(() => page.getByTestId('adapter').getAttribute('data-device')).toBe('gpu');
    // and it trains on from there
    await page.getByLabel('Steps per Train').fill('20');
    await train(page, '40');
    await page.waitForSelector('body[data-kept="40"]');
    expect(errors).toEqual([]);
  });

  test('on a phone: the progress line is whole, the commands break between words and copy, the chart has a key', async () => {
    const { page, errors } = await open(site, true, { width: 390, height: 844 });
    const output = page.getByTestId('sample-output');
    expect(await output.evaluate((el) => getComputedStyle(el, '::before').content)).toMatch(/press Generate/);
    await page.getByLabel('Training text', { exact: true }).selectOption('lighthouse');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/of 64 hidden units/);
    // the story ships with the project: its command names it where it is
    expect(await page.getByTestId('train-cli').textContent()).toMatch(/ --text corpus\/lighthouse\.txt /);
    await page.getByLabel('Steps per Train').fill('100000');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-line').textContent()).toMatch(/^Step [\d,]+ of [\d,]+ at [\d,]+ steps\/s; about /);
    const run = page.locator('.run');
    expect(await run.evaluate((el) => el.scrollHeight <= el.clientHeight + 1), 'the progress line is cut off').toBe(true);
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.locator('#stats').getAttribute('data-state')).toBe('idle');
    // a command wraps between its words: each line after the first starts after a space
    const { text, starts } = await page.getByTestId('train-cli').evaluate((el) => {
      const r = document.createRange();
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      const out: number[] = [];
      let all = '';
      let top = NaN;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.textContent!.length; i++, all += node.textContent![i - 1]) {
          r.setStart(node, i);
          r.setEnd(node, i + 1);
          const t = Math.round(r.getBoundingClientRect().top);
          if (t !== top && all.length > 0) out.push(all.length);
          top = t;
        }
      }
      return { text: el.textContent!, starts: out };
    });
    expect(starts.length, 'the command fits one line at 390 px?').toBeGreaterThan(0);
    for (const i of starts) expect(text[i - 1] === ' ' || text[i] === ' ', `a line starts inside a word: …${text.slice(i - 8, i)}|${text.slice(i, i + 8)}…`).toBe(true);
    const copy = page.locator('button.copy[data-copy="train-cli"]');
    await copy.click();
    await expect.poll(() => copy.textContent()).toMatch(/^(Copied|Select and copy)$/);
    expect(await page.locator('.chart-key').isVisible()).toBe(true);
    expect(await page.locator('#key-val').evaluate((el) => getComputedStyle(el).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    expect(errors).toEqual([]);
  });

  test('a trained model in one click: the story writes at once, and Shakespeare with its text', async () => {
    const { page, errors } = await open(site, true);
    const output = page.getByTestId('sample-output');
    const message = page.locator('#text-message');
    await page.getByRole('button', { name: 'The story (LSTM, 128 units)' }).click();
    await expect.poll(() => message.textContent()).toMatch(/^Loaded the story \(LSTM, 128 units\), trained for 1,500 steps/);
    await expect.poll(() => output.getAttribute('data-done')).toBe('true');
    const story = (await output.textContent())!;
    expect(story.startsWith('The ')).toBe(true);
    // it learned the story: more than half of what it writes are the story's own words (0.58 at
    // temperature 0.6, seed 0; an untrained model's are next to none)
    const words = new Set((await page.locator('#text-input').inputValue()).toLowerCase().match(/[a-z]+/g));
    const written = story.toLowerCase().match(/[a-z]+/g)!;
    expect(written.filter((w) => words.has(w)).length / written.length).toBeGreaterThan(0.5);
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('lighthouse');
    expect(await page.getByTestId('step').textContent()).toBe('1,500');

    await page.getByRole('button', { name: "Shakespeare's plays (LSTM, 2 layers of 128)" }).click();
    await expect.poll(() => message.textContent()).toMatch(/^Loaded Shakespeare's plays/);
    await expect.poll(() => output.getAttribute('data-done')).toBe('true');
    const play = (await output.textContent())!;
    expect(play.startsWith('ROMEO:')).toBe(true);
    expect(play).toMatch(/\n[A-Z][A-Za-z ]+:\n/); // a speaker's name on a line of its own
    expect(await page.getByTestId('text-stats').textContent()).toMatch(/1,115,394 characters/);
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/^LSTM, 2 layers of 128 hidden units/);
    expect(errors).toEqual([]);
  });
});
