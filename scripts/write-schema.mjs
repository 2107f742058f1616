// Writes schema/checkpoint.schema.json from the zod schema of src/schema.ts:
//   node scripts/write-schema.mjs
// test/schema.test.ts fails when the committed file differs from what the schema gives now.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const vite = await createServer({ root, configFile: false, logLevel: 'warn', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
try {
  const { SCHEMA_FILE, schemaFileText } = await vite.ssrLoadModule('/src/schema.ts');
  writeFileSync(new URL(`../${SCHEMA_FILE}`, import.meta.url), schemaFileText());
  console.log(`wrote ${SCHEMA_FILE}`);
} finally {
  await vite.close();
}
