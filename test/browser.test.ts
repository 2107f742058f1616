import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// The page as people get it: the static site that `npm run build` makes, served by Vite's
// preview server and opened in Debian's Chromium (SwiftShader's WebGPU), then once more with
// WebGPU unavailable. Checkpoints go between the page and the CLI bundle (dist/cli.js, built
// by test/setup/build-cli.ts) in both directions.

const CHROMIUM = '/usr/bin/chromium';
const OUT = resolve('test/.out');
const SITE = join(OUT, 'site');
const QUIET = ['--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const dir = mkdtempSync(join(tmpdir(), 'char-rnn-browser-'));

function cli(...args: string[]): Promise<string> {
  return new Promise((done, fail) =>
    execFile(process.execPath, ['dist/cli.js', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } }, (err, stdout, stderr) =>
      err ? fail(new Error(`char-rnn ${args.join(' ')} failed (${err.message}):\n${stderr}`)) : done(stdout.trim()),
    ),
  );
}

let server: PreviewServer;
let url: string;
const browsers: Browser[] = [];
const cliCheckpoint = join(dir, 'cli-hello.safetensors');
let cliTrained: Promise<string>;
const lstmCheckpoint = join(dir, 'cli-lstm.safetensors');
let lstmTrained: Promise<string>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`The browser tests need Chromium at ${CHROMIUM}, which is missing. Install it with: bash scripts/setup.sh --browser`);
  mkdirSync(OUT, { recursive: true });
  // The CLI trains its checkpoint while the site builds and the page trains.
  cliTrained = cli(
    'train', '--string', 'hello', '--hidden', '3', '--optimizer', 'sgd', '--lr', '0.01', '--steps', '1000',
    '--seq-len', '0', '--save', cliCheckpoint, '--sample-length', '0',
  );
  cliTrained.catch(() => undefined); // awaited (and reported) by the test that needs it
  lstmTrained = cli(
    'train', '--string', 'hello', '--cell', 'lstm', '--layers', '2', '--dropout', '0.2', '--hidden', '6', '--steps', '30',
    '--seq-len', '0', '--save', lstmCheckpoint, '--sample-length', '0',
  );
  lstmTrained.catch(() => undefined);
  await build({ configFile: 'demo/vite.config.ts', logLevel: 'warn', build: { outDir: SITE } });
  server = await preview({ configFile: 'demo/vite.config.ts', logLevel: 'warn', build: { outDir: SITE }, preview: { host: '127.0.0.1', port: 0 } });
  url = server.resolvedUrls!.local[0];
});

afterAll(async () => {
  await Promise.all(browsers.map((b) => b.close()));
  await server?.close();
});

async function open(webgpu: boolean, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...QUIET] });
  browsers.push(browser);
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  // The page starts on the CPU engine and moves to the GPU once it has one (a few seconds).
  await page.waitForSelector('body[data-gpu]', { timeout: 30_000 });
  return { page, errors };
}

/** Presses Train and waits until the page shows `steps` steps done and training stopped. */
async function train(page: Page, steps: string): Promise<number> {
  const t0 = performance.now();
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForFunction(
    (s) => document.getElementById('stat-step')!.textContent === s && document.getElementById('stats')!.dataset.state === 'idle',
    steps,
    { timeout: 40_000 },
  );
  return (performance.now() - t0) / 1000;
}

