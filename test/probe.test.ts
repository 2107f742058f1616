import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'vite';
import { expect, test } from 'vitest';

// `npm run probe` (bench/probe.ts) on this machine's adapter: built for Node as npm run probe
// builds it, run once, its JSON read back.

test('the probe measures dispatches, the handoff between two workgroups and residency, and writes them', async () => {
  const dist = resolve('test/.out/probe-dist'); // inside the project, where `webgpu` resolves
  const out = mkdtempSync(join(os.tmpdir(), 'char-rnn-probe-'));
  // the probe alone (bench/vite.config.ts also builds the bench, whose TF.js a fresh clone lacks)
  await build({
    configFile: false, root: resolve('bench'), logLevel: 'warn',
    build: { ssr: 'probe.ts', outDir: dist, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'probe.js' } } },
  });
  const { stdout } = await promisify(execFile)(process.execPath, [join(dist, 'probe.js'), '--out', out, '--reps', '1']);
  const files = readdirSync(out);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^\d{4}-\d\d-\d\d-\d{4}-.*-probe\.json$/);
  const r = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
  expect(stdout).toContain(`wrote ${join(out, files[0])}`);
  expect(r.adapter.features).toContain('timestamp-query');
  expect(r.adapter.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  expect(r.dispatches.rows.map((x: { dispatches: number }) => x.dispatches)).toEqual([1, 64, 512]);
  // each of 512 dependent dispatches costs something (how much is the probe's to say, not a test's)
  expect(r.dispatches.perDispatchGpuUs).toBeGreaterThan(0);
  // lavapipe runs workgroups on its threads, one per core: two of them hand a word back and
  // forth (on a loaded machine a thread may be descheduled past the wait's bound: then the
  // probe says so), and at most as many as there are cores are resident at once
  const cores = os.cpus().length;
  if (r.handoff.ok) expect(r.handoff.perHandoffUs).toBeGreaterThan(0);
  else expect(r.handoff.failure).toMatch(/did not run at the same time/);
  expect(r.handoff.rounds).toBe(2000);
  for (const row of r.residency.rows) {
    expect(row.failed).toBe(false);
    expect(row.resident).toBeGreaterThanOrEqual(1);
    expect(row.resident).toBeLessThanOrEqual(cores);
  }
});
