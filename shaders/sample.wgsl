// Autoregressive generation, all streams at once, with no readback until the end.
// One workgroup per stream s: feed the prime, then for each of `length` characters
//   h = tanh(W_xh x + W_hh h + b_h);  y = W_hy h + b_y
//   x = argmax(y)                      (greedy: the tutorial's predict)
//   x = first v with sum_{u<=v} exp((y_u - max y)/temperature) > r * total   (sampling)
// where r = rand_uniform(seed, s, k) for the k-th generated character: the same counter-based
// numbers as src/rng.ts, so the CPU engine draws the same characters.
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
      if (gen.greedy == 0u) {
        var total = 0.0;
        for (var v = 0u; v < V; v++) { total += exp((scratch[y0 + v] - m) / gen.temperature); }
        let r = rand_uniform(gen.seed, s, k) * total;
        var acc = 0.0;
        for (var v = 0u; v < V; v++) {
          acc += exp((scratch[y0 + v] - m) / gen.temperature);
          if (acc > r) { pick = v; break; }
        }
      }
      out[s * gen.length + k] = pick;
      x_next = pick;
    }
    x = workgroupUniformLoad(&x_next);
  }
}
