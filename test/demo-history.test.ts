import { describe, expect, test } from 'vitest';
import { LossHistory } from '../demo/history.js';

// The page's loss curve (demo/history.ts): what the chart says about it.

function history(points: [number, number, number?][]): LossHistory {
  const h = new LossHistory();
  h.replace(points.map(([step, loss, val]) => (val === undefined ? { step, loss } : { step, loss, val })));
  return h;
}

describe('LossHistory.overfitting', () => {
  test('validation rising three times while training falls is overfitting', () => {
    const h = history([[100, 2.0, 2.1], [200, 1.6, 2.2], [300, 1.2, 2.3], [400, 1.0]]);
    expect(h.overfitting).toBe(true);
  });
  test('validation falling, or fewer than three measurements, or training rising too, is not', () => {
    expect(history([[100, 2.0, 2.3], [200, 1.6, 2.2], [300, 1.2, 2.1]]).overfitting).toBe(false);
    expect(history([[100, 2.0, 2.1], [200, 1.6, 2.2]]).overfitting).toBe(false);
    expect(history([[100, 1.0, 2.1], [200, 1.6, 2.2], [300, 2.0, 2.3]]).overfitting).toBe(false);
    // one rise after a fall is noise, not a trend
    expect(history([[100, 2.0, 2.2], [200, 1.6, 2.1], [300, 1.2, 2.15]]).overfitting).toBe(false);
  });
});
