// Type-checked against the published .d.ts (moduleResolution bundler and node16) by test/package.test.ts.
import { type Engine, type GpuContext, type TrainConfig, DEFAULT_CONFIG, GpuError, Vocab, createEngine, initParams, optimizerOf } from 'char-rnn-webgpu';
import { nodeContext } from 'char-rnn-webgpu/node';

export async function build(text: string): Promise<Engine> {
  const cfg: TrainConfig = { ...DEFAULT_CONFIG, hidden: 16 };
  const vocab = new Vocab(Vocab.fromText(text).chars);
  const shape = { V: vocab.size, H: cfg.hidden, B: 1, T: 8 };
  let ctx: GpuContext | undefined;
  try {
    ctx = await nodeContext();
  } catch (e) {
    if (!(e instanceof GpuError)) throw e;
  }
  const device: GPUDevice | undefined = ctx?.device;
  return createEngine(device ? 'gpu' : 'cpu', shape, optimizerOf(cfg), initParams(shape, cfg.seed), ctx);
}
