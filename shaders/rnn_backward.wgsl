// Backpropagation through time for one step's batch (positions pos = t*B + b), as the
// tutorial's backward_pass:
//
//   dy_t    = p_t - onehot(target_t)
//   dh_t    = W_hy^T dy_t + dh_next                 (output_backprop: the W_hy^T dy_t part)
//   dtanh_t = dh_t * (1 - h_t^2)                    (backward_recurrence: sequential in t)
//   dh_next = W_hh^T dtanh_t
//   dW_hy = sum dy_t h_t^T, db_y = sum dy_t, dW_xh = sum dtanh_t x_t^T,
//   dW_hh = sum dtanh_t h_{t-1}^T, db_h = sum dtanh_t  (grad_reduce: one writer per element)
//
// Gradients are summed over timesteps and averaged over the B streams (B = 1: the tutorial).

override V: u32;
override H: u32;
override B: u32;
override T: u32;
override WG: u32 = 64;

// ---- output_backprop: invocation (pos, i) writes dhs[pos*H + i] = (W_hy^T dy_pos)[i]
@group(0) @binding(0) var<storage, read> W_hy: array<f32>;        // (V, H)
@group(0) @binding(1) var<storage, read> ps: array<f32>;          // (T, B, V)
@group(0) @binding(2) var<storage, read> targets: array<u32>;     // (T, B)
@group(0) @binding(3) var<storage, read_write> dhs: array<f32>;   // (T, B, H)

@compute @workgroup_size(WG)
fn output_backprop(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let e = id;
  if (e >= T * B * H) { return; }
  let pos = e / H;
  let i = e % H;
  let o = pos * V;
  var s = -W_hy[targets[pos] * H + i];
  for (var v = 0u; v < V; v++) { s += W_hy[v * H + i] * ps[o + v]; }
  dhs[e] = s;
}

// ---- backward_recurrence: one workgroup per stream b, t = T-1 .. 0; invocation l owns rows
// i = l, l+WG, ... of dtanh_t and of dh_next. dhs[t] is overwritten with dtanh_t.
@group(0) @binding(0) var<storage, read> W_hh: array<f32>;          // (H, H)
@group(0) @binding(1) var<storage, read> hs: array<f32>;            // (T+1, B, H)
@group(0) @binding(2) var<storage, read_write> dhs_rw: array<f32>;  // (T, B, H)
@group(0) @binding(3) var<storage, read_write> dh_next: array<f32>; // (B, H) scratch

@compute @workgroup_size(WG)
fn backward_recurrence(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let b = wg.x;
  for (var i = l; i < H; i += WG) { dh_next[b * H + i] = 0.0; }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    let cur = (t * B + b) * H;              // dhs row of this position
    let h = ((t + 1u) * B + b) * H;         // h_t
    for (var i = l; i < H; i += WG) {
      let dh = dhs_rw[cur + i] + dh_next[b * H + i];
      dhs_rw[cur + i] = dh * (1.0 - hs[h + i] * hs[h + i]);
    }
    storageBarrier();
    for (var j = l; j < H; j += WG) {
      var s = 0.0;
      for (var i = 0u; i < H; i++) { s += W_hh[i * H + j] * dhs_rw[cur + i]; }
      dh_next[b * H + j] = s;
    }
  }
}

// ---- grad_reduce: invocation e writes element e of the flat gradient buffer (layout of
// src/model.ts: each tensor starts at OFF_<name>, padding elements are written 0).
override OFF_W_xh: u32;
override OFF_W_hh: u32;
override OFF_b_h: u32;
override OFF_W_hy: u32;
override OFF_b_y: u32;
override TOTAL: u32;

@group(0) @binding(0) var<storage, read> g_hs: array<f32>;        // (T+1, B, H)
@group(0) @binding(1) var<storage, read> g_ps: array<f32>;        // (T, B, V)
@group(0) @binding(2) var<storage, read> g_dtanh: array<f32>;     // (T, B, H) dtanh
@group(0) @binding(3) var<storage, read> g_inputs: array<u32>;    // (T, B)
@group(0) @binding(4) var<storage, read> g_targets: array<u32>;   // (T, B)
@group(0) @binding(5) var<storage, read_write> grads: array<f32>; // flat layout

fn dy(pos: u32, v: u32) -> f32 {
  return g_ps[pos * V + v] - select(0.0, 1.0, g_targets[pos] == v);
}

@compute @workgroup_size(WG)
fn grad_reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let e = id;
  if (e >= TOTAL) { return; }
  let N = T * B;
  var s = 0.0;
  if (e >= OFF_b_y) {
    let v = e - OFF_b_y;
    if (v < V) { for (var p = 0u; p < N; p++) { s += dy(p, v); } }
  } else if (e >= OFF_W_hy) {
    let k = e - OFF_W_hy;
    if (k < V * H) {
      let v = k / H; let i = k % H;
      for (var p = 0u; p < N; p++) { s += dy(p, v) * g_hs[(p + B) * H + i]; }
    }
  } else if (e >= OFF_b_h) {
    let i = e - OFF_b_h;
    if (i < H) { for (var p = 0u; p < N; p++) { s += g_dtanh[p * H + i]; } }
  } else if (e >= OFF_W_hh) {
    let k = e - OFF_W_hh;
    if (k < H * H) {
      let i = k / H; let j = k % H;
      for (var p = 0u; p < N; p++) { s += g_dtanh[p * H + i] * g_hs[p * H + j]; }
    }
  } else {
    let k = e - OFF_W_xh;
    if (k < H * V) {
      let i = k / V; let c = k % V;
      for (var p = 0u; p < N; p++) { if (g_inputs[p] == c) { s += g_dtanh[p * H + i]; } }
    }
  }
  grads[e] = s / f32(B);
}
