import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import ts from 'typescript5';
import { beforeAll, describe, expect, test } from 'vitest';

// The shipped .d.ts as a consumer's compiler sees them, without skipLibCheck: emitted from src
// as `npm run build:lib` does (into a folder of this test's own), laid out as the package
// installs (its package.json and exports map, its dependencies beside it), then checked by
// TypeScript 7 and 5 in a browser project (lib ES2022 + DOM) and a Node project (lib ES2022,
// types node). Every type that a public signature names must be importable by name: the
// compiler API walks the .d.ts from the two entry points to find those types.

const root = resolve(import.meta.dirname, '..');
const app = mkdtempSync(join(tmpdir(), 'char-rnn-types-'));
const pkgDir = join(app, 'node_modules/char-rnn-webgpu');
const typesDir = join(pkgDir, 'dist/types');
const ENTRIES = { 'char-rnn-webgpu': 'index.d.ts', 'char-rnn-webgpu/node': 'node/gpu.d.ts' } as const;
type Entry = keyof typeof ENTRIES;
const COMPILERS = { 'TypeScript 7': 'typescript/bin/tsc', 'TypeScript 5': 'typescript5/bin/tsc' } as const;
const PROJECTS = {
  'a browser project (lib ES2022 + DOM, no @types)': { lib: ['ES2022', 'DOM'], types: [], module: 'ESNext', moduleResolution: 'bundler' },
  'a Node project (lib ES2022, types node)': { lib: ['ES2022'], types: ['node'], module: 'Node16', moduleResolution: 'node16' },
} as const;

const run = (args: string[], cwd = root) => spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });

