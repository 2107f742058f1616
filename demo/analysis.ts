import { CpuEngine, type Params, type Vocab } from '../src/index.js';

// What the model computes on a typed string: the hidden state after every character, the
// distribution over the next character, and how surprising each character was. Runs the
// float64 CPU engine on a copy of the current weights (cheap: one forward pass).

export interface Inspection {
  chars: string[];
  H: number;
  /** vocabulary, in index order */
  vocab: readonly string[];
  /** hs[t]: the hidden state after reading chars[t] (H values in [-1, 1]) */
  hs: Float64Array[];
  /** ps[t]: the model's distribution over the character after chars[t] */
  ps: Float64Array[];
  /** bits[t] = -log2 p(chars[t] | chars before it); undefined for the first character */
  bits: (number | undefined)[];
}

export async function inspectText(params: Params, vocab: Vocab, H: number, text: string): Promise<Inspection> {
  const ids = vocab.encode(text, 'the string');
  const T = ids.length;
  const V = vocab.size;
  if (T === 0) return { chars: [], H, vocab: vocab.chars, hs: [], ps: [], bits: [] };
  const cpu = new CpuEngine({ V, H, B: 1, T }, { name: 'sgd', lr: 1, clip: 0 }, params);
  // The target after the last character is unknown; any index will do, its loss is not shown.
  const targets = new Uint32Array(T);
  targets.set(ids.subarray(1));
  await cpu.forwardBackward({ inputs: ids, targets }, { reset: true });
  const a = await cpu.inspect();
  const hs: Float64Array[] = [];
  const ps: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    hs.push(Float64Array.from(a.hs.subarray((t + 1) * H, (t + 2) * H)));
    ps.push(Float64Array.from(a.ps.subarray(t * V, (t + 1) * V)));
  }
  const bits = Array.from(ids, (id, t) => (t === 0 ? undefined : -Math.log2(ps[t - 1][id])));
  return { chars: [...text], H, vocab: vocab.chars, hs, ps, bits };
}

export interface Repeat {
  char: string;
  /** positions of its first two occurrences */
  first: number;
  second: number;
  /** max over hidden units of |h_first - h_second| */
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
      for (let i = 0; i < ins.H; i++) maxDiff = Math.max(maxDiff, Math.abs(ins.hs[f][i] - ins.hs[t][i]));
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
