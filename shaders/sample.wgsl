// Autoregressive generation, all streams at once, with no readback until the end.
// Feed the prime, then for each of `length` characters
//   h = tanh(W_xh x + W_hh h + b_h);  y = W_hy h + b_y
//   x = argmax(y)                      (greedy: the tutorial's predict)
//   x = first kept v with sum_{kept u<=v} exp((y_u - max y)/temperature) > r * total  (sampling)
// where r = rand_uniform(seed, SAMPLE_STREAM + s, k) for the k-th generated character of stream
// s: the same counter-based numbers as src/rng.ts, so the CPU engine draws the same characters (sampleIndex in
// src/cpu/engine.ts). "Kept": the top_k most likely characters, then the smallest most-likely
// set whose probability reaches top_p, in the order (y descending, index ascending).
//
// Layout of the work as in the persistent training sweep (shaders/recurrence.wgsl): one
// workgroup per group of four streams (vec4 lanes), HMAX/4 invocations each owning four rows
// of h, h in workgroup memory; the products read W_hh and W_hy transposed (W_hhT, W_hyT, made
// by transpose_hh / transpose_hy right before) so that neighbouring invocations read
// neighbouring addresses. Invocation s < 4 then draws stream s's character.
// generate1, for a single stream with H a multiple of 4: the vec4 lanes are four consecutive
// rows instead of four streams, so each W_hhT load is one aligned vec4 and no lane is idle.
// Sizes and the flat-buffer offsets of src/model.ts come in the Gen uniform. The Gen uniform, the
// prime, out and logits bindings and the draw itself are in shaders/sample_draw.wgsl.

override HMAX: u32 = 64;
override WGR: u32 = HMAX / 4u;

@group(0) @binding(1) var<storage, read> params: array<f32>;       // flat parameters
@group(0) @binding(2) var<storage, read> W_hhT: array<f32>;        // (H, H): W_hhT[j*H+i] = W_hh[i*H+j]
@group(0) @binding(3) var<storage, read> W_hyT: array<f32>;        // (H, V): W_hyT[i*V+v] = W_hy[v*H+i]
@group(0) @binding(2) var<storage, read> W_hhT4: array<vec4f>;     // W_hhT as (H, H/4) vec4

var<workgroup> x_next: array<u32, 4>;
var<workgroup> h1: array<f32, 2u * HMAX>;     // generate1: h of the stream, alternating halves

// h of generate's group, slot i (half * H + row) at base hb: four floats, one per stream
fn hw_get(hb: u32, i: u32) -> vec4f {
  let k = hb + 4u * i;
  return vec4f(logits[k], logits[k + 1u], logits[k + 2u], logits[k + 3u]);
}

fn hw_set(hb: u32, i: u32, h: vec4f) {
  let k = hb + 4u * i;
  logits[k] = h.x;
  logits[k + 1u] = h.y;
  logits[k + 2u] = h.z;
  logits[k + 3u] = h.w;
}

