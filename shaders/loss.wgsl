// Mean of the per-position losses: one workgroup of WG invocations, each sums a strided part,
// then a tree reduction in workgroup memory. Writes loss[0].

override N: u32;              // T * B positions
const WG: u32 = 256;

@group(0) @binding(0) var<storage, read> losses: array<f32>;   // (T, B)
@group(0) @binding(1) var<storage, read_write> loss: array<f32>; // (1)

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn loss_mean(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var p = l; p < N; p += WG) { s += losses[p]; }
  part[l] = s;
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    workgroupBarrier();
    if (l < w) { part[l] += part[l + w]; }
  }
  if (l == 0u) { loss[0] = part[0] / f32(N); }
}
