// Optimizer update over the flat parameter buffer (src/model.ts layout): invocation e owns
// element e of params, grads and the optimizer state m, v. Formulas as in src/cpu/engine.ts
// (`updateElement`) and the README:
//
//   g = grads[e] * min(1, clip_norm / ||grads||)    when clip_norm > 0 (global norm)
//   g = clamp(g, -clip, clip)                       when clip > 0 (element-wise)
//   sgd:     m = momentum*m + g;  w -= lr*m          (w -= lr*g when momentum = 0)
//   adagrad: m += g*g;            w -= lr*g / sqrt(m + eps)
//   rmsprop: m = alpha*m + (1-alpha)*g*g;  w -= lr*g / (sqrt(m) + eps)
//   adam:    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  w -= lr*(m/bc1) / (sqrt(v/bc2) + eps)
//   adamw:   w -= lr*weight_decay*w on matrices (not biases: `decay`, from the kind of each
//            tensor in src/model.ts paramTable), then adam
// bc1 = 1 - b1^t, bc2 = 1 - b2^t are computed on the CPU for step t (in float64).

override TOTAL: u32;
override WG: u32 = 64;

struct Hyper {           // packed from the table Hyper in src/gpu/families.ts
  lr: f32,
  clip: f32,
  clip_norm: f32,
  eps: f32,
  momentum: f32,       // sgd
  alpha: f32,          // rmsprop
  beta1: f32,
  beta2: f32,
  bc1: f32,
  bc2: f32,
  weight_decay: f32,
  optimizer: u32,      // 0 sgd, 1 adagrad, 2 rmsprop, 3 adam, 4 adamw
}

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> grad_norm: array<f32>;   // [0] = ||grads||
@group(0) @binding(6) var<storage, read> decay: array<u32>;        // per 64-element block (TENSOR_ALIGN): 1 matrix, 0 bias

fn is_bias(e: u32) -> bool {
  return decay[e / 64u] == 0u;
}

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let e = id;
  if (e >= TOTAL) { return; }
  var g = grads[e];
  if (hyper.clip_norm > 0.0) {
    let n = grad_norm[0];
    if (n > hyper.clip_norm) { g = g * (hyper.clip_norm / n); }
  }
  if (hyper.clip > 0.0) { g = clamp(g, -hyper.clip, hyper.clip); }
  var w = params[e];
  switch hyper.optimizer {
    case 0u: {
      if (hyper.momentum > 0.0) {
        let m_e = hyper.momentum * m[e] + g;
        m[e] = m_e;
        w -= hyper.lr * m_e;
      } else {
        w -= hyper.lr * g;
      }
    }
    case 1u: {
      let m_e = m[e] + g * g;
      m[e] = m_e;
      w -= hyper.lr * g / sqrt(m_e + hyper.eps);
    }
    case 2u: {
      let m_e = hyper.alpha * m[e] + (1.0 - hyper.alpha) * g * g;
      m[e] = m_e;
      w -= hyper.lr * g / (sqrt(m_e) + hyper.eps);
    }
    default: {
      if (hyper.optimizer == 4u && !is_bias(e)) { w -= hyper.lr * hyper.weight_decay * w; }
      let m_e = hyper.beta1 * m[e] + (1.0 - hyper.beta1) * g;
      let v_e = hyper.beta2 * v[e] + (1.0 - hyper.beta2) * g * g;
      m[e] = m_e;
      v[e] = v_e;
      w -= hyper.lr * (m_e / hyper.bc1) / (sqrt(v_e / hyper.bc2) + hyper.eps);
    }
  }
  params[e] = w;
}

// ---- global gradient norm: one workgroup of 256 invocations sums squares over a strided part
// each, then a tree reduction in workgroup memory. Writes norm_out[0] = sqrt(sum g^2).
@group(0) @binding(0) var<storage, read> g_all: array<f32>;
@group(0) @binding(1) var<storage, read_write> norm_out: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn grad_norm_reduce(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var e = l; e < TOTAL; e += 256u) { s += g_all[e] * g_all[e]; }
  part[l] = s;
  for (var w = 128u; w > 0u; w /= 2u) {
    workgroupBarrier();
    if (l < w) { part[l] += part[l + w]; }
  }
  if (l == 0u) { norm_out[0] = sqrt(part[0]); }
}
