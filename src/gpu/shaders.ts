// The WGSL sources, imported once from shaders/ (Vite inlines them in the page and the CLI
// bundle; vitest loads them directly). common.wgsl is joined in front of every kernel file;
// the cell-agnostic layer kernels (cells.wgsl) are joined after the cell's pointwise math, the
// file its record names (src/cells.ts `wgsl`).
import { CELLS, CELL_NAMES, type CellName } from '../cells.js';
import cells from '../../shaders/cells.wgsl?raw';
import cellsGenerate from '../../shaders/cells_generate.wgsl?raw';
import cellsGenerateSteps from '../../shaders/cells_generate_steps.wgsl?raw';
import cellsGrid from '../../shaders/cells_grid.wgsl?raw';
import cellsPersistent from '../../shaders/cells_persistent.wgsl?raw';
import cellsSteps from '../../shaders/cells_steps.wgsl?raw';
import common from '../../shaders/common.wgsl?raw';
import grads from '../../shaders/grads.wgsl?raw';
import loss from '../../shaders/loss.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import optimizer from '../../shaders/optimizer.wgsl?raw';
import output from '../../shaders/output.wgsl?raw';
import residency from '../../shaders/residency.wgsl?raw';
import sampleDraw from '../../shaders/sample_draw.wgsl?raw';

const FILES = {
  matmul,
  output,
  grads,
  optimizer,
  loss,
  residency,
};

/** The kernels of each cell: the cell's file, then cells.wgsl, cells_persistent.wgsl, cells_steps.wgsl, cells_grid.wgsl, and for
 * generation sample_draw.wgsl, cells_generate.wgsl and cells_generate_steps.wgsl. */
const CELL_FILES = Object.fromEntries(CELL_NAMES.map((c) => [`cells_${c}`, CELLS[c].wgsl])) as Record<`cells_${CellName}`, { file: string; code: string }>;

export type ShaderName = keyof typeof FILES | keyof typeof CELL_FILES;

/** The entry points of cells_steps.wgsl and cells_grid.wgsl: only their pipelines compile a
 * cell's module with those two files joined. Joined to every module, they made every other
 * pipeline compile slower on lavapipe (test/cells-gpu.test.ts 19 s without them, 84 s with). */
export const SCHEDULE_ENTRIES: ReadonlySet<string> = new Set(['forward_step', 'backward_step', 'forward_grid', 'backward_grid', 'grid_fill_h', 'grid_fill_x']);

/** The files of a shader, in order; `schedules` false leaves out a cell's steps and grid files. */
export function shaderParts(name: ShaderName, schedules = true): { file: string; code: string }[] {
  const head = { file: 'shaders/common.wgsl', code: common };
  const draw = { file: 'shaders/sample_draw.wgsl', code: sampleDraw };
  if (name in CELL_FILES) {
    const c = CELL_FILES[name as keyof typeof CELL_FILES];
    return [
      head,
      { file: `shaders/${c.file}.wgsl`, code: c.code },
      { file: 'shaders/cells.wgsl', code: cells },
      { file: 'shaders/cells_persistent.wgsl', code: cellsPersistent },
      ...(schedules ? [{ file: 'shaders/cells_steps.wgsl', code: cellsSteps }, { file: 'shaders/cells_grid.wgsl', code: cellsGrid }] : []),
      draw,
      { file: 'shaders/cells_generate.wgsl', code: cellsGenerate },
      { file: 'shaders/cells_generate_steps.wgsl', code: cellsGenerateSteps },
    ];
  }
  return [head, { file: `shaders/${name}.wgsl`, code: FILES[name as keyof typeof FILES] }];
}
