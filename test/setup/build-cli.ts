import { build } from 'vite';

// The CLI tests run the real bundle, dist/cli.js, as users do: build it once per test run.
export default async function setup(): Promise<void> {
  await build({ configFile: 'vite.cli.config.ts', logLevel: 'warn' });
}
