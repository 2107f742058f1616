import type { CheckResult } from '../session.js';

// The GPU-vs-CPU table: one row per tensor, green when within tolerance, red when not.

const OPTIMIZER_NAMES: Record<string, string> = { sgd: 'SGD', adagrad: 'Adagrad' };

export function renderCheck(table: HTMLTableElement, verdict: HTMLElement, detail: HTMLElement, result: CheckResult): void {
  const r = result.report;
  detail.textContent =
    `Compared: one step's hidden states, probabilities and gradients, then ${result.steps} ${OPTIMIZER_NAMES[result.optimizer] ?? result.optimizer} steps ` +
    `at learning rate ${result.lr}` +
    (result.capped
      ? ` (not the model's own, higher rate: at high rates Adagrad magnifies rounding differences until the two runs ` +
        `take different paths within a few steps, as two float64 runs from weights 1e-7 apart do too).`
      : '.');
  table.hidden = false;
  const body = table.tBodies[0];
  body.replaceChildren(
    ...r.tensors.map((c) => {
      const tr = document.createElement('tr');
      tr.className = c.ok ? 'ok' : 'fail';
      const cells = [
        c.name,
        `${c.ok ? '✓' : '✗'} ${(100 * c.used).toFixed(1)}%`,
        c.maxAbs.toExponential(2),
        `${short(c.atol)} + ${short(c.rtol)}·|x|`,
      ];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.setAttribute('scope', 'row');
        if (i === 1) td.className = 'used';
        td.textContent = text;
        tr.append(td);
      }
      tr.title = `${c.n} elements; worst relative difference ${c.maxRel.toExponential(2)}`;
      return tr;
    }),
  );
  const worst = Math.max(...r.tensors.map((c) => c.used));
  const bad = r.tensors.filter((c) => !c.ok).length;
  verdict.dataset.ok = String(r.ok);
  verdict.textContent = r.ok
    ? `✓ All ${r.tensors.length} tensors agree within tolerance (the closest call used ${(100 * worst).toFixed(1)}% of its tolerance).`
    : `✗ ${bad} of ${r.tensors.length} tensors are outside their tolerance.`;
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
