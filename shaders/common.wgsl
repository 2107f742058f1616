// Shared by every kernel (prepended to each file by src/gpu/kernel.ts).

// tanh that stays finite for any |x|: the builtin can return NaN for large |x| in f32 on
// some implementations.
fn stable_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
