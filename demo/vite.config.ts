import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page: `npm run demo` serves it, `npm run build` writes a static site to demo-dist/
// (relative URLs, so it works from any folder). WGSL and the bundled texts are inlined.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../demo-dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
  },
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
