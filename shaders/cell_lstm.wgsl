// The LSTM cell (torch.nn.LSTM), one unit: the pointwise math that shaders/cells.wgsl runs
// for every unit, timestep and layer (the float64 twin: src/cpu/cells.ts). Gates in PyTorch's
// order i, f, g, o (G = 4 blocks of H rows):
//
//   i = σ(ax_i + ah_i)  f = σ(ax_f + ah_f)  g = tanh(ax_g + ah_g)  o = σ(ax_o + ah_o)
//   c' = f⊙c + i⊙g      h' = o⊙tanh(c')
//
// Saved per unit for the backward pass (S values): i, f, g, o.

const G: u32 = 4u;
const S: u32 = 4u;
const HAS_C: bool = true;
const HAS_BHN: bool = false;

fn cell_forward(ax: array<f32, G>, ah: array<f32, G>, h: f32, c: f32, bhn: f32) -> CellOut {
  let i = sigmoid(ax[0] + ah[0]);
  let f = sigmoid(ax[1] + ah[1]);
  let g = stable_tanh(ax[2] + ah[2]);
  let o = sigmoid(ax[3] + ah[3]);
  let c_new = f * c + i * g;
  return CellOut(o * stable_tanh(c_new), c_new, array<f32, S>(i, f, g, o));
}

// dh, dc: the loss's gradient with respect to this step's h' and c'.
fn cell_backward(dh: f32, dc: f32, h: f32, c: f32, c_new: f32, act: array<f32, S>) -> CellGrad {
  let i = act[0];
  let f = act[1];
  let g = act[2];
  let o = act[3];
  let tc = stable_tanh(c_new);
  let dcu = dc + dh * o * (1.0 - tc * tc);
  let d = array<f32, G>(dcu * g * i * (1.0 - i), dcu * c * f * (1.0 - f), dcu * i * (1.0 - g * g), dh * tc * o * (1.0 - o));
  return CellGrad(d, d, 0.0, dcu * f);
}
