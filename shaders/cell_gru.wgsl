// The GRU cell (torch.nn.GRU), one unit: the pointwise math that shaders/cells.wgsl runs for
// every unit, timestep and layer (the float64 twin: src/cpu/cells.ts). Gates in PyTorch's
// order r, z, n (G = 3 blocks of H rows); b_h holds b_ir + b_hr, b_iz + b_hz and b_in, and
// b_hn stays inside r⊙:
//
//   r = σ(ax_r + ah_r)  z = σ(ax_z + ah_z)  n = tanh(ax_n + r⊙(ah_n + b_hn))
//   h' = (1-z)⊙n + z⊙h
//
// Saved per unit for the backward pass (S values): r, z, n and ah_n + b_hn.

const G: u32 = 3u;
const S: u32 = 4u;
const HAS_C: bool = false;
const HAS_BHN: bool = true;

fn cell_forward(ax: array<f32, G>, ah: array<f32, G>, h: f32, c: f32, bhn: f32) -> CellOut {
  let r = sigmoid(ax[0] + ah[0]);
  let z = sigmoid(ax[1] + ah[1]);
  let hn = ah[2] + bhn;
  let n = stable_tanh(ax[2] + r * hn);
  return CellOut((1.0 - z) * n + z * h, 0.0, array<f32, S>(r, z, n, hn));
}

// dh: the loss's gradient with respect to this step's h'. dah of the n block is also the
// gradient of b_hn.
fn cell_backward(dh: f32, dc: f32, h: f32, c: f32, c_new: f32, act: array<f32, S>) -> CellGrad {
  let r = act[0];
  let z = act[1];
  let n = act[2];
  let hn = act[3];
  let dn = dh * (1.0 - z) * (1.0 - n * n);
  let dz = dh * (h - n) * z * (1.0 - z);
  let dr = dn * hn * r * (1.0 - r);
  return CellGrad(array<f32, G>(dr, dz, dn), array<f32, G>(dr, dz, dn * r), dh * z, 0.0);
}
