import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { useSite } from './browser/site.js';

// The README's browser example (examples/browser/, shown there verbatim: test/package.test.ts)
// as a page: built by Vite against the library's source, served by Vite's preview server and
// opened in Debian's Chromium. Without the WebGPU flags navigator.gpu exists but gives no
// adapter, as in most browsers on Linux without a GPU: the example must train on the CPU
// engine and show its result. With them (SwiftShader's WebGPU) it trains on the GPU.

const root = resolve(import.meta.dirname, '..');
const site = useSite({
  root: join(root, 'examples/browser'),
  configFile: false,
  resolve: { alias: { 'char-rnn-webgpu': join(root, 'src/index.ts') } },
  build: { outDir: mkdtempSync(join(tmpdir(), 'char-rnn-browser-example-')), target: 'es2022', emptyOutDir: true },
});

/** Opens the example and waits until it shows its result or fails (an error on the page, or
 * two minutes without a result): what it shows, its errors, and whether the page had an adapter. */
async function runExample(flags: string[]): Promise<{ out: string; errors: string[]; gpu: 'none' | 'no adapter' | 'adapter' }> {
  const browser = await site.launch(flags);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // (the browser asks for /favicon.ico, which the example has not)
  page.on('console', (m) => m.type() === 'error' && !m.location().url.endsWith('/favicon.ico') && errors.push(m.text()));
  await page.goto(site.url());
  const shown = () => page.locator('#out').textContent();
  for (const t0 = performance.now(); performance.now() - t0 < 120_000; await page.waitForTimeout(100)) {
    const out = (await shown()) ?? '';
    if (errors.length || !/^(training\.\.\.|step \d+: .*)$/.test(out)) break;
  }
  const gpu = await page.evaluate(async () => (!navigator.gpu ? 'none' : (await navigator.gpu.requestAdapter()) ? 'adapter' : 'no adapter'));
  return { out: (await shown()) ?? '', errors, gpu };
}

describe("the README's browser example", () => {
  test('in Chromium without the WebGPU flags (navigator.gpu without an adapter) it trains on the CPU and shows the result', async () => {
    const r = await runExample([]);
    expect(r.gpu, 'the case of the example: navigator.gpu exists, requestAdapter() gives null').toBe('no adapter');
    expect(r.errors).toEqual([]);
    expect(r.out).toBe("cpu: loss 0.0328; greedy sample from 'h': hello");
    expect(readFileSync(join(root, 'README.md'), 'utf8'), 'the result the README shows').toContain(`shows \`${r.out}\``);
  }, 180_000);

  test('with WebGPU (SwiftShader) it trains on the GPU and shows the result', async () => {
    const r = await runExample(['--enable-unsafe-webgpu']);
    expect(r.gpu).toBe('adapter');
    expect(r.errors).toEqual([]);
    expect(r.out).toMatch(/^gpu: loss 0\.03\d\d; greedy sample from 'h': hello$/);
  }, 180_000);
});
