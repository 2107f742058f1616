import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Builds the benchmark (bench/bench.ts) and the probe (bench/probe.ts) for Node into
// bench/dist/bench.js and probe.js, like the CLI bundle
// (../vite.cli.config.ts): the project's sources it imports (../src/...) come with it, their
// WGSL inlined through the `?raw` imports; npm packages (webgpu, @tensorflow/*) stay external
// and load from bench/node_modules, then the root node_modules.
const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  logLevel: 'warn',
  build: {
    ssr: true,
    outDir: 'dist',
    emptyOutDir: true,
    target: 'node20',
    sourcemap: true,
    rollupOptions: { input: { bench: 'bench.ts', probe: 'probe.ts' }, output: { entryFileNames: '[name].js' } },
  },
});
