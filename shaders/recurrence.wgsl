// The sequential part of a training step, four streams at a time: vec4 lane s of every
// register and workgroup slot belongs to stream 4g + s of stream group g (streams past B
// repeat stream B-1 and are never stored). Positions are time-major, pos = t*B + b.
//
//   forward:  h_t = tanh(pre_t + W_hh h_{t-1}),  pre_t = W_xh[:, x_t] + b_h   (a column gather)
//   backward: dtanh_t = (dhs_t + dh_next) * (1 - h_t^2);  dh_next = W_hh^T dtanh_t
//
// Two schedules, same arithmetic in the same order:
//   *_persistent: one workgroup per stream group loops over all T timesteps; h_{t-1} (or
//     dtanh_t) lives in workgroup memory, one workgroupBarrier per timestep. No dispatch per
//     step; needs 32*H bytes of workgroup memory.
//   *_step: one dispatch per timestep (t from the launch uniform's slot for that timestep), invocations spread
//     over (stream group, row): for large H, where one workgroup per group would leave most
//     of a GPU idle. hs[0] <- hprev and hprev <- hs[T] are buffer copies around the pass.
//
// The forward reads W_hh transposed (W_hhT[j*H + i] = W_hh[i*H + j], written once per step by
// transpose_hh) so that neighbouring invocations (rows i, i+1) read neighbouring addresses.

override WG: u32 = 64;
// Persistent sweeps: workgroup arrays hold HMAX >= H slots (a power of two, so few
// specializations exist) and each of the HMAX/4 invocations owns four rows of the matrix-
// vector product, rows l + k*HMAX/4 (k < 4): one load of h_{t-1}[j] serves 16 multiply-adds.
override HMAX: u32 = 64;
override WGR: u32 = HMAX / 4u;

const S = 4u; // streams per group = vec4 lanes

// Streams first .. first+3 (those past B repeat stream B-1: computed, never stored).
fn streams4(first: u32) -> vec4u {
  return min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), vec4u(launch.B - 1u));
}

// ---- forward -------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> W_xh: array<f32>;          // (H, V)
@group(0) @binding(1) var<storage, read> W_hhT: array<f32>;         // (H, H) transposed
@group(0) @binding(2) var<storage, read> b_h: array<f32>;           // (H)
@group(0) @binding(3) var<storage, read> inputs: array<u32>;        // (T, B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;      // (T+1, B, H)
@group(0) @binding(5) var<storage, read_write> hprev: array<f32>;   // (B, H)

// Stores h_t (t1 = t + 1) of row i for the live streams of st = streams4(first).
fn store_h(t1: u32, st: vec4u, first: u32, i: u32, h: vec4f) {
  let H = launch.H; let B = launch.B;
  if (first < B) { hs[(t1 * B + st.x) * H + i] = h.x; }
  if (first + 1u < B) { hs[(t1 * B + st.y) * H + i] = h.y; }
  if (first + 2u < B) { hs[(t1 * B + st.z) * H + i] = h.z; }
  if (first + 3u < B) { hs[(t1 * B + st.w) * H + i] = h.w; }
}

var<workgroup> hw: array<vec4f, 2u * HMAX>; // h_{t-1} and h_t of the group, alternating halves

