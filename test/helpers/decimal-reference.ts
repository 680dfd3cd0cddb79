import { Decimal } from 'decimal.js';

/**
 * Independent high-precision evaluations of the BG/NBD formulas, straight from the paper (no Pfaff, no
 * log-sum-exp, no series rearrangement): 80 significant digits, so the cancellations the production
 * code avoids (1 - prefactor * 2F1 at a = 1 +- 1e-9, a 2F1 of e^190 times a prefactor of e^-190) are
 * harmless here.
 */
const D = Decimal.clone({ precision: 80, toExpNeg: -9e15, toExpPos: 9e15 });
type Dec = InstanceType<typeof D>;

const dec = (v: number | string | Dec): Dec => new D(v);

/** Bernoulli numbers B_2 .. B_20 for the Stirling series. */
const BERNOULLI: readonly [number, number][] = [
  [1, 6],
  [-1, 30],
  [1, 42],
  [-1, 30],
  [5, 66],
  [-691, 2730],
  [7, 6],
  [-3617, 510],
  [43867, 798],
  [-174611, 330],
];

/**
 * ln Gamma(z) for z > 0: shifted up to z + m >= 60 by ln Gamma(z) = ln Gamma(z + m) - sum ln(z + k), then
 * Stirling's series to B_20 (its first omitted term is below 1e-50 there).
 */
export function lnGamma(zIn: number | Dec): Dec {
  let z = dec(zIn);
  let shift = dec(0);
  while (z.lt(60)) {
    shift = shift.plus(z.ln());
    z = z.plus(1);
  }
  const half = dec(0.5);
  let s = z
    .minus(half)
    .times(z.ln())
    .minus(z)
    .plus(dec(2).times(Decimal.acos(-1)).ln().times(half));
  let zPow = z;
  const z2 = z.times(z);
  for (const [i, [num, den]] of BERNOULLI.entries()) {
    const k = 2 * (i + 1);
    s = s.plus(
      dec(num).div(
        dec(den)
          .times(k * (k - 1))
          .times(zPow),
      ),
    );
    zPow = zPow.times(z2);
  }
  return s.minus(shift);
}

/** 2F1(a, b; c; z) for 0 <= z < 1 by direct summation until a term is below 1e-70 of the sum. */
export function hyp2f1Series(a: Dec, b: Dec, c: Dec, z: Dec): Dec {
  let term = dec(1);
  let sum = dec(1);
  for (let k = 0; k < 1_000_000; k++) {
    term = term
      .times(a.plus(k))
      .times(b.plus(k))
      .div(c.plus(k).times(k + 1))
      .times(z);
    sum = sum.plus(term);
    if (
      term.abs().lt(sum.abs().times('1e-70')) &&
      a
        .plus(k)
        .times(b.plus(k))
        .times(z)
        .lt(c.plus(k).times(k + 1))
    ) {
      return sum;
    }
  }
  throw new Error(`hyp2f1Series(${a}, ${b}, ${c}, ${z}) did not converge in 1,000,000 terms`);
}

export interface RefParams {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
}

/** The paper's eq. 6, as written: ln of the sum of its two terms. */
export function refLogLikelihood(p: RefParams, x: number, tx: number, T: number): number {
  const r = dec(p.r);
  const alpha = dec(p.alpha);
  const a = dec(p.a);
  const b = dec(p.b);
  const rx = r.plus(x);
  const common = lnGamma(rx)
    .minus(lnGamma(r))
    .plus(r.times(alpha.ln()))
    .plus(lnGamma(a.plus(b)))
    .plus(lnGamma(b.plus(x)))
    .minus(lnGamma(b))
    .minus(lnGamma(a.plus(b).plus(x)))
    .exp();
  let inner = alpha.plus(T).pow(rx.neg());
  if (x > 0) inner = inner.plus(a.div(b.plus(x - 1)).times(alpha.plus(tx).pow(rx.neg())));
  return common.times(inner).ln().toNumber();
}

function refPAliveDec(p: RefParams, x: number, tx: number, T: number): Dec {
  if (x === 0) return dec(1);
  const rx = dec(p.r).plus(x);
  const odds = dec(p.a)
    .div(dec(p.b).plus(x - 1))
    .times(dec(p.alpha).plus(T).div(dec(p.alpha).plus(tx)).pow(rx));
  return dec(1).div(dec(1).plus(odds));
}

/** Eq. 11. */
export function refPAlive(p: RefParams, x: number, tx: number, T: number): number {
  return refPAliveDec(p, x, tx, T).toNumber();
}

/** Eq. 10 as written: P(alive) (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]. */
export function refConditionalExpectation(p: RefParams, t: number, x: number, tx: number, T: number): number {
  const a = dec(p.a);
  const b = dec(p.b);
  const rx = dec(p.r).plus(x);
  const aT = dec(p.alpha).plus(T);
  const z = dec(t).div(aT.plus(t));
  const c = a.plus(b).plus(x - 1);
  const f = hyp2f1Series(rx, b.plus(x), c, z);
  const bracket = dec(1).minus(aT.div(aT.plus(t)).pow(rx).times(f));
  return refPAliveDec(p, x, tx, T).times(c).div(a.minus(1)).times(bracket).toNumber();
}
