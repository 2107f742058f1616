import { CpuEngine, type ModelDims, type Params, type Vocab } from '../src/index.js';

// The tutorial's forward and backward pass at one character of a typed string, with the
// current model's numbers: for the one-layer tanh RNN every term of
//   h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h),  y_t = W_hy h_t + b_y,  p_t = softmax(y_t),
// the loss term -log p_t[target], and the gradients BPTT gives at t. The forward terms are
// products of the weights written out here (so each can be shown); the engine's own pass (the
// float64 CpuEngine, over the string as the tutorial's X and Y) gives h_t, p_t and dtanh_t,
// and the two must agree (`engineGap`).

export interface Walkthrough {
  t: number;
  char: string;
  /** the next character of the string (the target), absent at the last one */
  target?: string;
  vocab: readonly string[];
  H: number;
  x: number[];
  Wxh_x: number[];
  hPrev: number[];
  Whh_h: number[];
  b_h: number[];
  h: number[];
  y: number[];
  p: number[];
  /** -ln p_t[target] */
  loss?: number;
  /** the tutorial's average loss over the string's T = n - 1 predictions */
  meanLoss?: number;
  grads?: { dy: number[]; dhNext: number[]; dh: number[]; dtanh: number[] };
  /** largest |difference| between this file's h_t, p_t, dtanh_t and the engine's */
  engineGap: number;
}

/** Row i of a row-major (rows, cols) matrix times v. */
const matVec = (M: ArrayLike<number>, rows: number, cols: number, v: readonly number[]) =>
  Array.from({ length: rows }, (_, i) => v.reduce((s, vj, j) => s + M[i * cols + j] * vj, 0));
/** M^T v for a row-major (rows, cols) matrix. */
const matTVec = (M: ArrayLike<number>, rows: number, cols: number, v: readonly number[]) =>
  Array.from({ length: cols }, (_, j) => v.reduce((s, vi, i) => s + M[i * cols + j] * vi, 0));
const add = (...vs: number[][]) => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0));
const maxGap = (a: readonly number[], b: ArrayLike<number>) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** The walkthrough at character t of `chars` for the tutorial's model (cell 'rnn', 1 layer). */
export async function walkthrough(params: Params, vocab: Vocab, dims: ModelDims, chars: string[], t: number): Promise<Walkthrough> {
  const { V, H } = dims;
  const ids = vocab.encode(chars.join(''), 'the string');
  const W_xh = params.W_xh, W_hh = params.W_hh, W_hy = params.W_hy;
  const b_h = Array.from(params.b_h), b_y = Array.from(params.b_y);
  // Forward, as the tutorial's loop: h_0 = 0.
  const hs: number[][] = [new Array(H).fill(0)];
  const terms: { x: number[]; Wxh_x: number[]; Whh_h: number[] }[] = [];
  for (let s = 0; s <= t; s++) {
    const x = Array.from({ length: V }, (_, j) => (j === ids[s] ? 1 : 0));
    const Wxh_x = matVec(W_xh, H, V, x);
    const Whh_h = matVec(W_hh, H, H, hs[s]);
    terms.push({ x, Wxh_x, Whh_h });
    hs.push(add(Wxh_x, Whh_h, b_h).map(Math.tanh));
  }
  const h = hs[t + 1];
  const y = add(matVec(W_hy, V, H, h), b_y);
  const top = Math.max(...y);
  const e = y.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / sum);
  const w: Walkthrough = { t, char: chars[t], vocab: vocab.chars, H, ...terms[t], hPrev: hs[t], b_h, h, y, p, engineGap: 0 };
  const T = ids.length - 1;
  if (T < 1) return w;

  // The engine's forward and backward over X = chars[0..T), Y = chars[1..T].
  const cpu = new CpuEngine({ V, H, B: 1, T, cell: 'rnn', layers: 1 }, { name: 'sgd', lr: 1, clip: 0 }, params);
  w.meanLoss = await cpu.forwardBackward({ inputs: ids.subarray(0, T), targets: ids.slice(1) }, { reset: true });
  const a = await cpu.inspect();
  const row = (x: ArrayLike<number> | undefined, k: number, n: number) => Array.from((x as Float64Array).subarray(k * n, (k + 1) * n));
  w.engineGap = maxGap(h, row(a.hs, t + 1, H));
  if (t >= T) return w; // the last character: nothing to predict
  w.target = chars[t + 1];
  w.loss = -Math.log(p[ids[t + 1]]);
  w.engineGap = Math.max(w.engineGap, maxGap(p, row(a.ps, t, V)));
  const dtanhOf = (k: number) => (k < T ? row(a.dpre, k, H) : new Array(H).fill(0)); // (dpre of the one layer: dtanh)
  const dy = p.map((v, j) => v - (j === ids[t + 1] ? 1 : 0));
  const dhNext = matTVec(W_hh, H, H, dtanhOf(t + 1));
  const dh = add(matTVec(W_hy, V, H, dy), dhNext);
  const dtanh = dh.map((v, i) => v * (1 - h[i] * h[i]));
  w.engineGap = Math.max(w.engineGap, maxGap(dtanh, dtanhOf(t)));
  w.grads = { dy, dhNext, dh, dtanh };
  return w;
}

/** For the other cells: the output side at t from the last layer's state (the same in every
 * model), y_t = W_hy h_t + b_y and p_t. */
export function outputAt(params: Params, V: number, H: number, h: ArrayLike<number>): { y: number[]; p: number[] } {
  const y = add(matVec(params.W_hy, V, H, Array.from(h)), Array.from(params.b_y));
  const top = Math.max(...y);
  const e = y.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return { y, p: e.map((v) => v / sum) };
}
