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

fn group_streams(g: u32) -> vec4u {
  return min(vec4u(4u * g) + vec4u(0u, 1u, 2u, 3u), vec4u(launch.B - 1u));
}

// ---- forward -------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> W_xh: array<f32>;          // (H, V)
@group(0) @binding(1) var<storage, read> W_hhT: array<f32>;         // (H, H) transposed
@group(0) @binding(2) var<storage, read> b_h: array<f32>;           // (H)
@group(0) @binding(3) var<storage, read> inputs: array<u32>;        // (T, B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;      // (T+1, B, H)
@group(0) @binding(5) var<storage, read_write> hprev: array<f32>;   // (B, H)

// Stores h_t (t1 = t + 1) of row i for the group's live streams.
fn store_h(t1: u32, st: vec4u, g: u32, i: u32, h: vec4f) {
  let H = launch.H; let B = launch.B;
  let first = 4u * g;
  hs[(t1 * B + st.x) * H + i] = h.x;
  if (first + 1u < B) { hs[(t1 * B + st.y) * H + i] = h.y; }
  if (first + 2u < B) { hs[(t1 * B + st.z) * H + i] = h.z; }
  if (first + 3u < B) { hs[(t1 * B + st.w) * H + i] = h.w; }
}

var<workgroup> hw: array<vec4f, 2u * HMAX>; // h_{t-1} and h_t of the group, alternating halves

@compute @workgroup_size(WGR)
fn forward_persistent(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  let g = wg.x;
  let st = group_streams(g);
  let rows = vec4u(l, l + WGR, l + 2u * WGR, l + 3u * WGR);
  let r = min(rows, vec4u(H - 1u)); // rows past H compute row H-1 again and are not stored
  for (var i = l; i < H; i += WGR) {
    let h0 = vec4f(hprev[st.x * H + i], hprev[st.y * H + i], hprev[st.z * H + i], hprev[st.w * H + i]);
    hw[i] = h0;
    store_h(0u, st, g, i, h0);
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
        store_h(t + 1u, st, g, rows[k], hn[k]);
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

// Invocation (g, i) of timestep launch.t; hs[0] already holds the carried state.
@compute @workgroup_size(WG)
fn forward_step(@builtin(global_invocation_id) gid: vec3u) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (gid.x >= H * ((B + S - 1u) / S)) { return; }
  let g = gid.x / H;
  let i = gid.x % H;
  let t = launch.t;
  let st = group_streams(g);
  let prev = vec4u(t * B) + st;
  let x = vec4u(inputs[t * B + st.x], inputs[t * B + st.y], inputs[t * B + st.z], inputs[t * B + st.w]);
  var a = vec4f(W_xh[i * V + x.x], W_xh[i * V + x.y], W_xh[i * V + x.z], W_xh[i * V + x.w]) + b_h[i];
  for (var j = 0u; j < H; j++) {
    let hv = vec4f(hs[prev.x * H + j], hs[prev.y * H + j], hs[prev.z * H + j], hs[prev.w * H + j]);
    a += W_hhT[j * H + i] * hv;
  }
  store_h(t + 1u, st, g, i, stable_tanh4(a));
}

// ---- backward ------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> W_hh: array<f32>;            // (H, H)
@group(0) @binding(1) var<storage, read> hs_in: array<f32>;           // (T+1, B, H)
@group(0) @binding(2) var<storage, read_write> dhs: array<f32>;       // (T, B, H): in W_hy^T dy, out dtanh
@group(0) @binding(3) var<storage, read_write> dh_next: array<f32>;   // (B, H) scratch

fn dhs4(base: vec4u, i: u32) -> vec4f {
  return vec4f(dhs[base.x + i], dhs[base.y + i], dhs[base.z + i], dhs[base.w + i]);
}

fn store_dhs(base: vec4u, g: u32, i: u32, d: vec4f) {
  let B = launch.B;
  let first = 4u * g;
  dhs[base.x + i] = d.x;
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
  let st = group_streams(g);
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
      store_dhs(cur, g, i, d);
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

// Stepwise backward, two dispatches per timestep t = T-1 .. 0:
//   backward_dtanh_step: dhs[t] = (dhs[t] + dh_next) * (1 - h_t^2)   (dh_next = 0 at t = T-1)
//   backward_dnext_step: dh_next = W_hh^T dhs[t]
@compute @workgroup_size(WG)
fn backward_dtanh_step(@builtin(global_invocation_id) gid: vec3u) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (gid.x >= B * H) { return; }
  let t = launch.t;
  let e = t * B * H + gid.x;
  let h = hs_in[B * H + e];
  var dn = 0.0;
  if (t + 1u < T) { dn = dh_next[gid.x]; }
  dhs[e] = (dhs[e] + dn) * (1.0 - h * h);
}

@compute @workgroup_size(WG)
fn backward_dnext_step(@builtin(global_invocation_id) gid: vec3u) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (gid.x >= H * ((B + S - 1u) / S)) { return; }
  let g = gid.x / H;
  let j = gid.x % H;
  let st = group_streams(g);
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
fn transpose_hh(@builtin(global_invocation_id) gid: vec3u) {
  let V = launch.V; let H = launch.H; let B = launch.B; let T = launch.T;
  if (gid.x >= H * H) { return; }
  let j = gid.x / H;
  let i = gid.x % H;
  W_dst[gid.x] = W_src[i * H + j];
}

@compute @workgroup_size(WG)
fn transpose_hy(@builtin(global_invocation_id) gid: vec3u) {
  let V = launch.V; let H = launch.H;
  if (gid.x >= H * V) { return; }
  let i = gid.x / V;
  let v = gid.x % V;
  W_dst[gid.x] = W_src[v * H + i];
}