@compute @workgroup_size(WGR)
fn generate(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = gen.V;
  let H = gen.H;
  let s0 = 4u * wg.x;                                   // first stream of the group
  let st = min(vec4u(s0) + vec4u(0u, 1u, 2u, 3u), vec4u(gen.streams - 1u));
  // h of the group's four streams, alternating halves, kept in storage after the logits (any H
  // fits; generate1 and generate8 keep h in workgroup memory where it fits)
  let hb = gen.streams * V + wg.x * 8u * H;
  for (var i = l; i < 2u * H; i += WGR) { hw_set(hb, i, vec4f(0.0)); }
  if (l < 4u) { x_next[l] = 0u; } // lanes past the last stream keep drawing character 0
  let live = vec4<bool>(true, s0 + 1u < gen.streams, s0 + 2u < gen.streams, s0 + 3u < gen.streams);
  var x = vec4u(prime[0]);
  let steps = gen.prime_len - 1u + gen.length;
  for (var n = 0u; n < steps; n++) {
    let old = (n % 2u) * H;
    let cur = H - old;
    storageBarrier();
    workgroupBarrier();
    let xw = x + gen.off_W_xh;
    // blocks of 4*WGR rows (one block up to H = 1024), four rows per invocation in each
    for (var base = 0u; base < H; base += 4u * WGR) {
      let rows = vec4u(base + l) + vec4u(0u, WGR, 2u * WGR, 3u * WGR);
      let r = min(rows, vec4u(H - 1u));                // rows past H: computed, not stored
      var a0 = vec4f(params[xw.x + r.x * V], params[xw.y + r.x * V], params[xw.z + r.x * V], params[xw.w + r.x * V]) + params[gen.off_b_h + r.x];
      var a1 = vec4f(params[xw.x + r.y * V], params[xw.y + r.y * V], params[xw.z + r.y * V], params[xw.w + r.y * V]) + params[gen.off_b_h + r.y];
      var a2 = vec4f(params[xw.x + r.z * V], params[xw.y + r.z * V], params[xw.z + r.z * V], params[xw.w + r.z * V]) + params[gen.off_b_h + r.z];
      var a3 = vec4f(params[xw.x + r.w * V], params[xw.y + r.w * V], params[xw.z + r.w * V], params[xw.w + r.w * V]) + params[gen.off_b_h + r.w];
      for (var j = 0u; j < H; j++) {
        let h = hw_get(hb, old + j);
        let w = j * H;
        a0 += W_hhT[w + r.x] * h;
        a1 += W_hhT[w + r.y] * h;
        a2 += W_hhT[w + r.z] * h;
        a3 += W_hhT[w + r.w] * h;
      }
      let hn = array<vec4f, 4>(stable_tanh4(a0), stable_tanh4(a1), stable_tanh4(a2), stable_tanh4(a3));
      for (var k = 0u; k < 4u; k++) {
        if (rows[k] < H) { hw_set(hb, cur + rows[k], hn[k]); }
      }
    }
    storageBarrier();
    workgroupBarrier();
    if (n + 1u < gen.prime_len) {
      x = vec4u(prime[n + 1u]);
      continue;
    }
    // logits of the four streams, column v of W_hy^T per invocation
    for (var v = l; v < V; v += WGR) {
      var y = vec4f(params[gen.off_b_y + v]);
      for (var i = 0u; i < H; i++) { y += W_hyT[i * V + v] * hw_get(hb, cur + i); }
      logits[st.x * V + v] = y.x;
      if (live.y) { logits[st.y * V + v] = y.y; }
      if (live.z) { logits[st.z * V + v] = y.z; }
      if (live.w) { logits[st.w * V + v] = y.w; }
    }
    storageBarrier();
    workgroupBarrier();
    if (l < 4u && s0 + l < gen.streams) {
      x_next[l] = next_char(s0 + l, n + 1u - gen.prime_len);
    }
    workgroupBarrier();
    x = vec4u(x_next[0], x_next[1], x_next[2], x_next[3]);
  }
}

@compute @workgroup_size(WGR)
fn generate1(@builtin(local_invocation_index) l: u32) {
  let V = gen.V;
  let H = gen.H;
  let H4 = H / 4u;
  let H8 = (H4 + 1u) / 2u;
  let live0 = 2u * l < H4;                              // invocation l owns rows 8l .. 8l+7
  let live1 = 2u * l + 1u < H4;
  let q0 = min(2u * l, H4 - 1u);
  let q1 = min(2u * l + 1u, H4 - 1u);
  for (var i = l; i < 2u * H; i += WGR) { h1[i] = 0.0; }
  var x = prime[0];
  let steps = gen.prime_len - 1u + gen.length;
  workgroupBarrier();
  for (var n = 0u; n < steps; n++) {
    // h1[old] was completed before the last barrier of the previous iteration
    let old = (n % 2u) * H;
    let cur = H - old;
    let xw = gen.off_W_xh + x;
    let r = 4u * q0;
    let s = 4u * q1;
    var a = vec4f(params[xw + r * V], params[xw + (r + 1u) * V], params[xw + (r + 2u) * V], params[xw + (r + 3u) * V]) +
      vec4f(params[gen.off_b_h + r], params[gen.off_b_h + r + 1u], params[gen.off_b_h + r + 2u], params[gen.off_b_h + r + 3u]);
    var b = vec4f(params[xw + s * V], params[xw + (s + 1u) * V], params[xw + (s + 2u) * V], params[xw + (s + 3u) * V]) +
      vec4f(params[gen.off_b_h + s], params[gen.off_b_h + s + 1u], params[gen.off_b_h + s + 2u], params[gen.off_b_h + s + 3u]);
    for (var j = 0u; j < H; j++) {
      let h = h1[old + j];
      a += W_hhT4[j * H4 + q0] * h;
      b += W_hhT4[j * H4 + q1] * h;
    }
    let ha = stable_tanh4(a);
    let hb = stable_tanh4(b);
    if (live0) {
      h1[cur + r] = ha.x;
      h1[cur + r + 1u] = ha.y;
      h1[cur + r + 2u] = ha.z;
      h1[cur + r + 3u] = ha.w;
    }
    if (live1) {
      h1[cur + s] = hb.x;
      h1[cur + s + 1u] = hb.y;
      h1[cur + s + 2u] = hb.z;
      h1[cur + s + 3u] = hb.w;
    }
    workgroupBarrier();
    if (n + 1u < gen.prime_len) {
      x = prime[n + 1u];
      continue;
    }
    // logits, two columns of W_hy^T per pass over h
    for (var v = l; v < V; v += 2u * WGR) {
      let u = min(v + WGR, V - 1u);
      var y = params[gen.off_b_y + v];
      var z = params[gen.off_b_y + u];
      for (var i = 0u; i < H; i++) {
        let h = h1[cur + i];
        y += W_hyT[i * V + v] * h;
        z += W_hyT[i * V + u] * h;
      }
      logits[v] = y;
      if (v + WGR < V) { logits[u] = z; }
    }
    storageBarrier();
    workgroupBarrier();
    if (l == 0u) {
      x_next[0] = next_char(0u, n + 1u - gen.prime_len);
    }
    workgroupBarrier();
    x = x_next[0];
  }
}

