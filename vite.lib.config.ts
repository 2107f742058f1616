import { defineConfig } from 'vite';

// Builds the library for npm: plain ESM JavaScript in dist/lib/ with the WGSL inlined, one
// file per entry point ('char-rnn-webgpu' for the browser and Node, 'char-rnn-webgpu/node' for
// Dawn in Node). Its types come from tsconfig.lib.json (dist/types/).
export default defineConfig({
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: { entry: { index: 'src/index.ts', node: 'src/node/gpu.ts' }, formats: ['es'] },
    rollupOptions: { external: ['webgpu', /^node:/] },
  },
});
