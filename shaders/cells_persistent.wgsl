// The persistent sweeps of the layer kernels, four streams per workgroup: the same math as
// forward_sweep and backward_sweep of shaders/cells.wgsl (the reference, kept beside these and
// run by the same tests), cell-agnostic in the same way (cell_forward, cell_backward of the
// cell's file). Vec4 lane s of every register and workgroup slot belongs to stream 4w + s of
// workgroup w (streams past B repeat stream B-1: computed, never stored).
//
// Invocation li owns units u = li + q*WGR (q < U) and all G gate rows of each, so that the
// cell's state c of its units stays in its registers for all T timesteps.
//
//   forward_sweep4:  h_{t-1} of the four streams in workgroup memory (two halves, one
//     workgroupBarrier per timestep); ah = W_hh.l h_{t-1} read from W_hhT (W_hh.l transposed
//     by transpose_hh before the sweep), so neighbouring invocations read neighbouring
//     addresses, one load of h_{t-1}[j] serves U*G vec4 multiply-adds.
//   backward_sweep4: dah_t of the four streams in workgroup memory; dh_next = direct part +
//     W_hh.l^T dah_t, row j of which is read from W_hh.l itself (columns j of neighbouring
//     invocations are neighbouring addresses); dh_next and dc_next stay in registers.
//
// Workgroup memory: 32*HMAX bytes forward, 16*G*HMAX backward (src/gpu/cells.ts checks it).

override HMAX: u32 = 64;        // a power of two >= H
const U: u32 = 2u;              // units per invocation
override WGR: u32 = HMAX / U;   // invocations per workgroup

// Streams first .. first+3 (those past B repeat stream B-1).
fn cell_streams4(first: u32) -> vec4u {
  return min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), vec4u(launch.B - 1u));
}

// ---- transpose_hh
// binding 1: params, as forward_sweep
@group(0) @binding(2) var<storage, read_write> W_hhT_out: array<f32>; // (H, G*H)

// Invocation e = j*G*H + r writes W_hhT[j][r] = W_hh.l[r][j].
@compute @workgroup_size(WG)
fn transpose_hh(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  let H = launch.H;
  let GH = G * H;
  if (e >= GH * H) { return; }
  let j = e / GH;
  let r = e % GH;
  W_hhT_out[e] = params[cell.off_W_hh + r * H + j];
}

// ---- forward_sweep4 (bindings 1-7 as forward_sweep)
@group(0) @binding(8) var<storage, read> W_hhT: array<f32>;         // (H, G*H): W_hhT[j*G*H + r] = W_hh.l[r*H + j]

var<workgroup> hw: array<vec4f, 2u * HMAX>; // h_{t-1} and h_t of the four streams, alternating halves

