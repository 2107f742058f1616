// The format names a model file records in its metadata `format` entry: our checkpoints
// (format 1, the tutorial's one-layer tanh RNN; format 2, any cell and depth) and the PyTorch
// state dicts of `char-rnn export --pytorch` (src/checkpoint.ts, src/pytorch.ts, src/schema.ts).
export const CHECKPOINT_FORMAT = 'char-rnn-webgpu/1';
export const CHECKPOINT_FORMAT_V2 = 'char-rnn-webgpu/2';
export const PYTORCH_FORMAT = 'char-rnn-webgpu/pytorch';
