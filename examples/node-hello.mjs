// The tutorial's "hello" on the GPU engine in Node: 1000 SGD steps, then greedy sampling.
import { TUTORIAL_CONFIG, Trainer, Vocab, createEngine, initParams, optimizerOf, planBatches, sampleText } from 'char-rnn-webgpu';
import { nodeContext } from 'char-rnn-webgpu/node';

const text = 'hello';
const vocab = Vocab.fromText(text); // e h l o
const data = vocab.encode(text);
const cfg = TUTORIAL_CONFIG; // H = 3, SGD at lr 0.01, the whole text in every step
const { B, T } = planBatches(data.length, cfg.batch, cfg.seqLen);
const shape = { V: vocab.size, H: cfg.hidden, B, T };

const ctx = await nodeContext();
const engine = await createEngine('gpu', shape, optimizerOf(cfg), initParams(shape, cfg.seed), ctx);
const trainer = new Trainer(engine, data, cfg);
const last = await trainer.run(cfg.steps);
const [sample] = await sampleText(engine, vocab, { prime: 'h', length: 4, greedy: true });
console.log(`loss ${last.loss.toFixed(4)} after ${trainer.step} steps; greedy sample from 'h': ${sample}`);
engine.destroy();
ctx.destroy();
