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

describe('LossHistory.jump: the page says what the CLI says', () => {
  test('a validation loss 71% above its best while training falls, at the last point', () => {
    const h = history([[250, 2.4, 2.365], [260, 2.38], [500, 2.22, 4.052]]);
    expect(h.jump).toMatch(/^the validation loss 4\.052 is 71% above its best \(2\.365 at step 250\)/);
  });
  test('said until the next validation comes back down; never for a rise within 20%', () => {
    expect(history([[250, 2.4, 2.365], [500, 2.22, 4.052], [510, 2.2]]).jump).toMatch(/71% above its best/);
    expect(history([[250, 2.4, 2.365], [500, 2.22, 4.052], [750, 2.1, 2.3]]).jump).toBeUndefined();
    expect(history([[250, 2.4, 2.365], [500, 2.22, 2.8]]).jump).toBeUndefined();
  });
});
