// The recurrent layers of any cell and depth, cell-agnostic: the cell's pointwise math comes
// from the cell file joined in front of this one (shaders/cell_rnn.wgsl, cell_lstm.wgsl,
// cell_gru.wgsl: G gate blocks of H rows, S saved values per unit, HAS_C, HAS_BHN,
// cell_forward, cell_backward). The products around the sweeps run over all T*B positions at
// once in shaders/matmul.wgsl (src/gpu/cells.ts records them). Positions pos = t*B + b.
//
//   forward_sweep (layer l):  ax = W_xh.l x_t + b_h.l    x_t: one-hot (l = 0, a gather of
//                                                          column x_t) or the product `ax`
//                             ah = W_hh.l h_{t-1}          cell_forward -> h_t (c_t), saved act
//   drop_forward  (layer l):  hd[l] = h_t ⊙ mask           the input of layer l+1 (or of W_hy)
//   drop_backward (layer l):  dh ⊙= mask
//   backward_sweep (layer l): dh_t = dh[t] + dh_next;  cell_backward -> dax (dpre), dah;
//                             dh_next = direct part + W_hh.l^T dah
//
// Dropout masks (inverted: 0 or 1/(1-p)) as src/dropout.ts: stream DROPOUT_STREAM + 64*step +
// l, counter pos*H + i of the step's seed, dropped where the 24-bit uniform is below p
// (keep_from = ceil(p * 2^24), computed in float64 by the engine, so the comparison is exact).
//
// One workgroup per stream loops over T; invocation li owns units u = li, li+WG, ..., all G
// gate rows of each (so the cell's state of a unit never leaves its invocation), and a
// storage barrier orders each timestep's writes before the next timestep's reads.

override WG: u32 = 64;

const DROPOUT_STREAM: u32 = 0x40000000u;   // src/dropout.ts

struct CellOut { h: f32, c: f32, act: array<f32, S> }
struct CellGrad { dax: array<f32, G>, dah: array<f32, G>, dh_direct: f32, dc: f32 }