async function generate(page: Page, o: { prime: string; length: number; greedy?: boolean; temperature?: number; seed?: number }): Promise<string> {
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

const SEEDED = { prime: 'he', length: 40, temperature: 1.5, seed: 7 };
const seededArgs = ['--prime', 'he', '--length', '40', '--temperature', '1.5', '--seed', '7'];

describe('the page with WebGPU (SwiftShader)', () => {
  test('trains hello, samples it, agrees with the CPU engine, and trades checkpoints with the CLI', async () => {
    const { page, errors } = await open(true);
    const badge = page.getByTestId('adapter');
    await expect.poll(() => badge.getAttribute('data-device')).toBe('gpu');
    expect(await badge.textContent()).toMatch(/swiftshader/);
    expect(await page.getByTestId('webgpu-notice').isHidden()).toBe(true);
    // The tutorial's settings are preselected.
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('hello');
    // the empty chart's invitation reads as one sentence ("Press", "Train" and the rest on one line)
    const lineTops = await page.locator('#chart-empty').evaluate((p) => {
      const top = (n: Node) => { const r = document.createRange(); r.selectNodeContents(n); return Math.round(r.getBoundingClientRect().top); };
      const strong = p.querySelector('strong')!;
      return [top(strong.previousSibling!), top(strong), top(strong.nextSibling!)];
    });
    expect(new Set(lineTops).size, `tops ${lineTops}`).toBe(1);
    expect(await page.getByLabel('Hidden units', { exact: true }).inputValue()).toBe('3');
    expect(await page.getByLabel('Optimizer', { exact: true }).inputValue()).toBe('sgd');
    expect(await page.getByLabel('Learning rate', { exact: true }).inputValue()).toBe('0.01');
    expect(await page.getByLabel('Sequence length', { exact: true }).inputValue()).toBe('0');

    const layout = () => page.evaluate(() => [...document.querySelectorAll('section')].map((s) => `${s.id} ${s.offsetTop} ${s.offsetHeight}`));
    const before = await layout();
    const seconds = await train(page, '1,000');
    expect(await layout(), 'panels moved while training').toEqual(before);
    writeFileSync(join(OUT, 'browser-timing.txt'), `hello, 1000 steps, GPU engine in headless Chromium: ${seconds.toFixed(2)} s\n`);
    console.log(`browser: hello learned in ${seconds.toFixed(2)} s (1000 steps, GPU engine)`);
    expect(Number((await page.getByTestId('loss').textContent())!)).toBeLessThan(0.1);
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toBe('hello');
    await expect.poll(() => page.getByTestId('preview').textContent()).toBe('hello');

    // Look inside: the two l's of hello get different hidden states.
    await expect.poll(() => page.getByTestId('repeat-note').textContent()).toMatch(/‘l’ at positions 3 and 4 get different hidden states/);
    expect(await page.locator('#tokens button').count()).toBe(5);

    // GPU vs CPU on the trained weights: every tensor within tolerance.
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    const verdict = page.getByTestId('check-verdict');
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 20_000 }).toBe('true');
    expect(await page.locator('#check-table tbody tr.ok').count()).toBeGreaterThanOrEqual(13);
    expect(await page.locator('#check-table tbody tr.fail').count()).toBe(0);

    await page.screenshot({ path: join(OUT, 'browser-gpu.png'), fullPage: true });

    // The page's checkpoint samples the same in the CLI.
    const pageSeeded = await generate(page, SEEDED);
    expect(pageSeeded).toHaveLength(42);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download checkpoint' }).click()]);
    const pageCheckpoint = join(dir, 'page-hello.safetensors');
    await download.saveAs(pageCheckpoint);
    expect(download.suggestedFilename()).toBe('char-rnn-hello-step1000.safetensors');
    expect(await cli('sample', '--checkpoint', pageCheckpoint, '--prime', 'h', '--length', '4', '--greedy')).toBe('hello');
    expect(await cli('sample', '--checkpoint', pageCheckpoint, ...seededArgs)).toBe(pageSeeded);

    // And the CLI's checkpoint samples the same in the page.
    await cliTrained;
    const [cliGreedy, cliSeeded] = await Promise.all([
      cli('sample', '--checkpoint', cliCheckpoint, '--prime', 'h', '--length', '4', '--greedy'),
      cli('sample', '--checkpoint', cliCheckpoint, ...seededArgs),
    ]);
    expect(cliGreedy).toBe('hello');
    await page.getByLabel('Open a checkpoint').setInputFiles(cliCheckpoint);
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent()).toMatch(/^Loaded cli-hello\.safetensors: step 1000/);
    expect(await page.getByTestId('step').textContent()).toBe('1,000');
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toBe(cliGreedy);
    expect(await generate(page, SEEDED)).toBe(cliSeeded);
    expect(errors).toEqual([]);
  });

  test('trains a two-layer LSTM with dropout, shows every layer inside, and saves and loads it', async () => {
    const { page, errors } = await open(true);
    await page.getByLabel('Training text', { exact: true }).selectOption('cats');
    await expect.poll(() => page.getByLabel('Hidden units', { exact: true }).inputValue()).toBe('32');
    // the sample hint follows the text's sample settings (it used to keep hello's)
    await expect.poll(() => page.locator('#ckpt-cli').textContent()).toBe("char-rnn sample --checkpoint FILE --prime 'the ' --length 120 --temperature 0.8 --seed 0");
    await page.getByLabel('Characters', { exact: true }).fill('40');
    await expect.poll(() => page.locator('#ckpt-cli').textContent()).toMatch(/--length 40 /);
    // SwiftShader is slow: a small model and a few steps.
    await page.getByLabel('Cell', { exact: true }).selectOption('lstm');
    await page.getByLabel('Layers', { exact: true }).fill('2');
    await page.getByLabel('Dropout', { exact: true }).fill('0.1');
    await page.getByLabel('Hidden units', { exact: true }).fill('8');
    await page.getByLabel('Hidden units', { exact: true }).dispatchEvent('change');
    await page.getByLabel('Steps per Train').fill('20');
    const summary = page.getByTestId('model-summary');
    // (Building an LSTM's pipelines takes SwiftShader a few seconds.)
    await expect.poll(() => summary.textContent(), { timeout: 20_000 }).toMatch(/^LSTM, 2 layers of 8 hidden units, dropout 0\.1; 14 distinct characters, 1,406 parameters/);
    const seconds = await train(page, '20');
    console.log(`browser: LSTM x2, H = 8, 20 steps of 25 characters in ${seconds.toFixed(2)} s (GPU engine)`);
    expect(Number((await page.getByTestId('loss').textContent())!)).toBeLessThan(Math.log(14));
    expect(await page.getByTestId('train-cli').textContent()).toMatch(/--cell lstm --layers 2 --hidden 8 --dropout 0\.1 .*--steps 20 /);

    // Look inside: h and c of each layer, labelled, in order.
    const groups = page.locator('#heatmap figure');
    await expect.poll(() => groups.count()).toBe(4);
    const shown = await groups.evaluateAll((fs) => fs.map((f) => `${(f as HTMLElement).dataset.layer}${(f as HTMLElement).dataset.state}`));
    expect(shown).toEqual(['1h', '1c', '2h', '2c']);
    expect(await groups.locator('figcaption').allTextContents()).toEqual([
      'Layer 1 of 2: h, hidden state', 'Layer 1 of 2: c, cell state', 'Layer 2 of 2: h, hidden state', 'Layer 2 of 2: c, cell state',
    ]);
    expect(await groups.nth(3).locator('canvas').getAttribute('aria-label')).toMatch(/8 units after each of 23 characters/);

    const seeded = { prime: 'the ', length: 40, temperature: 0.8, seed: 3 };
    const before = await generate(page, seeded);
    expect(before).toHaveLength(44);
    await page.screenshot({ path: join(OUT, 'browser-lstm.png'), fullPage: true });

    // The checkpoint: the CLI reads it; loaded back into a page set to another model, it
    // brings its cell, layers and dropout along and samples the same.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download checkpoint' }).click()]);
    const file = join(dir, 'page-lstm.safetensors');
    await download.saveAs(file);
    expect(await cli('sample', '--checkpoint', file, '--prime', 'the ', '--length', '20', '--greedy')).toMatch(/^the [^]{20}$/);
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByLabel('Cell', { exact: true }).selectOption('gru');
    await expect.poll(() => summary.textContent(), { timeout: 20_000 }).toMatch(/^GRU, 2 layers/);
    await page.getByLabel('Open a checkpoint').setInputFiles(file);
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: 20_000 }).toMatch(/^Loaded page-lstm\.safetensors: step 20/);
    expect(await page.getByLabel('Cell', { exact: true }).inputValue()).toBe('lstm');
    expect(await page.getByLabel('Layers', { exact: true }).inputValue()).toBe('2');
    expect(await page.getByLabel('Dropout', { exact: true }).inputValue()).toBe('0.1');
    expect(await summary.textContent()).toMatch(/^LSTM, 2 layers of 8 hidden units, dropout 0\.1;/);
    expect(await generate(page, seeded)).toBe(before);

    // On a phone the row groups fit the screen's width.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate(() => document.querySelector('#heatmap canvas')!.clientWidth)).toBeLessThanOrEqual(360);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.locator('#inspect-panel').screenshot({ path: join(OUT, 'browser-lstm-phone.png') });
    expect(errors).toEqual([]);
  });

  test('fits a phone-sized screen, before and after training', async () => {
    const { page, errors } = await open(true, { width: 390, height: 844 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await train(page, '1,000');
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    await expect.poll(() => page.getByTestId('check-verdict').getAttribute('data-ok'), { timeout: 20_000 }).toBe('true');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUT, 'browser-phone.png'), fullPage: true });

    // Two LSTM layers from the CLI, trained with dropout (the page takes the cell, the layers and
    // the dropout from the checkpoint): the rows are per layer, and the page still fits.
    await lstmTrained;
    await page.getByLabel('Open a checkpoint').setInputFiles(lstmCheckpoint);
    // (the page compiles the cell kernels: seconds in SwiftShader)
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: 30_000 }).toMatch(/^Loaded cli-lstm\.safetensors/);
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    await expect.poll(() => page.getByTestId('check-verdict').getAttribute('data-ok'), { timeout: 30_000 }).toBe('true');
    const rows = await page.locator('#check-table tbody th').allTextContents();
    for (const name of ['hs.1', 'cs.0', 'dpre.1', 'dW_hh.0', 'W_hh.1 (update 10)']) expect(rows, name).toContain(name);
    expect(await page.locator('#check-detail').textContent()).toMatch(/Model: lstm, 2 layers, dropout 0\.2\..*ending in \.l is layer l's/);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.locator('#check-panel').screenshot({ path: join(OUT, 'browser-phone-check-lstm.png') });
    expect(errors).toEqual([]);
  });
});

