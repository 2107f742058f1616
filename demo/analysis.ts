import { CELLS, CpuEngine, type ModelDims, type Params, type Vocab } from '../src/index.js';

// What the model computes on a typed string: every layer's hidden state (and the LSTM's cell
// state) after every character, the distribution over the next character, and how surprising
// each character was. Runs the float64 CPU engine on a copy of the current weights (cheap:
// one forward pass).

/** One layer's states after each character: h[t] (H values, in [-1, 1] but for the relu
 * cell's, which are >= 0 and unbounded); for the LSTM also the cell state c[t] (unbounded). */
export interface LayerStates {
  h: Float64Array[];
  c?: Float64Array[];
  /** gates[t]: the G*H gate values at character t, gate-major (the LSTM's i f g o, the GRU's
   * r z n; the tanh and ReLU RNNs' one "gate" is h itself) */
  gates: Float64Array[];
}

export interface Inspection {
  chars: string[];
  H: number;
  cell: ModelDims['cell'];
  /** vocabulary, in index order */
  vocab: readonly string[];
  /** layers[l], l = 0 the layer that reads the characters; the last one feeds W_hy */
  layers: LayerStates[];
  /** ps[t]: the model's distribution over the character after chars[t] */
  ps: Float64Array[];
  /** bits[t] = -log2 p(chars[t] | chars before it); undefined for the first character */
  bits: (number | undefined)[];
}

/** Rows t = 1..T of a (L, T+1, 1, H) layer-major tensor, for layer l. */
function statesOf(a: Float32Array | Float64Array, l: number, T: number, H: number): Float64Array[] {
  const base = l * (T + 1) * H;
  return Array.from({ length: T }, (_, t) => Float64Array.from(a.subarray(base + (t + 1) * H, base + (t + 2) * H)));
}

export async function inspectText(params: Params, vocab: Vocab, dims: ModelDims, text: string): Promise<Inspection> {
  const { H, cell, layers: L } = dims;
  const ids = vocab.encode(text, 'the string');
  const T = ids.length;
  const V = vocab.size;
  const empty = { chars: [], H, cell, vocab: vocab.chars, ps: [], bits: [] };
  if (T === 0) return { ...empty, layers: Array.from({ length: L }, () => ({ h: [], gates: [] })) };
  const cpu = new CpuEngine({ V, H, B: 1, T, cell, layers: L }, { name: 'sgd', lr: 1, clip: 0 }, params);
  // The target after the last character is unknown; any index will do, its loss is not shown.
  const targets = new Uint32Array(T);
  targets.set(ids.subarray(1));
  await cpu.forwardBackward({ inputs: ids, targets }, { reset: true });
  const a = await cpu.inspect();
  const GH = CELLS[cell].gates * H;
  const layers = Array.from({ length: L }, (_, l): LayerStates => {
    const h = statesOf(a.hs, l, T, H);
    const gates = Array.from({ length: T }, (_, t) => Float64Array.from(a.gates!.subarray((l * T + t) * GH, (l * T + t + 1) * GH)));
    return a.cs ? { h, c: statesOf(a.cs, l, T, H), gates } : { h, gates };
  });
  const ps = Array.from({ length: T }, (_, t) => Float64Array.from(a.ps.subarray(t * V, (t + 1) * V)));
  const bits = Array.from(ids, (id, t) => (t === 0 ? undefined : -Math.log2(ps[t - 1][id])));
  return { chars: [...text], H, cell, vocab: vocab.chars, layers, ps, bits };
}

export interface Repeat {
  char: string;
  /** positions of its first two occurrences */
  first: number;
  second: number;
  /** max over the hidden units of every layer of |h_first - h_second| */
  maxDiff: number;
}

/** Characters that occur more than once, with how far apart their hidden states are: the
 * tutorial's point that the two l's of "hello" are told apart by the state, not the input. */
export function repeats(ins: Inspection): Repeat[] {
  const firstAt = new Map<string, number>();
  const out: Repeat[] = [];
  ins.chars.forEach((c, t) => {
    const f = firstAt.get(c);
    if (f === undefined) firstAt.set(c, t);
    else if (!out.some((r) => r.char === c)) {
      let maxDiff = 0;
      for (const { h } of ins.layers) for (let i = 0; i < ins.H; i++) maxDiff = Math.max(maxDiff, Math.abs(h[f][i] - h[t][i]));
      out.push({ char: c, first: f, second: t, maxDiff });
    }
  });
  return out;
}

/** The k most likely characters of a distribution, most likely first. */
export function topK(p: ArrayLike<number>, vocab: readonly string[], k: number): { char: string; p: number }[] {
  return Array.from(p, (x, i) => ({ char: vocab[i], p: x }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}