@compute @workgroup_size(WGR)
fn forward_persistent(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let g = wg.x;
  let st = streams4(4u * g);
  let rows = vec4u(l, l + WGR, l + 2u * WGR, l + 3u * WGR);
  let r = min(rows, vec4u(H - 1u)); // rows past H compute row H-1 again and are not stored
  for (var i = l; i < H; i += WGR) {
    let h0 = vec4f(hprev[st.x * H + i], hprev[st.y * H + i], hprev[st.z * H + i], hprev[st.w * H + i]);
    hw[i] = h0;
    store_h(0u, st, 4u * g, i, h0);
  }
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let x = vec4u(inputs[t * B + st.x], inputs[t * B + st.y], inputs[t * B + st.z], inputs[t * B + st.w]);
    let old = (t % 2u) * H;
    let cur = H - old;
    var a0 = vec4f(W_xh[r.x * V + x.x], W_xh[r.x * V + x.y], W_xh[r.x * V + x.z], W_xh[r.x * V + x.w]) + b_h[r.x];
    var a1 = vec4f(W_xh[r.y * V + x.x], W_xh[r.y * V + x.y], W_xh[r.y * V + x.z], W_xh[r.y * V + x.w]) + b_h[r.y];
    var a2 = vec4f(W_xh[r.z * V + x.x], W_xh[r.z * V + x.y], W_xh[r.z * V + x.z], W_xh[r.z * V + x.w]) + b_h[r.z];
    var a3 = vec4f(W_xh[r.w * V + x.x], W_xh[r.w * V + x.y], W_xh[r.w * V + x.z], W_xh[r.w * V + x.w]) + b_h[r.w];
    for (var j = 0u; j < H; j++) {
      let h = hw[old + j];
      let w = j * H;
      a0 += W_hhT[w + r.x] * h;
      a1 += W_hhT[w + r.y] * h;
      a2 += W_hhT[w + r.z] * h;
      a3 += W_hhT[w + r.w] * h;
    }
    let hn = array<vec4f, 4>(stable_tanh4(a0), stable_tanh4(a1), stable_tanh4(a2), stable_tanh4(a3));
    for (var k = 0u; k < 4u; k++) {
      if (rows[k] < H) {
        hw[cur + rows[k]] = hn[k];
        store_h(t + 1u, st, 4u * g, rows[k], hn[k]);
      }
    }
    workgroupBarrier();
  }
  for (var i = l; i < H; i += WGR) {
    let h = hw[(T % 2u) * H + i];
    let first = 4u * g;
    hprev[st.x * H + i] = h.x;
    if (first + 1u < B) { hprev[st.y * H + i] = h.y; }
    if (first + 2u < B) { hprev[st.z * H + i] = h.z; }
    if (first + 3u < B) { hprev[st.w * H + i] = h.w; }
  }
}

// forward_persistent8: the same sweep for eight streams per workgroup (two vec4 sets a, b)
// with eight rows per invocation (HMAX/8 invocations, WGR set by the engine): each h load
// serves 32 multiply-adds and each W_hhT load 8, and W_hh is streamed once per eight streams.
var<workgroup> hw8: array<vec4f, 4u * HMAX>; // [half][set][row]: h of streams a then b

