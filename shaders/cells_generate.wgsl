// Generation for any cell and depth (joined after cells.wgsl and sample_draw.wgsl): one
// workgroup per stream, all characters in one dispatch, no readback until the end. From h = 0
// (and c = 0) in every layer, feed the prime, then for each of `length` characters
//   every layer l:  ax = W_xh.l x + b_h.l (x: the character for l = 0, else layer l-1's new h)
//                   ah = W_hh.l h_l;  cell_forward -> h_l (c_l)
//   y = W_hy h_{L-1} + b_y;  x = next_char(...)   (argmax, or the draw of sample_draw.wgsl)
// Invocation li owns units u = li, li+WG, ... of each layer, all G gate rows of each; it reads
// the weights transposed (WT, made by transpose_hh before the dispatch), so that neighbouring
// invocations read neighbouring addresses.

@group(0) @binding(2) var<storage, read> gl: array<u32>;            // GenHead, then one GenLayer per layer (u32 fields in order)
@group(0) @binding(3) var<storage, read_write> gstate: array<f32>;  // (streams, L, 3, H): h, new h, c
@group(0) @binding(7) var<storage, read> WT: array<f32>;            // per layer W_hh.l^T (H, G*H) at offT_hh, W_xh.l^T (l > 0) at offT_xh

// The table gl (packed from the tables GenHead and GenLayer of src/gpu/families.ts by
// src/gpu/generation.ts): element offsets of the model's tensors in the parameters, and of the
// transposed copies in WT (and of W_hy's copy as it is, for the one-stream kernels).
struct GenHead { L: u32, W_hy: u32, b_y: u32, WT_hy: u32 }
struct GenLayer { W_xh: u32, W_hh: u32, b_h: u32, b_hn: u32, WT_hh: u32, WT_xh: u32 }

fn gen_head() -> GenHead {
  return GenHead(gl[0], gl[1], gl[2], gl[3]);
}

fn gen_layer(l: u32) -> GenLayer {
  let a = 4u + 6u * l;
  return GenLayer(gl[a], gl[a + 1u], gl[a + 2u], gl[a + 3u], gl[a + 4u], gl[a + 5u]);
}

// The cell state c at gstate[i] (the LSTM's; 0 for cells without one, not read).
fn gen_c(i: u32) -> f32 {
  if (HAS_C) { return gstate[i]; }
  return 0.0;
}

var<workgroup> x_gen: u32;

@compute @workgroup_size(WG)
fn generate_sweep(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let V = gen.V;
  let H = gen.H;
  let head = gen_head();
  let L = head.L;
  let s = wg.x;
  let base = s * L * 3u * H;
  for (var i = li; i < L * 3u * H; i += WG) { gstate[base + i] = 0.0; }
  if (li == 0u) { x_gen = prime[0]; }
  let steps = gen.prime_len - 1u + gen.length;
  for (var n = 0u; n < steps; n++) {
    storageBarrier();
    workgroupBarrier();
    let x = x_gen;
    for (var l = 0u; l < L; l++) {
      let lo = gen_layer(l);
      let offx = lo.W_xh;
      let offb = lo.b_h;
      let offhT = lo.WT_hh;
      let offxT = lo.WT_xh;
      let GH = G * H;
      let st = base + l * 3u * H;             // h at st, new h at st + H, c at st + 2H
      let below = st - 3u * H;                // layer l-1's h, updated this step (l > 0)
      for (var u = li; u < H; u += WG) {
        var a: array<f32, G>;
        var r: array<f32, G>;
        for (var k = 0u; k < G; k++) {
          let row = k * H + u;
          var sx = params[offb + row];
          if (l == 0u) {
            sx += params[offx + row * V + x];
          } else {
            for (var j = 0u; j < H; j++) { sx += WT[offxT + j * GH + row] * gstate[below + j]; }
          }
          a[k] = sx;
          var q = 0.0;
          for (var j = 0u; j < H; j++) { q += WT[offhT + j * GH + row] * gstate[st + j]; }
          r[k] = q;
        }
        var bhn = 0.0;
        if (HAS_BHN) { bhn = params[lo.b_hn + u]; }
        let o = cell_forward(a, r, gstate[st + u], gstate[st + 2u * H + u], bhn);
        gstate[st + H + u] = o.h;
        gstate[st + 2u * H + u] = o.c;
      }
      storageBarrier();
      for (var u = li; u < H; u += WG) { gstate[st + u] = gstate[st + H + u]; }
      storageBarrier();
    }
    if (n + 1u < gen.prime_len) {
      if (li == 0u) { x_gen = prime[n + 1u]; }
      continue;
    }
    let top = base + (L - 1u) * 3u * H;
    for (var v = li; v < V; v += WG) {
      var y = params[head.b_y + v];
      for (var i = 0u; i < H; i++) { y += params[head.W_hy + v * H + i] * gstate[top + i]; }
      logits[s * V + v] = y;
    }
    storageBarrier();
    if (li == 0u) { x_gen = next_char(s, n + 1u - gen.prime_len); }
  }
}

