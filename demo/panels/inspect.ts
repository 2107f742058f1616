import { isTutorialModel } from '../../src/index.js';
import { type Inspection, repeats } from '../analysis.js';
import type { App } from '../app.js';
import { outputAt, walkthrough } from '../tutorial.js';
import { byId, describeError, showMessage } from '../views/dom.js';
import { clearHeatmap, liveliestUnit, renderHeatmap, renderScrollHint, type UnitPick, unitValues, wireHeatmap } from '../views/heatmap.js';
import { renderOtherCell, renderWalkthrough } from '../views/how.js';
import { renderBars, renderSurprisalLegend, renderTokens, renderUnitText, repeatNote } from '../views/inspect.js';

// "Look inside" (surprisal, next-character bars, the hidden states) and "How it works" (the
// tutorial's equations at the selected character), both from the current weights. When the
// model cannot read the typed string, every view is cleared: nothing of an older model stays.

/** The panel emptied: no tokens, bars, heatmap, note or walkthrough. */
function clearPanel(heatmap: HTMLElement, how: HTMLOListElement): void {
  byId('tokens').replaceChildren();
  byId('tokens').dataset.text = '';
  byId<HTMLOListElement>('bars').replaceChildren();
  byId('bars-title').textContent = 'What comes next?';
  clearHeatmap(heatmap);
  byId('heat-scroll').hidden = true;
  byId('repeat-note').textContent = '';
  byId('unit-text').replaceChildren();
  how.replaceChildren();
}

export function wireInspect(app: App): void {
  const { session } = app;
  const input = byId<HTMLInputElement>('inspect-input');
  const message = byId('inspect-message');
  const heatmap = byId('heatmap');
  const how = byId<HTMLOListElement>('how-steps');
  let inspection: Inspection | undefined;
  let selected = -1;
  /** the unit coloured over the text: picked on the heatmap, else the liveliest */
  let picked: UnitPick | undefined;

  const select = (t: number, unit?: UnitPick) => {
    selected = t;
    if (unit) picked = unit;
    // a character seen before: the guide's "select the second l"
    if (inspection && inspection.chars.indexOf(inspection.chars[t]) < t) {
      app.guide('select');
      if (app.isOnScreen('how-panel')) app.guide('why');
    }
    showSelected();
    void refreshHow();
  };
  function showSelected(): void {
    if (!inspection) return;
    const ins = inspection;
    renderTokens(byId('tokens'), ins, selected, select);
    renderBars(byId('bars-title'), byId<HTMLOListElement>('bars'), ins, selected);
    const unit = picked && picked.layer <= ins.layers.length && picked.unit < ins.H && (picked.state === 'h' || ins.layers[0].c) ? picked : liveliestUnit(ins);
    renderHeatmap(heatmap, ins, heatmap.clientWidth, selected, unit);
    renderScrollHint(heatmap, byId('heat-scroll'), ins.chars.length);
    const name = `Layer ${unit.layer}${unit.state === 'h' ? ', hidden unit h' : ', cell unit c'}${unit.unit}`;
    renderUnitText(byId('unit-title'), byId('unit-text'), ins.chars, unitValues(ins, unit), name + (unit === picked ? '' : ' (the one that varies most here)'));
  }

  function clear(): void {
    inspection = undefined;
    clearPanel(heatmap, how);
  }

  async function refreshHow(): Promise<void> {
    const ins = inspection;
    if (!ins || selected < 0 || selected >= ins.chars.length) return how.replaceChildren();
    const t = selected;
    try {
      await session.current(async (engine, vocab, dims) => {
        const params = await engine.getParams();
        if (isTutorialModel(dims)) renderWalkthrough(how, await walkthrough(params, vocab, dims, ins.chars, t));
        else {
          const { y, p } = outputAt(params, dims.V, dims.H, ins.layers[dims.layers - 1].h[t]);
          renderOtherCell(how, ins, t, y, p);
        }
      });
    } catch (e) {
      how.replaceChildren();
      showMessage(message, describeError(e));
    }
  }

  app.refreshInspect = async () => {
    const wanted = input.value;
    try {
      const ins = await session.inspect(wanted);
      if (input.value !== wanted) return;
      if (!inspection || inspection.chars.join('') !== wanted) selected = ins.chars.length - 1;
      inspection = ins;
      showMessage(message, '', 'info');
      renderSurprisalLegend(byId('surprisal-legend'), ins.vocab.length);
      showSelected();
      byId('repeat-note').textContent = repeatNote(repeats(ins));
      await refreshHow();
    } catch (e) {
      clear();
      showMessage(message, describeError(e));
    }
  };

  wireHeatmap(heatmap, byId('heat-tip'), select);
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void app.refreshInspect(), 120);
  });
  // The heatmap's columns are sized to its box: redrawn when the box changes width.
  let width = heatmap.clientWidth;
  new ResizeObserver(() => {
    if (heatmap.clientWidth === width) return;
    width = heatmap.clientWidth;
    clearTimeout(timer);
    timer = setTimeout(() => void app.refreshInspect(), 120);
  }).observe(heatmap);
}