@compute @workgroup_size(WGR)
fn forward_persistent8(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let fa = 8u * wg.x;
  let fb = fa + 4u;
  let sa = streams4(fa);
  let sb = streams4(fb);
  var rows: array<u32, 8>;
  var r: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) { rows[k] = l + k * WGR; r[k] = min(rows[k], H - 1u); }
  for (var i = l; i < H; i += WGR) {
    let ha = vec4f(hprev[sa.x * H + i], hprev[sa.y * H + i], hprev[sa.z * H + i], hprev[sa.w * H + i]);
    let hb = vec4f(hprev[sb.x * H + i], hprev[sb.y * H + i], hprev[sb.z * H + i], hprev[sb.w * H + i]);
    hw8[i] = ha;
    hw8[H + i] = hb;
    store_h(0u, sa, fa, i, ha);
    store_h(0u, sb, fb, i, hb);
  }
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let xa = vec4u(inputs[t * B + sa.x], inputs[t * B + sa.y], inputs[t * B + sa.z], inputs[t * B + sa.w]);
    let xb = vec4u(inputs[t * B + sb.x], inputs[t * B + sb.y], inputs[t * B + sb.z], inputs[t * B + sb.w]);
    let old = (t % 2u) * 2u * H;
    let cur = 2u * H - old;
    var pa: array<vec4f, 8>;
    var pb: array<vec4f, 8>;
    for (var k = 0u; k < 8u; k++) {
      let w = r[k] * V;
      pa[k] = vec4f(W_xh[w + xa.x], W_xh[w + xa.y], W_xh[w + xa.z], W_xh[w + xa.w]) + b_h[r[k]];
      pb[k] = vec4f(W_xh[w + xb.x], W_xh[w + xb.y], W_xh[w + xb.z], W_xh[w + xb.w]) + b_h[r[k]];
    }
    var a0 = pa[0]; var a1 = pa[1]; var a2 = pa[2]; var a3 = pa[3];
    var a4 = pa[4]; var a5 = pa[5]; var a6 = pa[6]; var a7 = pa[7];
    var b0 = pb[0]; var b1 = pb[1]; var b2 = pb[2]; var b3 = pb[3];
    var b4 = pb[4]; var b5 = pb[5]; var b6 = pb[6]; var b7 = pb[7];
    let r0 = r[0]; let r1 = r[1]; let r2 = r[2]; let r3 = r[3];
    let r4 = r[4]; let r5 = r[5]; let r6 = r[6]; let r7 = r[7];
    for (var j = 0u; j < H; j++) {
      let ha = hw8[old + j];
      let hb = hw8[old + H + j];
      let w = j * H;
      let w0 = W_hhT[w + r0]; let w1 = W_hhT[w + r1]; let w2 = W_hhT[w + r2]; let w3 = W_hhT[w + r3];
      let w4 = W_hhT[w + r4]; let w5 = W_hhT[w + r5]; let w6 = W_hhT[w + r6]; let w7 = W_hhT[w + r7];
      a0 += w0 * ha; b0 += w0 * hb;
      a1 += w1 * ha; b1 += w1 * hb;
      a2 += w2 * ha; b2 += w2 * hb;
      a3 += w3 * ha; b3 += w3 * hb;
      a4 += w4 * ha; b4 += w4 * hb;
      a5 += w5 * ha; b5 += w5 * hb;
      a6 += w6 * ha; b6 += w6 * hb;
      a7 += w7 * ha; b7 += w7 * hb;
    }
    let na = array<vec4f, 8>(stable_tanh4(a0), stable_tanh4(a1), stable_tanh4(a2), stable_tanh4(a3),
      stable_tanh4(a4), stable_tanh4(a5), stable_tanh4(a6), stable_tanh4(a7));
    let nb = array<vec4f, 8>(stable_tanh4(b0), stable_tanh4(b1), stable_tanh4(b2), stable_tanh4(b3),
      stable_tanh4(b4), stable_tanh4(b5), stable_tanh4(b6), stable_tanh4(b7));
    for (var k = 0u; k < 8u; k++) {
      if (rows[k] < H) {
        hw8[cur + rows[k]] = na[k];
        hw8[cur + H + rows[k]] = nb[k];
        store_h(t + 1u, sa, fa, rows[k], na[k]);
        store_h(t + 1u, sb, fb, rows[k], nb[k]);
      }
    }
    workgroupBarrier();
  }
  let last = (T % 2u) * 2u * H;
  for (var i = l; i < H; i += WGR) {
    let ha = hw8[last + i];
    let hb = hw8[last + H + i];
    if (fa < B) { hprev[sa.x * H + i] = ha.x; }
    if (fa + 1u < B) { hprev[sa.y * H + i] = ha.y; }
    if (fa + 2u < B) { hprev[sa.z * H + i] = ha.z; }
    if (fa + 3u < B) { hprev[sa.w * H + i] = ha.w; }
    if (fb < B) { hprev[sb.x * H + i] = hb.x; }
    if (fb + 1u < B) { hprev[sb.y * H + i] = hb.y; }
    if (fb + 2u < B) { hprev[sb.z * H + i] = hb.z; }
    if (fb + 3u < B) { hprev[sb.w * H + i] = hb.w; }
  }
}

// forward_persistent1: one stream (B = 1, H a multiple of 4); the vec4 lanes are rows instead
// of streams, so no lane is idle: invocation l owns rows 8l .. 8l+7, two aligned vec4 loads of
// W_hhT per h_{t-1}[j] (HMAX/8 invocations, WGR set by the engine).
var<workgroup> hw1: array<f32, 2u * HMAX>; // h_{t-1} and h_t, alternating halves
@group(0) @binding(1) var<storage, read> W_hhT4: array<vec4f>;      // W_hhT as (H, H/4)

fn pre4(q: u32, x: u32) -> vec4f {
  let V = launch.V;
  let r = 4u * q;
  return vec4f(W_xh[r * V + x], W_xh[(r + 1u) * V + x], W_xh[(r + 2u) * V + x], W_xh[(r + 3u) * V + x]) +
    vec4f(b_h[r], b_h[r + 1u], b_h[r + 2u], b_h[r + 3u]);
}

