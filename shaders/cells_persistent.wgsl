// The persistent sweeps of the layer kernels: the same math as forward_sweep and backward_sweep
// of shaders/cells.wgsl (the reference, kept beside these and run by the same tests),
// cell-agnostic in the same way (cell_forward, cell_backward of the cell's file). One dispatch
// loops over all T timesteps, a workgroupBarrier between them; an invocation owns all G gate
// rows of its units, so the LSTM's c of its units stays in its registers for all T timesteps.
//
// forward_sweepN, backward_sweepN: SETS vec4 sets of four streams per workgroup (4 or 8
//   streams); vec4 lane s of set e belongs to stream 4*(SETS*w + e) + s of workgroup w
//   (streams past B repeat stream B-1: computed, never stored).
//   forward:  h_{t-1} in workgroup memory; ah = W_hh.l h_{t-1} read from W_hhT (W_hh.l
//     transposed by transpose_hh before the sweep), so neighbouring invocations read
//     neighbouring addresses; invocation li owns units u = li + q*WGF (q < UF), one load of
//     W_hhT serves 4*SETS multiply-adds and one of h_{t-1}[j] UF*G*4 of them.
//   backward: dah_t in workgroup memory; dh_next = direct part + W_hh.l^T dah_t, row r of
//     which is read from W_hh.l itself; invocation li owns units u = li + q*WGB (q < UB), so
//     one load of dah_t[r] serves UB*4 multiply-adds; dh_next and dc_next stay in registers.
// forward_sweep1, backward_sweep1: one stream (B = 1, H a multiple of 4); the vec4 lanes are
//   four consecutive units instead of streams, so no lane idles: invocation li owns unit
//   quads q = li + p*WQ (p < QP), aligned vec4 loads of W_hhT (forward), four consecutive
//   W_hh.l elements per row (backward).
//
// Workgroup memory (src/gpu/cells.ts sweepBytes checks it): 32*SETS*HMAX bytes forward and
// 16*SETS*G*HMAX backward; 8*HMAX and 4*G*HMAX for one stream.

override HMAX: u32 = 64;               // a power of two >= H
override SETS: u32 = 1u;               // vec4 sets of four streams per workgroup: 1 or 2
const UF: u32 = max(1u, 8u / G);       // units per invocation, forward: about 8 gate rows
const UB: u32 = 8u;                    // units per invocation, backward
override WGF: u32 = HMAX / UF;         // invocations per workgroup, forward
override WGB: u32 = HMAX / UB;         // invocations per workgroup, backward
const QP: u32 = 2u;                    // unit quads per invocation, one stream
override WQ: u32 = HMAX / (4u * QP);   // invocations, one stream

// Streams first .. first+3 (those past B repeat stream B-1).
fn cell_streams4(first: u32) -> vec4u {
  return min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), vec4u(launch.B - 1u));
}

// The streams of a workgroup's SETS sets, set e from stream first + 4e.
fn cell_sets(first: u32) -> array<vec4u, 2> {
  var st: array<vec4u, 2>;
  for (var e = 0u; e < SETS; e++) { st[e] = cell_streams4(first + 4u * e); }
  return st;
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

// ax_t + b_h of gate row `row` at position pos, input character x (layer 0: column x of
// W_xh.0; above: the product `ax`).
fn cell_input(l: u32, pos: u32, x: u32, row: u32) -> f32 {
  let p = params[cell.off_b_h + row];
  if (l == 0u) { return p + params[cell.off_W_xh + row * launch.V + x]; }
  return p + ax[pos * G * launch.H + row];
}

// ---- forward_sweepN (bindings 1-7 as forward_sweep)
@group(0) @binding(8) var<storage, read> W_hhT: array<f32>;         // (H, G*H): W_hhT[j*G*H + r] = W_hh.l[r*H + j]

var<workgroup> hwn: array<vec4f, 2u * SETS * HMAX>; // [half][set][unit]: h_{t-1} and h_t, alternating halves

// The carried state of layer l's streams st (the workgroup's, from stream `first`) into hwn's
// first half, h_{-1} (c_{-1}) into hs (cs); returns c of the units of invocation li. [q][set]
fn sweepN_begin(li: u32, first: u32, st: array<vec4u, 2>) -> array<vec4f, 2u * UF> {
  let H = launch.H; let B = launch.B;
  let l = cell.layer;
  let h0 = l * (launch.T + 1u) * B * H;
  var c: array<vec4f, 2u * UF>;
  for (var q = 0u; q < UF; q++) {
    let u = UF * li + q;
    let v = min(u, H - 1u);
    for (var e = 0u; e < SETS; e++) {
      var hv = vec4f(0.0);
      var cv = vec4f(0.0);
      for (var s = 0u; s < 4u; s++) {
        let b = st[e][s];
        hv[s] = carry[(l * B + b) * H + v];
        if (HAS_C) { cv[s] = carry[((launch.L + l) * B + b) * H + v]; }
        if (u < H && first + 4u * e + s < B) {
          hs[h0 + b * H + u] = hv[s];
          if (HAS_C) { cs[h0 + b * H + u] = cv[s]; }
        }
      }
      c[2u * q + e] = cv;
      if (u < H) { hwn[e * HMAX + u] = hv; }
    }
  }
  return c;
}

// h_{T-1} (from hwn) and c_{T-1} of the units of invocation li back to carry.
fn sweepN_end(li: u32, first: u32, st: array<vec4u, 2>, c: array<vec4f, 2u * UF>) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let half = SETS * HMAX;
  let last = (T % 2u) * half;
  for (var q = 0u; q < UF; q++) {
    let u = UF * li + q;
    if (u >= H) { continue; }
    for (var e = 0u; e < SETS; e++) {
      let hv = hwn[last + e * HMAX + u];
      for (var s = 0u; s < 4u; s++) {
        if (first + 4u * e + s < B) {
          carry[(l * B + st[e][s]) * H + u] = hv[s];
          if (HAS_C) { carry[((launch.L + l) * B + st[e][s]) * H + u] = c[2u * q + e][s]; }
        }
      }
    }
  }
}

