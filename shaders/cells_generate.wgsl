// Generation for any cell and depth (joined after cells.wgsl and sample_draw.wgsl): one
// workgroup per stream, all characters in one dispatch, no readback until the end. From h = 0
// (and c = 0) in every layer, feed the prime, then for each of `length` characters
//   every layer l:  ax = W_xh.l x + b_h.l (x: the character for l = 0, else layer l-1's new h)
//                   ah = W_hh.l h_l;  cell_forward -> h_l (c_l)
//   y = W_hy h_{L-1} + b_y;  x = next_char(...)   (argmax, or the draw of sample_draw.wgsl)
// Invocation li owns units u = li, li+WG, ... of each layer, all G gate rows of each; it reads
// the weights transposed (WT, made by transpose_hh before the dispatch), so that neighbouring
// invocations read neighbouring addresses.

@group(0) @binding(2) var<storage, read> gl: array<u32>;            // [L, off_W_hy, off_b_y, 0], then per layer [off_W_xh, off_W_hh, off_b_h, off_b_hn, offT_hh, offT_xh]
@group(0) @binding(3) var<storage, read_write> gstate: array<f32>;  // (streams, L, 3, H): h, new h, c
@group(0) @binding(7) var<storage, read> WT: array<f32>;            // per layer W_hh.l^T (H, G*H) at offT_hh, W_xh.l^T (l > 0) at offT_xh

var<workgroup> x_gen: u32;

@compute @workgroup_size(WG)
fn generate_cells(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let V = gen.V;
  let H = gen.H;
  let L = gl[0];
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
      let offx = gl[4u + 6u * l];
      let offb = gl[6u + 6u * l];
      let offhT = gl[8u + 6u * l];
      let offxT = gl[9u + 6u * l];
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
        if (HAS_BHN) { bhn = params[gl[7u + 6u * l] + u]; }
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
      var y = params[gl[2] + v];
      for (var i = 0u; i < H; i++) { y += params[gl[1] + v * H + i] * gstate[top + i]; }
      logits[s * V + v] = y;
    }
    storageBarrier();
    if (li == 0u) { x_gen = next_char(s, n + 1u - gen.prime_len); }
  }
}
