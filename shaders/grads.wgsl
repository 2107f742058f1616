// Every parameter gradient of a small training step in one dispatch (src/gpu/cells.ts runs it
// below SMALL_STEP multiply-adds, where the number of dispatches decides the speed, in place of
// one product or sum per tensor). Invocation e writes element e of the flat gradients, a sum
// over the N = T*B positions n in the order the products sum:
//   kind 0, product:  g[r][c] = sum_n A(n, r) hs(n, c) / B        dW_hh.l, dW_xh.l (l > 0), dW_hy
//   kind 1, sum:      g[c]    = sum_n A(n, c) / B                 db_h.l, db_hn.l, db_y
//   kind 2, gather:   g[r][c] = sum over n with input c of A(n, r) / B   dW_xh.0 (x one-hot)
// with A(n, r) = a[a_off + n*a_step + r] of the buffer `a` names (0 dpre, 1 dah, 2 dy) and
// hs(n, c) = hs[b_off + n*H + c]. The tensors come as a table (src/gpu/cells.ts gradTable);
// elements between tensors (alignment padding) are not written.

override WG: u32 = 64;

struct GradTensor {      // one parameter's gradient: where it is and what it sums
  start: u32,            // first element in the flat gradients
  size: u32,
  cols: u32,
  kind: u32,
  a: u32,
  a_off: u32,
  a_step: u32,
  b_off: u32,
}

@group(0) @binding(0) var<storage, read> tensors: array<GradTensor>;
@group(0) @binding(1) var<storage, read> dpre: array<f32>;        // (L, T, B, G*H)
@group(0) @binding(2) var<storage, read> dah: array<f32>;         // (T, B, G*H)
@group(0) @binding(3) var<storage, read> dy: array<f32>;          // (T, B, V)
@group(0) @binding(4) var<storage, read> hs: array<f32>;          // (L, T+1, B, H)
@group(0) @binding(5) var<storage, read> inputs: array<u32>;      // (T, B)
@group(0) @binding(6) var<storage, read_write> grads: array<f32>; // flat, the layout of the parameters

fn grad_a(a: u32, i: u32) -> f32 {
  if (a == 0u) { return dpre[i]; }
  if (a == 1u) { return dah[i]; }
  return dy[i];
}

@compute @workgroup_size(WG)
fn grads_small(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  let N = launch.T * launch.B;
  let H = launch.H;
  for (var i = 0u; i < arrayLength(&tensors); i++) {
    let g = tensors[i];
    if (e < g.start || e >= g.start + g.size) { continue; }
    let r = (e - g.start) / g.cols;
    let c = (e - g.start) % g.cols;
    var s = 0.0;
    for (var n = 0u; n < N; n++) {
      let a = g.a_off + n * g.a_step;
      if (g.kind == 0u) {
        s += grad_a(g.a, a + r) * hs[g.b_off + n * H + c];
      } else if (g.kind == 1u) {
        s += grad_a(g.a, a + c);
      } else if (inputs[n] == c) {
        s += grad_a(g.a, a + r);
      }
    }
    grads[e] = s * (1.0 / f32(launch.B));
    return;
  }
}
