// generate_step / generate_step_out: one stream (H a multiple of 4) as one dispatch per layer
// and character, spread over many workgroups (every core of a CPU adapter, many multiprocessors
// of a GPU), then one dispatch for the logits and the draw; all in one submit, no readback until
// the end. Layer l of step n (launch.t = l) reads its own h_{n-1} from gstate slot n % 2 and
// writes h_n to the other; c in place. Invocation q owns unit quad q, all G gate rows of each
// unit, and reads WT4 as generate_sweep1 does (the same sums in the same order). The input
// character and n sit after the state: gstate[L*3*H] = x, gstate[L*3*H + 1] = n (u32 bits).
override WGS: u32 = 8u;                  // invocations per workgroup of generate_step

@compute @workgroup_size(WGS)
fn generate_step(@builtin(global_invocation_id) gid: vec3u) {
  let V = gen.V;
  let H = gen.H;
  let L = gen_head().L;
  let H4 = H / 4u;
  let GH4 = G * H4;
  let q = gid.x;
  if (q >= H4) { return; }                // (no barrier below)
  let l = launch.t;
  let tail = L * 3u * H;
  let x = bitcast<u32>(gstate[tail]);
  let n = bitcast<u32>(gstate[tail + 1u]);
  let pin = (n % 2u) * H;                  // h_{n-1}; h_n goes to H - pin
  let at = l * 3u * H;
  let lo = gen_layer(l);
  let offx = lo.W_xh;
  let offb = lo.b_h;
  let offhT = lo.WT_hh / 4u;
  let offxT = lo.WT_xh / 4u;
  var acc: array<vec4f, G>;                 // W_hh.l h_{n-1}
  var axv: array<vec4f, G>;                 // W_xh.l (h_n of layer l-1), l > 0
  for (var k = 0u; k < G; k++) { acc[k] = vec4f(0.0); axv[k] = vec4f(0.0); }
  for (var j = 0u; j < H; j++) {
    let h = gstate[at + pin + j];
    for (var k = 0u; k < G; k++) { acc[k] += WT4[offhT + j * GH4 + k * H4 + q] * h; }
  }
  if (l > 0u) {
    let below = at - 3u * H + H - pin;
    for (var j = 0u; j < H; j++) {
      let h = gstate[below + j];
      for (var k = 0u; k < G; k++) { axv[k] += WT4[offxT + j * GH4 + k * H4 + q] * h; }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let v = 4u * q + i;
    var a: array<f32, G>;
    var r: array<f32, G>;
    for (var k = 0u; k < G; k++) {
      let row = k * H + v;
      var sx = params[offb + row];
      if (l == 0u) { sx += params[offx + row * V + x]; } else { sx += axv[k][i]; }
      a[k] = sx;
      r[k] = acc[k][i];
    }
    var bhn = 0.0;
    if (HAS_BHN) { bhn = params[lo.b_hn + v]; }
    let o = cell_forward(a, r, gstate[at + pin + v], gen_c(at + 2u * H + v), bhn);
    gstate[at + H - pin + v] = o.h;
    if (HAS_C) { gstate[at + 2u * H + v] = o.c; }
  }
}

var<workgroup> gn_out: u32;                // the step n, read once

@compute @workgroup_size(WG)
fn generate_step_out(@builtin(local_invocation_index) li: u32) {
  let V = gen.V;
  let H = gen.H;
  let L = gen_head().L;
  let H4 = H / 4u;
  let tail = L * 3u * H;
  if (li == 0u) { gn_out = bitcast<u32>(gstate[tail + 1u]); }
  let n = workgroupUniformLoad(&gn_out);
  if (n + 1u < gen.prime_len) {             // the prime: its next character is the input
    if (li == 0u) {
      gstate[tail] = bitcast<f32>(prime[n + 1u]);
      gstate[tail + 1u] = bitcast<f32>(n + 1u);
    }
    return;
  }
  let top = (L - 1u) * 3u * H + H - (n % 2u) * H;   // the top layer's h_n
  let head = gen_head();
  let hy = head.WT_hy / 4u;                 // W_hy's copy in WT: row v at hy + v*H/4, as vec4
  for (var v = li; v < V; v += WG) {
    var y = vec4f(0.0);
    for (var i = 0u; i < H4; i++) {
      let t = top + 4u * i;
      y += WT4[hy + v * H4 + i] * vec4f(gstate[t], gstate[t + 1u], gstate[t + 2u], gstate[t + 3u]);
    }
    logits[v] = params[head.b_y + v] + (y.x + y.y) + (y.z + y.w);
  }
  storageBarrier();
  workgroupBarrier();
  if (li == 0u) {
    gstate[tail] = bitcast<f32>(next_char(0u, n + 1u - gen.prime_len));
    gstate[tail + 1u] = bitcast<f32>(n + 1u);
  }
}
