// The sampling rule of generation, shared by shaders/sample.wgsl (the one-layer tanh RNN) and
// the layer kernels' generate_sweep (shaders/cells.wgsl, any cell and depth): the Gen uniform,
// the prime, the output and the logits bindings, and the draw of one character from a stream's
// logits (the rule is in the header of sample.wgsl; the CPU's twin is sampleIndex in
// src/cpu/engine.ts).

struct Gen {             // packed from the table Gen in src/gpu/families.ts
  prime_len: u32,
  length: u32,
  greedy: u32,
  seed: u32,
  temperature: f32,
  top_k: u32,            // 0 = all
  top_p: f32,            // 1 = all
  streams: u32,
  V: u32,
  H: u32,
}

@group(0) @binding(0) var<uniform> gen: Gen;

@group(0) @binding(4) var<storage, read> prime: array<u32>;        // (prime_len)
@group(0) @binding(5) var<storage, read_write> out: array<u32>;    // (streams, length)
@group(0) @binding(6) var<storage, read_write> logits: array<f32>; // (streams, V), then generate's h

// SAMPLE_STREAM of src/rng.ts (hash32 and rand_uniform are in common.wgsl)
const SAMPLE_STREAM: u32 = 0x20000000u;

fn e_of(y0: u32, v: u32, m: f32) -> f32 {
  return exp((logits[y0 + v] - m) / gen.temperature);
}

// One invocation: the sampling rule of the header over logits[y0 .. y0+V).
fn draw(y0: u32, m: f32, u: f32, best: u32) -> u32 {
  var total = 0.0;
  for (var v = 0u; v < gen.V; v++) { total += e_of(y0, v, m); }
  var cy = -3.4e38;
  var ci = gen.V;
  var limited = gen.top_p < 1.0 || (gen.top_k > 0u && gen.top_k < gen.V);
  if (limited) {
    var kept = 0u;
    var cum = 0.0;
    var py = 3.4e38;
    var pi = -1;
    loop {
      var by = -3.4e38;
      var bi = -1;
      for (var v = 0u; v < gen.V; v++) {
        let yv = logits[y0 + v];
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
  for (var v = 0u; v < gen.V; v++) {
    let yv = logits[y0 + v];
    if (!limited || yv > cy || (yv == cy && v <= ci)) { kept_total += e_of(y0, v, m); }
  }
  let r = u * kept_total;
  var acc = 0.0;
  var last = best;
  for (var v = 0u; v < gen.V; v++) {
    let yv = logits[y0 + v];
    if (limited && !(yv > cy || (yv == cy && v <= ci))) { continue; }
    acc += e_of(y0, v, m);
    last = v;
    if (acc > r) { return v; }
  }
  return last;
}

// One invocation: the k-th generated character of stream s from its logits
// (logits[s*V ..]): argmax when greedy, else the sampling rule; written to out and returned.
fn next_char(s: u32, k: u32) -> u32 {
  let y0 = s * gen.V;
  var best = 0u;
  var m = logits[y0];
  for (var v = 1u; v < gen.V; v++) {
    if (logits[y0 + v] > m) { m = logits[y0 + v]; best = v; }
  }
  var pick = best;
  if (gen.greedy == 0u) { pick = draw(y0, m, rand_uniform(gen.seed, SAMPLE_STREAM + s, k), best); }
  out[s * gen.length + k] = pick;
  return pick;
}