@compute @workgroup_size(WGR)
fn forward_persistent1(@builtin(local_invocation_index) l: u32) {
  let H = launch.H; let T = launch.T;
  let H4 = H / 4u;
  let q0 = min(2u * l, H4 - 1u);
  let q1 = min(2u * l + 1u, H4 - 1u);
  let live0 = 2u * l < H4;
  let live1 = 2u * l + 1u < H4;
  for (var i = l; i < H; i += WGR) {
    hw1[i] = hprev[i];
    hs[i] = hprev[i];
  }
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let x = inputs[t];
    let old = (t % 2u) * H;
    let cur = H - old;
    var a = pre4(q0, x);
    var b = pre4(q1, x);
    for (var j = 0u; j < H; j++) {
      let h = hw1[old + j];
      a += W_hhT4[j * H4 + q0] * h;
      b += W_hhT4[j * H4 + q1] * h;
    }
    let ha = stable_tanh4(a);
    let hb = stable_tanh4(b);
    for (var k = 0u; k < 4u; k++) {
      if (live0) {
        hw1[cur + 4u * q0 + k] = ha[k];
        hs[(t + 1u) * H + 4u * q0 + k] = ha[k];
      }
      if (live1) {
        hw1[cur + 4u * q1 + k] = hb[k];
        hs[(t + 1u) * H + 4u * q1 + k] = hb[k];
      }
    }
    workgroupBarrier();
  }
  for (var i = l; i < H; i += WGR) { hprev[i] = hw1[(T % 2u) * H + i]; }
}

// Invocation (g, i) of timestep launch.t; hs[0] already holds the carried state.
@compute @workgroup_size(WG)
fn forward_step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (id >= H * ((B + S - 1u) / S)) { return; }
  let g = id / H;
  let i = id % H;
  let t = launch.t;
  let st = streams4(4u * g);
  let prev = vec4u(t * B) + st;
  let x = vec4u(inputs[t * B + st.x], inputs[t * B + st.y], inputs[t * B + st.z], inputs[t * B + st.w]);
  var a = vec4f(W_xh[i * V + x.x], W_xh[i * V + x.y], W_xh[i * V + x.z], W_xh[i * V + x.w]) + b_h[i];
  for (var j = 0u; j < H; j++) {
    let hv = vec4f(hs[prev.x * H + j], hs[prev.y * H + j], hs[prev.z * H + j], hs[prev.w * H + j]);
    a += W_hhT[j * H + i] * hv;
  }
  store_h(t + 1u, st, 4u * g, i, stable_tanh4(a));
}

// ---- backward ------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> W_hh: array<f32>;            // (H, H)
@group(0) @binding(1) var<storage, read> hs_in: array<f32>;           // (T+1, B, H)
@group(0) @binding(2) var<storage, read_write> dhs: array<f32>;       // (T, B, H): in W_hy^T dy, out dtanh
@group(0) @binding(3) var<storage, read_write> dh_next: array<f32>;   // (B, H) scratch

fn dhs4(base: vec4u, i: u32) -> vec4f {
  return vec4f(dhs[base.x + i], dhs[base.y + i], dhs[base.z + i], dhs[base.w + i]);
}

fn store_dhs(base: vec4u, first: u32, i: u32, d: vec4f) {
  let B = launch.B;
  if (first < B) { dhs[base.x + i] = d.x; }
  if (first + 1u < B) { dhs[base.y + i] = d.y; }
  if (first + 2u < B) { dhs[base.z + i] = d.z; }
  if (first + 3u < B) { dhs[base.w + i] = d.w; }
}

var<workgroup> dtw: array<vec4f, HMAX>;     // dtanh_t of the group
var<workgroup> dnext: array<vec4f, HMAX>;   // dh_next; slot i is only touched by its row's owner

