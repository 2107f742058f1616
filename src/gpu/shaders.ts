// The WGSL sources, imported once from shaders/ (Vite inlines them in the page and the CLI
// bundle; vitest loads them directly). common.wgsl is joined in front of every kernel file.
import common from '../../shaders/common.wgsl?raw';
import loss from '../../shaders/loss.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import optimizer from '../../shaders/optimizer.wgsl?raw';
import output from '../../shaders/output.wgsl?raw';
import recurrence from '../../shaders/recurrence.wgsl?raw';
import rnnBackward from '../../shaders/rnn_backward.wgsl?raw';
import rnnForward from '../../shaders/rnn_forward.wgsl?raw';
import sample from '../../shaders/sample.wgsl?raw';

const FILES = {
  rnn_forward: rnnForward,
  rnn_backward: rnnBackward,
  recurrence,
  matmul,
  output,
  optimizer,
  loss,
  sample,
};

export type ShaderName = keyof typeof FILES;

export function shaderParts(name: ShaderName): { file: string; code: string }[] {
  return [
    { file: 'shaders/common.wgsl', code: common },
    { file: `shaders/${name}.wgsl`, code: FILES[name] },
  ];
}
