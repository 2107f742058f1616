// Shared by every kernel (prepended to each file by src/gpu/kernel.ts).

// Sizes of the step, read at run time (not compiled in) so that one pipeline per device serves
// every shape: software adapters spend 0.1-0.7 s compiling each specialization. t: 0, but the
// layer in generate_step (one bind group per 256-byte slot, src/gpu/ops.ts at()).
struct Launch {
  t: u32,
  V: u32,
  H: u32,
  B: u32,
  T: u32,
  L: u32,                // layers
}
@group(1) @binding(0) var<uniform> launch: Launch;

// tanh that stays finite for any |x|: the builtin can return NaN for large |x| in f32 on
// some implementations.
fn stable_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

fn stable_tanh4(x: vec4f) -> vec4f {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

// Index of this invocation among all of a one-dimensional kernel's invocations. Dispatches of
// more workgroups than maxComputeWorkgroupsPerDimension (65535) are laid out as (X, Y) rows of
// X workgroups (src/gpu/kernel.ts dispatch); kernels bound-check the index as before.
fn flat_id(gid: vec3u, nwg: vec3u, wg: u32) -> u32 {
  return gid.y * nwg.x * wg + gid.x;
}

// The counter-based random numbers of src/rng.ts, bit for bit: lowbias32 (hash32), and the
// n-th uniform of a stream, 24 random bits in [0, 1) (randUniform).
fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn rand_u32(seed: u32, stream: u32, counter: u32) -> u32 {
  return hash32(hash32(hash32(seed) + stream) + counter);
}

fn rand_uniform(seed: u32, stream: u32, counter: u32) -> f32 {
  return f32(rand_u32(seed, stream, counter) >> 8u) / 16777216.0;
}
