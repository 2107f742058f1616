import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const BROWSER = ['test/browser*.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/build-cli.ts'],
    // One GPU device per test file; files run in separate processes.
    pool: 'forks',
    // Two files at a time (vitest's default leaves one core idle): most tests wait on a child
    // process (the CLI, Python, Chromium) or on the software GPU's threads, and the suite takes
    // about half as long.
    maxWorkers: 2,
    // Generous, so that the suite passes on a loaded machine (a shared runner, other CPU-bound
    // processes beside it): a test that is done returns at once.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    expect: { poll: { timeout: 180_000 } },
    // the CLI's schedule measurements (src/node/scheduleCache.ts) go to the tests' own folder
    env: { XDG_RUNTIME_DIR: '/tmp', XDG_CACHE_HOME: resolve('test/.out/cache') },
    // The page's tests (Chromium, SwiftShader) run after the others, one file at a time: beside
    // them, a file of the engine's GPU tests (lavapipe) took 13 times as long as alone (316 s
    // against 25 s), both software GPUs fighting over the 2 cores, and beside each other the
    // page's frames were no longer smooth (a 99th-percentile gap of 67 ms against 17 ms).
    projects: [
      { extends: true, test: { name: 'engine', include: ['test/**/*.test.ts'], exclude: BROWSER, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'page', include: BROWSER, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
