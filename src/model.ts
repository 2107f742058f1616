// The model's tensors, declared once. Every array, GPU buffer, gradient, optimizer state,
// checkpoint entry and test case is sized from these tables.
//
//   h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      x_t one-hot over V characters, h_0 = 0
//   y_t = W_hy h_t + b_y
//   p_t = softmax(y_t)
//
// Matrices are row-major: W_hh[i*H + j] maps h_{t-1}[j] to the pre-activation of h_t[i].

export const PARAMS = {
  W_xh: ['H', 'V'],
  W_hh: ['H', 'H'],
  b_h: ['H'],
  W_hy: ['V', 'H'],
  b_y: ['V'],
} as const;

export type ParamName = keyof typeof PARAMS;
export const PARAM_NAMES = Object.keys(PARAMS) as ParamName[];

/** Model size: V characters in the vocabulary, H hidden units. */
export interface Dims {
  V: number;
  H: number;
}

/** Per-step work size: B streams of T timesteps each. */
export interface StepShape extends Dims {
  B: number;
  T: number;
}

export type Tensor = Float32Array | Float64Array;
export type Params<A extends Tensor = Tensor> = Record<ParamName, A>;

export function paramShape(name: ParamName, d: Dims): number[] {
  return PARAMS[name].map((s) => d[s]);
}

export function paramSize(name: ParamName, d: Dims): number {
  return paramShape(name, d).reduce((a, b) => a * b, 1);
}

export function parameterCount(d: Dims): number {
  return PARAM_NAMES.reduce((n, k) => n + paramSize(k, d), 0);
}

/** Float elements each tensor starts on inside one flat buffer: 64 floats = 256 bytes,
 * the storage-buffer offset alignment every WebGPU adapter accepts. */
export const TENSOR_ALIGN = 64;

export interface Layout {
  offset: Record<ParamName, number>;
  size: Record<ParamName, number>;
  /** Elements of the whole flat buffer, padding included. */
  total: number;
}

/** Where each parameter lives inside one flat buffer (parameters, gradients and optimizer
 * state share this layout, so the optimizer is one element-wise pass over all of them). */
export function layout(d: Dims): Layout {
  const offset = {} as Record<ParamName, number>;
  const size = {} as Record<ParamName, number>;
  let at = 0;
  for (const k of PARAM_NAMES) {
    offset[k] = at;
    size[k] = paramSize(k, d);
    at += Math.ceil(size[k] / TENSOR_ALIGN) * TENSOR_ALIGN;
  }
  return { offset, size, total: at };
}

export function zeroParams<A extends Tensor>(d: Dims, make: (n: number) => A): Params<A> {
  const p = {} as Params<A>;
  for (const k of PARAM_NAMES) p[k] = make(paramSize(k, d));
  return p;
}

export function toFloat32(p: Params): Params<Float32Array> {
  const out = {} as Params<Float32Array>;
  for (const k of PARAM_NAMES) out[k] = Float32Array.from(p[k]);
  return out;
}

export function toFloat64(p: Params): Params<Float64Array> {
  const out = {} as Params<Float64Array>;
  for (const k of PARAM_NAMES) out[k] = Float64Array.from(p[k]);
  return out;
}