beforeAll(() => {
  const r = run([join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.lib.json', '--outDir', typesDir]);
  if (r.status !== 0) throw new Error(`Emitting the .d.ts failed:\n${r.stdout}${r.stderr}`);
  cpSync(join(root, 'package.json'), join(pkgDir, 'package.json'));
  // what npm installs beside the package: its dependencies, and @types/node for the Node project
  const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of [...Object.keys(dependencies), '@types/node', 'undici-types']) {
    mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
  }
}, 120_000);

interface Export {
  name: string;
  /** a type (interface, type alias, class, enum), else a value only */
  type: boolean;
}

/** A named type of the package that a public signature names, and the export it was found in. */
interface PublicType {
  name: string;
  /** the entry that exports it, or undefined where none does */
  entry?: Entry;
  /** the first exported name whose signature leads to it */
  usedBy: string;
}

const TYPE_FLAGS = ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum;

function inGlobalBlock(n: ts.Node): boolean {
  for (let p: ts.Node | undefined = n; p; p = p.parent) if (ts.isModuleDeclaration(p) && p.flags & ts.NodeFlags.GlobalAugmentation) return true;
  return false;
}

function isPrivateMember(n: ts.Node): boolean {
  if (!ts.isClassElement(n)) return false;
  if (n.name && ts.isPrivateIdentifier(n.name)) return true;
  return (ts.getCombinedModifierFlags(n) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;
}

let walked: ReturnType<typeof publicTypes> | undefined;

/** Every exported name of the entry points, and every named type of the package that their
 * public signatures (and, in turn, those types' public members) name. */
function publicTypes(): { exports: Record<Entry, Export[]>; used: PublicType[] } {
  if (walked) return walked;
  const files = Object.values(ENTRIES).map((f) => join(typesDir, f));
  const program = ts.createProgram(files, {
    strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
  });
  const checker = program.getTypeChecker();
  const target = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const ours = (s: ts.Symbol) =>
    !!s.declarations?.length && s.declarations.every((d) => resolve(d.getSourceFile().fileName).startsWith(typesDir + sep) && !inGlobalBlock(d));
  const exports = {} as Record<Entry, Export[]>;
  const exportedAs = new Map<ts.Symbol, { name: string; entry: Entry }>();
  for (const [entry, file] of Object.entries(ENTRIES) as [Entry, string][]) {
    const mod = checker.getSymbolAtLocation(program.getSourceFile(join(typesDir, file))!)!;
    exports[entry] = checker.getExportsOfModule(mod).map((s) => ({ name: s.name, type: (target(s).flags & TYPE_FLAGS) !== 0 }));
    for (const s of checker.getExportsOfModule(mod)) if (!exportedAs.has(target(s))) exportedAs.set(target(s), { name: s.name, entry });
  }
  const exportedTypes = new Map<ts.Type, Entry>();
  for (const [s, e] of exportedAs) if (s.flags & TYPE_FLAGS) exportedTypes.set(checker.getDeclaredTypeOfSymbol(s), e.entry);
  const used = new Map<ts.Symbol, PublicType>();
  const queue: [ts.Symbol, string][] = [...exportedAs].map(([s, e]) => [s, e.name]);
  const visit = (node: ts.Node, owner: string): void => {
    if (isPrivateMember(node)) return;
    const ref = ts.isTypeReferenceNode(node) ? node.typeName
      : ts.isExpressionWithTypeArguments(node) ? node.expression
      : ts.isImportTypeNode(node) ? node.qualifier
      : ts.isTypeQueryNode(node) ? node.exprName : undefined;
    const id = ref && (ts.isQualifiedName(ref) ? ref.right : ts.isPropertyAccessExpression(ref) ? ref.name : ref);
    const sym = id && checker.getSymbolAtLocation(id);
    if (sym && ours(target(sym))) {
      const s = target(sym);
      // exported under its own name, or as the same type under another (an alias of it)
      const entry = exportedAs.get(s)?.entry ?? exportedTypes.get(checker.getDeclaredTypeOfSymbol(s));
      if (s.flags & TYPE_FLAGS && !used.has(s)) used.set(s, { name: s.name, entry, usedBy: owner });
      if (!queue.some(([q]) => q === s)) queue.push([s, owner]);
    }
    ts.forEachChild(node, (c) => visit(c, owner));
  };
  for (let i = 0; i < queue.length; i++) {
    const [s, owner] = queue[i];
    for (const d of s.declarations ?? []) if (ours(s)) visit(d, owner);
  }
  walked = { exports, used: [...used.values()].sort((a, b) => a.name.localeCompare(b.name)) };
  return walked;
}

/** A consumer that imports, by name, every export of both entry points and every type the
 * public signatures name (from the main entry where no entry exports it). */
function consumer({ exports, used }: ReturnType<typeof publicTypes>): string {
  const imports = (Object.keys(ENTRIES) as Entry[]).map((entry) => {
    const names = new Map(exports[entry].map((e) => [e.name, e.type]));
    for (const u of used) if ((u.entry ?? 'char-rnn-webgpu') === entry) names.set(u.name, true);
    return { entry, names: [...names] };
  });
  const lines = imports.map(({ entry, names }) => `import type { ${names.map(([n]) => n).join(', ')} } from '${entry}';`);
  const uses = imports.flatMap(({ names }) => names.map(([n, type]) => (type ? n : `typeof ${n}`)));
  return `${lines.join('\n')}\n\nexport type Everything = [\n  ${uses.join(',\n  ')},\n];\n`;
}

describe('the shipped types', () => {
  test('reference no global type package (@webgpu/types needs the DOM lib and clashes with TypeScript 7\'s)', () => {
    const files = (readdirSync(typesDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter((f) => /<reference types=/.test(readFileSync(join(typesDir, f), 'utf8')))).toEqual([]);
  });

  test('every type a public signature names is exported by name', () => {
    const { used } = publicTypes();
    expect(used.length, 'the walk found the public types').toBeGreaterThan(20);
    expect(used.filter((u) => !u.entry).map((u) => `${u.name} (named by ${u.usedBy})`)).toEqual([]);
  }, 120_000);

  for (const [compiler, tsc] of Object.entries(COMPILERS))
    for (const [project, options] of Object.entries(PROJECTS))
      test(`${compiler} checks a consumer of every public type in ${project}, without skipLibCheck`, () => {
        const dir = join(app, `${compiler}-${options.types.length ? 'node' : 'dom'}`.replace(/\W+/g, '-'));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'everything.ts'), consumer(publicTypes()));
        cpSync(join(root, 'examples/consumer.ts'), join(dir, 'consumer.ts'));
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
        const compilerOptions = { ...options, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false };
        writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['everything.ts', 'consumer.ts'] }));
        const r = run([join(root, 'node_modules', tsc), '-p', 'tsconfig.json'], dir);
        expect(r.stdout + r.stderr).toBe('');
        expect(r.status).toBe(0);
      }, 180_000);
});
