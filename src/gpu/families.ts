import type { CellName } from '../model.js';
import { STEP_SLOT, type StructValues, family, pack, struct } from './kernel.js';

// Every kernel family of shaders/, one table each: the bindings of each bind group as the
// WGSL names them, in binding order, and which table each entry point binds; the uniform
// structs as tables of their fields in WGSL order. The bind-group layouts, the bind groups
// and the uniform bytes are all made from these (src/gpu/kernel.ts). A binding that one entry
// point reads through a vec4 view (`W_hhT4` for `W_hhT`) keeps the name of its f32 view here,
// so that every variant of a sweep binds the same record.

// ---- uniforms

/** `Launch` of shaders/common.wgsl: one STEP_SLOT-byte slot per timestep t (t = 0 for kernels
 * that loop over T). */
export const Launch = struct('Launch', { t: 'u32', V: 'u32', H: 'u32', B: 'u32', T: 'u32', L: 'u32' });

/** `n` Launch slots of STEP_SLOT bytes, slot t holding t and the sizes `s` (ops.ts at()). */
export function launchSlots(s: Omit<StructValues<typeof Launch>, 't'>, n: number): ArrayBuffer {
  const slots = new ArrayBuffer(STEP_SLOT * n);
  for (let t = 0; t < n; t++) pack(Launch, { ...s, t }, slots, STEP_SLOT * t);
  return slots;
}

/** `Mm` of shaders/matmul.wgsl: C (M,N) = ALPHA * A B, with the strides and offsets of A, B, C. */
export const Mm = struct('Mm', {
  M: 'u32', N: 'u32', K: 'u32',
  A_M: 'u32', A_K: 'u32', A_OFF: 'u32',
  B_K: 'u32', B_N: 'u32', B_OFF: 'u32',
  C_M: 'u32', C_N: 'u32',
  ALPHA: 'f32',
});

/** `Hyper` of shaders/optimizer.wgsl: the step's hyperparameters (bc1, bc2: Adam's bias corrections). */
export const Hyper = struct('Hyper', {
  lr: 'f32', clip: 'f32', clip_norm: 'f32', eps: 'f32', momentum: 'f32', alpha: 'f32',
  beta1: 'f32', beta2: 'f32', bc1: 'f32', bc2: 'f32', weight_decay: 'f32',
  optimizer: 'u32', // index in OPTIMIZERS (src/engine.ts)
});

/** `Gen` of shaders/sample_draw.wgsl: one generate() call (offsets into the flat parameters). */
export const Gen = struct('Gen', {
  prime_len: 'u32', length: 'u32', greedy: 'u32', seed: 'u32',
  temperature: 'f32', top_k: 'u32', top_p: 'f32',
  streams: 'u32', V: 'u32', H: 'u32',
});

/** `Layer` of shaders/cells.wgsl: which layer a layer kernel runs, and where its tensors are
 * in the flat parameters (one uniform per layer, written once). */
export const Layer = struct('Layer', { layer: 'u32', off_W_xh: 'u32', off_W_hh: 'u32', off_b_h: 'u32', off_b_hn: 'u32' });

/** `GenHead` and `GenLayer` of shaders/cells_generate.wgsl: the table `gl` of generation, a GenHead
 * then one GenLayer per layer (element offsets in the parameters and in the transposed copies). */
export const GenHead = struct('GenHead', { L: 'u32', W_hy: 'u32', b_y: 'u32', WT_hy: 'u32' });
export const GenLayer = struct('GenLayer', { W_xh: 'u32', W_hh: 'u32', b_h: 'u32', b_hn: 'u32', WT_hh: 'u32', WT_xh: 'u32' });

/** `Drop` of shaders/cells.wgsl: the dropout of one training step (keep_from = ceil(p * 2^24),
 * scale = 1/(1-p); zero and one without dropout). */
export const Drop = struct('Drop', { keep_from: 'u32', scale: 'f32', seed: 'u32', step: 'u32' });

/** shaders/matmul.wgsl: C = ALPHA * A B over all positions (4x4 or 8x8 block per invocation). */
export const matmul = family({
  shader: 'matmul',
  launch: Mm,
  layouts: { product: { A: 'read', Bm: 'read', C: 'storage' } },
  entries: { matmul: 'product', matmul8: 'product', col_sum: 'product' },
});

/** shaders/grads.wgsl: every parameter gradient of a small step in one dispatch. */
export const grads = family({
  shader: 'grads',
  launch: Launch,
  layouts: {
    small: {
      tensors: 'read', // u32 (tensors, 8): GradTensor, the table of src/gpu/cells.ts gradTable
      dpre: 'read', // (L, T, B, G*H)
      dah: 'read', // (T, B, G*H)
      dy: 'read', // (T, B, V)
      hs: 'read', // (L, T+1, B, H)
      inputs: 'read', // u32 (T, B)
      grads: 'storage', // flat
    },
  },
  entries: { grads_small: 'small' },
});

