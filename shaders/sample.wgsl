// Autoregressive generation, all streams at once, with no readback until the end.
// One workgroup per stream s: feed the prime, then for each of `length` characters
//   h = tanh(W_xh x + W_hh h + b_h);  y = W_hy h + b_y
//   x = argmax(y)                      (greedy: the tutorial's predict)
//   x = first kept v with sum_{kept u<=v} exp((y_u - max y)/temperature) > r * total  (sampling)
// where r = rand_uniform(seed, s, k) for the k-th generated character: the same counter-based
// numbers as src/rng.ts, so the CPU engine draws the same characters (sampleIndex in
// src/cpu/engine.ts). "Kept": the top_k most likely characters, then the smallest most-likely
// set whose probability reaches top_p, in the order (y descending, index ascending).
// The parameters come as the one flat buffer of src/model.ts (offsets OFF_*).

override V: u32;
override H: u32;
override WG: u32 = 64;
override OFF_W_xh: u32;
override OFF_W_hh: u32;
override OFF_b_h: u32;
override OFF_W_hy: u32;
override OFF_b_y: u32;

struct Gen {             // field order of GenUniform in src/gpu/engine.ts
  prime_len: u32,
  length: u32,
  greedy: u32,
  seed: u32,
  temperature: f32,
  top_k: u32,            // 0 = all
  top_p: f32,            // 1 = all
}

@group(0) @binding(0) var<uniform> gen: Gen;
@group(0) @binding(1) var<storage, read> params: array<f32>;       // flat parameters
@group(0) @binding(2) var<storage, read> prime: array<u32>;        // (prime_len)
@group(0) @binding(3) var<storage, read_write> out: array<u32>;    // (streams, length)
@group(0) @binding(4) var<storage, read_write> scratch: array<f32>; // (streams, 2*H + V)

var<workgroup> x_next: u32;

fn hash32(v: u32) -> u32 {     // lowbias32, as hash32 in src/rng.ts
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn rand_uniform(seed: u32, stream: u32, counter: u32) -> f32 {
  let r = hash32(hash32(hash32(seed) + stream) + counter);
  return f32(r >> 8u) / 16777216.0;
}

fn e_of(y0: u32, v: u32, m: f32) -> f32 {
  return exp((scratch[y0 + v] - m) / gen.temperature);
}

// One invocation: the sampling rule of the header over logits scratch[y0 .. y0+V).
fn draw(y0: u32, m: f32, u: f32, best: u32) -> u32 {
  var total = 0.0;
  for (var v = 0u; v < V; v++) { total += e_of(y0, v, m); }
  var cy = -3.4e38;
  var ci = V;
  var limited = gen.top_p < 1.0 || (gen.top_k > 0u && gen.top_k < V);
  if (limited) {
    var kept = 0u;
    var cum = 0.0;
    var py = 3.4e38;
    var pi = -1;
    loop {
      var by = -3.4e38;
      var bi = -1;
      for (var v = 0u; v < V; v++) {
        let yv = scratch[y0 + v];
        let after = yv < py || (yv == py && i32(v) > pi);
        if (after && (bi < 0 || yv > by)) { by = yv; bi = i32(v); }
      }
      if (bi < 0) { break; }
      py = by;
      pi = bi;
      kept++;
      cum += e_of(y0, u32(bi), m) / total;
      if ((gen.top_k > 0u && kept >= gen.top_k) || cum >= gen.top_p) { break; }
    }
    cy = py;
    ci = u32(pi);
  }
  var kept_total = 0.0;
  for (var v = 0u; v < V; v++) {
    let yv = scratch[y0 + v];
    if (!limited || yv > cy || (yv == cy && v <= ci)) { kept_total += e_of(y0, v, m); }
  }
  let r = u * kept_total;
  var acc = 0.0;
  var last = best;
  for (var v = 0u; v < V; v++) {
    let yv = scratch[y0 + v];
    if (limited && !(yv > cy || (yv == cy && v <= ci))) { continue; }
    acc += e_of(y0, v, m);
    last = v;
    if (acc > r) { return v; }
  }
  return last;
}

@compute @workgroup_size(WG)
fn generate(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let s = wg.x;
  let base = s * (2u * H + V);
  let y0 = base + 2u * H;
  for (var i = l; i < H; i += WG) { scratch[base + i] = 0.0; }
  storageBarrier();
  var x = prime[0];
  let steps = gen.prime_len - 1u + gen.length;
  for (var n = 0u; n < steps; n++) {
    let h_old = base + (n % 2u) * H;
    let h_new = base + ((n + 1u) % 2u) * H;
    for (var i = l; i < H; i += WG) {
      var a = params[OFF_W_xh + i * V + x] + params[OFF_b_h + i];
      for (var j = 0u; j < H; j++) { a += params[OFF_W_hh + i * H + j] * scratch[h_old + j]; }
      scratch[h_new + i] = stable_tanh(a);
    }
    storageBarrier();
    if (n + 1u < gen.prime_len) {
      x = prime[n + 1u];
      continue;
    }
    for (var v = l; v < V; v += WG) {
      var y = params[OFF_b_y + v];
      for (var i = 0u; i < H; i++) { y += params[OFF_W_hy + v * H + i] * scratch[h_new + i]; }
      scratch[y0 + v] = y;
    }
    storageBarrier();
    if (l == 0u) {
      let k = n + 1u - gen.prime_len;
      var best = 0u;
      var m = scratch[y0];
      for (var v = 1u; v < V; v++) {
        if (scratch[y0 + v] > m) { m = scratch[y0 + v]; best = v; }
      }
      var pick = best;
      if (gen.greedy == 0u) { pick = draw(y0, m, rand_uniform(gen.seed, s, k), best); }
      out[s * gen.length + k] = pick;
      x_next = pick;
    }
    x = workgroupUniformLoad(&x_next);
  }
}