@compute @workgroup_size(WGF)
fn forward_sweepN(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let first = 4u * SETS * wg.x;
  let half = SETS * HMAX;
  let h0 = l * (T + 1u) * B * H;
  let st = cell_sets(first);
  var uc: array<u32, UF>;                   // units owned (past H: unit H-1 again, never stored)
  for (var q = 0u; q < UF; q++) { uc[q] = min(UF * li + q, H - 1u); }
  var c = sweepN_begin(li, first, st);      // [q][set]
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let old = (t % 2u) * half;
    let cur = half - old;
    // zeroed by hand: on lavapipe a var array declared in the loop kept the previous
    // timestep's sums from t = 2 on (caught by test/cells-gpu.test.ts)
    var acc: array<vec4f, 2u * UF * G>;     // [q][k][set]
    for (var k = 0u; k < 2u * UF * G; k++) { acc[k] = vec4f(0.0); }
    var xs: array<vec4u, 2>;                // [set] input characters (layer 0)
    for (var e = 0u; e < SETS; e++) {
      for (var s = 0u; s < 4u; s++) { xs[e][s] = inputs[t * B + st[e][s]]; }
    }
    for (var j = 0u; j < H; j++) {
      let ha = hwn[old + j];
      var hb = vec4f(0.0);
      if (SETS == 2u) { hb = hwn[old + HMAX + j]; }
      let w = j * GH;
      for (var q = 0u; q < UF; q++) {
        for (var k = 0u; k < G; k++) {
          let wv = W_hhT[w + k * H + uc[q]];
          acc[2u * (q * G + k)] += wv * ha;
          if (SETS == 2u) { acc[2u * (q * G + k) + 1u] += wv * hb; }
        }
      }
    }
    for (var q = 0u; q < UF; q++) {
      let u = UF * li + q;
      var bhn = 0.0;
      if (HAS_BHN) { bhn = params[cell.off_b_hn + uc[q]]; }
      for (var e = 0u; e < SETS; e++) {
        let hp = hwn[old + e * HMAX + uc[q]];
        var hn: vec4f;
        var cn: vec4f;
        for (var s = 0u; s < lanes(); s++) {
          let pos = t * B + st[e][s];
          var a: array<f32, G>;
          var r: array<f32, G>;
          for (var k = 0u; k < G; k++) {
            a[k] = cell_input(l, pos, xs[e][s], k * H + uc[q]);
            r[k] = acc[2u * (q * G + k) + e][s];
          }
          let o = cell_forward(a, r, hp[s], c[2u * q + e][s], bhn);
          hn[s] = o.h;
          cn[s] = o.c;
          if (u < H && first + 4u * e + s < B) {
            let ht = h0 + (t + 1u) * B * H + st[e][s] * H + u;
            hs[ht] = o.h;
            if (HAS_C) { cs[ht] = o.c; }
            var saved = o.act;
            let sa = (l * T * B + pos) * S * H;
            for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
          }
        }
        c[2u * q + e] = cn;
        if (u < H) { hwn[cur + e * HMAX + u] = hn; }
      }
    }
    workgroupBarrier();
  }
  sweepN_end(li, first, st, c);
}