/** shaders/output.wgsl: softmax + cross-entropy + dy, dW_xh by input character, the biases. */
export const output = family({
  shader: 'output',
  launch: Launch,
  layouts: {
    softmax: {
      b_y: 'read', // (V)
      targets: 'read', // u32 (T, B)
      ps: 'storage', // (T, B, V): in logits, out p
      dy: 'storage', // (T, B, V)
      losses: 'storage', // (T, B)
    },
    small: {
      b_y: 'read', targets: 'read', ps: 'storage', dy: 'storage', losses: 'storage', // as softmax
      W_hy: 'read', // (V, H)
      out_h: 'read', // (L, T+1, B, H) hs: the top layer's outputs
    },
    dW_xh: {
      dpre: 'read', // (T, B, G*H) layer 0's (as vec4, dpre4, in dW_xh_sorted4)
      by_input: 'read', // u32 (T*B) positions sorted by input
      starts: 'read', // u32 (V+1)
      dW_xh: 'storage', // (H, V)
    },
  },
  entries: { softmax_xent: 'softmax', output_small: 'small', dW_xh_sorted4: 'dW_xh', dW_xh_sorted: 'dW_xh' },
});

/** shaders/optimizer.wgsl: clipping and the update, element-wise; the global gradient norm. */
export const optimizer = family({
  shader: 'optimizer',
  layouts: {
    update: {
      hyper: Hyper, grads: 'read', params: 'storage', m: 'storage', v: 'storage', grad_norm: 'read',
      decay: 'read', // u32 per TENSOR_ALIGN block of the flat buffer: 1 on a matrix, 0 on a bias
    },
    norm: { g_all: 'read', norm_out: 'storage' },
  },
  entries: { update: 'update', grad_norm_reduce: 'norm' },
});

/** shaders/cells.wgsl and cells_persistent.wgsl after the cell's file (cell_rnn, cell_lstm,
 * cell_gru.wgsl): the layers of any cell and depth; one pipeline set per cell. The reference
 * sweeps (forward_sweep, backward_sweep) and the persistent ones bind the same records. */
export function cells(cell: CellName) {
  return family({
    shader: `cells_${cell}`,
    launch: Launch,
    layouts: {
      forward: {
        cell: Layer,
        params: 'read', // flat parameters
        inputs: 'read', // u32 (T, B)
        ax: 'read', // (T, B, G*H) W_xh.l times the layer below's dropped h (l > 0)
        hs: 'storage', // (L, T+1, B, H)
        cs: 'storage', // (L, T+1, B, H) LSTM
        act: 'storage', // (L, T, B, S*H) saved by the cell
        carry: 'storage', // (L, B, H) h, then (L, B, H) c: carried between steps
        W_hhT: 'read', // (H, G*H) W_hh.l transposed (the persistent sweeps and forward_step)
      },
      backward: {
        cell: Layer,
        params: 'read',
        hs_in: 'read', // (L, T+1, B, H)
        cs_in: 'read', // (L, T+1, B, H)
        act_in: 'read', // (L, T, B, S*H)
        dh: 'read', // (T, B, H) from above
        dpre: 'storage', // (L, T, B, G*H) dLoss/d ax
        dah: 'storage', // (T, B, G*H) dLoss/d ah of the layer
        dnext: 'storage', // (2, B, H) scratch
      },
      // forward_grid: forward's, with the dnext buffer (its control words) in carry's place
      gridForward: {
        cell: Layer,
        params: 'read',
        inputs: 'read',
        ax: 'read',
        hs: 'storage', // exchanged word by word
        cs: 'storage',
        act: 'storage',
        ctrl: 'storage', // dnext: (2, B, H) scratch, then 8 control words per layer and direction
        W_hhT: 'read',
      },
      transpose: { cell: Layer, params: 'read', W_hhT_out: 'storage' },
      dropForward: { cell: Layer, drop: Drop, drop_h: 'read', hd: 'storage' },
      dropBackward: { cell: Layer, drop: Drop, dh_rw: 'storage' },
      generate: {
        gen: Gen,
        params: 'read',
        gl: 'read', // u32: GenHead, then one GenLayer per layer
        gstate: 'storage', // (streams, L, 3, H) scratch
        prime: 'read', // u32 (prime_len)
        out: 'storage', // u32 (streams, length)
        logits: 'storage', // (streams, V)
        WT: 'read', // W_hh.l and (l > 0) W_xh.l transposed, (H, G*H) each, and W_hy, at offsets of gl
      },
    },
    entries: {
      forward_sweep: 'forward', backward_sweep: 'backward', forward_sweepN: 'forward', backward_sweepN: 'backward', forward_sweep1: 'forward', backward_sweep1: 'backward', forward_step: 'forward', backward_step: 'backward', forward_grid: 'gridForward', grid_fill_h: 'gridForward', backward_grid: 'backward', grid_fill_x: 'backward', transpose_hh: 'transpose', drop_forward: 'dropForward', drop_backward: 'dropBackward', generate_sweep: 'generate', generate_sweepN: 'generate', generate_sweep1: 'generate', generate_step: 'generate', generate_step_out: 'generate',
    },
  });
}

/** shaders/loss.wgsl: the mean loss of a step. */
export const loss = family({
  shader: 'loss',
  layouts: { mean: { losses: 'read', loss: 'storage' } },
  entries: { loss_mean: 'mean' },
});


/** shaders/residency.wgsl: how many workgroups the adapter runs at once (src/gpu/residency.ts). */
export const residency = family({
  shader: 'residency',
  layouts: { discover: { words: 'storage' } }, // u32 (4): count and closed bit, failure
  entries: { discover: 'discover' },
});
