import { describe, expect, test } from 'vitest';
import { TUTORIAL_CONFIG } from '../src/config.js';
import { planBatches } from '../src/data.js';
import { createEngine } from '../src/engines.js';
import { DivergedError } from '../src/errors.js';
import { initParams } from '../src/init.js';
import { sampleText } from '../src/sample.js';
import { Trainer } from '../src/train.js';
import { Vocab } from '../src/vocab.js';
import { useGpu } from './helpers.js';

const gpu = useGpu();

describe("the tutorial's run: hello, hidden 3, SGD lr 0.01, 1000 steps", () => {
  for (const device of ['cpu', 'gpu'] as const) {
    test(`${device}: greedy generation from 'h' gives 'hello'`, async () => {
      const vocab = Vocab.fromText('hello');
      const data = vocab.encode('hello');
      const cfg = { ...TUTORIAL_CONFIG, logEvery: 100 };
      const plan = planBatches(data.length, cfg.batch, cfg.seqLen);
      const shape = { V: vocab.size, H: cfg.hidden, B: plan.B, T: plan.T };
      const engine = await createEngine(device, shape, { name: 'sgd', lr: cfg.lr, clip: 0 }, initParams(shape, cfg.seed), gpu());
      const before = await sampleText(engine, vocab, { prime: 'h', length: 4, greedy: true });
      const trainer = new Trainer(engine, data, cfg);
      const last = await trainer.run(cfg.steps);
      expect(trainer.step).toBe(1000);
      expect(trainer.history.map((e) => e.step)).toEqual(Array.from({ length: 10 }, (_, i) => 100 * (i + 1)));
      expect(last!.loss).toBeLessThan(0.1);
      expect(trainer.history[0].loss).toBeGreaterThan(last!.loss);
      expect(before[0]).not.toBe('hello');
      expect(await sampleText(engine, vocab, { prime: 'h', length: 4, greedy: true })).toEqual(['hello']);
      engine.destroy();
    });
  }
});

describe('divergence', () => {
  for (const device of ['cpu', 'gpu'] as const) {
    test(`${device}: a NaN/Inf loss stops training with a clear error`, async () => {
      const text = 'abcabcabdabcabe';
      const vocab = Vocab.fromText(text);
      const data = vocab.encode(text);
      const cfg = { ...TUTORIAL_CONFIG, hidden: 8, lr: 3e38, logEvery: 1 };
      const plan = planBatches(data.length, 1, 0);
      const shape = { V: vocab.size, H: 8, B: plan.B, T: plan.T };
      const engine = await createEngine(device, shape, { name: 'sgd', lr: cfg.lr, clip: 0 }, initParams(shape, 1), gpu());
      const trainer = new Trainer(engine, data, cfg);
      await expect(trainer.run(50)).rejects.toThrow(DivergedError);
      await expect(new Trainer(engine, data, cfg).run(1)).rejects.toThrow(/diverged at step 1: the loss is (NaN|Infinity).*--lr/);
      engine.destroy();
    });
  }
});
