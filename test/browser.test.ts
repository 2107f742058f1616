import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, describe, test } from 'vitest';
import { cli, frameGaps, generate, hoverHeatmap, howAtSecondL, OUT, open, SEEDED, seededArgs, slide, stepOf, train, WAIT } from './browser/page.js';
import { useSite } from './browser/site.js';

// The page as people get it: the static site that `npm run build` makes, served by Vite's
// preview server and opened in Debian's Chromium (SwiftShader's WebGPU), then once more with
// WebGPU unavailable. Checkpoints go between the page and the CLI in both directions.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-browser-'));
const cliCheckpoint = join(dir, 'cli-hello.safetensors');
let cliTrained: Promise<string>;
const lstmCheckpoint = join(dir, 'cli-lstm.safetensors');
let lstmTrained: Promise<string>;

const site = useSite({ configFile: 'demo/vite.config.ts', build: { outDir: join(OUT, 'site') } }, () => {
  mkdirSync(OUT, { recursive: true });
  // The CLI trains its checkpoints while the site builds and the page trains.
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
});

describe('the page with WebGPU (SwiftShader)', () => {
  test('trains hello, samples it, agrees with the CPU engine, and trades checkpoints with the CLI', async () => {
    const { page, errors } = await open(site, true);
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

    // How it works, at the second l: the tutorial's steps with this model's numbers, typeset.
    await howAtSecondL(page);
    await page.locator('#how-panel').screenshot({ path: join(OUT, 'browser-how.png') });

    // GPU vs CPU on the trained weights: every tensor within tolerance.
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    const verdict = page.getByTestId('check-verdict');
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: WAIT }).toBe('true');
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
    // the CLI's checkpoint carries its loss curve: the page shows its last loss, not "–"
    expect(Number((await page.getByTestId('loss').textContent())!)).toBeLessThan(0.1);
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toBe(cliGreedy);
    expect(await generate(page, SEEDED)).toBe(cliSeeded);
    expect(errors).toEqual([]);
  });

  test('trains a two-layer LSTM with dropout, shows every layer inside, and saves and loads it', async () => {
    const { page, errors } = await open(site, true);
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
    await expect.poll(() => summary.textContent(), { timeout: WAIT }).toMatch(/^LSTM, 2 layers of 8 hidden units, dropout 0\.1; 14 distinct characters, 1,406 parameters/);
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

    // How it works names the LSTM's equations, typeset, and the output side's numbers.
    const how = page.getByTestId('how-steps');
    await expect.poll(() => how.locator('h3').first().textContent()).toBe('The LSTM cell');
    expect(await how.locator('.katex-display').count()).toBe(3);
    expect(await how.locator('.katex-error').count()).toBe(0);

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
    await expect.poll(() => summary.textContent(), { timeout: WAIT }).toMatch(/^GRU, 2 layers/);
    await page.getByLabel('Open a checkpoint').setInputFiles(file);
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: WAIT }).toMatch(/^Loaded page-lstm\.safetensors: step 20/);
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
    const { page, errors } = await open(site, true, { width: 390, height: 844 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUT, 'browser-phone-first-load.png'), fullPage: true });
    await train(page, '1,000');
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    await expect.poll(() => page.getByTestId('check-verdict').getAttribute('data-ok'), { timeout: WAIT }).toBe('true');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUT, 'browser-phone.png'), fullPage: true });
    await howAtSecondL(page);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.locator('#how-panel').screenshot({ path: join(OUT, 'browser-phone-how.png') });
    await hoverHeatmap(page, 'browser-phone-heatmap-hover.png');

    // Two LSTM layers from the CLI, trained with dropout (the page takes the cell, the layers and
    // the dropout from the checkpoint): the rows are per layer, and the page still fits.
    await lstmTrained;
    await page.getByLabel('Open a checkpoint').setInputFiles(lstmCheckpoint);
    // (the page compiles the cell kernels: seconds in SwiftShader)
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: WAIT }).toMatch(/^Loaded cli-lstm\.safetensors/);
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    await expect.poll(() => page.getByTestId('check-verdict').getAttribute('data-ok'), { timeout: WAIT }).toBe('true');
    const rows = await page.locator('#check-table tbody th').allTextContents();
    for (const name of ['hs.1', 'cs.0', 'dpre.1', 'dW_hh.0', 'W_hh.1 (update 10)']) expect(rows, name).toContain(name);
    expect(await page.locator('#check-detail').textContent()).toMatch(/Model: lstm, 2 layers, dropout 0\.2; the GPU's recurrence: .*ending in \.l is layer l's/);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.locator('#check-panel').screenshot({ path: join(OUT, 'browser-phone-check-lstm.png') });
    expect(errors).toEqual([]);
  });
});