@compute @workgroup_size(WGR)
fn backward_persistent(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let g = wg.x;
  let st = streams4(4u * g);
  let cols = vec4u(l, l + WGR, l + 2u * WGR, l + 3u * WGR);
  let c = min(cols, vec4u(H - 1u)); // columns past H compute column H-1 again, not stored
  for (var i = l; i < H; i += WGR) { dnext[i] = vec4f(0.0); }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    let cur = (vec4u(t * B) + st) * H;        // dhs rows of this timestep
    let h = (vec4u((t + 1u) * B) + st) * H;   // h_t rows
    for (var i = l; i < H; i += WGR) {
      let hv = vec4f(hs_in[h.x + i], hs_in[h.y + i], hs_in[h.z + i], hs_in[h.w + i]);
      let d = (dhs4(cur, i) + dnext[i]) * (1.0 - hv * hv);
      dtw[i] = d;
      store_dhs(cur, 4u * g, i, d);
    }
    workgroupBarrier();
    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var s2 = vec4f(0.0);
    var s3 = vec4f(0.0);
    for (var i = 0u; i < H; i++) {
      let d = dtw[i];
      let w = i * H;
      s0 += W_hh[w + c.x] * d;
      s1 += W_hh[w + c.y] * d;
      s2 += W_hh[w + c.z] * d;
      s3 += W_hh[w + c.w] * d;
    }
    let sn = array<vec4f, 4>(s0, s1, s2, s3);
    for (var k = 0u; k < 4u; k++) {
      if (cols[k] < H) { dnext[cols[k]] = sn[k]; }
    }
    workgroupBarrier();
  }
}

// backward_persistent8: eight streams and eight columns per invocation, as forward_persistent8.
var<workgroup> dtw8: array<vec4f, 2u * HMAX>;    // [set][row] dtanh_t
var<workgroup> dnext8: array<vec4f, 2u * HMAX>;  // [set][row] dh_next, slots owned by their row

@compute @workgroup_size(WGR)
fn backward_persistent8(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let fa = 8u * wg.x;
  let fb = fa + 4u;
  let sa = streams4(fa);
  let sb = streams4(fb);
  var cols: array<u32, 8>;
  var cc: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) { cols[k] = l + k * WGR; cc[k] = min(cols[k], H - 1u); }
  let c0 = cc[0]; let c1 = cc[1]; let c2 = cc[2]; let c3 = cc[3];
  let c4 = cc[4]; let c5 = cc[5]; let c6 = cc[6]; let c7 = cc[7];
  for (var i = l; i < H; i += WGR) {
    dnext8[i] = vec4f(0.0);
    dnext8[H + i] = vec4f(0.0);
  }
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    let cura = (vec4u(t * B) + sa) * H;
    let curb = (vec4u(t * B) + sb) * H;
    let ha = (vec4u((t + 1u) * B) + sa) * H;
    let hb = (vec4u((t + 1u) * B) + sb) * H;
    for (var i = l; i < H; i += WGR) {
      let hva = vec4f(hs_in[ha.x + i], hs_in[ha.y + i], hs_in[ha.z + i], hs_in[ha.w + i]);
      let hvb = vec4f(hs_in[hb.x + i], hs_in[hb.y + i], hs_in[hb.z + i], hs_in[hb.w + i]);
      let da = (dhs4(cura, i) + dnext8[i]) * (1.0 - hva * hva);
      let db = (dhs4(curb, i) + dnext8[H + i]) * (1.0 - hvb * hvb);
      dtw8[i] = da;
      dtw8[H + i] = db;
      store_dhs(cura, fa, i, da);
      store_dhs(curb, fb, i, db);
    }
    workgroupBarrier();
    var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
    var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
    var b0 = vec4f(0.0); var b1 = vec4f(0.0); var b2 = vec4f(0.0); var b3 = vec4f(0.0);
    var b4 = vec4f(0.0); var b5 = vec4f(0.0); var b6 = vec4f(0.0); var b7 = vec4f(0.0);
    for (var i = 0u; i < H; i++) {
      let da = dtw8[i];
      let db = dtw8[H + i];
      let w = i * H;
      let w0 = W_hh[w + c0]; let w1 = W_hh[w + c1]; let w2 = W_hh[w + c2]; let w3 = W_hh[w + c3];
      let w4 = W_hh[w + c4]; let w5 = W_hh[w + c5]; let w6 = W_hh[w + c6]; let w7 = W_hh[w + c7];
      a0 += w0 * da; b0 += w0 * db;
      a1 += w1 * da; b1 += w1 * db;
      a2 += w2 * da; b2 += w2 * db;
      a3 += w3 * da; b3 += w3 * db;
      a4 += w4 * da; b4 += w4 * db;
      a5 += w5 * da; b5 += w5 * db;
      a6 += w6 * da; b6 += w6 * db;
      a7 += w7 * da; b7 += w7 * db;
    }
    let na = array<vec4f, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
    let nb = array<vec4f, 8>(b0, b1, b2, b3, b4, b5, b6, b7);
    for (var k = 0u; k < 8u; k++) {
      if (cols[k] < H) {
        dnext8[cols[k]] = na[k];
        dnext8[H + cols[k]] = nb[k];
      }
    }
    workgroupBarrier();
  }
}

