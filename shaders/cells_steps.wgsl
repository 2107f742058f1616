// The per-timestep schedule of the layer kernels ('steps'): the math of forward_sweep and
// backward_sweep (shaders/cells.wgsl), one dispatch per layer and timestep (launch.t = t) over
// the whole adapter instead of one workgroup looping over T. All 2*L*T dispatches of a step
// follow each other in one compute pass, each reading what the one before wrote; nothing is
// assumed between the workgroups of one dispatch, so it runs wherever WebGPU does.
//
// Invocation (u, b) owns unit u of stream b, all G gate rows of it (the cell's math is fused
// with the recurrent product). Workgroups tile (units x streams): one covers UT = WG/BT
// consecutive units of BT consecutive streams, so the rows of W_hh it reads serve BT streams
// from the cache.
//   forward_step:  ah = W_hh.l h_{t-1}, read from W_hhT (W_hh.l transposed by transpose_hh
//                  before the layer): neighbouring units read neighbouring addresses. The
//                  carried state goes into hs/cs slot 0 before t = 0 and out of slot T after
//                  t = T-1 by buffer copies (src/gpu/cells.ts).
//   backward_step: dh_next = direct part of t+1 + W_hh.l^T dah_{t+1} (0 at t = T-1), summed in
//                  the reference sweep's order, then cell_backward at t; the direct part and
//                  dc of (u, b) go to dnext, which only (u, b) reads.

override BT: u32 = 1u;                 // streams per workgroup tile: a power of two <= WG

// The (unit, stream) of invocation li of workgroup w (flat): unit tiles first.
fn step_owner(wg: vec3u, nwg: vec3u, li: u32) -> vec2u {
  let UT = WG / BT;
  let w = wg.y * nwg.x + wg.x;
  let tiles = (launch.H + UT - 1u) / UT;
  return vec2u((w % tiles) * UT + li % UT, (w / tiles) * BT + li / UT);
}

// ---- forward_step (bindings as forward_sweepN)
@compute @workgroup_size(WG)
fn forward_step(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let own = step_owner(wg, nwg, li);
  let u = own.x;
  let b = own.y;
  if (u >= H || b >= B) { return; }
  let l = cell.layer;
  let t = launch.t;
  let GH = G * H;
  let pos = t * B + b;
  let x = inputs[pos];
  let hp = l * (T + 1u) * B * H + t * B * H + b * H;   // h_{t-1} of stream b; h_t at hp + B*H
  var a: array<f32, G>;
  var r: array<f32, G>;
  for (var k = 0u; k < G; k++) { a[k] = cell_input(l, pos, x, k * H + u); r[k] = 0.0; }
  for (var j = 0u; j < H; j++) {
    let h = hs[hp + j];
    for (var k = 0u; k < G; k++) { r[k] += W_hhT[j * GH + k * H + u] * h; }
  }
  var c = 0.0;
  if (HAS_C) { c = cs[hp + u]; }
  var bhn = 0.0;
  if (HAS_BHN) { bhn = params[cell.off_b_hn + u]; }
  let o = cell_forward(a, r, hs[hp + u], c, bhn);
  hs[hp + B * H + u] = o.h;
  if (HAS_C) { cs[hp + B * H + u] = o.c; }
  let sa = (l * T * B + pos) * S * H;
  var saved = o.act;
  for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
}

// ---- backward_step (bindings as backward_sweep)
@compute @workgroup_size(WG)
fn backward_step(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let own = step_owner(wg, nwg, li);
  let u = own.x;
  let b = own.y;
  if (u >= H || b >= B) { return; }
  let l = cell.layer;
  let t = launch.t;
  let GH = G * H;
  let pos = t * B + b;
  let da = (l * T * B + pos) * GH;
  var dh_next = 0.0;
  var dc_next = 0.0;
  if (t + 1u < T) {
    var s = dnext[b * H + u];
    for (var r = 0u; r < GH; r++) { s += params[cell.off_W_hh + r * H + u] * dah_at(da + B * GH, pos + B, r); }
    dh_next = s;
    dc_next = dnext[(B + b) * H + u];
  }
  let hp = l * (T + 1u) * B * H + t * B * H + b * H;
  var c = 0.0;
  var c_new = 0.0;
  if (HAS_C) { c = cs_in[hp + u]; c_new = cs_in[hp + B * H + u]; }
  let sa = (l * T * B + pos) * S * H;
  var saved: array<f32, S>;
  for (var k = 0u; k < S; k++) { saved[k] = act_in[sa + k * H + u]; }
  let g = cell_backward(dh[pos * H + u] + dh_next, dc_next, hs_in[hp + u], c, c_new, saved);
  var gx = g.dax;
  var gh = g.dah;
  for (var k = 0u; k < G; k++) {
    dpre[da + k * H + u] = gx[k];
    if (HAS_BHN) { dah[pos * GH + k * H + u] = gh[k]; }
  }
  dnext[b * H + u] = g.dh_direct;
  dnext[(B + b) * H + u] = g.dc;
}
