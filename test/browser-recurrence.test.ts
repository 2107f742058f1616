import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { OUT, generate, open, train } from './browser/page.js';
import { useSite } from './browser/site.js';

// The recurrent schedules in the page on SwiftShader's WebGPU, forced through the address
// (`recurrence=`, as the CLI's --recurrence): the tutorial's hello trains and samples with each
// of the two that spread the recurrence over the adapter, and the GPU agrees with the CPU.

const site = useSite({ configFile: 'demo/vite.config.ts', build: { outDir: join(OUT, 'site-recurrence') } });

describe('the page with a forced recurrent schedule (SwiftShader)', () => {
  test.each([
    ['grid', /^grid-persistent sweeps, the units split over workgroups that run at once \(asked\)$/],
    ['steps', /^one dispatch per layer and timestep over the whole adapter \(asked\)$/],
  ])('%s: hello learned, sampled, and GPU = CPU', async (recurrence, words) => {
    const { page, errors } = await open(site, true, undefined, `?recurrence=${recurrence}&device=gpu`);
    const summary = page.getByTestId('model-summary');
    await expect.poll(() => summary.getAttribute('data-recurrence')).toMatch(words);
    expect(await summary.getAttribute('title')).toMatch(/^GPU recurrence: /);
    await train(page, '1,000');
    expect(Number((await page.getByTestId('loss').textContent())!)).toBeLessThan(0.1);
    expect(await generate(page, { prime: 'h', length: 4, greedy: true })).toBe('hello');
    await page.getByRole('button', { name: 'Compare GPU and CPU' }).click();
    await expect.poll(() => page.getByTestId('check-verdict').getAttribute('data-ok')).toBe('true');
    expect(await page.locator('#check-detail').textContent()).toMatch(new RegExp(`the GPU's recurrence: ${words.source.slice(1, -1)}\\. `));
    expect(errors).toEqual([]);
  });
});
