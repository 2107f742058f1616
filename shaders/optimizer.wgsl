// Optimizer update over the flat parameter buffer (src/model.ts layout): invocation e owns
// element e of params, grads and the optimizer state m.
//
//   g = clamp(grads[e], -clip, clip)      when clip > 0
//   sgd:     w -= lr * g
//   adagrad: m += g*g;  w -= lr * g / sqrt(m + eps)

override TOTAL: u32;
override WG: u32 = 64;

struct Hyper {           // field order of OptimizerUniform in src/gpu/engine.ts
  lr: f32,
  clip: f32,
  eps: f32,
  optimizer: u32,        // 0 sgd, 1 adagrad
}

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= TOTAL) { return; }
  var g = grads[e];
  if (hyper.clip > 0.0) { g = clamp(g, -hyper.clip, hyper.clip); }
  if (hyper.optimizer == 0u) {
    params[e] -= hyper.lr * g;
  } else {
    let m_e = m[e] + g * g;
    m[e] = m_e;
    params[e] -= hyper.lr * g / sqrt(m_e + hyper.eps);
  }
}
