import { CHILD_ENV, adoptParent, runFiltered } from './dawnLines.js';
import { main } from './main.js';

// The CLI runs as a child of itself, whose stderr the parent filters (src/cli/dawnLines.ts).
if (process.env[CHILD_ENV] !== undefined) {
  adoptParent();
  process.exitCode = await main(process.argv.slice(2));
} else process.exitCode = await runFiltered();