// generate_sweepN: SETS vec4 sets of four streams per workgroup (4 or 8 streams), as
// forward_sweepN: vec4 lane s of set e is stream 4*(SETS*w + e) + s of workgroup w (streams
// past `streams` repeat the last one: computed, never stored). Per character and layer the
// layer's h_{t-1} goes to workgroup memory (ghp), the layer below's new h is there already
// (ghi), and invocation li owns units u = UF*li + q (q < UF), all G gate rows of each: one
// load of W_hh.l^T (W_xh.l^T) serves 4*SETS streams. The logits come from the top layer's new h
// in ghi; invocation s < 4*SETS then draws stream s's next character. Workgroup memory:
// 32*SETS*HMAX + 32 bytes and HMAX/UF invocations (src/gpu/schedule.ts generationFits checks).
var<workgroup> ghp: array<vec4f, SETS * HMAX>;   // [set][unit] this layer's h_{t-1}
var<workgroup> ghi: array<vec4f, SETS * HMAX>;   // [set][unit] the layer below's new h, then this layer's
var<workgroup> gx: array<u32, 8>;                // each stream's next input character

// Σ_j W^T[wt + j*G*H + k*H + u] h[j] for the units uc of an invocation, both sets: W_hh.l h_{t-1}
// (h in ghp) or W_xh.l times the new h of layer l-1 (`below`: h in ghi). [q][k][set]
fn genN_product(wt: u32, below: bool, uc: array<u32, UF>) -> array<vec4f, 2u * UF * G> {
  let H = gen.H;
  let GH = G * H;
  var acc: array<vec4f, 2u * UF * G>;
  for (var k = 0u; k < 2u * UF * G; k++) { acc[k] = vec4f(0.0); }
  for (var j = 0u; j < H; j++) {
    var ha: vec4f;
    var hb = vec4f(0.0);
    if (below) {
      ha = ghi[j];
      if (SETS == 2u) { hb = ghi[HMAX + j]; }
    } else {
      ha = ghp[j];
      if (SETS == 2u) { hb = ghp[HMAX + j]; }
    }
    let w = wt + j * GH;
    for (var q = 0u; q < UF; q++) {
      for (var k = 0u; k < G; k++) {
        let wv = WT[w + k * H + uc[q]];
        acc[2u * (q * G + k)] += wv * ha;
        if (SETS == 2u) { acc[2u * (q * G + k) + 1u] += wv * hb; }
      }
    }
  }
  return acc;
}

// Layer l's h_{t-1} of the workgroup's streams from gstate into ghp (the units of invocation li).
fn genN_load(l: u32, li: u32, st: array<vec4u, 2>) {
  let H = gen.H;
  let L = gen_head().L;
  for (var q = 0u; q < UF; q++) {
    let u = UF * li + q;
    if (u >= H) { continue; }
    for (var e = 0u; e < SETS; e++) {
      var hv: vec4f;
      for (var s = 0u; s < 4u; s++) { hv[s] = gstate[(st[e][s] * L + l) * 3u * H + u]; }
      ghp[e * HMAX + u] = hv;
    }
  }
}

// The logits of the workgroup's streams from the top layer's new h in ghi.
fn genN_logits(li: u32, first: u32, st: array<vec4u, 2>) {
  let V = gen.V;
  let head = gen_head();
  for (var v = li; v < V; v += WGF) {
    let b = params[head.b_y + v];
    var ya = vec4f(b);
    var yb = vec4f(b);
    for (var i = 0u; i < gen.H; i++) {
      let w = params[head.W_hy + v * gen.H + i];
      ya += w * ghi[i];
      if (SETS == 2u) { yb += w * ghi[HMAX + i]; }
    }
    let y = array<vec4f, 2>(ya, yb);
    for (var e = 0u; e < SETS; e++) {
      for (var s = 0u; s < 4u; s++) {
        if (first + 4u * e + s < gen.streams) { logits[st[e][s] * V + v] = y[e][s]; }
      }
    }
  }
}

