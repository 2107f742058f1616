// Installs the benchmark's own dependencies (bench/package-lock.json: TensorFlow.js, kept out of
// the project's package.json) when bench/node_modules is missing or does not match the lock:
// every package the lock lists must be installed at the locked version. Run by `npm run bench`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const lock = JSON.parse(readFileSync(join(here, 'package-lock.json'), 'utf8'));

function stale() {
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (!path.startsWith('node_modules/')) continue;
    const pkg = join(here, path, 'package.json');
    if (!existsSync(pkg)) return `${path.slice('node_modules/'.length)} is not installed`;
    const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
    if (version !== entry.version) return `${path.slice('node_modules/'.length)} is ${version}, the lock says ${entry.version}`;
  }
  return undefined;
}

const why = existsSync(join(here, 'node_modules')) ? stale() : 'bench/node_modules is missing';
if (why) {
  console.log(`bench: installing the benchmark's dependencies (${why}): npm --prefix bench ci`);
  const r = spawnSync('npm', ['--prefix', here, 'ci', '--no-audit', '--no-fund'], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`bench: npm --prefix bench ci failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}