// The cell's backward at unit v of stream b, timestep t (pos = t*B + b): stores dpre and dah
// where `live`, returns the gradient.
fn cell_backward_at(l: u32, t: u32, b: u32, v: u32, live: bool, dh_next: f32, dc_next: f32) -> CellGrad {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let GH = G * H;
  let pos = t * B + b;
  let hp = l * (T + 1u) * B * H + t * B * H + b * H;
  var c = 0.0;
  var c_new = 0.0;
  if (HAS_C) { c = cs_in[hp + v]; c_new = cs_in[hp + B * H + v]; }
  var saved: array<f32, S>;
  let sa = (l * T * B + pos) * S * H;
  for (var k = 0u; k < S; k++) { saved[k] = act_in[sa + k * H + v]; }
  let g = cell_backward(dh[pos * H + v] + dh_next, dc_next, hs_in[hp + v], c, c_new, saved);
  if (live) {
    var gx = g.dax;
    var gh = g.dah;
    let da = (l * T * B + pos) * GH;
    for (var k = 0u; k < G; k++) {
      dpre[da + k * H + v] = gx[k];
      if (HAS_BHN) { dah[pos * GH + k * H + v] = gh[k]; }
    }
  }
  return g;
}

// ---- backward_sweepN (bindings as backward_sweep; dnext unused)
var<workgroup> dahn: array<vec4f, SETS * G * HMAX>; // [set][row r = k*H + u] dah_t

@compute @workgroup_size(WGB)
fn backward_sweepN(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let first = 4u * SETS * wg.x;
  let st = cell_sets(first);
  var uc: array<u32, UB>;
  for (var q = 0u; q < UB; q++) { uc[q] = min(UB * li + q, H - 1u); }
  var dhn: array<vec4f, 2u * UB>;           // [q][set] dh_next: the direct part, then + W_hh^T dah
  var dcn: array<vec4f, 2u * UB>;           // [q][set] dc_next
  for (var k = 0u; k < 2u * UB; k++) { dhn[k] = vec4f(0.0); dcn[k] = vec4f(0.0); }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    for (var q = 0u; q < UB; q++) {
      let u = UB * li + q;
      for (var e = 0u; e < SETS; e++) {
        var dd: vec4f;
        var dc: vec4f;
        var gah: array<vec4f, G>;
        for (var s = 0u; s < lanes(); s++) {
          let g = cell_backward_at(l, t, st[e][s], uc[q], u < H && first + 4u * e + s < B, dhn[2u * q + e][s], dcn[2u * q + e][s]);
          var gh = g.dah;
          for (var k = 0u; k < G; k++) { gah[k][s] = gh[k]; }
          dd[s] = g.dh_direct;
          dc[s] = g.dc;
        }
        if (u < H) {
          for (var k = 0u; k < G; k++) { dahn[e * G * HMAX + k * H + u] = gah[k]; }
        }
        dhn[2u * q + e] = dd;
        dcn[2u * q + e] = dc;
      }
    }
    workgroupBarrier();
    for (var r = 0u; r < GH; r++) {
      let da = dahn[r];
      var db = vec4f(0.0);
      if (SETS == 2u) { db = dahn[G * HMAX + r]; }
      let w = cell.off_W_hh + r * H;
      for (var q = 0u; q < UB; q++) {
        let wv = params[w + uc[q]];
        dhn[2u * q] += wv * da;
        if (SETS == 2u) { dhn[2u * q + 1u] += wv * db; }
      }
    }
    workgroupBarrier();
  }
}

// ---- forward_sweep1 (bindings as forward_sweepN; W_hhT read as vec4 of four units)
@group(0) @binding(8) var<storage, read> W_hhT4: array<vec4f>;      // (H, G*H/4)

var<workgroup> hw1: array<f32, 2u * HMAX>;  // h_{t-1} and h_t, alternating halves

