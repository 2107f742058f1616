import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { beforeAll, describe, expect, test } from 'vitest';

// The package as people install it: `npm pack`, then `npm install` of the tarball into an
// empty project, without the network (from the npm cache that installing this project
// filled). The examples in examples/ are the code the README shows.

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'char-rnn-package-'));
const app = join(dir, 'app');
const sh = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] });

let files: string[] = [];
beforeAll(() => {
  sh('npm', ['run', 'build:lib'], root);
  const packed = JSON.parse(sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root));
  files = packed[0].files.map((f: { path: string }) => f.path);
  mkdirSync(app);
  // npm ci from a lockfile needs only the tarballs, which the cache holds (a plain install would
  // also need the registry's package documents): this project's production dependencies, as
  // its own lockfile pins them, plus the packed tarball
  const tgz = `file:../${packed[0].filename}`;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const self = lock.packages[''];
  const deps = Object.fromEntries(Object.entries(lock.packages).filter(([k, v]) => k !== '' && !(v as { dev?: boolean }).dev));
  const pkg = { name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { 'char-rnn-webgpu': tgz } };
  writeFileSync(join(app, 'package.json'), JSON.stringify(pkg));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({
    name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'app', version: '1.0.0', dependencies: pkg.dependencies },
      'node_modules/char-rnn-webgpu': {
        version: self.version, resolved: tgz, integrity: packed[0].integrity, license: self.license,
        dependencies: self.dependencies, bin: self.bin, engines: self.engines,
      },
      ...deps,
    },
  }));
  sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
}, 240_000);

describe('the npm package', () => {
  test('ships the built library, its types and the CLI, and nothing else', () => {
    expect(files).toContain('dist/lib/index.js');
    expect(files).toContain('dist/lib/node.js');
    expect(files).toContain('dist/types/index.d.ts');
    expect(files).toContain('dist/types/node/gpu.d.ts');
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('LICENSE');
    expect(files.filter((f) => /^(src|test|shaders|demo|bench|corpus|scripts)\/|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  test('says its license (MIT, the text in LICENSE) and its repository', () => {
    const installed = join(app, 'node_modules/char-rnn-webgpu');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/char-rnn-webgpu/char-rnn-webgpu.git' });
    const license = readFileSync(join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) the char-rnn-webgpu authors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toMatch(/\n## License\n\n.*MIT.*LICENSE/);
  });

  test('plain Node ESM: the README example trains hello on the GPU engine and greedy-samples hello', () => {
    cpSync(join(root, 'examples/node-hello.mjs'), join(app, 'hello.mjs'));
    const r = spawnSync(process.execPath, ['hello.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/after 1000 steps; greedy sample from 'h': hello\n$/);
    expect(readFileSync(join(root, 'README.md'), 'utf8'), 'the output the README shows').toContain(`prints \`${r.stdout.trim()}\``);
  });

  for (const resolution of ['bundler', 'node16'] as const)
    test(`TypeScript (moduleResolution ${resolution}) type-checks a consumer against the shipped .d.ts`, () => {
      cpSync(join(root, 'examples/consumer.ts'), join(app, 'consumer.ts'));
      // a browser project (bundler, DOM) and a Node one (node16, no DOM), without skipLibCheck
      // (test/package-types.test.ts checks every public type, under TypeScript 5 too)
      const [module, lib] = resolution === 'bundler' ? ['esnext', 'es2022,dom'] : ['node16', 'es2022'];
      const r = spawnSync(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--lib', lib,
          '--module', module, '--moduleResolution', resolution, '--types', '', 'consumer.ts'],
        { cwd: app, encoding: 'utf8' },
      );
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });

  test('a Vite page imports it and builds, with the WGSL inside the bundle', async () => {
    const page = join(app, 'page');
    cpSync(join(root, 'examples/browser'), page, { recursive: true });
    await build({ root: page, logLevel: 'warn', build: { outDir: join(page, 'dist'), target: 'es2022' }, configFile: false });
    const js = readdirSync(join(page, 'dist/assets')).filter((f) => f.endsWith('.js'));
    const bundle = js.map((f) => readFileSync(join(page, 'dist/assets', f), 'utf8')).join('\n');
    expect(bundle).toMatch(/@compute @workgroup_size/);
    expect(bundle).not.toMatch(/from ["']webgpu["']|node:/);
  });

  test('the README shows the examples exactly', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const f of ['examples/node-hello.mjs', 'examples/browser/main.js']) {
      expect(existsSync(join(root, f))).toBe(true);
      expect(readme, f).toContain(readFileSync(join(root, f), 'utf8').trim());
    }
  });
});
