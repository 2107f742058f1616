// The same run in a browser: on the GPU where WebGPU gives an adapter, else on the CPU engine
// (no navigator.gpu, or one without an adapter: WebGPU off or blocklisted, no GPU driver).
import { TUTORIAL_CONFIG, Trainer, Vocab, createEngine, initParams, optimizerOf, planBatches, sampleText, tryCreateContext } from 'char-rnn-webgpu';

const out = document.getElementById('out');
try {
  const text = 'hello';
  const vocab = Vocab.fromText(text);
  const data = vocab.encode(text);
  const cfg = TUTORIAL_CONFIG;
  const { B, T } = planBatches(data.length, cfg.batch, cfg.seqLen);
  const shape = { V: vocab.size, H: cfg.hidden, B, T };

  const { ctx, error } = await tryCreateContext(navigator.gpu);
  if (error) console.info(`Training on the CPU: ${error.message}`);
  const engine = await createEngine(ctx ? 'gpu' : 'cpu', shape, optimizerOf(cfg), initParams(shape, cfg.seed), ctx);
  const trainer = new Trainer(engine, data, cfg);
  const last = await trainer.run(cfg.steps, { onLog: (e) => { out.textContent = `step ${e.step}: loss ${e.loss.toFixed(4)}`; } });
  const [sample] = await sampleText(engine, vocab, { prime: 'h', length: 4, greedy: true });
  out.textContent = `${engine.device}: loss ${last.loss.toFixed(4)}; greedy sample from 'h': ${sample}`;
} catch (e) {
  out.textContent = `${e.name}: ${e.message}`;
  throw e;
}
