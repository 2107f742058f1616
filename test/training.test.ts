import { describe, expect, test } from 'vitest';
import { TUTORIAL_CONFIG } from '../src/config.js';
import { planBatches } from '../src/data.js';
import { createEngine } from '../src/engines.js';
import { DivergedError } from '../src/errors.js';
import { initParams } from '../src/init.js';
import { sampleText } from '../src/sample.js';
import { lossPoints, validationJump } from '../src/history.js';
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

describe('a validation loss that jumps while the training loss falls is reported', () => {
  // the seed 1: validation 2.365, 4.052 at steps 250, 500; training 2.40 → 2.22
  const run = (vals: [number, number][], train: (step: number) => number) =>
    Array.from({ length: 60 }, (_, k) => {
      const step = (k + 1) * 10;
      const v = vals.find(([s]) => s === step);
      return v ? { step, loss: train(step), val: v[1] } : { step, loss: train(step) };
    });
  const falling = (s: number) => 2.6 - s / 1000;

  test('a jump of 71% above the best while training falls: said, with the steps and what to try', () => {
    const m = validationJump(run([[250, 2.365], [500, 4.052]], falling).slice(0, 50));
    expect(m).toMatch(/^the validation loss 4\.052 is 71% above its best \(2\.365 at step 250\) while the training loss fell \(2\.\d{3} → 2\.\d{3}\)/);
    expect(m).toMatch(/--clip/);
  });

  test('not for a rise within 20%, nor where the training loss rose too (a worse model, not a broken one), nor at a point without validation', () => {
    expect(validationJump(run([[250, 2.365], [500, 2.8]], falling).slice(0, 50))).toBeUndefined();
    expect(validationJump(run([[250, 2.365], [500, 4.052]], (s) => 2 + s / 1000).slice(0, 50))).toBeUndefined();
    expect(validationJump(run([[250, 2.365], [500, 4.052]], falling).slice(0, 51))).toBeUndefined();
    expect(validationJump(run([[250, 2.365]], falling).slice(0, 25))).toBeUndefined();
  });

  test("the trainer puts it in the log entry of that validation step (the CLI's line and log file, the page's note)", async () => {
    // a text whose held-out end the model cannot know: validation rises while training falls
    const train = 'abababababababababababababababababababababababababababababab';
    const val = 'bbbbbbbbaaaaaaaabbbbbbbbaaaaaaaa';
    const vocab = Vocab.fromText(train + val);
    const cfg = { ...TUTORIAL_CONFIG, hidden: 8, seqLen: 10, lr: 0.5, steps: 60, evalEvery: 5, logEvery: 1 };
    const plan = planBatches(train.length, 1, 10, false);
    const shape = { V: vocab.size, H: 8, B: plan.B, T: plan.T, cell: 'rnn' as const, layers: 1 };
    const engine = await createEngine('cpu', shape, { name: 'sgd', lr: 0.5, clip: 0 }, initParams(shape, 1));
    const trainer = new Trainer(engine, vocab.encode(train), cfg, 0, vocab.encode(val));
    await trainer.run(60);
    const warned = trainer.history.filter((e) => e.warning);
    expect(warned.length).toBeGreaterThan(0);
    for (const e of warned) expect(e.valLoss).toBeDefined();
    expect(warned[0].warning).toBe(validationJump(lossPoints(trainer.history.slice(0, trainer.history.indexOf(warned[0]) + 1))));
  });
});