@compute @workgroup_size(WGF)
fn generate_sweepN(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let V = gen.V;
  let H = gen.H;
  let L = gen_head().L;
  let first = 4u * SETS * wg.x;
  var st: array<vec4u, 2>;
  for (var e = 0u; e < SETS; e++) { st[e] = min(vec4u(first + 4u * e) + vec4u(0u, 1u, 2u, 3u), vec4u(gen.streams - 1u)); }
  for (var s = 0u; s < 4u * SETS; s++) {
    if (first + s >= gen.streams) { continue; }
    for (var i = li; i < L * 3u * H; i += WGF) { gstate[(first + s) * L * 3u * H + i] = 0.0; }
  }
  if (li < 8u) { gx[li] = prime[0]; }
  var uc: array<u32, UF>;
  for (var q = 0u; q < UF; q++) { uc[q] = min(UF * li + q, H - 1u); }
  let steps = gen.prime_len - 1u + gen.length;
  for (var n = 0u; n < steps; n++) {
    storageBarrier();
    workgroupBarrier();
    var x: array<vec4u, 2>;
    for (var e = 0u; e < SETS; e++) { x[e] = vec4u(gx[4u * e], gx[4u * e + 1u], gx[4u * e + 2u], gx[4u * e + 3u]); }
    for (var l = 0u; l < L; l++) {
      let lo = gen_layer(l);
      genN_load(l, li, st);
      workgroupBarrier();
      let acc = genN_product(lo.WT_hh, false, uc);    // W_hh.l h_{t-1}
      var axv: array<vec4f, 2u * UF * G>;             // W_xh.l (new h of layer l-1), l > 0
      if (l > 0u) { axv = genN_product(lo.WT_xh, true, uc); }
      var hn: array<vec4f, 2u * UF>;        // [q][set]
      for (var q = 0u; q < UF; q++) {
        let u = UF * li + q;
        let v = uc[q];
        var bhn = 0.0;
        if (HAS_BHN) { bhn = params[lo.b_hn + v]; }
        for (var e = 0u; e < SETS; e++) {
          let hp = ghp[e * HMAX + v];
          for (var s = 0u; s < 4u; s++) {
            var a: array<f32, G>;
            var r: array<f32, G>;
            for (var k = 0u; k < G; k++) {
              let row = k * H + v;
              var sx = params[lo.b_h + row];
              if (l == 0u) { sx += params[lo.W_xh + row * V + x[e][s]]; } else { sx += axv[2u * (q * G + k) + e][s]; }
              a[k] = sx;
              r[k] = acc[2u * (q * G + k) + e][s];
            }
            let at = (st[e][s] * L + l) * 3u * H;
            let o = cell_forward(a, r, hp[s], gen_c(at + 2u * H + v), bhn);
            hn[2u * q + e][s] = o.h;
            if (u < H && first + 4u * e + s < gen.streams) {
              gstate[at + v] = o.h;
              if (HAS_C) { gstate[at + 2u * H + v] = o.c; }
            }
          }
        }
      }
      workgroupBarrier();                   // every read of ghp and ghi done
      for (var q = 0u; q < UF; q++) {
        let u = UF * li + q;
        if (u < H) {
          for (var e = 0u; e < SETS; e++) { ghi[e * HMAX + u] = hn[2u * q + e]; }
        }
      }
      workgroupBarrier();
    }
    if (n + 1u < gen.prime_len) {
      if (li < 8u) { gx[li] = prime[n + 1u]; }
      continue;
    }
    genN_logits(li, first, st);
    storageBarrier();
    workgroupBarrier();
    if (li < 4u * SETS && first + li < gen.streams) { gx[li] = next_char(first + li, n + 1u - gen.prime_len); }
  }
}

// generate_sweep1: one stream (H a multiple of 4), the vec4 lanes four consecutive units
// instead of streams, as forward_sweep1: invocation li owns unit quads q = li + p*WQ (p < QP),
// aligned vec4 loads of WT. Workgroup memory: 8*HMAX bytes.
@group(0) @binding(7) var<storage, read> WT4: array<vec4f>;         // WT as vec4 (slots at multiples of 64 elements)
var<workgroup> ghp1: array<f32, HMAX>;      // this layer's h_{t-1}
var<workgroup> ghi1: array<f32, HMAX>;      // the layer below's new h, then this layer's
var<workgroup> gx1: u32;