@compute @workgroup_size(WQ)
fn forward_sweep1(@builtin(local_invocation_index) li: u32) {
  let H = launch.H; let T = launch.T;
  let l = cell.layer;
  let H4 = H / 4u;
  let h0 = l * (T + 1u) * H;
  var qc: array<u32, QP>;                   // quads owned (past H/4: the last again, never stored)
  var c: array<vec4f, QP>;
  for (var p = 0u; p < QP; p++) {
    qc[p] = min(QP * li + p, H4 - 1u);
    if (HAS_C) {
      for (var i = 0u; i < 4u; i++) { c[p][i] = carry[(launch.L + l) * H + 4u * qc[p] + i]; }
    }
  }
  for (var u = li; u < H; u += WQ) {
    hw1[u] = carry[l * H + u];
    hs[h0 + u] = carry[l * H + u];
    if (HAS_C) { cs[h0 + u] = carry[(launch.L + l) * H + u]; }
  }
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let old = (t % 2u) * HMAX;
    let cur = HMAX - old;
    var acc: array<vec4f, QP * G>;          // [p][k]
    for (var k = 0u; k < QP * G; k++) { acc[k] = vec4f(0.0); }
    let x = inputs[t];                      // (layer 0)
    for (var j = 0u; j < H; j++) {
      let h = hw1[old + j];
      let w = j * G * H4;
      for (var p = 0u; p < QP; p++) {
        for (var k = 0u; k < G; k++) { acc[p * G + k] += W_hhT4[w + k * H4 + qc[p]] * h; }
      }
    }
    for (var p = 0u; p < QP; p++) {
      let live = QP * li + p < H4;
      var cn: vec4f;
      var hn: vec4f;
      for (var i = 0u; i < lanes(); i++) {
        let u = 4u * qc[p] + i;
        var a: array<f32, G>;
        var r: array<f32, G>;
        for (var k = 0u; k < G; k++) {
          a[k] = cell_input(l, t, x, k * H + u);
          r[k] = acc[p * G + k][i];
        }
        var bhn = 0.0;
        if (HAS_BHN) { bhn = params[cell.off_b_hn + u]; }
        let o = cell_forward(a, r, hw1[old + u], c[p][i], bhn);
        hn[i] = o.h;
        cn[i] = o.c;
        if (live) {
          let ht = h0 + (t + 1u) * H + u;
          hs[ht] = o.h;
          if (HAS_C) { cs[ht] = o.c; }
          var saved = o.act;
          let sa = (l * T + t) * S * H;
          for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
        }
      }
      c[p] = cn;
      if (live) {
        for (var i = 0u; i < 4u; i++) { hw1[cur + 4u * qc[p] + i] = hn[i]; }
      }
    }
    workgroupBarrier();
  }
  let last = (T % 2u) * HMAX;
  for (var p = 0u; p < QP; p++) {
    if (QP * li + p >= H4) { continue; }
    for (var i = 0u; i < 4u; i++) {
      let u = 4u * qc[p] + i;
      carry[l * H + u] = hw1[last + u];
      if (HAS_C) { carry[(launch.L + l) * H + u] = c[p][i]; }
    }
  }
}

// ---- backward_sweep1 (bindings as backward_sweepN; params read as vec4: tensors start at
// multiples of 64 floats, src/model.ts TENSOR_ALIGN, and H % 4 == 0)
@group(0) @binding(1) var<storage, read> params4: array<vec4f>;
var<workgroup> dah1: array<f32, G * HMAX>;  // dah_t, row r = k*H + u

@compute @workgroup_size(WQ)
fn backward_sweep1(@builtin(local_invocation_index) li: u32) {
  let H = launch.H; let T = launch.T;
  let l = cell.layer;
  let H4 = H / 4u;
  let GH = G * H;
  var qc: array<u32, QP>;
  for (var p = 0u; p < QP; p++) { qc[p] = min(QP * li + p, H4 - 1u); }
  var dhn: array<vec4f, QP>;                // dh_next of the quad's units
  var dcn: array<vec4f, QP>;                // dc_next
  for (var p = 0u; p < QP; p++) { dhn[p] = vec4f(0.0); dcn[p] = vec4f(0.0); }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    for (var p = 0u; p < QP; p++) {
      let live = QP * li + p < H4;
      var dd: vec4f;
      var dc: vec4f;
      for (var i = 0u; i < lanes(); i++) {
        let v = 4u * qc[p] + i;
        let g = cell_backward_at(l, t, 0u, v, live, dhn[p][i], dcn[p][i]);
        var gh = g.dah;
        if (live) {
          for (var k = 0u; k < G; k++) { dah1[k * H + v] = gh[k]; }
        }
        dd[i] = g.dh_direct;
        dc[i] = g.dc;
      }
      dhn[p] = dd;
      dcn[p] = dc;
    }
    workgroupBarrier();
    for (var r = 0u; r < GH; r++) {
      let d = dah1[r];
      let w = (cell.off_W_hh + r * H) / 4u;
      for (var p = 0u; p < QP; p++) { dhn[p] += params4[w + qc[p]] * d; }
    }
    workgroupBarrier();
  }
}
