// Forward pass over one step's batch: B streams x T timesteps, positions time-major
// (pos = t*B + b).
//
//   h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)     (forward_recurrence: sequential in t)
//   p_t = softmax(W_hy h_t + b_y)                 (output_softmax: all positions at once)
//   losses[pos] = -log p_t[target]
//
// Shapes (src/model.ts): W_xh (H,V), W_hh (H,H), b_h (H), W_hy (V,H), b_y (V), all row-major.
// hs (T+1, B, H): hs[0] is the state the step starts from, hs[t+1] = h_t.

override V: u32;
override H: u32;
override B: u32;
override T: u32;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> W_xh: array<f32>;       // (H, V)
@group(0) @binding(1) var<storage, read> W_hh: array<f32>;       // (H, H)
@group(0) @binding(2) var<storage, read> b_h: array<f32>;        // (H)
@group(0) @binding(3) var<storage, read> inputs: array<u32>;     // (T, B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;   // (T+1, B, H)
@group(0) @binding(5) var<storage, read_write> hprev: array<f32>; // (B, H) carried state

// One workgroup per stream b loops over all T timesteps; invocation l writes rows
// i = l, l+WG, ... of h_t. The storage barrier orders h_{t-1} before h_t.
@compute @workgroup_size(WG)
fn forward_recurrence(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let b = wg.x;
  for (var i = l; i < H; i += WG) { hs[b * H + i] = hprev[b * H + i]; }
  storageBarrier();
  for (var t = 0u; t < T; t++) {
    let x = inputs[t * B + b];
    let prev = (t * B + b) * H;
    let cur = ((t + 1u) * B + b) * H;
    for (var i = l; i < H; i += WG) {
      var a = W_xh[i * V + x] + b_h[i];
      for (var j = 0u; j < H; j++) { a += W_hh[i * H + j] * hs[prev + j]; }
      hs[cur + i] = stable_tanh(a);
    }
    storageBarrier();
  }
  for (var i = l; i < H; i += WG) { hprev[b * H + i] = hs[(T * B + b) * H + i]; }
}

@group(0) @binding(0) var<storage, read> W_hy: array<f32>;        // (V, H)
@group(0) @binding(1) var<storage, read> b_y: array<f32>;         // (V)
@group(0) @binding(2) var<storage, read> hs_in: array<f32>;       // (T+1, B, H)
@group(0) @binding(3) var<storage, read> targets: array<u32>;     // (T, B)
@group(0) @binding(4) var<storage, read_write> ps: array<f32>;    // (T, B, V)
@group(0) @binding(5) var<storage, read_write> losses: array<f32>; // (T, B)

// Invocation pos writes the V probabilities of position pos and its loss.
@compute @workgroup_size(WG)
fn output_softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let pos = id;
  if (pos >= T * B) { return; }
  let h = (pos + B) * H; // h_t of this position
  let o = pos * V;
  let y_t = targets[pos];
  var m = -3.4e38;
  var y_target = 0.0;
  for (var v = 0u; v < V; v++) {
    var y = b_y[v];
    for (var i = 0u; i < H; i++) { y += W_hy[v * H + i] * hs_in[h + i]; }
    ps[o + v] = y;
    m = max(m, y);
    if (v == y_t) { y_target = y; }
  }
  var s = 0.0;
  for (var v = 0u; v < V; v++) {
    let e = exp(ps[o + v] - m);
    ps[o + v] = e;
    s += e;
  }
  for (var v = 0u; v < V; v++) { ps[o + v] = ps[o + v] / s; }
  // -log p[target] from the logit, finite even where p underflows to 0
  losses[pos] = log(s) - (y_target - m);
}
