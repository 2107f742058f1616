// Writes scripts/cells.json, the cell records of src/cells.ts as the Python scripts read them
// (scripts/charrnn_cells.py):
//   node scripts/write-cells.mjs
// test/cell-record.test.ts fails when the committed file differs from what the records give now.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const vite = await createServer({ root, configFile: false, logLevel: 'warn', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
try {
  const { cellsJson } = await vite.ssrLoadModule('/src/cells.ts');
  writeFileSync(new URL('cells.json', import.meta.url), cellsJson());
  console.log('wrote scripts/cells.json');
} finally {
  await vite.close();
}
