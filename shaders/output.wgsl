// The output layer around the matrix products of shaders/matmul.wgsl, for all N = T*B
// positions at once (pos = t*B + b):
//
//   softmax_xent:  p = softmax(logits + b_y), losses[pos] = -log p[target], dy = p - onehot(target)
//   output_small:  the same after the logits W_hy h themselves (a small step)
//   dW_xh_sorted4:  dW_xh[i, c] = sum over positions with input c of dpre[pos, i] / B (layer 0;
//                  x is one-hot: the product dpre^T X is a gather, no multiplications)

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> b_y: array<f32>;          // (V)
@group(0) @binding(1) var<storage, read> targets: array<u32>;      // (T, B)
@group(0) @binding(2) var<storage, read_write> ps: array<f32>;     // (T, B, V): in logits W_hy h, out p
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;     // (T, B, V)
@group(0) @binding(4) var<storage, read_write> losses: array<f32>; // (T, B)

// p = softmax(ps[pos] + b_y) in place, losses[pos] = -log p[target], dy = p - onehot(target),
// where ps[pos] holds the logits W_hy h of position pos.
fn softmax_xent_at(pos: u32) {
  let V = launch.V;
  let o = pos * V;
  let y_t = targets[pos];
  var m = -3.4e38;
  for (var v = 0u; v < V; v++) {
    let y = ps[o + v] + b_y[v];
    ps[o + v] = y;
    m = max(m, y);
  }
  let y_target = ps[o + y_t];
  var s = 0.0;
  for (var v = 0u; v < V; v++) {
    let e = exp(ps[o + v] - m);
    ps[o + v] = e;
    s += e;
  }
  for (var v = 0u; v < V; v++) {
    let p = ps[o + v] / s;
    ps[o + v] = p;
    dy[o + v] = p - select(0.0, 1.0, v == y_t);
  }
  // -log p[target] from the logit, finite even where p underflows to 0
  losses[pos] = log(s) - (y_target - m);
}

// Invocation pos: one row of V (the logits from the product of matmul.wgsl).
@compute @workgroup_size(WG)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pos = flat_id(gid, nwg, WG);
  if (pos < launch.T * launch.B) { softmax_xent_at(pos); }
}

// ---- output_small (bindings 0-4 as softmax_xent): the whole output layer of a small step in one
// dispatch (with grads.wgsl's grads_small), the logits W_hy h of the top layer's output too.
@group(0) @binding(5) var<storage, read> W_hy: array<f32>;         // (V, H)
@group(0) @binding(6) var<storage, read> out_h: array<f32>;        // (L, T+1, B, H) hs

@compute @workgroup_size(WG)
fn output_small(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pos = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (pos >= T * B) { return; }
  let h = ((launch.L - 1u) * (T + 1u) + 1u) * B * H + pos * H;
  for (var v = 0u; v < V; v++) {
    var y = 0.0;
    for (var i = 0u; i < H; i++) { y += W_hy[v * H + i] * out_h[h + i]; }
    ps[pos * V + v] = y;
  }
  softmax_xent_at(pos);
}

@group(0) @binding(0) var<storage, read> dpre4: array<vec4f>;       // (T, B, G*H/4) dpre as vec4, when G*H % 4 == 0
@group(0) @binding(1) var<storage, read> by_input: array<u32>;      // (T*B) positions sorted by input
@group(0) @binding(2) var<storage, read> starts: array<u32>;        // (V+1) where each input's run starts
@group(0) @binding(3) var<storage, read_write> dW_xh: array<f32>;   // (H, V)

// Invocation (c, i4) sums rows 4*i4 .. 4*i4+3 over the positions whose input is c, listed
// together in by_input (a counting sort of the step's inputs, made on the CPU with the
// batch): T*B*H additions in all instead of a pass over every position per column.
// dW_xh_sorted: the same, one row per invocation, for H not a multiple of 4.
@compute @workgroup_size(WG)
fn dW_xh_sorted4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B;
  let H4 = H / 4u;
  if (id >= V * H4) { return; }
  let c = id / H4;
  let i4 = id % H4;
  var s = vec4f(0.0);
  for (var k = starts[c]; k < starts[c + 1u]; k++) { s += dpre4[by_input[k] * H4 + i4]; }
  s /= f32(B);
  let i = 4u * i4;
  dW_xh[i * V + c] = s.x;
  dW_xh[(i + 1u) * V + c] = s.y;
  dW_xh[(i + 2u) * V + c] = s.z;
  dW_xh[(i + 3u) * V + c] = s.w;
}

@group(0) @binding(0) var<storage, read> dpre: array<f32>;          // (T, B, G*H)

@compute @workgroup_size(WG)
fn dW_xh_sorted(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B;
  if (id >= V * H) { return; }
  let c = id / H;
  let i = id % H;
  var s = 0.0;
  for (var k = starts[c]; k < starts[c + 1u]; k++) { s += dpre[by_input[k] * H + i]; }
  dW_xh[i * V + c] = s / f32(B);
}
