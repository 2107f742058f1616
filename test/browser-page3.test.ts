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
    await page.getByRole('button', { name: 'The story (LSTM)' }).click();
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

    await page.getByRole('button', { name: 'Shakespeare (LSTM)' }).click();
    await expect.poll(() => message.textContent()).toMatch(/^Loaded Shakespeare's plays/);
    await expect.poll(() => output.getAttribute('data-done')).toBe('true');
    const play = (await output.textContent())!;
    expect(play.startsWith('ROMEO:')).toBe(true);
    expect(play).toMatch(/\n[A-Z][A-Za-z ]+:\n/); // a speaker's name on a line of its own
    expect(await page.getByTestId('text-stats').textContent()).toMatch(/1,115,394 characters/);
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/^LSTM, 2 layers of 128 hidden units/);
    // the story's model was replaced: Undo brings it back with its text
    expect(await message.textContent()).toMatch(/The model it replaced \(step 1,500\) is kept: press Undo/);
    await page.locator('#text-undo').click();
    await expect.poll(() => message.textContent()).toMatch(/^Back to the previous text and its model, at step 1,500\./);
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('lighthouse');
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/^LSTM, 1 layer of 128 hidden units/);
    expect(errors).toEqual([]);
  });

  test('the guide ticks its steps; settings changed after training are marked and leave the model as it is; Reset offers Undo', async () => {
    const { page, errors } = await open(site, true);
    const guide = page.getByTestId('guide');
    expect(await guide.evaluate((d) => (d as HTMLDetailsElement).open), 'open on a first visit to hello').toBe(true);
    await page.getByLabel('Steps per Train').fill('20');
    await train(page, '20');
    expect(await guide.locator('li[data-step="train"]').getAttribute('data-done')).toBe('true');
    await page.locator('#tokens button').nth(3).click(); // the second l
    await page.locator('#how-panel').scrollIntoViewIfNeeded();
    await expect.poll(() => guide.locator('li[data-step="why"]').getAttribute('data-done')).toBe('true');

    // a setting changed after training: marked, named, and Step trains the model as it is
    await page.getByLabel('Hidden units').fill('5');
    await page.getByLabel('Hidden units').press('Tab');
    const message = page.getByTestId('train-message');
    await expect.poll(() => message.textContent()).toMatch(/differs from the model being trained \(hidden units 3 → 5\): Train and Step go on with the model as it is/);
    expect(await page.locator('.field[data-differs="true"] #cfg-hidden').count()).toBe(1);
    await page.getByRole('button', { name: 'Step' }).click();
    await expect.poll(() => page.getByTestId('step').textContent()).toBe('21');
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/of 3 hidden units/);
    // Reset: the form's model, and Undo brings the trained one back with its settings
    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/of 5 hidden units/);
    expect(await page.locator('[data-differs]').count()).toBe(0);
    await expect.poll(() => message.textContent()).toMatch(/The model it replaced \(step 21\) is kept: press Undo/);
    await page.locator('#train-undo').click();
    await expect.poll(() => message.textContent()).toBe('Back to the previous model, at step 21.');
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/of 3 hidden units/);
    expect(await page.getByLabel('Hidden units').inputValue()).toBe('3');
    expect(await page.locator('[data-differs]').count()).toBe(0);
    expect(await page.locator('#train-undo').isHidden()).toBe(true);
    // a bad setting: the field says so
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByLabel('Hidden units').fill('0');
    await page.getByLabel('Hidden units').press('Tab');
    await expect.poll(() => page.getByLabel('Hidden units').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Hidden units').fill('4');
    await page.getByLabel('Hidden units').press('Tab');
    await expect.poll(() => page.getByLabel('Hidden units').getAttribute('aria-invalid')).toBe(null);

    await page.getByLabel('Training text', { exact: true }).selectOption('cats');
    await expect.poll(() => guide.getAttribute('data-done')).toBe('true');
    expect(errors).toEqual([]);
  });

  test('a paste over the story says which settings changed, is not "edited from" it, and Look inside starts on words', async () => {
    const { page, errors } = await open(site, true);
    await page.getByLabel('Training text', { exact: true }).selectOption('lighthouse');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/of 64 hidden units/);
    const own = `${' '.repeat(20)}\n\nQuick zebras jumped over lazy foxes; ${'every fox and zebra ran. '.repeat(12)}`;
    await page.locator('#text-input').fill(own);
    const message = page.locator('#text-message');
    await expect.poll(() => message.textContent()).toMatch(/^A new model for your text\. Its settings are those for a text of your own: sequence length 32 → 25, batch 4 → 1, validation part 0\.1 → 0\.05, steps per Train 2000 → 1000\./);
    expect(await page.locator('#text-choice option:checked').textContent()).toBe('Your own text');
    expect(await page.getByLabel(/^Type a string/).inputValue()).toBe('Quick zebras jumped over lazy foxes;');
    expect(errors).toEqual([]);
  });

  test('validation points sit at multiples of the interval across a pause; the figure after the pause is current', async () => {
    const { page, errors } = await open(site, true, undefined, '?text=lighthouse&device=cpu');
    await page.getByLabel('Steps per Train').fill('130');
    await train(page, '130');
    const chart = page.locator('#chart');
    expect(await chart.getAttribute('data-val-steps')).toBe('100');
    expect(await page.getByTestId('val-loss').textContent()).toMatch(/^\d\.\d{4}$/);
    await page.getByLabel('Steps per Train').fill('100');
    await train(page, '230');
    await expect.poll(() => chart.getAttribute('data-val-steps')).toBe('100,200');
    expect(errors).toEqual([]);
  });

  test('on a first visit the page times both engines on the model and trains on the faster, saying so', async () => {
    const { page, errors } = await open(site, true, undefined, '');
    const badge = page.getByTestId('adapter');
    const text = (await badge.textContent())!;
    const m = /measured on this model: GPU ([\d,]+) chars\/s, CPU ([\d,]+) chars\/s/.exec(text);
    expect(m, text).not.toBeNull();
    const [gpu, cpu] = [m![1], m![2]].map((x) => Number(x.replace(/,/g, '')));
    expect(await badge.getAttribute('data-device')).toBe(gpu > cpu ? 'gpu' : 'cpu');
    expect(await page.getByLabel('Engine').inputValue()).toBe(gpu > cpu ? 'gpu' : 'cpu');
    // the comparison of the engines: a one-line verdict, its table folded; no panel stretched
    expect(await page.locator('#check-details').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    const heights = await page.locator('#check-panel, #checkpoint-panel').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    for (const h of heights) expect(h).toBeLessThan(600);
    // Train and the chart are in the first screen
    expect((await page.locator('#chart').boundingBox())!.y).toBeLessThan(700);
    expect(errors).toEqual([]);
  });

  test('an LSTM on a phone: each layer\'s gates, equations that say they scroll, rows one can point at, a unit over the text', async () => {
    const { page, errors } = await open(site, true, { width: 390, height: 844 }, '?text=lighthouse&cell=lstm&layers=2&hidden=64&device=cpu');
    // Train within the first screen, the chart right after it
    const top = (await page.locator('#train').boundingBox())!.y;
    expect(top).toBeLessThan(844);
    expect((await page.locator('#chart').boundingBox())!.y - top).toBeLessThan(400);
    await page.getByLabel(/^Type a string/).fill('The lighthouse');
    await expect.poll(() => page.locator('#tokens button').count()).toBe(14);
    await page.locator('#tokens button').nth(5).click();
    const how = page.getByTestId('how-steps');
    await expect.poll(() => how.getAttribute('data-character')).toBe('6');
    const tables = how.locator('table.gates');
    expect(await tables.count()).toBe(2);
    expect(await tables.first().getAttribute('data-gates')).toBe('i f g o c h');
    // every gate of a unit between 0 and 1, written out (no blanks)
    const cells = await tables.first().locator('tbody tr').first().locator('td').allTextContents();
    expect(cells).toHaveLength(6);
    for (const v of cells.slice(0, 2)) expect(Number(v)).toBeGreaterThanOrEqual(0);
    for (const v of cells) expect(v).toMatch(/^−?\d\.\d\d$/);
    // a wide equation: a fading edge and a line saying it scrolls
    const wide = how.locator('.how-math[data-scrolls="true"]');
    expect(await wide.count()).toBeGreaterThan(0);
    expect(await wide.first().evaluate((m) => m.nextElementSibling?.textContent)).toMatch(/scroll it sideways/);
    // the heatmap: rows of at least 5 px, and a click on a cell colours the text by its unit
    const canvas = page.locator('#heatmap canvas').first();
    expect(Number(await canvas.getAttribute('data-row-height'))).toBeGreaterThanOrEqual(5);
    await canvas.scrollIntoViewIfNeeded();
    const cw = Number(await canvas.getAttribute('data-column-width'));
    const ch = Number(await canvas.getAttribute('data-row-height'));
    await canvas.click({ position: { x: 34 + 2 * cw + 2, y: 22 + 7 * ch + 2 } }); // character 3, unit 7
    await expect.poll(() => page.getByTestId('unit-text').getAttribute('data-unit')).toBe('Layer 1, hidden unit h7');
    expect(await canvas.getAttribute('data-unit')).toBe('7');
    expect(await page.locator('#unit-text span').count()).toBe(14);
    expect(errors).toEqual([]);
  });
});
