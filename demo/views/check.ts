import type { CheckResult } from '../checkpoints.js';

// The GPU-vs-CPU table: one row per comparison (src/check.ts), green when it passes, red when
// not. Local-step rows recompute each timestep on the CPU from the GPU's own state; trajectory
// rows compare whole runs and show the drift as a multiple of the CPU's own float64 spread.

const OPTIMIZER_NAMES: Record<string, string> = { sgd: 'SGD', adagrad: 'Adagrad' };

export function renderCheck(table: HTMLTableElement, verdict: HTMLElement, detail: HTMLElement, result: CheckResult): void {
  const r = result.report;
  const perLayer = r.tensors.some((c) => /\.\d+( |$)/.test(c.name));
  detail.textContent =
    `Model: ${result.model}; the GPU's recurrence: ${r.schedule}. ` +
    `Local step: the CPU recomputes every timestep of one step from the GPU's own state at the step before, so the ` +
    `tolerance covers one step's rounding. Trajectory: each engine runs that step and then ${result.steps} ` +
    `${OPTIMIZER_NAMES[result.optimizer] ?? result.optimizer} steps at learning rate ${result.lr} on its own; a difference ` +
    `beyond the tolerance passes if it is at most ${r.spreadMultiple}× the spread between two float64 runs from weights one ` +
    `float32 step apart (a chaotic recurrence amplifies any rounding)` +
    (result.capped ? ` (not the model's own, higher rate: at high rates Adagrad magnifies rounding differences within a few steps).` : '.') +
    (perLayer
      ? ` A name ending in .l is layer l's: hs and cs its hidden and cell states, dpre the gradient at its input side ` +
        `W_xh x + b_h, recomputed one layer at a time from the GPU's own values of the layers below and above.`
      : '');
  table.hidden = false;
  const body = table.tBodies[0];
  body.replaceChildren(
    ...r.tensors.map((c) => {
      const tr = document.createElement('tr');
      tr.className = c.ok ? 'ok' : 'fail';
      const cells = [
        c.name,
        c.kind,
        `${c.ok ? '✓' : '✗'} ${(100 * c.used).toFixed(1)}%`,
        c.maxAbs.toExponential(2),
        `${short(c.atol)} + ${short(c.rtol)}·${c.rtolOf === 'terms' ? 'Σ|terms|' : '|x|'}`,
        c.ratio === undefined ? '' : `${c.ratio.toPrecision(2)}×${c.bySpread ? ' ✓' : ''}`,
      ];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.setAttribute('scope', 'row');
        if (i === 2) td.className = 'used';
        td.textContent = text;
        tr.append(td);
      }
      tr.title =
        `${c.n} elements; worst relative difference ${c.maxRel.toExponential(2)}` +
        (c.spread === undefined ? '' : `; float64 spread ${c.spread.toExponential(2)}`);
      return tr;
    }),
  );
  const worst = Math.max(...r.tensors.filter((c) => c.kind === 'local step').map((c) => c.used));
  const bad = r.tensors.filter((c) => !c.ok).length;
  // a failure opens the table, where the failing rows are
  if (!r.ok) (table.closest('details') as HTMLDetailsElement | null)?.setAttribute('open', '');
  verdict.dataset.ok = String(r.ok);
  verdict.textContent = r.ok
    ? `✓ All ${r.tensors.length} comparisons pass (the closest local step used ${(100 * worst).toFixed(1)}% of its tolerance).`
    : `✗ ${bad} of ${r.tensors.length} comparisons fail.`;
}

/** 1e-5 rather than 0.00001. */
function short(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-2 ? x.toExponential().replace('e-', 'e−') : String(x);
}

export function renderCheckPending(table: HTMLTableElement, verdict: HTMLElement, text: string, ok?: boolean): void {
  table.tBodies[0].replaceChildren();
  table.hidden = true;
  verdict.textContent = text;
  if (ok === undefined) delete verdict.dataset.ok;
  else verdict.dataset.ok = String(ok);
}
