import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CELLS, CELL_NAMES, cellsJson } from '../src/cells.js';
import { paramTable } from '../src/model.js';

// The cell records (src/cells.ts) against the copies of them that cannot read them: the WGSL
// constants of each cell file and scripts/cells.json, which the Python scripts read. A cell is
// added by its record, its WGSL file and its float64 step; everything else reads the record.

/** The `const NAME: type = value;` lines of a WGSL file. */
function wgslConsts(code: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of code.matchAll(/^const (\w+): \w+ = ([^;]+);/gm)) out[m[1]] = m[2].trim();
  return out;
}

describe('each cell record against its WGSL file', () => {
  for (const cell of CELL_NAMES)
    test(`${cell}: shaders/${CELLS[cell].wgsl.file}.wgsl says G, S, HAS_C and HAS_BHN as the record does`, () => {
      const r = CELLS[cell];
      const code = readFileSync(`shaders/${r.wgsl.file}.wgsl`, 'utf8');
      expect(r.wgsl.code, 'the record carries the file as it is on disk').toBe(code);
      expect(wgslConsts(code)).toEqual({
        G: `${r.gateNames.length}u`,
        S: `${r.saved}u`,
        HAS_C: String(r.state === 'c'),
        HAS_BHN: String(r.extraBias !== null),
      });
      expect(r.saved, 'the values saved per unit hold at least the gates').toBeGreaterThanOrEqual(r.gates);
    });

  test('every shaders/cell_*.wgsl belongs to a record, and the records use distinct files', () => {
    const files = readdirSync('shaders').filter((f) => /^cell_\w+\.wgsl$/.test(f)).sort();
    expect(CELL_NAMES.map((c) => `${CELLS[c].wgsl.file}.wgsl`).sort()).toEqual(files);
  });
});

describe('each cell record is consistent in itself', () => {
  for (const cell of CELL_NAMES)
    test(`${cell}: gate names, counts, the gates its other fields name`, () => {
      const r = CELLS[cell];
      expect(r.gates).toBe(r.gateNames.length);
      expect(new Set(r.gateNames).size).toBe(r.gates);
      expect(r.cellState).toBe(r.state === 'c');
      if (r.extraBias) expect(r.gateNames).toContain(r.extraBias.gate);
      expect([...r.tfjs.gates].sort()).toEqual([...r.gateNames].sort());
      const extra = paramTable({ V: 5, H: 3, cell, layers: 2 }).filter((p) => p.role === 'b_hn').map((p) => p.name);
      expect(extra).toEqual(r.extraBias ? [`${r.extraBias.name}.0`, `${r.extraBias.name}.1`] : []);
    });
});

describe('the Python scripts read the records', () => {
  test('scripts/cells.json is what src/cells.ts gives (node scripts/write-cells.mjs writes it)', () => {
    expect(readFileSync('scripts/cells.json', 'utf8'), 'scripts/cells.json is stale: run node scripts/write-cells.mjs').toBe(cellsJson());
  });

  test('no Python script keeps a table of its own: none names a cell but the tutorial\'s rnn', () => {
    const others = CELL_NAMES.filter((c) => c !== 'rnn');
    for (const f of readdirSync('scripts').filter((n) => n.endsWith('.py'))) {
      const code = readFileSync(`scripts/${f}`, 'utf8').replace(/#.*$/gm, '').replace(/"""[\s\S]*?"""/g, '');
      for (const c of others) expect(code, `scripts/${f} names the cell ${c}`).not.toMatch(new RegExp(`["']${c}["']`));
    }
  });

  test("charrnn_checkpoint.param_table and the module of each cell are src/model.ts paramTable's and the record's", () => {
    const py = [
      'import json, sys',
      "sys.path.insert(0, 'scripts')",
      'from charrnn_cells import CELLS, torch_module',
      'from charrnn_checkpoint import param_table',
      'out = {}',
      'for cell in CELLS:',
      '    m = torch_module(cell, 5, 3, 2)',
      "    out[cell] = {'table': [[n, list(s)] for n, _, _, s in param_table(cell, 2, 3, 5)],",
      "                 'module': type(m).__name__, 'keys': {k: list(v.shape) for k, v in m.state_dict().items()},",
      "                 'nonlinearity': getattr(m, 'nonlinearity', None)}",
      'print(json.dumps(out))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, { table: [string, number[]][]; module: string; keys: Record<string, number[]>; nonlinearity: string | null }>;
    expect(Object.keys(got)).toEqual(CELL_NAMES);
    for (const cell of CELL_NAMES) {
      const table = paramTable({ V: 5, H: 3, cell, layers: 2 });
      expect(got[cell].table, cell).toEqual(table.map((p) => [p.name, [...p.shape]]));
      expect(got[cell].module, cell).toBe(CELLS[cell].torch.module);
      expect(got[cell].keys['weight_hh_l1'], cell).toEqual([CELLS[cell].gates * 3, 3]);
      if (CELLS[cell].torch.module === 'RNN') expect(got[cell].nonlinearity, cell).toBe(CELLS[cell].torch.args.nonlinearity);
    }
  }, 120_000);
});
