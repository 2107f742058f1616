import { describe, expect, test } from 'vitest';
import { CELL_NAMES } from '../src/model.js';
import * as F from '../src/gpu/families.js';
import type { Access, Family, Struct } from '../src/gpu/kernel.js';
import { shaderParts } from '../src/gpu/shaders.js';

// Every binding table of src/gpu/families.ts against the WGSL it binds: the i-th name of a table
// is declared `@group(0) @binding(i)` in the family's shader, with the access the table says
// (read-only storage, read-write storage, or a uniform of the struct the table names), and a
// uniform struct's fields are the WGSL struct's, in order. The bind-group layouts are made from
// the tables by position (src/gpu/kernel.ts), so a table out of order binds the wrong buffers.

interface Declared {
  group: number;
  binding: number;
  space: string;
  type: string;
}

/** `@group(g) @binding(b) var<space[, access]> name: type;` of a WGSL source, by name. */
function declarations(wgsl: string): Map<string, Declared[]> {
  const out = new Map<string, Declared[]>();
  const re = /@group\((\d+)\)\s*@binding\((\d+)\)\s*var<([^>]+)>\s*(\w+)\s*:\s*([^;]+);/g;
  for (const m of wgsl.matchAll(re)) {
    const d = { group: Number(m[1]), binding: Number(m[2]), space: m[3].replace(/\s+/g, ''), type: m[5].trim() };
    out.set(m[4], [...(out.get(m[4]) ?? []), d]);
  }
  return out;
}

/** The fields of `struct Name { a: u32, b: f32 }` in a WGSL source. */
function structFields(wgsl: string, name: string): [string, string][] | undefined {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(wgsl);
  if (!m) return undefined;
  return m[1]
    .replace(/\/\/[^\n]*/g, '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => f.split(':').map((x) => x.trim()) as [string, string]);
}

const isStruct = (a: Access): a is Struct => typeof a !== 'string';
const wanted = (a: Access) => (a === 'read' ? 'storage,read' : a === 'storage' ? 'storage,read_write' : 'uniform');

const families: [string, Family][] = [
  ...Object.entries(F).filter(([, v]) => typeof v === 'object' && v !== null && 'layouts' in v).map(([k, v]) => [k, v as Family] as [string, Family]),
  ...CELL_NAMES.map((c) => [`cells(${c})`, F.cells(c) as unknown as Family] as [string, Family]),
];

describe('binding tables match the WGSL @binding numbers', () => {
  test('every family of src/gpu/families.ts is checked', () => {
    expect(families.map(([n]) => n)).toEqual(expect.arrayContaining(['matmul', 'output', 'grads', 'optimizer', 'loss', 'cells(rnn)', 'cells(lstm)', 'cells(gru)', 'cells(relu)']));
  });

  test.each(families)('%s', (_name, family) => {
    const wgsl = shaderParts(family.shader).map((p) => p.code).join('\n');
    const declared = declarations(wgsl);
    const problems: string[] = [];
    for (const [layout, table] of Object.entries(family.layouts)) {
      Object.entries(table).forEach(([name, access], i) => {
        const d = declared.get(name)?.filter((x) => x.group === 0);
        if (!d?.length) return problems.push(`${layout}.${name}: not declared in group 0 of ${family.shader}`);
        if (!d.some((x) => x.binding === i)) problems.push(`${layout}.${name}: table position ${i}, WGSL @binding(${d.map((x) => x.binding).join(', ')})`);
        if (!d.some((x) => x.space === wanted(access))) problems.push(`${layout}.${name}: table says ${wanted(access)}, WGSL var<${d.map((x) => x.space).join(' | ')}>`);
        if (isStruct(access) && !d.some((x) => x.type === access.name)) problems.push(`${layout}.${name}: table says struct ${access.name}, WGSL ${d.map((x) => x.type).join(' | ')}`);
      });
    }
    expect(problems).toEqual([]);
  });

  test.each(families.filter(([, f]) => f.launch))('%s: its launch uniform is group(1) binding(0)', (_name, family) => {
    const wgsl = shaderParts(family.shader).map((p) => p.code).join('\n');
    const launch = [...declarations(wgsl)].flatMap(([name, ds]) => ds.filter((d) => d.group === 1).map((d) => ({ name, ...d })));
    // (common.wgsl declares `launch: Launch` there for every file; matmul.wgsl binds its own `mm: Mm` in its place)
    expect(launch.filter((d) => d.type === family.launch!.name).map((d) => [d.binding, d.space])).toEqual([[0, 'uniform']]);
  });

  test('structs: the fields of each table are the WGSL struct\'s, in order (uniforms, and the generation table)', () => {
    const all = families.map(([, f]) => shaderParts(f.shader).map((p) => p.code).join('\n')).join('\n');
    for (const s of [F.Launch, F.Mm, F.Hyper, F.Gen, F.Layer, F.Drop, F.GenHead, F.GenLayer]) {
      const fields = structFields(all, s.name);
      expect(fields, s.name).toEqual(Object.entries(s.fields));
    }
  });
});