describe('the page without WebGPU', () => {
  test('says so, explains how to enable it, and trains on the CPU engine', async () => {
    const { page, errors } = await open(false);
    const notice = page.getByTestId('webgpu-notice');
    expect(await notice.isVisible()).toBe(true);
    expect(await notice.textContent()).toMatch(/WebGPU is not available.*CPU engine/s);
    expect(await notice.textContent()).toMatch(/enable-unsafe-webgpu/);
    expect(await page.getByTestId('adapter').getAttribute('data-device')).toBe('cpu');
    expect(await page.getByRole('button', { name: 'Compare GPU and CPU' }).isDisabled()).toBe(true);

    // A file that is not UTF-8 gets a message that says where.
    await page.getByLabel('Or open a text file').setInputFiles({ name: 'latin1.txt', mimeType: 'text/plain', buffer: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]) });
    await expect.poll(() => page.locator('#text-message').textContent()).toMatch(/latin1\.txt is not valid UTF-8: bad byte sequence at byte 3/);

    // Pause, Step and Reset, from the keyboard.
    await page.getByLabel('Steps per Train').fill('1000000');
    await page.getByRole('button', { name: 'Train', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => Number(document.getElementById('stat-step')!.textContent!.replace(/,/g, '')) >= 100);
    await page.keyboard.press('Tab'); // focus moves on to Pause
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#stats').getAttribute('data-state')).toBe('idle');
    const paused = Number((await page.getByTestId('step').textContent())!.replace(/,/g, ''));
    expect(paused).toBeLessThan(1_000_000);
    await page.getByRole('button', { name: 'Step' }).click();
    await expect.poll(() => page.getByTestId('step').textContent()).toBe((paused + 1).toLocaleString('en-US'));
    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(() => page.getByTestId('step').textContent()).toBe('0');
    await page.getByLabel('Steps per Train').fill('1000');

    const seconds = await train(page, '1,000');
    console.log(`browser: hello learned in ${seconds.toFixed(2)} s (1000 steps, CPU engine)`);
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toBe('hello');
    await page.screenshot({ path: join(OUT, 'browser-cpu.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