// backward_persistent1: one stream (H a multiple of 4), columns 8l .. 8l+7 of W_hh^T dtanh in
// two vec4 per invocation, aligned vec4 loads of W_hh.
var<workgroup> dtw1: array<f32, HMAX>;     // dtanh_t
var<workgroup> dnext1: array<f32, HMAX>;   // dh_next
@group(0) @binding(0) var<storage, read> W_hh4: array<vec4f>;       // W_hh as (H, H/4)

@compute @workgroup_size(WGR)
fn backward_persistent1(@builtin(local_invocation_index) l: u32) {
  let H = launch.H; let T = launch.T;
  let H4 = H / 4u;
  let q0 = min(2u * l, H4 - 1u);
  let q1 = min(2u * l + 1u, H4 - 1u);
  let live0 = 2u * l < H4;
  let live1 = 2u * l + 1u < H4;
  for (var i = l; i < H; i += WGR) { dnext1[i] = 0.0; }
  workgroupBarrier();
  for (var tt = 0u; tt < T; tt++) {
    let t = T - 1u - tt;
    for (var i = l; i < H; i += WGR) {
      let h = hs_in[(t + 1u) * H + i];
      let d = (dhs[t * H + i] + dnext1[i]) * (1.0 - h * h);
      dtw1[i] = d;
      dhs[t * H + i] = d;
    }
    workgroupBarrier();
    var a = vec4f(0.0);
    var b = vec4f(0.0);
    for (var i = 0u; i < H; i++) {
      let d = dtw1[i];
      a += W_hh4[i * H4 + q0] * d;
      b += W_hh4[i * H4 + q1] * d;
    }
    for (var k = 0u; k < 4u; k++) {
      if (live0) { dnext1[4u * q0 + k] = a[k]; }
      if (live1) { dnext1[4u * q1 + k] = b[k]; }
    }
    workgroupBarrier();
  }
}

// Stepwise backward, two dispatches per timestep t = T-1 .. 0:
//   backward_dtanh_step: dhs[t] = (dhs[t] + dh_next) * (1 - h_t^2)   (dh_next = 0 at t = T-1)
//   backward_dnext_step: dh_next = W_hh^T dhs[t]
@compute @workgroup_size(WG)
fn backward_dtanh_step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (id >= B * H) { return; }
  let t = launch.t;
  let e = t * B * H + id;
  let h = hs_in[B * H + e];
  var dn = 0.0;
  if (t + 1u < T) { dn = dh_next[id]; }
  dhs[e] = (dhs[e] + dn) * (1.0 - h * h);
}

@compute @workgroup_size(WG)
fn backward_dnext_step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (id >= H * ((B + S - 1u) / S)) { return; }
  let g = id / H;
  let j = id % H;
  let st = streams4(4u * g);
  let cur = (vec4u(launch.t * B) + st) * H;
  var s = vec4f(0.0);
  for (var i = 0u; i < H; i++) { s += W_hh[i * H + j] * dhs4(cur, i); }
  let first = 4u * g;
  dh_next[st.x * H + j] = s.x;
  if (first + 1u < B) { dh_next[st.y * H + j] = s.y; }
  if (first + 2u < B) { dh_next[st.z * H + j] = s.z; }
  if (first + 3u < B) { dh_next[st.w * H + j] = s.w; }
}

// ---- transposed copies: W_hhT = W_hh^T once per step before the forward; W_hyT = W_hy^T before
// generation (shaders/sample.wgsl) -------------------------------------------------------------
@group(0) @binding(0) var<storage, read> W_src: array<f32>;           // (H, H)
@group(0) @binding(1) var<storage, read_write> W_dst: array<f32>;     // (H, H)

@compute @workgroup_size(WG)
fn transpose_hh(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (id >= H * H) { return; }
  let j = id / H;
  let i = id % H;
  W_dst[id] = W_src[i * H + j];
}

@compute @workgroup_size(WG)
fn transpose_hy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let V = launch.V; let H = launch.H;
  if (id >= H * V) { return; }
  let i = id / V;
  let v = id % V;
  W_dst[id] = W_src[v * H + i];
}
