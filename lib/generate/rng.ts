import {
  randomBeta,
  randomExponential,
  randomGamma,
  randomGeometric,
  randomLogNormal,
  randomNormal,
  randomPoisson,
} from 'd3-random';

/**
 * Seeded pseudo-random numbers for the generator.
 *
 * The uniform source is sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state), seeded by
 * cyrb128, a 128-bit string hash. Each person, the catalog, the campaign calendar and each person's
 * anomalies get their own stream derived from `(seed, stream name, index)`, so a person's data depends
 * on the seed and that person's index only: changing the dirty share does not change clean rows, and
 * a person can be regenerated alone. The distributions (gamma, beta, Poisson, ...) come from
 * d3-random, bound to that source; nothing here reads Math.random or the clock.
 */

/** cyrb128 (bryc, public domain): four well-mixed 32-bit words from a string. */
export function cyrb128(input: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < input.length; i++) {
    const k = input.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

type Sampler = () => number;

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex8 = (n: number) =>
  `${HEX2[n >>> 24]}${HEX2[(n >>> 16) & 255]}${HEX2[(n >>> 8) & 255]}${HEX2[n & 255]}`;

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The uniform source on [0, 1) that the d3-random samplers draw from. */
  readonly uniform: Sampler = () => this.next();
  private readonly gammaOf = randomGamma.source(this.uniform);
  private readonly betaOf = randomBeta.source(this.uniform);
  private readonly poissonOf = randomPoisson.source(this.uniform);
  private readonly geometricOf = randomGeometric.source(this.uniform);
  private readonly exponentialOf = randomExponential.source(this.uniform);
  private readonly logNormalOf = randomLogNormal.source(this.uniform);
  private readonly normalOf = randomNormal.source(this.uniform);

  /** A stream for `(seed, name, index)`. */
  constructor(seed: string | number, name: string, index: number | string = 0) {
    [this.a, this.b, this.c, this.d] = cyrb128(`${seed}\u0000${name}\u0000${index}`);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** sfc32: a uniform double on [0, 1) with 32 bits of randomness. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** A 32-bit unsigned integer. */
  nextUint32(): number {
    return Math.floor(this.next() * 4294967296);
  }

  /** Integer on [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform real on [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** Picks by weight; `weights` need not sum to 1. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let u = this.next() * total;
    for (const [item, w] of items) {
      u -= w;
      if (u < 0) return item;
    }
    const last = items[items.length - 1];
    if (last === undefined) throw new Error('weighted pick from an empty list');
    return last[0];
  }

  /** Gamma with shape k and scale theta (mean k * theta). */
  gamma(k: number, theta: number): number {
    return this.gammaOf(k, theta)();
  }

  beta(alpha: number, beta: number): number {
    return this.betaOf(alpha, beta)();
  }

  poisson(mean: number): number {
    return mean <= 0 ? 0 : this.poissonOf(mean)();
  }

  /** Number of trials up to and including the first success (1, 2, ...). */
  geometric(p: number): number {
    return this.geometricOf(p)();
  }

  exponential(rate: number): number {
    return this.exponentialOf(rate)();
  }

  logNormal(mu: number, sigma: number): number {
    return this.logNormalOf(mu, sigma)();
  }

  normal(mu: number, sigma: number): number {
    return this.normalOf(mu, sigma)();
  }

  /** A random (version 4 layout) UUID drawn from this stream. */
  uuid(): string {
    const a = this.nextUint32();
    const b = this.nextUint32();
    const c = this.nextUint32();
    const d = this.nextUint32();
    return (
      `${hex8(a)}-${HEX2[b >>> 24]}${HEX2[(b >>> 16) & 255]}-4${HEX2[(b >>> 8) & 255]?.charAt(1)}${HEX2[b & 255]}-` +
      `${HEX2[((c >>> 24) & 0x3f) | 0x80]}${HEX2[(c >>> 16) & 255]}-${HEX2[(c >>> 8) & 255]}${HEX2[c & 255]}${hex8(d)}`
    );
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** Samples an index 0..n-1 from fixed weights by binary search over the cumulative sum. */
export class DiscreteSampler {
  private readonly cumulative: Float64Array;

  constructor(weights: readonly number[]) {
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    weights.forEach((w, i) => {
      sum += w;
      this.cumulative[i] = sum;
    });
  }

  sample(rng: Rng): number {
    const total = this.cumulative[this.cumulative.length - 1] ?? 0;
    const u = rng.next() * total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] ?? 0) > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Zipf weights 1 / rank^s for ranks 1..n. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
}