// Σ_j W^T[wt4 + j*G*H/4 + k*H/4 + q] h[j] (vec4 of four units) for the quads qc of an
// invocation: W_hh.l h_{t-1} (h in ghp1) or W_xh.l times the new h of layer l-1 (`below`: ghi1).
fn gen1_product(wt4: u32, below: bool, qc: array<u32, QP>) -> array<vec4f, QP * G> {
  let H = gen.H;
  let H4 = H / 4u;
  var acc: array<vec4f, QP * G>;            // [p][k]
  for (var k = 0u; k < QP * G; k++) { acc[k] = vec4f(0.0); }
  for (var j = 0u; j < H; j++) {
    var h: f32;
    if (below) { h = ghi1[j]; } else { h = ghp1[j]; }
    let w = wt4 + j * G * H4;
    for (var p = 0u; p < QP; p++) {
      for (var k = 0u; k < G; k++) { acc[p * G + k] += WT4[w + k * H4 + qc[p]] * h; }
    }
  }
  return acc;
}

// The logits of the stream from the top layer's new h in ghi1, W_hy's rows as vec4 from WT.
fn gen1_logits(li: u32) {
  let H4 = gen.H / 4u;
  let head = gen_head();
  let hy = head.WT_hy / 4u;                 // W_hy's copy in WT: row v at hy + v*H/4, as vec4
  for (var v = li; v < gen.V; v += WQ) {
    var y = vec4f(0.0);
    for (var i = 0u; i < H4; i++) {
      y += WT4[hy + v * H4 + i] * vec4f(ghi1[4u * i], ghi1[4u * i + 1u], ghi1[4u * i + 2u], ghi1[4u * i + 3u]);
    }
    logits[v] = params[head.b_y + v] + (y.x + y.y) + (y.z + y.w);
  }
}

@compute @workgroup_size(WQ)
fn generate_sweep1(@builtin(local_invocation_index) li: u32) {
  let V = gen.V;
  let H = gen.H;
  let L = gen_head().L;
  let H4 = H / 4u;
  for (var i = li; i < L * 3u * H; i += WQ) { gstate[i] = 0.0; }
  if (li == 0u) { gx1 = prime[0]; }
  var qc: array<u32, QP>;
  for (var p = 0u; p < QP; p++) { qc[p] = min(QP * li + p, H4 - 1u); }
  let steps = gen.prime_len - 1u + gen.length;
  for (var n = 0u; n < steps; n++) {
    storageBarrier();
    workgroupBarrier();
    let x = gx1;
    for (var l = 0u; l < L; l++) {
      let lo = gen_layer(l);
      let at = l * 3u * H;
      for (var u = li; u < H; u += WQ) { ghp1[u] = gstate[at + u]; }
      workgroupBarrier();
      let acc = gen1_product(lo.WT_hh / 4u, false, qc);  // W_hh.l h_{t-1}
      var axv: array<vec4f, QP * G>;                     // W_xh.l (new h of layer l-1), l > 0
      if (l > 0u) { axv = gen1_product(lo.WT_xh / 4u, true, qc); }
      var hn: array<vec4f, QP>;
      for (var p = 0u; p < QP; p++) {
        let live = QP * li + p < H4;
        for (var i = 0u; i < lanes(); i++) {
          let v = 4u * qc[p] + i;
          var a: array<f32, G>;
          var r: array<f32, G>;
          for (var k = 0u; k < G; k++) {
            let row = k * H + v;
            var sx = params[lo.b_h + row];
            if (l == 0u) { sx += params[lo.W_xh + row * V + x]; } else { sx += axv[p * G + k][i]; }
            a[k] = sx;
            r[k] = acc[p * G + k][i];
          }
          var bhn = 0.0;
          if (HAS_BHN) { bhn = params[lo.b_hn + v]; }
          let o = cell_forward(a, r, ghp1[v], gen_c(at + 2u * H + v), bhn);
          hn[p][i] = o.h;
          if (live) {
            gstate[at + v] = o.h;
            if (HAS_C) { gstate[at + 2u * H + v] = o.c; }
          }
        }
      }
      workgroupBarrier();                   // every read of ghp1 and ghi1 done
      for (var p = 0u; p < QP; p++) {
        if (QP * li + p < H4) {
          for (var i = 0u; i < 4u; i++) { ghi1[4u * qc[p] + i] = hn[p][i]; }
        }
      }
      workgroupBarrier();
    }
    if (n + 1u < gen.prime_len) {
      if (li == 0u) { gx1 = prime[n + 1u]; }
      continue;
    }
    gen1_logits(li);
    storageBarrier();
    workgroupBarrier();
    if (li == 0u) { gx1 = next_char(0u, n + 1u - gen.prime_len); }
  }
}