// The four vec4 lanes of the loops that run the cell's math once per lane. For a gated cell, a
// bound the compiler does not see (launch.t is 0 in every kernel that calls it): lavapipe
// unrolls a loop of constant bound, and four (or, nested, sixteen) inlined copies of an LSTM
// cell took most of a sweep's compile time on an empty shader cache. A one-gate cell (tanh,
// relu) is cheap to unroll, and unrolled its one-stream sweeps run some 10-25% faster. Not in
// generate_step, whose launch.t is its layer.
fn lanes() -> u32 {
  if (G == 1u) { return 4u; }
  return 4u + launch.t;
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

struct Layer {           // packed from the table Layer in src/gpu/families.ts
  layer: u32,
  off_W_xh: u32,         // offsets of layer l's tensors in the flat parameters
  off_W_hh: u32,
  off_b_h: u32,
  off_b_hn: u32,         // GRU only
}

struct Drop {            // packed from the table Drop in src/gpu/families.ts, per training step
  keep_from: u32,        // ceil(p * 2^24): 0 without dropout
  scale: f32,            // 1 / (1 - p)
  seed: u32,
  step: u32,
}

@group(0) @binding(0) var<uniform> cell: Layer;

// ---- forward_sweep
@group(0) @binding(1) var<storage, read> params: array<f32>;        // flat parameters (src/model.ts layout)
@group(0) @binding(2) var<storage, read> inputs: array<u32>;        // (T, B)
@group(0) @binding(3) var<storage, read> ax: array<f32>;            // (T, B, G*H) W_xh.l x for l > 0
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;      // (L, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> cs: array<f32>;      // (L, T+1, B, H) LSTM
@group(0) @binding(6) var<storage, read_write> act: array<f32>;     // (L, T, B, S*H) saved by the cell
@group(0) @binding(7) var<storage, read_write> carry: array<f32>;   // (L, B, H) h, then (L, B, H) c (LSTM)

@compute @workgroup_size(WG)
fn forward_sweep(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let b = wg.x;
  let h0 = l * (T + 1u) * B * H;             // layer l in hs, cs
  let kh = (l * B + b) * H;                  // carried h of (l, b)
  let kc = ((launch.L + l) * B + b) * H;       // carried c of (l, b)
  for (var u = li; u < H; u += WG) {
    hs[h0 + b * H + u] = carry[kh + u];
    if (HAS_C) { cs[h0 + b * H + u] = carry[kc + u]; }
  }
  storageBarrier();
  for (var t = 0u; t < T; t++) {
    let pos = t * B + b;
    let x = inputs[pos];
    let hp = h0 + t * B * H + b * H;         // h_{t-1} of stream b; h_t at hp + B*H
    let sa = (l * T * B + pos) * S * H;
    for (var u = li; u < H; u += WG) {
      var a: array<f32, G>;
      var r: array<f32, G>;
      for (var k = 0u; k < G; k++) {
        let row = k * H + u;
        var s = params[cell.off_b_h + row];
        if (l == 0u) { s += params[cell.off_W_xh + row * V + x]; } else { s += ax[pos * GH + row]; }
        a[k] = s;
        let w = cell.off_W_hh + row * H;
        var q = 0.0;
        for (var j = 0u; j < H; j++) { q += params[w + j] * hs[hp + j]; }
        r[k] = q;
      }
      var c = 0.0;
      if (HAS_C) { c = cs[hp + u]; }
      var bhn = 0.0;
      if (HAS_BHN) { bhn = params[cell.off_b_hn + u]; }
      let o = cell_forward(a, r, hs[hp + u], c, bhn);
      hs[hp + B * H + u] = o.h;
      if (HAS_C) { cs[hp + B * H + u] = o.c; }
      var saved = o.act;
      for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
    }
    storageBarrier();
  }
  let hT = h0 + T * B * H + b * H;
  for (var u = li; u < H; u += WG) {
    carry[kh + u] = hs[hT + u];
    if (HAS_C) { carry[kc + u] = cs[hT + u]; }
  }
}

// ---- backward_sweep
@group(0) @binding(2) var<storage, read> hs_in: array<f32>;         // (L, T+1, B, H)
@group(0) @binding(3) var<storage, read> cs_in: array<f32>;         // (L, T+1, B, H) LSTM
@group(0) @binding(4) var<storage, read> act_in: array<f32>;        // (L, T, B, S*H)
@group(0) @binding(5) var<storage, read> dh: array<f32>;            // (T, B, H) the loss's gradient wrt layer l's output, from above
@group(0) @binding(6) var<storage, read_write> dpre: array<f32>;    // (L, T, B, G*H) dLoss/d ax
@group(0) @binding(7) var<storage, read_write> dah: array<f32>;     // (T, B, G*H) dLoss/d ah of layer l, stored
                                                                    // only where it differs from dpre (HAS_BHN)
@group(0) @binding(8) var<storage, read_write> dnext: array<f32>;   // (B, H) dh_next, then (B, H) dc_next: scratch

// dLoss/d ah of row r at position pos (da: that position in dpre): equal to dpre (dax) in every
// cell but those with an extra bias inside the recurrent term (the GRU's r ⊙ (W_hn h + b_hn)).
fn dah_at(da: u32, pos: u32, r: u32) -> f32 {
  if (HAS_BHN) { return dah[pos * G * launch.H + r]; }
  return dpre[da + r];
}

@compute @workgroup_size(WG)
fn backward_sweep(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let b = wg.x;
  let h0 = l * (T + 1u) * B * H;
  for (var u = li; u < H; u += WG) {
    dnext[b * H + u] = 0.0;
    dnext[(B + b) * H + u] = 0.0;
  }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    let pos = t * B + b;
    let hp = h0 + t * B * H + b * H;
    let sa = (l * T * B + pos) * S * H;
    let da = (l * T * B + pos) * GH;
    for (var u = li; u < H; u += WG) {
      var c = 0.0;
      var c_new = 0.0;
      if (HAS_C) { c = cs_in[hp + u]; c_new = cs_in[hp + B * H + u]; }
      var saved: array<f32, S>;
      for (var k = 0u; k < S; k++) { saved[k] = act_in[sa + k * H + u]; }
      let g = cell_backward(dh[pos * H + u] + dnext[b * H + u], dnext[(B + b) * H + u], hs_in[hp + u], c, c_new, saved);
      var gx = g.dax;
      var gh = g.dah;
      for (var k = 0u; k < G; k++) {
        dpre[da + k * H + u] = gx[k];
        if (HAS_BHN) { dah[pos * GH + k * H + u] = gh[k]; }
      }
      dnext[b * H + u] = g.dh_direct;        // W_hh^T dah is added below, by the same invocation
      dnext[(B + b) * H + u] = g.dc;
    }
    storageBarrier();
    for (var j = li; j < H; j += WG) {
      var s = dnext[b * H + j];
      for (var r = 0u; r < GH; r++) { s += params[cell.off_W_hh + r * H + j] * dah_at(da, pos, r); }
      dnext[b * H + j] = s;
    }
  }
}

// ---- dropout
@group(0) @binding(1) var<uniform> drop: Drop;

fn drop_scale(l: u32, pos: u32, H: u32, i: u32) -> f32 {
  let r = rand_u32(drop.seed, DROPOUT_STREAM + 64u * drop.step + l, pos * H + i);
  return select(drop.scale, 0.0, (r >> 8u) < drop.keep_from);
}

@group(0) @binding(2) var<storage, read> drop_h: array<f32>;        // (L, T+1, B, H) hs
@group(0) @binding(3) var<storage, read_write> hd: array<f32>;      // (L, T, B, H) dropped outputs

// Invocation e = pos*H + i writes hd[l][pos][i].
@compute @workgroup_size(WG)
fn drop_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  let H = launch.H; let B = launch.B; let T = launch.T;
  let N = T * B * H;
  if (e >= N) { return; }
  let l = cell.layer;
  hd[l * N + e] = drop_h[l * (T + 1u) * B * H + B * H + e] * drop_scale(l, e / H, H, e % H);
}

@group(0) @binding(2) var<storage, read_write> dh_rw: array<f32>;   // (T, B, H)

// Invocation e = pos*H + i scales dh_rw[e] by layer l's mask.
@compute @workgroup_size(WG)
fn drop_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  let H = launch.H; let B = launch.B; let T = launch.T;
  if (e >= T * B * H) { return; }
  dh_rw[e] *= drop_scale(cell.layer, e / H, H, e % H);
}
