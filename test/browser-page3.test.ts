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
    // the story's vocabulary starts with the line end and the space: the labels of y and p
    await page.getByLabel('Training text', { exact: true }).selectOption('lighthouse');
    await expect.poll(() => page.getByTestId('model-summary').textContent()).toMatch(/hidden units/);
    const tokens = page.locator('#tokens button');
    await expect.poll(() => tokens.count()).toBeGreaterThan(3);
    await tokens.nth(3).click();
    const how = page.getByTestId('how-steps');
    await expect.poll(() => how.getAttribute('data-character')).toBe('4');
    const math = (await how.locator('.katex-mathml').allTextContents()).join(' ');
    expect(math).toContain('(newline)');
    expect(math).toContain('(space)');
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
});
