// The ReLU RNN cell (torch.nn.RNN with nonlinearity='relu'), one unit: the pointwise math that
// shaders/cells.wgsl runs for every unit, timestep and layer (the float64 twin: src/cpu/cells.ts).
//
//   h' = max(0, ax + ah)     ax = W_xh x + b_h, ah = W_hh h (one gate block, G = 1)
//
// Saved per unit for the backward pass (S values): h'. Its slope is 1 where h' > 0, else 0
// (PyTorch's choice at 0 too).

const G: u32 = 1u;
const S: u32 = 1u;
const HAS_C: bool = false;
const HAS_BHN: bool = false;

fn cell_forward(ax: array<f32, G>, ah: array<f32, G>, h: f32, c: f32, bhn: f32) -> CellOut {
  let hn = max(ax[0] + ah[0], 0.0);
  return CellOut(hn, 0.0, array<f32, S>(hn));
}

fn cell_backward(dh: f32, dc: f32, h: f32, c: f32, c_new: f32, act: array<f32, S>) -> CellGrad {
  let d = select(0.0, dh, act[0] > 0.0);
  return CellGrad(array<f32, G>(d), array<f32, G>(d), 0.0, 0.0);
}