describe('the page, second edition (issue: bugs and features)', () => {
  test('is usable at once on the CPU engine, moves to the GPU when it is found, and nothing jumps', async () => {
    const browser = await site.launch(['--enable-unsafe-webgpu']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const t0 = performance.now();
    await page.goto(site.url(), { waitUntil: 'domcontentloaded' });
    const look = () => page.evaluate(() => {
      const train = document.getElementById('train')!;
      return { top: train.getBoundingClientRect().top, ready: document.body.dataset.ready, gpu: document.body.dataset.gpu, off: train.getAttribute('aria-disabled') };
    });
    const tops = new Set<number>();
    let readyAt = NaN;
    let clickedBeforeGpu = false;
    for (;;) {
      const s = await look();
      tops.add(Math.round(s.top));
      if (s.ready === 'true' && Number.isNaN(readyAt)) {
        readyAt = performance.now() - t0;
        expect(s.off, 'Train is on as soon as the page is ready').toBe('false');
        clickedBeforeGpu = s.gpu === undefined;
        await page.getByRole('button', { name: 'Step' }).click(); // a click works at once
      }
      if (s.gpu) break;
      await page.waitForTimeout(40);
    }
    const gpuAt = performance.now() - t0;
    await expect.poll(() => page.getByTestId('step').textContent()).toBe('1');
    await page.waitForTimeout(300);
    tops.add(Math.round((await look()).top));
    expect([...tops], 'the Train button moved').toHaveLength(1);
    // Trained before the GPU was found: it stays on the CPU and the badge says the GPU is ready;
    // else the page timed both engines and says so (and moved, where the GPU was the faster).
    await expect.poll(() => page.getByTestId('adapter').textContent()).toMatch(
      /^Engine: GPU \(WebGPU\) on .*swiftshader.*; measured on this model: |^Engine: CPU .*; GPU ready: .*swiftshader.* \(choose it under Engine\)|^Engine: CPU .*; measured on this model: GPU [\d,]+ chars\/s, CPU [\d,]+ chars\/s on .*swiftshader/,
    );
    console.log(`browser: page usable after ${readyAt.toFixed(0)} ms, GPU found after ${gpuAt.toFixed(0)} ms (Step pressed ${clickedBeforeGpu ? 'before' : 'after'} it)`);
    await page.screenshot({ path: join(OUT, 'browser-first-load.png'), fullPage: true });
  });

  test('keeps a trained model through edits, offers Undo otherwise, and shows only the current model', async () => {
    const { page, errors } = await open(site, true);
    const summary = page.getByTestId('model-summary');
    const legend = page.getByTestId('chart-legend');
    const message = page.getByTestId('text-message');
    const steps = page.getByLabel('Steps per Train');
    await page.getByLabel('Training text', { exact: true }).selectOption('cats');
    await expect.poll(() => summary.textContent(), { timeout: WAIT }).toMatch(/^tanh RNN, 1 layer of 32 hidden units/);
    // bug 6: no axes and no "step: --" legend before the first point
    expect(await page.locator('#chart').getAttribute('data-empty')).toBe('true');
    expect(await legend.textContent()).toBe('');

    // bug 2: an edit with known characters keeps the model and the run goes on.
    await steps.fill('100000');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await page.waitForFunction(() => Number(document.getElementById('stat-step')!.textContent!.replace(/,/g, '')) >= 200);
    const text = page.getByLabel('The text itself: edit it or paste your own');
    await text.focus();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('the rat sat on the mat.\n');
    await expect.poll(() => message.textContent(), { timeout: WAIT }).toMatch(/goes on training on the edited text/);
    const kept = await stepOf(page);
    expect(kept).toBeGreaterThanOrEqual(200);
    await expect.poll(() => stepOf(page)).toBeGreaterThan(kept + 20);
    expect(await page.locator('#stats').getAttribute('data-state')).toBe('training');
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('custom');
    expect(await page.locator('#text-choice option:checked').textContent()).toBe('Your own text (edited from “Cats and hats (short, repetitive)”)');
    expect(await legend.textContent()).toMatch(/^Step [\d,]+ · training loss \d\.\d{4} · smoothed \d\.\d{4}$/); // (bug 6: values without hovering; smoothed from the start)

    // A new character needs a new model: the settings stay, and Undo brings the old one back.
    await page.keyboard.type('x');
    await expect.poll(() => message.textContent(), { timeout: WAIT }).toMatch(/characters? the model does not know \(‘x’\).*press Undo/);
    const lost = await stepOf(page);
    await expect.poll(() => page.getByTestId('step').textContent()).toBe('0');
    expect(await page.getByLabel('Hidden units', { exact: true }).inputValue()).toBe('32');
    expect(await steps.inputValue()).toBe('100000');
    expect(await page.getByLabel('Characters', { exact: true }).inputValue()).toBe('120');
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => message.textContent(), { timeout: WAIT }).toMatch(/^Back to the previous text and its model, at step/);
    expect(await stepOf(page)).toBeGreaterThanOrEqual(lost);
    expect(await text.inputValue()).toMatch(/the rat sat on the mat\.\n$/);
    expect(await page.getByRole('button', { name: 'Undo' }).isHidden()).toBe(true);
    await expect.poll(() => legend.textContent()).toMatch(/^Step [\d,]+ · training loss/);

    // The loss history travels in the checkpoint (bug 10): loaded after a Reset, the curve is back.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download checkpoint' }).click()]);
    const file = join(dir, 'page-cats.safetensors');
    await download.saveAs(file);
    const loss = await page.getByTestId('loss').textContent();
    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(() => page.locator('#chart').getAttribute('data-empty')).toBe('true'); // bug 6
    expect(await legend.textContent()).toBe('');
    await page.getByLabel('Open a checkpoint').setInputFiles(file);
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: WAIT }).toMatch(/its loss curve \(\d+ points\)/);
    expect(await page.getByTestId('loss').textContent()).toBe(loss);
    await expect.poll(() => page.locator('#chart').getAttribute('data-empty')).toBe('false');

    // bug 8: a long string scrolls sideways, with labels no narrower than a character, and says so.
    const long = 'the cat sat on the mat. the rat sat on the hat. the bat ran to the cat. the rat.';
    await page.getByLabel(/^Type a string/).fill(long);
    await expect.poll(() => page.getByTestId('heat-scroll').isVisible()).toBe(true);
    expect(Number(await page.locator('#heatmap canvas').first().getAttribute('data-column-width'))).toBeGreaterThanOrEqual(13);
    expect(await page.getByTestId('heat-scroll').textContent()).toBe(`All ${long.length} characters do not fit: scroll the heatmap sideways to see the rest →`);

    // bug 3: a checkpoint that cannot read the text leaves nothing of the old model inside.
    await cliTrained;
    await page.getByLabel('Open a checkpoint').setInputFiles(cliCheckpoint);
    await expect.poll(() => page.getByTestId('checkpoint-message').textContent(), { timeout: WAIT }).toMatch(/^Loaded cli-hello/);
    await expect.poll(() => page.locator('#inspect-message').textContent()).toMatch(/not in the vocabulary/);
    expect(await page.locator('#tokens button').count()).toBe(0);
    expect(await page.locator('#bars li').count()).toBe(0);
    expect(await page.locator('#heatmap figure').count()).toBe(0);

    // bug 4: a rebuild says so while it lasts. (Another bundled text replaces the loaded model,
    // which had trained: Undo is offered.)
    await page.getByLabel('Training text', { exact: true }).selectOption('cats');
    await expect.poll(() => message.textContent(), { timeout: WAIT }).toMatch(/^A new model for “Cats and hats.*\(step 1,000\) is kept: press Undo/);
    await page.getByLabel('Cell', { exact: true }).selectOption('lstm');
    await expect.poll(() => summary.getAttribute('data-busy'), { interval: 20 }).toBe('true');
    expect(await summary.textContent()).toMatch(/^Building the LSTM, 1 layer of 32 \(compiling its GPU kernels\)…$/);
    await expect.poll(() => summary.getAttribute('data-busy'), { timeout: WAIT }).toBe('false');
    expect(await summary.textContent()).toMatch(/^LSTM, 1 layer of 32 hidden units/);

    // bug 10: a learning rate of 50 diverges, and the page says so in its own words.
    await page.getByLabel('Cell', { exact: true }).selectOption('rnn');
    await expect.poll(() => summary.textContent(), { timeout: WAIT }).toMatch(/^tanh RNN/);
    await page.getByLabel('Learning rate', { exact: true }).fill('50');
    await page.getByLabel('Learning rate', { exact: true }).dispatchEvent('change');
    await expect.poll(() => summary.getAttribute('data-busy'), { timeout: WAIT }).toBe('false');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    const trainMessage = page.getByTestId('train-message');
    await expect.poll(() => trainMessage.textContent(), { timeout: WAIT }).toMatch(/^Training diverged at step \d+: the loss is [\d.]+ nats\/char.*Lower the learning rate \(try 5\) or set a gradient clip \(try 5\), then press Reset/);
    expect(await trainMessage.textContent()).not.toMatch(/--/);
    expect(await page.locator('#stats').getAttribute('data-state')).toBe('diverged');
    expect(await page.getByTestId('loss').textContent()).toBe('diverged');
    expect(errors).toEqual([]);
  });

  test('trains until Pause with both curves, samples at a live temperature, links its settings, and stays smooth', async () => {
    const { page, errors } = await open(site, true);
    // Settings from the address: the story, a smaller model, Adagrad, seed 7.
    await page.goto(`${site.url()}?text=lighthouse&hidden=24&optimizer=adagrad&lr=0.1&seed=7&device=gpu`);
    await page.waitForSelector('body[data-gpu]', { timeout: WAIT });
    expect(await page.getByLabel('Training text', { exact: true }).inputValue()).toBe('lighthouse');
    expect(await page.getByLabel('Hidden units', { exact: true }).inputValue()).toBe('24');
    expect(await page.locator('#cfg-seed').inputValue()).toBe('7');
    const summary = page.getByTestId('model-summary');
    await expect.poll(() => summary.textContent(), { timeout: WAIT }).toMatch(/of 24 hidden units.*The last 485 characters are held out for validation/);
    expect(await page.getByTestId('share-link').getAttribute('href')).toMatch(/text=lighthouse.*hidden=24.*optimizer=adagrad.*seed=7/);

    // Until Pause, with the frame gaps measured for 30 s.
    await page.getByLabel('Steps per Train').fill('');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-line').textContent()).toMatch(/^Training until you press Pause/);
    const gaps = await frameGaps(page, 30_000);
    const speed = await page.getByTestId('speed').textContent();
    const line = `frames while training the story until Pause (GPU engine, headless Chromium): ${gaps.n} frames in 30 s, longest gap ${gaps.longest.toFixed(0)} ms, 99th percentile ${gaps.p99.toFixed(0)} ms, median ${gaps.median.toFixed(0)} ms; training at ${speed} chars/s`;
    console.log(`browser: ${line}`);
    writeFileSync(join(OUT, 'browser-frames.txt'), `${line}\n`);
    expect(gaps.longest, 'a frame gap beyond any reason').toBeLessThan(5000);
    expect(gaps.p99, 'the 99th percentile of the gaps between frames (the page issue: under 50 ms on SwiftShader)').toBeLessThan(50);
    await expect.poll(() => page.getByTestId('val-loss').textContent(), { timeout: WAIT }).toMatch(/^\d\.\d{4}$/);
    expect(await page.getByTestId('chart-legend').textContent()).toMatch(/ · validation \d\.\d{4}/);

    // Samples during training at the slider's temperature.
    await slide(page, 'preview-temperature', '1');
    await expect.poll(() => page.locator('#preview-label').textContent()).toMatch(/^Sample at temperature 1\.0 from “T”:/);
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.locator('#stats').getAttribute('data-state')).toBe('idle');
    await slide(page, 'chart-smoothing', '0.8');
    await page.getByLabel('Log scale').check();
    await expect.poll(() => page.getByTestId('chart-legend').textContent()).toMatch(/ · smoothed \d\.\d{4}/);
    await page.locator('#live-panel').screenshot({ path: join(OUT, 'browser-curves.png') });

    // A target with progress and an estimate of the time left.
    await page.getByLabel('Steps per Train').fill('300');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-line').textContent()).toMatch(/^Step [\d,]+ of [\d,]+ at [\d,]+ steps\/s; about \d+ (s|min)/);
    await page.waitForFunction(() => document.getElementById('stats')!.dataset.state === 'idle', null, { timeout: WAIT });

    // The heatmap: hover names a cell; a selected character outlines its repeats' columns.
    await hoverHeatmap(page, 'browser-heatmap-hover.png');
    await page.locator('#tokens button').nth(1).click(); // the h's of "The lighthouse"
    await expect.poll(() => page.locator('#heatmap canvas').first().getAttribute('data-highlighted')).toBe('1,7,9');

    // The same at phone size.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.locator('#live-panel').screenshot({ path: join(OUT, 'browser-phone-curves.png') });
    expect(errors).toEqual([]);
  });
});

describe('the page without WebGPU', () => {
  test('says so, explains how to enable it, and trains on the CPU engine', async () => {
    const { page, errors } = await open(site, false);
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
