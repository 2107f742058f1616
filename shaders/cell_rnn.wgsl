// The tanh RNN cell (torch.nn.RNN), one unit: the pointwise math that shaders/cells.wgsl runs
// for every unit, timestep and layer (the float64 twin: src/cpu/cells.ts).
//
//   h' = tanh(ax + ah)       ax = W_xh x + b_h, ah = W_hh h (one gate block, G = 1)
//
// Saved per unit for the backward pass (S values): h'.

const G: u32 = 1u;
const S: u32 = 1u;
const HAS_C: bool = false;
const HAS_BHN: bool = false;

fn cell_forward(ax: array<f32, G>, ah: array<f32, G>, h: f32, c: f32, bhn: f32) -> CellOut {
  let hn = stable_tanh(ax[0] + ah[0]);
  return CellOut(hn, 0.0, array<f32, S>(hn));
}

fn cell_backward(dh: f32, dc: f32, h: f32, c: f32, c_new: f32, act: array<f32, S>) -> CellGrad {
  let d = dh * (1.0 - act[0] * act[0]);
  return CellGrad(array<f32, G>(d), array<f32, G>(d), 0.0, 0.0);
}
