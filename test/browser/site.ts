import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { build, type InlineConfig, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll } from 'vitest';

// A static site as people get it: built by Vite, served by Vite's preview server, opened in
// Debian's Chromium (SwiftShader's WebGPU with --enable-unsafe-webgpu). One per test file.

export const CHROMIUM = '/usr/bin/chromium';
const QUIET = ['--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Site {
  /** The preview server's address, once the file's beforeAll has run. */
  url(): string;
  /** A Chromium with `flags` (closed after the file's tests). */
  launch(flags: string[]): Promise<Browser>;
}

/** Builds `config` before the file's tests (after `first`, which runs beside the build) and
 * serves it; closes the server and every browser launched afterwards. */
export function useSite(config: InlineConfig, first?: () => void): Site {
  let server: PreviewServer | undefined;
  let url = '';
  const browsers: Browser[] = [];
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`The browser tests need Chromium at ${CHROMIUM}, which is missing. Install it with: bash scripts/setup.sh --browser`);
    first?.();
    await build({ logLevel: 'warn', ...config });
    server = await preview({ logLevel: 'warn', ...config, preview: { host: '127.0.0.1', port: 0 } });
    url = server.resolvedUrls!.local[0];
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.close();
  });
  return {
    url: () => url,
    async launch(flags: string[]) {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...flags, ...QUIET] });
      browsers.push(browser);
      return browser;
    },
  };
}