@compute @workgroup_size(WGR)
fn forward_sweep4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let first = 4u * wg.x;
  let st = cell_streams4(first);
  let h0 = l * (T + 1u) * B * H;
  var uc: array<u32, U>;                    // units owned (past H: unit H-1 again, never stored)
  var c: array<vec4f, U>;
  for (var q = 0u; q < U; q++) {
    let u = li + q * WGR;
    uc[q] = min(u, H - 1u);
    var hv = vec4f(0.0);
    var cv = vec4f(0.0);
    for (var s = 0u; s < 4u; s++) {
      hv[s] = carry[(l * B + st[s]) * H + uc[q]];
      if (HAS_C) { cv[s] = carry[((cell.L + l) * B + st[s]) * H + uc[q]]; }
      if (u < H && first + s < B) {
        hs[h0 + st[s] * H + u] = hv[s];
        if (HAS_C) { cs[h0 + st[s] * H + u] = cv[s]; }
      }
    }
    c[q] = cv;
    if (u < H) { hw[u] = hv; }
  }
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let old = (t % 2u) * HMAX;
    let cur = HMAX - old;
    // zeroed by hand: on lavapipe a var array declared in the loop kept the previous
    // timestep's sums from t = 2 on (caught by test/cells-gpu.test.ts)
    var acc: array<vec4f, U * G>;
    for (var k = 0u; k < U * G; k++) { acc[k] = vec4f(0.0); }
    for (var j = 0u; j < H; j++) {
      let h = hw[old + j];
      let w = j * GH;
      for (var q = 0u; q < U; q++) {
        for (var k = 0u; k < G; k++) { acc[q * G + k] += W_hhT[w + k * H + uc[q]] * h; }
      }
    }
    for (var q = 0u; q < U; q++) {
      let u = li + q * WGR;
      let hp = hw[old + uc[q]];
      var bhn = 0.0;
      if (HAS_BHN) { bhn = params[cell.off_b_hn + uc[q]]; }
      var hn: vec4f;
      var cn: vec4f;
      for (var s = 0u; s < 4u; s++) {
        let pos = t * B + st[s];
        let x = inputs[pos];
        var a: array<f32, G>;
        var r: array<f32, G>;
        for (var k = 0u; k < G; k++) {
          let row = k * H + uc[q];
          var p = params[cell.off_b_h + row];
          if (l == 0u) { p += params[cell.off_W_xh + row * V + x]; } else { p += ax[pos * GH + row]; }
          a[k] = p;
          r[k] = acc[q * G + k][s];
        }
        let o = cell_forward(a, r, hp[s], c[q][s], bhn);
        hn[s] = o.h;
        cn[s] = o.c;
        if (u < H && first + s < B) {
          let ht = h0 + (t + 1u) * B * H + st[s] * H + u;
          hs[ht] = o.h;
          if (HAS_C) { cs[ht] = o.c; }
          var saved = o.act;
          let sa = (l * T * B + pos) * S * H;
          for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
        }
      }
      c[q] = cn;
      if (u < H) { hw[cur + u] = hn; }
    }
    workgroupBarrier();
  }
  let last = (T % 2u) * HMAX;
  for (var q = 0u; q < U; q++) {
    let u = li + q * WGR;
    if (u >= H) { continue; }
    let hv = hw[last + u];
    for (var s = 0u; s < 4u; s++) {
      if (first + s < B) {
        carry[(l * B + st[s]) * H + u] = hv[s];
        if (HAS_C) { carry[((cell.L + l) * B + st[s]) * H + u] = c[q][s]; }
      }
    }
  }
}

// ---- backward_sweep4 (bindings as backward_sweep; dnext unused)
var<workgroup> dahw: array<vec4f, G * HMAX>; // dah_t of the four streams, row r = k*H + u

@compute @workgroup_size(WGR)
fn backward_sweep4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let first = 4u * wg.x;
  let st = cell_streams4(first);
  let h0 = l * (T + 1u) * B * H;
  var uc: array<u32, U>;
  for (var q = 0u; q < U; q++) { uc[q] = min(li + q * WGR, H - 1u); }
  var dhn: array<vec4f, U>;                 // dh_next: the direct part, then + W_hh^T dah
  var dcn: array<vec4f, U>;                 // dc_next
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    for (var q = 0u; q < U; q++) {
      let u = li + q * WGR;
      let v = uc[q];
      var dd: vec4f;
      var dc: vec4f;
      var gah: array<vec4f, G>;
      for (var s = 0u; s < 4u; s++) {
        let pos = t * B + st[s];
        let hp = h0 + t * B * H + st[s] * H;
        var c = 0.0;
        var c_new = 0.0;
        if (HAS_C) { c = cs_in[hp + v]; c_new = cs_in[hp + B * H + v]; }
        var saved: array<f32, S>;
        let sa = (l * T * B + pos) * S * H;
        for (var k = 0u; k < S; k++) { saved[k] = act_in[sa + k * H + v]; }
        let g = cell_backward(dh[pos * H + v] + dhn[q][s], dcn[q][s], hs_in[hp + v], c, c_new, saved);
        var gx = g.dax;
        var gh = g.dah;
        for (var k = 0u; k < G; k++) { gah[k][s] = gh[k]; }
        dd[s] = g.dh_direct;
        dc[s] = g.dc;
        if (u < H && first + s < B) {
          let da = (l * T * B + pos) * GH;
          for (var k = 0u; k < G; k++) {
            dpre[da + k * H + u] = gx[k];
            dah[pos * GH + k * H + u] = gh[k];
          }
        }
      }
      if (u < H) {
        for (var k = 0u; k < G; k++) { dahw[k * H + u] = gah[k]; }
      }
      dhn[q] = dd;
      dcn[q] = dc;
    }
    workgroupBarrier();
    for (var r = 0u; r < GH; r++) {
      let d = dahw[r];
      let w = cell.off_W_hh + r * H;
      for (var q = 0u; q < U; q++) { dhn[q] += params[w + uc[q]] * d; }
    }
    workgroupBarrier();
  }
}
