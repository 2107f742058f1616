import { defineConfig } from 'vite';

// Bundles the CLI (src/cli/bin.ts) for Node into dist/cli.js, with the WGSL inlined;
// npm packages (webgpu, commander, cli-progress) stay external.
export default defineConfig({
  build: {
    ssr: 'src/cli/bin.ts',
    outDir: 'dist',
    emptyOutDir: false,
    target: 'node20',
    sourcemap: true,
    rollupOptions: { output: { entryFileNames: 'cli.js', banner: '#!/usr/bin/env node' } },
  },
});