// generate8: eight streams per workgroup (vec4 sets a, b) and eight rows per invocation
// (HMAX/8 invocations, WGR set by the engine), as the eight-stream training sweep.
var<workgroup> hg8: array<vec4f, 4u * HMAX>;  // [half][set][row]
var<workgroup> x_next8: array<u32, 8>;

fn pre_a(xw: vec4u, r: u32) -> vec4f {
  let V = gen.V;
  return vec4f(params[xw.x + r * V], params[xw.y + r * V], params[xw.z + r * V], params[xw.w + r * V]) + params[gen.off_b_h + r];
}

@compute @workgroup_size(WGR)
fn generate8(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let V = gen.V;
  let H = gen.H;
  let s0 = 8u * wg.x;
  let sa = min(vec4u(s0) + vec4u(0u, 1u, 2u, 3u), vec4u(gen.streams - 1u));
  let sb = min(vec4u(s0 + 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(gen.streams - 1u));
  var rows: array<u32, 8>;
  var rr: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) { rows[k] = l + k * WGR; rr[k] = min(rows[k], H - 1u); }
  let r0 = rr[0]; let r1 = rr[1]; let r2 = rr[2]; let r3 = rr[3];
  let r4 = rr[4]; let r5 = rr[5]; let r6 = rr[6]; let r7 = rr[7];
  for (var i = l; i < 2u * H; i += WGR) { hg8[i] = vec4f(0.0); }
  if (l < 8u) { x_next8[l] = 0u; } // lanes past the last stream keep drawing character 0
  var xa = vec4u(prime[0]);
  var xb = vec4u(prime[0]);
  let steps = gen.prime_len - 1u + gen.length;
  workgroupBarrier();
  for (var n = 0u; n < steps; n++) {
    let old = (n % 2u) * 2u * H;
    let cur = 2u * H - old;
    let wa = xa + gen.off_W_xh;
    let wb = xb + gen.off_W_xh;
    var a0 = pre_a(wa, r0); var a1 = pre_a(wa, r1); var a2 = pre_a(wa, r2); var a3 = pre_a(wa, r3);
    var a4 = pre_a(wa, r4); var a5 = pre_a(wa, r5); var a6 = pre_a(wa, r6); var a7 = pre_a(wa, r7);
    var b0 = pre_a(wb, r0); var b1 = pre_a(wb, r1); var b2 = pre_a(wb, r2); var b3 = pre_a(wb, r3);
    var b4 = pre_a(wb, r4); var b5 = pre_a(wb, r5); var b6 = pre_a(wb, r6); var b7 = pre_a(wb, r7);
    for (var j = 0u; j < H; j++) {
      let ha = hg8[old + j];
      let hb = hg8[old + H + j];
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
        hg8[cur + rows[k]] = na[k];
        hg8[cur + H + rows[k]] = nb[k];
      }
    }
    workgroupBarrier();
    if (n + 1u < gen.prime_len) {
      xa = vec4u(prime[n + 1u]);
      xb = xa;
      continue;
    }
    // logits of the eight streams, column v of W_hy^T per invocation
    for (var v = l; v < V; v += WGR) {
      var ya = vec4f(params[gen.off_b_y + v]);
      var yb = ya;
      for (var i = 0u; i < H; i++) {
        let w = W_hyT[i * V + v];
        ya += w * hg8[cur + i];
        yb += w * hg8[cur + H + i];
      }
      for (var k = 0u; k < 4u; k++) {
        if (s0 + k < gen.streams) { logits[sa[k] * V + v] = ya[k]; }
        if (s0 + 4u + k < gen.streams) { logits[sb[k] * V + v] = yb[k]; }
      }
    }
    storageBarrier();
    workgroupBarrier();
    if (l < 8u && s0 + l < gen.streams) {
      x_next8[l] = next_char(s0 + l, n + 1u - gen.prime_len);
    }
    workgroupBarrier();
    xa = vec4u(x_next8[0], x_next8[1], x_next8[2], x_next8[3]);
    xb = vec4u(x_next8[4], x_next8[5], x_next8[6], x_next8[7]);
  }
}
