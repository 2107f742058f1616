import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
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
  },
});
