// C = ALPHA * A B for every large product of a training step (all T*B positions at once):
//
//   logits (N,V)  = hs[1..] (N,H) . W_hy^T            (output layer, forward)
//   dhs    (N,H)  = dy (N,V) . W_hy                   (output layer, backward)
//   dW_hy  (V,H)  = dy^T (V,N) . hs[1..] (N,H) / B
//   dW_hh  (H,H)  = dtanh^T (H,N) . hs[..T] (N,H) / B
//
// Each operand is addressed by strides, so one kernel serves all four with no transposed
// copies; sizes and strides are a uniform (not compiled in: one pipeline per device):
//   A(m,k) = A[A_OFF + m*A_M + k*A_K]   B(k,n) = B[B_OFF + k*B_K + n*B_N]   C(m,n) = C[m*C_M + n*C_N]
//
// matmul: register-tiled, invocation (tile) computes a 4x4 block of C from 4 + 4 loads per k
// (16 multiply-adds); edges are clamped on load and skipped on store, so M, N need not be
// multiples of 4. col_sum: the sums over all positions (the bias gradients).

override WG: u32 = 64;

struct Mm {             // packed from the table Mm in src/gpu/families.ts
  M: u32, N: u32, K: u32,
  A_M: u32, A_K: u32, A_OFF: u32,
  B_K: u32, B_N: u32, B_OFF: u32,
  C_M: u32, C_N: u32,
  ALPHA: f32,
}
@group(1) @binding(0) var<uniform> mm: Mm;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Bm: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(WG)
fn matmul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let M = mm.M; let N = mm.N; let K = mm.K; let A_M = mm.A_M; let A_K = mm.A_K; let A_OFF = mm.A_OFF;
  let B_K = mm.B_K; let B_N = mm.B_N; let B_OFF = mm.B_OFF; let C_M = mm.C_M; let C_N = mm.C_N; let ALPHA = mm.ALPHA;
  let tiles_n = (N + 3u) / 4u;
  if (id >= tiles_n * ((M + 3u) / 4u)) { return; }
  let m0 = (id / tiles_n) * 4u;
  let n0 = (id % tiles_n) * 4u;
  let r = vec4u(0u, 1u, 2u, 3u);
  let a_row = min(vec4u(m0) + r, vec4u(M - 1u)) * A_M + A_OFF;
  let b_col = min(vec4u(n0) + r, vec4u(N - 1u)) * B_N + B_OFF;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    let ka = k * A_K;
    let kb = k * B_K;
    let a = vec4f(A[a_row.x + ka], A[a_row.y + ka], A[a_row.z + ka], A[a_row.w + ka]);
    let b = vec4f(Bm[b_col.x + kb], Bm[b_col.y + kb], Bm[b_col.z + kb], Bm[b_col.w + kb]);
    c0 += a.x * b;
    c1 += a.y * b;
    c2 += a.z * b;
    c3 += a.w * b;
  }
  let rows = array<vec4f, 4>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j >= N) { break; }
      C[(m0 + i) * C_M + (n0 + j) * C_N] = ALPHA * rows[i][j];
    }
  }
}

// matmul8: the same product with an 8x8 block per invocation (16 loads per 64 multiply-adds).
@compute @workgroup_size(WG)
fn matmul8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flat_id(gid, nwg, WG);
  let M = mm.M; let N = mm.N; let K = mm.K; let A_M = mm.A_M; let A_K = mm.A_K; let A_OFF = mm.A_OFF;
  let B_K = mm.B_K; let B_N = mm.B_N; let B_OFF = mm.B_OFF; let C_M = mm.C_M; let C_N = mm.C_N; let ALPHA = mm.ALPHA;
  let tiles_n = (N + 7u) / 8u;
  if (id >= tiles_n * ((M + 7u) / 8u)) { return; }
  let m0 = (id / tiles_n) * 8u;
  let n0 = (id % tiles_n) * 8u;
  let r = vec4u(0u, 1u, 2u, 3u);
  let a_lo = min(vec4u(m0) + r, vec4u(M - 1u)) * A_M + A_OFF;
  let a_hi = min(vec4u(m0 + 4u) + r, vec4u(M - 1u)) * A_M + A_OFF;
  let b_lo = min(vec4u(n0) + r, vec4u(N - 1u)) * B_N + B_OFF;
  let b_hi = min(vec4u(n0 + 4u) + r, vec4u(N - 1u)) * B_N + B_OFF;
  var c: array<vec4f, 16>; // c[2*i] = C(m0+i, n0..n0+3), c[2*i+1] = C(m0+i, n0+4..n0+7)
  for (var k = 0u; k < K; k++) {
    let ka = k * A_K;
    let kb = k * B_K;
    let a0 = vec4f(A[a_lo.x + ka], A[a_lo.y + ka], A[a_lo.z + ka], A[a_lo.w + ka]);
    let a1 = vec4f(A[a_hi.x + ka], A[a_hi.y + ka], A[a_hi.z + ka], A[a_hi.w + ka]);
    let b0 = vec4f(Bm[b_lo.x + kb], Bm[b_lo.y + kb], Bm[b_lo.z + kb], Bm[b_lo.w + kb]);
    let b1 = vec4f(Bm[b_hi.x + kb], Bm[b_hi.y + kb], Bm[b_hi.z + kb], Bm[b_hi.w + kb]);
    c[0] += a0.x * b0; c[1] += a0.x * b1;
    c[2] += a0.y * b0; c[3] += a0.y * b1;
    c[4] += a0.z * b0; c[5] += a0.z * b1;
    c[6] += a0.w * b0; c[7] += a0.w * b1;
    c[8] += a1.x * b0; c[9] += a1.x * b1;
    c[10] += a1.y * b0; c[11] += a1.y * b1;
    c[12] += a1.z * b0; c[13] += a1.z * b1;
    c[14] += a1.w * b0; c[15] += a1.w * b1;
  }
  for (var i = 0u; i < 8u; i++) {
    if (m0 + i >= M) { break; }
    for (var j = 0u; j < 8u; j++) {
      if (n0 + j >= N) { break; }
      C[(m0 + i) * C_M + (n0 + j) * C_N] = ALPHA * c[2u * i + j / 4u][j % 4u];
    }
  }
}

// col_sum: C (1,N) = ALPHA * 1^T B, the product with a row of ones (M = 1; A is not read): the
// bias gradients, sums over all positions. One column per invocation (neighbours read
// neighbouring addresses where B_N = 1), no block of C left idle as in matmul with M = 1.
@compute @workgroup_size(WG)
fn col_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = flat_id(gid, nwg, WG);
  if (n >= mm.N) { return; }
  let b = mm.B_OFF + n * mm.B_N;
  var s = 0.0;
  for (var k = 0u; k < mm.K; k++) { s += Bm[b + k * mm.B_K]; }
  C[n * mm.C_N] = mm.ALPHA * s;
}
