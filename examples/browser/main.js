// The same run in a browser: the engine takes navigator.gpu, or trains on the CPU without it.
import { TUTORIAL_CONFIG, Trainer, Vocab, createContext, createEngine, initParams, optimizerOf, planBatches, sampleText } from 'char-rnn-webgpu';

const out = document.getElementById('out');
const text = 'hello';
const vocab = Vocab.fromText(text);
const data = vocab.encode(text);
const cfg = TUTORIAL_CONFIG;
const { B, T } = planBatches(data.length, cfg.batch, cfg.seqLen);
const shape = { V: vocab.size, H: cfg.hidden, B, T };

const ctx = navigator.gpu ? await createContext(navigator.gpu) : undefined;
const engine = await createEngine(ctx ? 'gpu' : 'cpu', shape, optimizerOf(cfg), initParams(shape, cfg.seed), ctx);
const trainer = new Trainer(engine, data, cfg);
const last = await trainer.run(cfg.steps, { onLog: (e) => { out.textContent = `step ${e.step}: loss ${e.loss.toFixed(4)}`; } });
const [sample] = await sampleText(engine, vocab, { prime: 'h', length: 4, greedy: true });
out.textContent = `${engine.device}: loss ${last.loss.toFixed(4)}; greedy sample from 'h': ${sample}`;
