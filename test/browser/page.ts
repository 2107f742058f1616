import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Site } from './site.js';

// What the page tests do on the page: open it, train, generate, look inside; and the CLI
// bundle (dist/cli.js, built by test/setup/build-cli.ts) that trades checkpoints with it.

export const OUT = resolve('test/.out');
// How long a wait for the page may take: generous, so that the tests pass on a loaded machine
// (a shared runner); a wait that is met returns at once.
export const WAIT = 180_000;

export function cli(...args: string[]): Promise<string> {
  return new Promise((done, fail) =>
    execFile(process.execPath, ['dist/cli.js', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } }, (err, stdout, stderr) =>
      err ? fail(new Error(`char-rnn ${args.join(' ')} failed (${err.message}):\n${stderr}`)) : done(stdout.trim()),
    ),
  );
}

/** Opens the page in a new Chromium (with SwiftShader's WebGPU or without WebGPU) and waits
 * until it is ready and has settled on its engine; collects the page's errors. With WebGPU the
 * address asks for the GPU engine (`query`; without it the page times both engines and, on
 * SwiftShader, mostly keeps the CPU). */
export async function open(site: Site, webgpu: boolean, viewport = { width: 1280, height: 900 }, query = webgpu ? '?device=gpu' : ''): Promise<{ page: Page; errors: string[] }> {
  const browser = await site.launch(webgpu ? ['--enable-unsafe-webgpu'] : []);
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(WAIT);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // errors and warnings alike: a warning at every redraw is a defect too (KaTeX's did). Without
  // WebGPU, Chromium itself warns that requestAdapter() found none: the page's own case.
  page.on('console', (m) => {
    if (!webgpu && m.text() === 'No available adapters.') return;
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  await page.goto(site.url() + query);
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
  // The page starts on the CPU engine and moves to the GPU once it has one (a few seconds).
  await page.waitForSelector('body[data-gpu]', { timeout: WAIT });
  return { page, errors };
}

/** Presses Train and waits until the page shows `steps` steps done and training stopped. */
export async function train(page: Page, steps: string): Promise<number> {
  const t0 = performance.now();
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForFunction(
    (s) => document.getElementById('stat-step')!.textContent === s && document.getElementById('stats')!.dataset.state === 'idle',
    steps,
    { timeout: WAIT },
  );
  return (performance.now() - t0) / 1000;
}

export async function generate(page: Page, o: { prime: string; length: number; greedy?: boolean; temperature?: number; seed?: number }): Promise<string> {
  await page.getByLabel('Start from', { exact: true }).fill(o.prime);
  await page.getByLabel('Characters', { exact: true }).fill(String(o.length));
  await page.getByLabel(/^Greedy/).setChecked(!!o.greedy);
  if (!o.greedy) {
    await page.getByLabel('Temperature', { exact: true }).fill(String(o.temperature ?? 1));
    await page.locator('#sample-seed').fill(String(o.seed ?? 0));
  }
  await page.getByRole('button', { name: 'Generate' }).click();
  const out = page.getByTestId('sample-output');
  await expect.poll(() => out.getAttribute('data-done')).toBe('true');
  return (await out.textContent()) ?? '';
}

/** Selects the second l of hello and checks "How it works" there: every step typeset by KaTeX,
 * the target 'o', and the page's own arithmetic equal to the engine's h_t, p_t and dtanh_t. */
export async function howAtSecondL(page: Page): Promise<void> {
  await page.locator('#tokens button').nth(3).click();
  const how = page.getByTestId('how-steps');
  await expect.poll(() => how.getAttribute('data-character')).toBe('4');
  const titles = await how.locator('h3').allTextContents();
  expect(titles).toEqual([
    'One-hot input', 'Input weights', 'Memory', 'Bias', 'New hidden state', 'Scores', 'Probabilities', 'Loss',
    'Output error', 'Error at the hidden state', 'Through tanh, into the gradients',
  ]);
  expect(await how.locator('.katex-display').count()).toBe(titles.length);
  expect(await how.locator('.katex-error').count()).toBe(0);
  expect(await how.locator('li').nth(7).textContent()).toMatch(/The next character is.*‘o’/);
  expect(Number(await how.getAttribute('data-engine-gap'))).toBeLessThan(1e-9);
}


/** Hovers the second column of the first heatmap group: the tooltip names the unit, the
 * character and the value. */
export async function hoverHeatmap(page: Page, shot: string): Promise<void> {
  const canvas = page.locator('#heatmap canvas').first();
  await canvas.scrollIntoViewIfNeeded();
  const cw = Number(await canvas.getAttribute('data-column-width'));
  await canvas.hover({ position: { x: 34 + cw * 1.5, y: 22 + 4 } });
  const tip = page.getByTestId('heat-tip');
  await expect.poll(() => tip.isVisible()).toBe(true);
  expect(await tip.textContent()).toMatch(/^Layer 1, hidden unit h0, after ‘.’ \(character 2\): −?-?\d+\.\d{4}$/);
  await page.locator('#inspect-panel').screenshot({ path: join(OUT, shot) });
}

/** Moves a range input (playwright cannot fill one). */
export const slide = (page: Page, id: string, value: string) =>
  page.locator(`#${id}`).evaluate((el: HTMLInputElement, v) => {
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);

export const stepOf = async (page: Page) => Number((await page.getByTestId('step').textContent())!.replace(/,/g, ''));

export const SEEDED = { prime: 'he', length: 40, temperature: 1.5, seed: 7 };
export const seededArgs = ['--prime', 'he', '--length', '40', '--temperature', '1.5', '--seed', '7'];

/** The gaps between the page's animation frames for `ms` milliseconds: count, median, 99th
 * percentile and longest, in ms. */
export async function frameGaps(page: Page, ms: number): Promise<{ n: number; median: number; p99: number; longest: number }> {
  const gaps: number[] = await page.evaluate(
    (ms) => new Promise((done) => {
      const out: number[] = [];
      let last = performance.now();
      const end = last + ms;
      const tick = (now: number) => {
        out.push(now - last);
        last = now;
        if (now < end) requestAnimationFrame(tick);
        else done(out);
      };
      requestAnimationFrame(tick);
    }),
    ms,
  );
  const sorted = [...gaps].sort((a, b) => a - b);
  return { n: gaps.length, median: sorted[sorted.length >> 1], p99: sorted[Math.floor(0.99 * (sorted.length - 1))], longest: sorted[sorted.length - 1] };
}
