// Colour scales of the "Look inside" views.

type RGB = [number, number, number];

const mix = (a: RGB, b: RGB, t: number): RGB => [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as RGB;
const css = (c: RGB) => `rgb(${c[0]},${c[1]},${c[2]})`;

const NEG: RGB = [33, 102, 172];
const MID: RGB = [247, 247, 247];
const POS: RGB = [178, 24, 43];

/** A hidden unit's value in [-1, 1]: blue, white, red. */
export function hiddenColor(v: number): string {
  const t = Math.max(-1, Math.min(1, v));
  return css(t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t));
}

/** Dark text on light cells, light text on dark ones. */
export function hiddenTextColor(v: number): string {
  return Math.abs(v) > 0.6 ? '#fff' : '#222';
}

const LOW: RGB = [255, 247, 236];
const HIGH: RGB = [179, 0, 0];
const MIDDLE: RGB = [252, 141, 89];

/** Surprisal in bits, against the scale's top `max`: pale (expected) to dark red (surprised). */
export function surprisalColor(bits: number, max: number): string {
  const t = Math.max(0, Math.min(1, bits / max));
  return css(t < 0.5 ? mix(LOW, MIDDLE, 2 * t) : mix(MIDDLE, HIGH, 2 * t - 1));
}

export function surprisalTextColor(bits: number, max: number): string {
  return bits / max > 0.7 ? '#fff' : '#222';
}

/** Top of the surprisal scale for a vocabulary of V characters: one and a half times the
 * bits of a uniform guess, so "as good as guessing" sits in the middle of the scale. */
export function surprisalMax(V: number): number {
  return 1.5 * Math.max(1, Math.log2(V));
}
